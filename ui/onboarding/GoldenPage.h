// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Progress.h"
#include "base/Result.h"
#include "services/GoldenImage.h"
#include "services/Onboarding.h"

#include <QFuture>
#include <QFutureWatcher>
#include <QWizardPage>

#include <optional>

class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QStandardItemModel;
class QTreeView;

namespace fluid::ui {

class OnboardingWizard;

/// Page c: a cloneable source VM of the host, or the Debian golden image built by golden-image.sh
/// (services::buildGoldenImage on a worker, its progress and output shown here as they come; Cancel stops
/// its whole process group). GUI thread.
class GoldenPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GoldenPage)
public:
    explicit GoldenPage(OnboardingWizard* wizard);
    ~GoldenPage() override;

    void initializePage() override;
    bool isComplete() const override;
    void cleanupPage() override;

    /// The golden VM chosen: the selected VM, or the VM the build defined on the host.
    QString chosenSource() const;
    bool built() const { return m_built; }
    /// The VM the last build defined on the host (golden-image.sh names it), once it was found there and
    /// can be cloned; empty before.
    QString builtVm() const { return m_builtVm; }
    /// True while the host's VMs are listed again to find the VM a build defined.
    bool isLookingForBuiltVm() const { return m_listing != nullptr; }
    /// True from Build until the build has ended (built, failed or cancelled).
    bool isBuilding() const { return m_watcher != nullptr; }

public Q_SLOTS:
    void startBuild();
    void cancelBuild();

private:
    /// What the build worker hands to the page: an output line, a progress step, or the end.
    struct BuildEvent {
        std::optional<QString> line;
        bool isError = false;
        std::optional<Progress> progress;
        std::optional<Result<services::GoldenImageResult>> done;
    };

    void onBuildEvent(int index);
    void onBuildFinished(const Result<services::GoldenImageResult>& result);
    void updateState();
    /// Lists `rows` (disabled when they cannot be cloned); returns how many can be.
    int fillSources(const QList<services::SourceVmRow>& rows);
    /// Lists the host's VMs again on a worker and chooses `name` (the VM the build defined) when it is
    /// there and can be cloned.
    void chooseBuiltVm(const QString& name);
    void onBuiltVmListed(const QString& name, const Result<QList<services::SourceVmRow>>& rows);

    OnboardingWizard* m_wizard;
    QRadioButton* m_useExisting;
    QRadioButton* m_build;
    QStandardItemModel* m_sources;
    QTreeView* m_sourceView;
    QPushButton* m_buildButton;
    QPushButton* m_cancelBuild;
    QProgressBar* m_progress;
    QPlainTextEdit* m_log;
    QLabel* m_message;
    QFutureWatcher<BuildEvent>* m_watcher = nullptr; ///< set while a build runs
    QFuture<BuildEvent> m_buildRun;                  ///< the last build's worker, waited for at the end
    CancelToken m_cancel;
    bool m_built = false;
    QString m_builtVm;
    QFutureWatcher<Result<QList<services::SourceVmRow>>>* m_listing = nullptr;
};

} // namespace fluid::ui

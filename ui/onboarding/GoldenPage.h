// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "services/Onboarding.h"

#include <QFutureWatcher>
#include <QProcess>
#include <QWizardPage>

class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QStandardItemModel;
class QTreeView;

namespace fluid::ui {

class OnboardingWizard;

/// Page c: a cloneable source VM of the host, or the Debian golden image built by golden-image.sh.
/// GUI thread.
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
    /// PID of the running build, 0 when none.
    qint64 buildPid() const;

public Q_SLOTS:
    void startBuild();
    void cancelBuild();

private:
    void onOutput();
    void onBuildFinished(int exitCode, QProcess::ExitStatus status);
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
    QProcess* m_process = nullptr;
    QByteArray m_partialLine;
    bool m_built = false;
    bool m_cancelled = false;
    QString m_definedVm; ///< what the build's "defined NAME ..." line said
    QString m_builtVm;
    QFutureWatcher<Result<QList<services::SourceVmRow>>>* m_listing = nullptr;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "services/Onboarding.h"

#include <QFutureWatcher>
#include <QWizardPage>

#include <optional>

class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;

namespace fluid::ui {

class OnboardingWizard;

/// Page b: create Fluid's SSH CA or import its keys, into the secret store; shows the public keys. GUI
/// thread; the secret store is written on a worker.
class CaPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CaPage)
public:
    explicit CaPage(OnboardingWizard* wizard);
    ~CaPage() override;

    bool isComplete() const override;
    std::optional<services::CaSummary> summary() const { return m_summary; }

public Q_SLOTS:
    void run();

private:
    void updateState();

    OnboardingWizard* m_wizard;
    QRadioButton* m_create;
    QRadioButton* m_import;
    QLineEdit* m_userFile;
    QLineEdit* m_hostFile;
    QPushButton* m_browseUser;
    QPushButton* m_browseHost;
    QPushButton* m_run;
    QProgressBar* m_progress;
    QPlainTextEdit* m_publicKeys;
    QPushButton* m_copy;
    QLabel* m_message;
    QFutureWatcher<Result<services::CaSummary>>* m_watcher = nullptr;
    std::optional<services::CaSummary> m_summary;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QFutureWatcher>
#include <QWizardPage>

class QLabel;
class QPlainTextEdit;
class QProgressBar;

namespace fluid::ui {

class OnboardingWizard;

/// Page e: what will be written; Finish stores the API key and writes config.yaml (atomically) on a worker.
/// GUI thread.
class SummaryPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SummaryPage)
public:
    explicit SummaryPage(OnboardingWizard* wizard);
    ~SummaryPage() override;

    void initializePage() override;
    bool validatePage() override;
    bool isComplete() const override;
    bool isWriting() const { return m_watcher != nullptr; }

private:
    OnboardingWizard* m_wizard;
    QPlainTextEdit* m_summary;
    QProgressBar* m_progress;
    QLabel* m_message;
    QFutureWatcher<Result<void>>* m_watcher = nullptr;
    bool m_written = false;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "config/Settings.h"

#include <QWizardPage>

class QComboBox;
class QLabel;
class QLineEdit;

namespace fluid::ui {

class OnboardingWizard;

/// Page d: LLM provider, model, endpoint and API key (the key goes to the secret store at Finish). GUI
/// thread; nothing here blocks.
class LlmPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LlmPage)
public:
    explicit LlmPage(OnboardingWizard* wizard);
    ~LlmPage() override;

    bool isComplete() const override;
    config::AgentSettings agentSettings() const;
    QString apiKey() const;

private:
    void updateState();

    OnboardingWizard* m_wizard;
    QComboBox* m_provider;
    QLineEdit* m_model;
    QLineEdit* m_endpoint;
    QLabel* m_endpointError;
    QLineEdit* m_apiKey;
    QLabel* m_message;
};

} // namespace fluid::ui

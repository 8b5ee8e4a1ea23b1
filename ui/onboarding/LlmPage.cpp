// SPDX-License-Identifier: Apache-2.0
#include "LlmPage.h"

#include "config/SettingsChecks.h"
#include "OnboardingWizard.h"
#include "PageWidgets.h"
#include "secrets/SecretStore.h"

#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>

namespace fluid::ui {

using namespace onboarding;

LlmPage::LlmPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("llmPage"));
    setTitle(tr("The agent's language model"));
    setSubTitle(tr("The API key goes to your keychain (or Fluid's encrypted secrets file, when that is the "
                   "configured backend) when you finish; it is never written to the config."));
    const config::AgentSettings current = wizard->environment().base.agent;
    m_provider = new QComboBox(this);
    m_provider->setObjectName(QStringLiteral("llmProvider"));
    m_provider->setAccessibleName(tr("LLM provider"));
    m_provider->setToolTip(tr("Which API the agent talks to."));
    for (config::AgentProvider p : config::allValues<config::AgentProvider>())
        m_provider->addItem(config::toName(p), QVariant::fromValue(int(p)));
    m_provider->setCurrentText(config::toName(current.provider));
    m_model = new QLineEdit(current.model, this);
    m_model->setObjectName(QStringLiteral("llmModel"));
    m_model->setAccessibleName(tr("Model"));
    m_model->setPlaceholderText(tr("e.g. gpt-4o, claude-sonnet-4, llama3.1"));
    m_model->setToolTip(tr("The model name as the provider spells it."));
    m_endpoint = new QLineEdit(current.endpoint, this);
    m_endpoint->setObjectName(QStringLiteral("llmEndpoint"));
    m_endpoint->setAccessibleName(tr("Endpoint URL"));
    m_endpoint->setPlaceholderText(tr("empty: the provider's default"));
    m_endpoint->setToolTip(tr("An http:// or https:// URL; empty uses the provider's own endpoint."));
    m_endpointError = makeErrorLabel(QStringLiteral("llmEndpointError"), this);
    m_apiKey = new QLineEdit(this);
    m_apiKey->setObjectName(QStringLiteral("llmApiKey"));
    m_apiKey->setEchoMode(QLineEdit::Password);
    m_apiKey->setAccessibleName(tr("API key"));
    m_apiKey->setToolTip(tr("Stored in the keychain at Finish; leave empty to keep the key stored before."));
    m_message = makeMessageLabel(QStringLiteral("llmMessage"), this);

    auto* form = new QFormLayout(this);
    form->addRow(tr("&Provider:"), m_provider);
    form->addRow(tr("&Model:"), m_model);
    form->addRow(tr("&Endpoint:"), m_endpoint);
    form->addRow(QString(), m_endpointError);
    form->addRow(tr("API &key:"), m_apiKey);
    form->addRow(m_message);

    connect(m_provider, &QComboBox::currentIndexChanged, this, &LlmPage::updateState);
    for (QLineEdit* edit : {m_model, m_endpoint, m_apiKey})
        connect(edit, &QLineEdit::textChanged, this, &LlmPage::updateState);
    updateState();
}

LlmPage::~LlmPage() = default;

config::AgentSettings LlmPage::agentSettings() const
{
    config::AgentSettings agent = m_wizard->environment().base.agent;
    agent.provider = config::AgentProvider(m_provider->currentData().toInt());
    agent.model = m_model->text().trimmed();
    agent.endpoint = m_endpoint->text().trimmed();
    return agent;
}

QString LlmPage::apiKey() const
{
    return m_apiKey->text().trimmed();
}

bool LlmPage::isComplete() const
{
    return !agentSettings().model.isEmpty() &&
           config::detail::checkText(config::detail::TextRule::HttpUrlOrEmpty, agentSettings().endpoint)
               .isEmpty() &&
           config::detail::checkText(config::detail::TextRule::FreeText, agentSettings().model).isEmpty();
}

void LlmPage::updateState()
{
    const QString endpointProblem =
        config::detail::checkText(config::detail::TextRule::HttpUrlOrEmpty, m_endpoint->text().trimmed());
    m_endpointError->setText(endpointProblem.isEmpty() ? QString()
                                                       : tr("The endpoint %1.").arg(endpointProblem));
    m_endpointError->setVisible(!endpointProblem.isEmpty());
    const config::AgentProvider provider = config::AgentProvider(m_provider->currentData().toInt());
    const bool local = provider == config::AgentProvider::Ollama || provider == config::AgentProvider::Vllm;
    QString text;
    if (m_model->text().trimmed().isEmpty())
        text = tr("Enter the model the agent should use.");
    else if (!endpointProblem.isEmpty())
        text = tr("Fix the endpoint to continue.");
    else if (apiKey().isEmpty() && !local)
        text = tr("No API key entered: a key stored before under %1 is kept; without one the agent cannot "
                  "start.")
                   .arg(secrets::keys::llmApiKey(config::toName(provider)));
    m_message->setText(text);
    Q_EMIT completeChanged();
}

} // namespace fluid::ui

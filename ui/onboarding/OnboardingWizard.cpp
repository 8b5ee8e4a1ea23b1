// SPDX-License-Identifier: Apache-2.0
#include "OnboardingWizard.h"

#include "CaPage.h"
#include "GoldenPage.h"
#include "HostPage.h"
#include "LlmPage.h"
#include "SummaryPage.h"

#include <QFileDialog>
#include <QInputDialog>
#include <QLineEdit>

namespace fluid::ui {

OnboardingWizard::OnboardingWizard(Environment environment, QWidget* parent)
    : QWizard(parent)
    , m_env(std::move(environment))
{
    setObjectName(QStringLiteral("onboardingWizard"));
    setWindowTitle(tr("Set up Fluid"));
    setWizardStyle(QWizard::ClassicStyle);
    setOption(QWizard::NoBackButtonOnStartPage, true);
    setMinimumSize(760, 600);
    m_hostPage = new HostPage(this);
    m_caPage = new CaPage(this);
    m_goldenPage = new GoldenPage(this);
    m_llmPage = new LlmPage(this);
    m_summaryPage = new SummaryPage(this);
    setPage(HostPageId, m_hostPage);
    setPage(CaPageId, m_caPage);
    setPage(GoldenPageId, m_goldenPage);
    setPage(LlmPageId, m_llmPage);
    setPage(SummaryPageId, m_summaryPage);
    setStartId(HostPageId);
}

OnboardingWizard::~OnboardingWizard() = default;

QString OnboardingWizard::askForFile(QWidget* parent, const QString& title, const QString& folder,
                                     const QString& filter)
{
    if (m_fileDialog)
        return m_fileDialog(parent, title, folder, filter);
    return QFileDialog::getOpenFileName(parent, title, folder, filter);
}

std::optional<QString> OnboardingWizard::askForPassphrase(QWidget* parent, const QString& prompt)
{
    if (m_passphraseDialog)
        return m_passphraseDialog(parent, prompt);
    bool ok = false;
    const QString text =
        QInputDialog::getText(parent, tr("Key passphrase"), prompt, QLineEdit::Password, QString(), &ok);
    if (!ok)
        return std::nullopt;
    return text;
}

void OnboardingWizard::reject()
{
    if (m_summaryPage->isWriting())
        return;
    QWizard::reject();
}

config::HostSettings OnboardingWizard::chosenHost() const
{
    config::HostSettings host;
    host.name = m_hostPage->hostName();
    host.uri = m_hostPage->currentUri();
    host.golden = m_goldenPage->chosenSource();
    if (m_hostPage->loginKey())
        host.login = config::HostLogin::Keychain;
    if (const config::HostSettings* existing = m_env.base.host(host.name)) {
        host.accelerator = existing->accelerator;
        host.limits = existing->limits;
        if (host.golden.isEmpty())
            host.golden = existing->golden;
    }
    return host;
}

QString OnboardingWizard::chosenSourceVm() const
{
    return m_goldenPage->chosenSource();
}

config::Settings OnboardingWizard::resultSettings() const
{
    config::Settings settings = m_env.base;
    const config::HostSettings host = chosenHost();
    if (!m_env.baseFromFile)
        settings.hosts.clear();
    bool replaced = false;
    for (config::HostSettings& h : settings.hosts) {
        if (h.name == host.name) {
            h = host;
            replaced = true;
        }
    }
    if (!replaced)
        settings.hosts.append(host);
    const config::AgentSettings agent = m_llmPage->agentSettings();
    settings.agent.provider = agent.provider;
    settings.agent.model = agent.model;
    settings.agent.endpoint = agent.endpoint;
    return settings;
}

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#include "SummaryPage.h"

#include "base/Worker.h"
#include "CaPage.h"
#include "config/Config.h"
#include "GoldenPage.h"
#include "HostPage.h"
#include "LlmPage.h"
#include "OnboardingWizard.h"
#include "PageWidgets.h"
#include "secrets/SecretStore.h"

#include <QAbstractButton>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QVBoxLayout>

namespace fluid::ui {

using namespace onboarding;

SummaryPage::SummaryPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("summaryPage"));
    setTitle(tr("Summary"));
    setSubTitle(tr("Finish writes these settings. Cancel writes nothing."));
    setFinalPage(true);
    m_summary = new QPlainTextEdit(this);
    m_summary->setObjectName(QStringLiteral("summaryText"));
    m_summary->setReadOnly(true);
    m_summary->setAccessibleName(tr("Settings to be written"));
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("writeProgress"));
    m_progress->setRange(0, 0);
    m_progress->setTextVisible(false);
    m_progress->hide();
    m_message = makeMessageLabel(QStringLiteral("summaryMessage"), this);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary, 1);
    layout->addWidget(m_progress);
    layout->addWidget(m_message);
}

SummaryPage::~SummaryPage() = default;

void SummaryPage::initializePage()
{
    const config::Settings settings = m_wizard->resultSettings();
    const config::HostSettings host = m_wizard->chosenHost();
    const auto ca = m_wizard->caPage()->summary();
    const QString source = m_wizard->chosenSourceVm();
    const QString key = m_wizard->llmPage()->apiKey();
    QStringList lines;
    lines << tr("Config file: %1").arg(m_wizard->environment().configPath);
    lines << tr("Host: %1 at %2").arg(host.name, host.uri);
    if (const auto& report = m_wizard->hostPage()->report(); report && report->info)
        lines << tr("      %1 CPUs, %2 MiB, accelerator %3")
                     .arg(report->info->cpus)
                     .arg(report->info->memoryTotalKib / 1024)
                     .arg(virt::acceleratorName(report->info->accelerator));
    lines << tr("All hosts: %1").arg([&settings]() {
        QStringList names;
        for (const config::HostSettings& h : settings.hosts)
            names << h.name;
        return names.join(QStringLiteral(", "));
    }());
    if (ca)
        lines << tr("SSH CA: user %1, host %2 (in the secret store)")
                     .arg(ca->userCaFingerprint, ca->hostCaFingerprint);
    if (source.isEmpty())
        lines << tr("Golden VM: none chosen");
    else if (source == m_wizard->goldenPage()->builtVm())
        lines << tr("Golden VM: %1 (the Debian golden image built on the previous page)").arg(source);
    else
        lines << tr("Golden VM: %1").arg(source);
    lines << tr("LLM: %1, model %2, endpoint %3")
                 .arg(config::toName(settings.agent.provider), settings.agent.model,
                      settings.agent.endpoint.isEmpty() ? tr("(provider default)") : settings.agent.endpoint);
    if (const auto& login = m_wizard->hostPage()->loginKey();
        login && host.login == config::HostLogin::Keychain)
        lines << tr("SSH login key: %1 %2, stored in the secret store as %3")
                     .arg(login->type, login->fingerprint, secrets::keys::hostLoginKey(host.name));
    lines << (key.isEmpty() ? tr("API key: unchanged")
                            : tr("API key: stored in the secret store as %1")
                                  .arg(secrets::keys::llmApiKey(config::toName(settings.agent.provider))));
    m_summary->setPlainText(lines.join(QLatin1Char('\n')));
    m_message->clear();
    if (auto valid = config::validate(settings); !valid)
        m_message->setText(tr("These settings cannot be saved: %1").arg(valid.error().message));
}

bool SummaryPage::isComplete() const
{
    return !m_watcher;
}

bool SummaryPage::validatePage()
{
    if (m_written)
        return true;
    if (m_watcher)
        return false;
    const config::Settings settings = m_wizard->resultSettings();
    const QString path = m_wizard->environment().configPath;
    const secrets::SecretStoreOptions options = m_wizard->environment().secretStore;
    const QString key = m_wizard->llmPage()->apiKey();
    // Secrets first, then the config that refers to them.
    QList<std::pair<QString, QByteArray>> secretsToStore;
    if (!key.isEmpty())
        secretsToStore.append(
            {secrets::keys::llmApiKey(config::toName(settings.agent.provider)), key.toUtf8()});
    if (const auto& login = m_wizard->hostPage()->loginKey(); login) {
        const config::HostSettings host = m_wizard->chosenHost();
        if (host.login == config::HostLogin::Keychain)
            secretsToStore.append({secrets::keys::hostLoginKey(host.name), login->privateKey});
    }
    m_watcher = new QFutureWatcher<Result<void>>(this);
    connect(m_watcher, &QFutureWatcherBase::finished, this, [this, settings, path]() {
        const Result<void> result = m_watcher->result();
        m_watcher->deleteLater();
        m_watcher = nullptr;
        m_progress->hide();
        m_wizard->button(QWizard::CancelButton)->setEnabled(true);
        m_wizard->button(QWizard::BackButton)->setEnabled(true);
        if (!result) {
            m_message->setText(tr("Nothing was finished: %1").arg(result.error().toString()));
            Q_EMIT completeChanged();
            return;
        }
        m_written = true;
        m_message->setText(tr("Written to %1.").arg(path));
        Q_EMIT m_wizard->configWritten(path, settings);
        m_wizard->accept();
    });
    m_progress->show();
    m_message->setText(secretsToStore.isEmpty() ? tr("Writing the config…")
                                                : tr("Storing the keys and writing the config…"));
    // Once the write starts it runs to its end: cancelling half-way would leave a key without a config.
    m_wizard->button(QWizard::CancelButton)->setEnabled(false);
    m_wizard->button(QWizard::BackButton)->setEnabled(false);
    m_watcher->setFuture(
        runOnWorker<Result<void>>([settings, path, options, secretsToStore](QPromise<Result<void>>& p) {
            if (auto valid = config::validate(settings); !valid) {
                p.addResult(valid.error());
                return;
            }
            if (!secretsToStore.isEmpty()) {
                auto store = secrets::openSecretStore(options);
                if (!store) {
                    p.addResult(store.error());
                    return;
                }
                for (const auto& [name, value] : secretsToStore) {
                    if (auto w = (*store)->write(name, value); !w) {
                        p.addResult(w.error());
                        return;
                    }
                }
            }
            p.addResult(config::saveConfig(path, settings));
        }));
    Q_EMIT completeChanged();
    return false;
}

} // namespace fluid::ui

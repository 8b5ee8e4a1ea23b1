// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "config/Settings.h"
#include "secrets/SecretStore.h"
#include "services/Onboarding.h"

#include <QWizard>

#include <functional>
#include <optional>

namespace fluid::ui {

class HostPage;
class CaPage;
class GoldenPage;
class LlmPage;
class SummaryPage;

/// First-run set-up: a libvirt host (tested step by step on a worker, its SSH key confirmed by the person),
/// Fluid's SSH CA in the secret store, a golden VM to clone (an existing one or the Debian image built by
/// golden-image.sh), the LLM provider with its API key in the secret store, then a summary that writes
/// config.yaml atomically. Nothing is written to the config when the wizard is cancelled (the CA keys and
/// a trusted host key are stored when the person asks for them on their pages).
///
/// Thread: GUI thread. Every blocking step runs on a worker and comes back through a QFutureWatcher.
class OnboardingWizard : public QWizard {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OnboardingWizard)
public:
    enum PageId { HostPageId, CaPageId, GoldenPageId, LlmPageId, SummaryPageId };

    /// Where the wizard reads from and writes to. Tests point every path into a temp folder.
    struct Environment {
        /// config.yaml to write (fluid::paths::configFile() in the app).
        QString configPath;
        /// Settings to extend (the loaded config, or the defaults on first run).
        config::Settings base;
        /// False on first run: the default "local" host was not chosen by anyone and is replaced.
        bool baseFromFile = false;
        /// known_hosts for remote hosts; empty: ~/.ssh/known_hosts.
        QString knownHostsFile;
        /// Folder offered for SSH keys; empty: ~/.ssh.
        QString sshDir;
        /// Where the CA keys and the API key go.
        secrets::SecretStoreOptions secretStore;
        /// How hosts are opened; empty: services::connectHypervisor.
        services::HypervisorConnector connect;
        /// Folder of the running executable, for finding golden-image.sh.
        QString exeDir;
    };

    /// The answer to a file dialog: (parent, title, folder, filter) -> chosen path, empty when cancelled.
    using FileDialog = std::function<QString(QWidget*, const QString&, const QString&, const QString&)>;

    explicit OnboardingWizard(Environment environment, QWidget* parent = nullptr);
    ~OnboardingWizard() override;

    const Environment& environment() const { return m_env; }

    /// Replaces QFileDialog::getOpenFileName (tests answer file dialogs through this).
    void setFileDialog(FileDialog dialog) { m_fileDialog = std::move(dialog); }
    QString askForFile(QWidget* parent, const QString& title, const QString& folder, const QString& filter);
    /// The answer to a passphrase prompt: (parent, prompt) -> the passphrase, nullopt when cancelled.
    using PassphraseDialog = std::function<std::optional<QString>(QWidget*, const QString&)>;
    /// Replaces the QInputDialog password prompt (tests answer it through this).
    void setPassphraseDialog(PassphraseDialog dialog) { m_passphraseDialog = std::move(dialog); }
    std::optional<QString> askForPassphrase(QWidget* parent, const QString& prompt);

    /// The settings the summary writes (valid once the LLM page has been passed).
    config::Settings resultSettings() const;
    /// The host the person set up.
    config::HostSettings chosenHost() const;
    /// The source VM chosen to clone: the VM selected, or the one the golden image build defined on the host
    /// (empty when none is chosen).
    QString chosenSourceVm() const;

    HostPage* hostPage() const { return m_hostPage; }
    CaPage* caPage() const { return m_caPage; }
    GoldenPage* goldenPage() const { return m_goldenPage; }
    LlmPage* llmPage() const { return m_llmPage; }
    SummaryPage* summaryPage() const { return m_summaryPage; }

public Q_SLOTS:
    /// Cancel (and Escape): ignored while Finish is storing the key and writing the config, which runs to
    /// its end so no API key is left without its config.
    void reject() override;

Q_SIGNALS:
    /// The config was written (after Finish).
    void configWritten(const QString& path, const fluid::config::Settings& settings);

private:
    Environment m_env;
    FileDialog m_fileDialog;
    PassphraseDialog m_passphraseDialog;
    HostPage* m_hostPage = nullptr;
    CaPage* m_caPage = nullptr;
    GoldenPage* m_goldenPage = nullptr;
    LlmPage* m_llmPage = nullptr;
    SummaryPage* m_summaryPage = nullptr;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "config/Config.h"
#include "services/HostSession.h"
#include "services/HostSessionSet.h"
#include "services/Operations.h"
#include "services/Wiring.h"
#include "store/Database.h"

#include <QObject>

#include <memory>
#include <optional>

namespace fluid::approval {
class ApprovalBroker;
}

namespace fluid::secrets {
class SecretStore;
}

namespace fluid::store {
class StoreWorker;
}

namespace fluid::services {

/// The one composition root every front end starts from (the desktop app, the CLI; the agent and
/// fluid-remote next): from the settings, the store (opened on its own thread for a window, or on the
/// caller's thread for the CLI), the secret store, Fluid's SSH CA and the hosts' login keys (loaded lazily,
/// off the GUI thread), the approval broker, the operation registry, and a HostSession per configured host
/// kept in step with the settings. A front end asks it for what it needs and never wires these itself.
///
/// Thread: create, call and destroy on one thread (the GUI thread, or the CLI's main thread). Destroying it
/// closes the host sessions first (they wait for their workers and store their terminals' audit records),
/// then the broker, the registry and the store.
class Services : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Services)
public:
    struct Options {
        config::LoadedConfig config;
        /// Of the encrypted secrets file, when the settings choose that backend (FLUID_SECRETS_PASSPHRASE).
        QString passphrase;
        const Clock* clock = nullptr;
        /// How often waits for a person's decision look for decisions other processes recorded.
        int approvalPollMs = 1000;
        /// The fluid executable that runs local hosts' egress gates (`fluid egress serve`); empty: Fluid
        /// starts none (sandboxes then reach nothing outside).
        QString egressGateProgram;
        /// Keep the audit chain's head outside the database too (services::auditAnchor()): the front ends
        /// do; tests that do not look at it leave it off so that they never reach a keychain.
        bool anchorAudit = false;
        /// Changes each host session's setup before the session is made (tests: libvirt's test driver).
        std::function<void(HostSession::Setup&)> adjustHostSetup;
    };

    explicit Services(Options options, QObject* parent = nullptr);
    ~Services() override;

    const config::Settings& settings() const { return m_config.settings; }
    const config::LoadedConfig& config() const { return m_config; }
    const QString& passphrase() const { return m_passphrase; }
    const Clock& clock() const { return m_clock; }

    secrets::SecretStoreOptions secretStoreOptions() const;
    /// Opens the configured secret store. Blocks (a keychain may take a while): never on the GUI thread.
    Result<std::unique_ptr<secrets::SecretStore>> openSecretStore() const;
    /// Fluid's SSH CA from the secret store, loaded when first called on a worker.
    CaLoader caLoader() const;
    /// A configured host's login key from the secret store (none: ssh's own keys).
    LoginKeyLoader loginKeyLoader(const config::HostSettings& host) const;

    /// For a window: opens and migrates the store on the store worker's thread (storeWorker()); storeOpened()
    /// follows, and then the configured hosts open.
    void start();
    /// For the CLI: opens and migrates the store on this thread and returns that connection (kept by this
    /// object). With mustExist, a SQLite store that is not there yet is NotFound (read-only commands do not
    /// make one).
    Result<store::Database*> openStoreHere(bool mustExist = false);
    /// The store's worker thread, for a window's own store reads (docks). Opened by start().
    store::StoreWorker* storeWorker() const { return m_storeWorker.get(); }
    /// The options the store was opened with (a resolved PostgreSQL password included); empty before.
    const std::optional<store::DatabaseOptions>& databaseOptions() const { return m_database; }

    /// Files approval requests and tells waiters of decisions (its poll starts once the store is open).
    approval::ApprovalBroker* approvals() const { return m_approvals.get(); }
    OperationRegistry* operations() const { return m_operations.get(); }
    /// A session per configured host, following the settings; empty until the store is open.
    HostSessionSet* hosts() const { return m_hosts.get(); }

    /// New settings were saved (the set-up wizard, the settings dialog): the hosts follow them (once the
    /// store is open). Returns what changed, for a status line ("Hosts: beta added.").
    QString applySettings(const config::Settings& settings);
    /// The setup of a session for `host` from the current settings, with this process's store, approvals,
    /// operations, CA and login key.
    HostSession::Setup hostSetup(const config::HostSettings& host) const;
    /// A session of its own for a configured host (empty: the first), opened and waited for, that does not
    /// clean up after other Fluids (for one command of the CLI). Needs the store open.
    Result<std::unique_ptr<HostSession>> openHostSession(const QString& hostName);

Q_SIGNALS:
    /// start() has opened the store (ok) or could not (message says why).
    void storeOpened(bool ok, const QString& message);

private:
    /// What follows an open store, whichever way it was opened: the broker, the hosts.
    void storeReady(const store::DatabaseOptions& options);

    config::LoadedConfig m_config;
    QString m_passphrase;
    const Clock& m_clock;
    const int m_approvalPollMs;
    std::function<void(HostSession::Setup&)> m_adjustHostSetup;
    QString m_egressGateProgram;
    bool m_anchorAudit = false;
    CaLoader m_loadCa;
    std::optional<store::DatabaseOptions> m_database;
    // Destroyed bottom-up: the hosts (whose destructors wait for their workers) go before what they use.
    std::unique_ptr<store::StoreWorker> m_storeWorker;
    std::unique_ptr<store::Database> m_here;
    std::unique_ptr<OperationRegistry> m_operations;
    std::unique_ptr<approval::ApprovalBroker> m_approvals;
    std::unique_ptr<HostSessionSet> m_hosts;
};

} // namespace fluid::services

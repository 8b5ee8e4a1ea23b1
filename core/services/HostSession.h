// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "config/Settings.h"
#include "inspect/SnapshotInspector.h"
#include "model/Model.h"
#include "services/Onboarding.h"
#include "ssh/CertificateAuthority.h"
#include "ssh/SandboxShell.h"
#include "store/Database.h"
#include "virt/SandboxManager.h"

#include <QHash>
#include <QMutex>
#include <QObject>
#include <QThreadPool>

#include <atomic>
#include <functional>
#include <memory>

namespace fluid::services {

/// One libvirt host as a front end sees it (the desktop app's tree, fluid-remote). Connecting, sandbox
/// operations and libvirt's lifecycle events all run on a small pool of worker threads, each with its own
/// store connection; results, progress, state changes and connection drops come back as signals (queued
/// to the session's thread). Every call returns at once.
///
/// Thread: create, call and destroy on one thread (the GUI thread). Destroying it cancels running creates
/// (which roll back) and waits for the workers.
///
/// Terminals (openShell) are audited like an agent's commands: each PTY's pty.open and pty.close go into the
/// hash-chained audit log with actor "person", the sandbox and the target. The session owns that path: its
/// shells' records are stored by its own ssh::AuditWriter (its own store connection and thread), not by a
/// front end's StoreWorker, so no other object's lifetime matters. Shutdown order: destroying the session
/// first waits for its workers, then closes every shell it handed out (their connections end; open terminals
/// emit pty.close) and then waits until those records are stored. Whoever still holds a shell afterwards
/// (a terminal tab) holds a closed one; a record reaching the writer after that is dropped, never a crash.
class HostSession : public QObject {
    Q_OBJECT
public:
    struct Setup {
        config::HostSettings host;
        store::DatabaseOptions database;
        virt::ManagerOptions manager;
        /// Defaults for create(): memory, vCPUs, accelerator, limits, ready timeout (hostId is filled in).
        virt::CreateOptions createDefaults;
        /// Opens the host's connection (services::connectHypervisor by default).
        std::function<Result<std::unique_ptr<virt::Hypervisor>>(const QString& uri)> connect;
        /// Loads Fluid's SSH CA for openShell() (a services::CaLoader, e.g. secretStoreCaLoader); called on a
        /// worker, once, when the first shell is opened. Unset: openShell() fails saying so.
        std::function<Result<std::shared_ptr<const ssh::CertificateAuthority>>()> loadCa;
        /// Where a sandbox's sshd is reached; sandboxEndpoint() (the row's IP, port 22, its pinned host key)
        /// when unset.
        std::function<Result<ssh::SandboxEndpoint>(const model::Sandbox&)> shellEndpoint;
        /// Reaches a remote host's sshd to read a sandbox's disk there for diff()
        /// (services::hostShellConnector by default).
        inspect::HostConnector connectHost;
        /// The host's SSH login key from the secret store, for hosts with login_key: keychain (a
        /// services::LoginKeyLoader); the default connect and connectHost call it, on a worker, for each
        /// connection they make. Unset: ssh's own keys.
        std::function<Result<QByteArray>()> loadLoginKey;
        /// Where the default connect and connectHost check a remote host's SSH key; empty:
        /// ~/.ssh/known_hosts.
        QString knownHostsFile;
    };

    /// The Setup a front end gives the session of one configured host: its store, manager options with
    /// Fluid's CA as identity issuer, create defaults from config, the CA for terminals, and the host's
    /// login key loader. `loadCa` and `loadLoginKey` are called lazily, on a worker
    /// (services::secretStoreCaLoader, services::loginKeyLoader).
    static Setup setupFor(const config::Settings& settings, const config::HostSettings& host,
                          const store::DatabaseOptions& database,
                          std::function<Result<std::shared_ptr<const ssh::CertificateAuthority>>()> loadCa,
                          std::function<Result<QByteArray>()> loadLoginKey = {});

    /// The endpoint of a running sandbox's sshd from its row: its IP, port 22, root, the host key Fluid
    /// injected (pinned). Fails (with what to do) when it is not running or has no IP or host key.
    static Result<ssh::SandboxEndpoint> sandboxEndpoint(const model::Sandbox& sandbox);

    using ShellCallback = std::function<void(Result<std::shared_ptr<ssh::RemoteShell>>)>;

    /// A source VM row for views: the wizard's row, with the disk and the golden mark.
    struct Source : SourceVmRow {
        QString disk;
        bool golden = false; ///< the host's configured golden VM (hosts[].golden)
    };

    explicit HostSession(Setup setup, QObject* parent = nullptr);
    ~HostSession() override;

    QString hostName() const { return m_setup.host.name; }
    QString uri() const { return m_setup.host.uri; }
    /// The source VM creates use when none is named (hosts[].golden); empty when none is configured.
    QString golden() const { return m_setup.host.golden; }
    /// The store row id of the host (empty until opened).
    QString hostId() const;
    bool isOpen() const;
    /// What create() uses for memory, vCPUs and the rest when not told otherwise.
    const virt::CreateOptions& createDefaults() const { return m_setup.createDefaults; }

    /// Connects, makes sure the host has its store row, reconciles leftovers of a crash, and loads
    /// sources and sandboxes. Emits opened(), then sourcesChanged() and sandboxesChanged().
    void open();
    /// Reloads sources and sandboxes.
    void refresh();
    /// Loads the snapshots of one sandbox: snapshotsLoaded().
    void loadSnapshots(const QString& sandboxId);

    /// Sandbox operations; each returns an operation id that progress and finish signals carry.
    int create(const QString& sourceDomain, const QString& name, int memoryMib = 0, int vcpus = 0);
    int start(const QString& sandboxId);
    int stop(const QString& sandboxId);
    int destroy(const QString& sandboxId);
    int snapshot(const QString& sandboxId, const QString& snapshotName);
    int revert(const QString& sandboxId, const QString& snapshotName);
    /// Cancels a create in flight (it rolls back) or a diff (its mounts are released); other operations run
    /// to their end.
    void cancel(int operation);
    /// Diffs a sandbox between two of its snapshots by name (an empty `toSnapshot` means now: a fresh
    /// snapshot is taken first), served from the store when computed before. Progress comes as
    /// operationProgress (stage) and operationFraction; cancel() stops it (mounts are released); the
    /// document arrives in diffReady() just before operationFinished(ok). A remote host's disk is read there
    /// over Setup::connectHost.
    int diff(const QString& sandboxId, const QString& fromSnapshot, const QString& toSnapshot = {});

    /// Connects to a running sandbox's sshd as root with a short-lived certificate from Fluid's CA (the CA is
    /// loaded and the connection made on a worker) and calls `done` on this session's thread with the
    /// connected shell, unless `context` was destroyed first. Open terminals with openPty() on the returned
    /// shell, on the thread that will own them; keep the shell while they live. Dropping the last reference
    /// closes the connection on a worker, never blocking the caller. A remote host's sandboxes are reached
    /// through that host (ProxyJump over Setup::connectHost, one connection shared by its shells).
    /// Its terminals are audited (pty.open, pty.close; actor "person"); destroying the session closes it.
    void openShell(const QString& sandboxId, QObject* context, ShellCallback done);

    /// Closes the session without blocking the caller: running creates and diffs are cancelled (creates
    /// roll back, diffs release their mounts), other operations run to their end on the workers, libvirt's
    /// events are no longer followed, and no new work starts (operations fail saying the host was closed).
    /// The host's connections are dropped on a worker too. closed() follows once every worker is done;
    /// delete the session then (deleting it earlier waits for the workers). Open terminals keep their own
    /// connections. Calling it again does nothing.
    void close();
    bool isClosing() const { return m_closeRequested; }
    /// New sandbox defaults from changed settings (memory, vCPUs, accelerator, limits, ready timeout, and
    /// the stop timeout) for operations started from now on; running ones keep theirs.
    void setDefaults(const virt::CreateOptions& createDefaults, int stopTimeoutS);

Q_SIGNALS:
    void opened(bool ok, const QString& message);
    /// The host's connection dropped (up=false, Fluid reconnects by itself) or came back.
    void connectionChanged(bool up, const QString& reason);
    void hostInfoChanged(const QString& summary);
    void sourcesChanged(const QList<fluid::services::HostSession::Source>& sources);
    /// Every sandbox of this host that is not destroyed, newest first.
    void sandboxesChanged(const QList<fluid::model::Sandbox>& sandboxes);
    void snapshotsLoaded(const QString& sandboxId, const QList<fluid::virt::SnapshotInfo>& snapshots);
    void operationStarted(int operation, const QString& description);
    void operationProgress(int operation, const QString& message);
    void operationFinished(int operation, bool ok, const QString& message);
    /// How far a diff operation is, 0..1.
    void operationFraction(int operation, double fraction);
    /// The result of diff(); emitted before its operationFinished.
    void diffReady(int operation, const QString& sandboxId, const fluid::model::Diff& diff);
    /// close() has finished: no worker of this session runs any more.
    void closed();

private:
    using Work = std::function<Result<QString>(virt::SandboxManager&, const std::atomic<bool>& cancel,
                                               const std::function<void(const QString&)>& progress)>;
    int launch(const QString& description, Work work);
    /// launch() for work that needs its own operation id (made by `make` once the id is known).
    int launchOperation(const QString& description, const std::function<Work(int)>& make);
    int lifecycle(const QString& verb, const QString& sandboxId,
                  Result<model::Sandbox> (virt::SandboxManager::*step)(const QString&));
    /// Runs fn on a worker with its own store connection and a manager over it (not when closing); on
    /// `pool` when given, else on the general pool.
    void onWorker(std::function<void(virt::SandboxManager&, store::Database&)> fn,
                  QThreadPool* pool = nullptr);
    /// The SSH connection to a remote host (Setup::connectHost), made once and reused while it is up.
    Result<std::shared_ptr<ssh::SshConnection>> jumpConnection();
    void emitSandboxes(store::Database& db);
    void emitSources(virt::SandboxManager& manager);
    /// The start of closing (close() and the destructor): no more signals through the relay, no new work,
    /// every running operation told to cancel.
    void stopAcceptingWork();
    /// The manager options (setDefaults() changes them), read under the lock.
    virt::ManagerOptions currentManagerOptions() const;
    /// What operations and shells say after close().
    QString closedMessage() const;

    /// What libvirt's threads call back into; cut from the session before it goes away.
    struct Relay {
        QMutex mutex;
        HostSession* session = nullptr;
    };

    Setup m_setup;
    std::shared_ptr<Relay> m_relay;
    QThreadPool m_pool;
    /// One thread: libvirt's lifecycle events are applied in the order they came (a late "running" must
    /// not overwrite the "shut off" that followed it).
    QThreadPool m_eventPool;
    /// Held from reading the sandboxes to emitting them, so lists reach listeners in the order they were
    /// read and the last one is never older than the last change.
    QMutex m_emitMutex;
    mutable QMutex m_mutex; // guards the members below
    std::shared_ptr<virt::Hypervisor> m_hv;
    QString m_hostId;
    QHash<int, std::shared_ptr<std::atomic<bool>>> m_cancels;
    int m_nextOperation = 1;
    std::atomic<bool> m_closing{false};
    /// Loaded by the first openShell(); guarded by m_mutex.
    std::shared_ptr<const ssh::CertificateAuthority> m_ca;
    /// The connection to a remote host its sandboxes' shells jump through (ProxyJump), shared by them.
    QMutex m_jumpMutex;
    std::shared_ptr<ssh::SshConnection> m_jump;
    /// Stores the audit records of the shells' connections (terminals' pty.open / pty.close).
    ssh::AuditWriter m_audit{m_setup.database};
    /// Every shell openShell() made, closed by the destructor; guarded by m_mutex.
    QList<std::weak_ptr<ssh::SandboxShell>> m_shells;
    /// Runs close()'s wait for the workers, so the caller does not wait.
    QThreadPool m_closer;
    bool m_closeRequested = false; // close() was called (its thread only)
};

} // namespace fluid::services

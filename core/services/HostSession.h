// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "config/Settings.h"
#include "inspect/SnapshotInspector.h"
#include "model/Model.h"
#include "services/Onboarding.h"
#include "services/Operations.h"
#include "ssh/CertificateAuthority.h"
#include "ssh/CommandAudit.h"
#include "ssh/SandboxShell.h"
#include "store/Database.h"
#include "virt/SandboxManager.h"

#include <QHash>
#include <QMutex>
#include <QObject>
#include <QThreadPool>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace fluid::services {

/// What to create: the source VM to clone and, where given, the sandbox's name, size and whether to wait for
/// its SSH (the session's defaults fill in the rest).
struct CreateRequest {
    QString source;
    QString name;                  ///< empty: generated
    int memoryMib = 0;             ///< 0: the default
    int vcpus = 0;                 ///< 0: the default
    std::optional<bool> waitReady; ///< wait until its SSH answers; unset: the default (yes)
};

/// One libvirt host as every front end sees it (the desktop app's tree, the CLI, the agent, fluid-remote):
/// its connection, its sources and sandboxes, and every long operation on them. Operations are registered in
/// an OperationRegistry (id, actor, progress, cancel, typed result; see Operations.h) and run on a small
/// pool of worker threads, each with its own store connection (store::threadConnection); the caller gets an
/// Operation handle at once. A create beyond the host's limits asks a person through Setup::admit and waits
/// for the answer as a continuation, holding no thread. Lists and state changes (from libvirt's events too)
/// come back as signals queued to the session's thread.
///
/// Thread: create, call and destroy on one thread (the GUI thread, or the CLI's main thread). Destroying it
/// cancels running creates (which roll back) and waits for the workers.
///
/// Terminals (openShell) are audited like an agent's commands: each PTY's pty.open and pty.close go into the
/// hash-chained audit log with the actor given, the sandbox and the target. The session owns that path: its
/// shells' records are stored by its own ssh::AuditWriter (its own thread and store connection). Shutdown
/// order: destroying the session first waits for its workers, then closes every shell it handed out (their
/// connections end; open terminals emit pty.close) and then waits until those records are stored. Whoever
/// still holds a shell afterwards (a terminal tab) holds a closed one.
class HostSession : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HostSession)
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
        /// Makes sure the host's egress gate runs (services::ensureEgressGate), before a create or a start;
        /// unset: none is started (a remote host, or a front end that cannot start one), and sandboxes reach
        /// nothing outside.
        std::function<Result<void>()> ensureEgressGate;
        /// Asks a person to allow a create beyond the host's limits (Services: an approval request). Unset:
        /// such a create fails saying that approvals are not available here.
        virt::AdmissionGate admit;
        /// Where operations are registered (Services' registry, shared by every host). Unset: the session
        /// keeps a registry of its own.
        OperationRegistry* operations = nullptr;
        /// How long the certificates of openShell()'s connections last (ssh.cert_ttl_minutes); they are
        /// renewed underneath before they run out.
        std::chrono::seconds certificateValidity{300};
        /// Cleans up after a crash (SandboxManager::reconcile) when the session opens. The desktop app's
        /// sessions do; a command-line session does not touch what another running Fluid may be making.
        bool reconcileOnOpen = true;
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
    virt::CreateOptions createDefaults() const;
    OperationRegistry* operations() const { return m_operations; }

    /// Connects, makes sure the host has its store row, reconciles leftovers of a crash (unless the setup
    /// says not to), and loads sources and sandboxes. Emits opened(), then sourcesChanged() and
    /// sandboxesChanged(); the future carries the same outcome.
    QFuture<Result<QString>> open();
    /// Reloads sources and sandboxes.
    void refresh();
    /// Loads the snapshots of one sandbox: snapshotsLoaded().
    void loadSnapshots(const QString& sandboxId);

    // Questions, answered on a worker (the CLI waits for them; views use the signals above).
    QFuture<Result<QList<virt::SandboxManager::Source>>> sources();
    /// The host's sandboxes newest first; destroyed ones only when `includeDestroyed`.
    QFuture<Result<QList<model::Sandbox>>> sandboxes(bool includeDestroyed = false);
    /// The live sandbox with this name; NotFound names the host.
    QFuture<Result<model::Sandbox>> findSandbox(const QString& name);
    QFuture<Result<QList<virt::SnapshotInfo>>> snapshots(const QString& sandboxId);

    // Operations: registered in operations() with `actor`, running on the workers. Cancel through the
    // registry (or the handle's token): a create rolls back, a diff releases its mounts, the rest run to
    // their end.
    Operation<model::Sandbox> create(const CreateRequest& request, const model::Actor& actor);
    Operation<model::Sandbox> start(const QString& sandboxId, const model::Actor& actor);
    Operation<model::Sandbox> stop(const QString& sandboxId, const model::Actor& actor);
    Operation<model::Sandbox> destroy(const QString& sandboxId, const model::Actor& actor);
    Operation<model::Snapshot> snapshot(const QString& sandboxId, const QString& snapshotName,
                                        const model::Actor& actor, const QString& description = {});
    Operation<void> revert(const QString& sandboxId, const QString& snapshotName, const model::Actor& actor);
    /// Diffs a sandbox between two of its snapshots by name (an empty `toSnapshot` means now: a fresh
    /// snapshot is taken first), served from the store when computed before. A remote host's disk is read
    /// there over Setup::connectHost.
    Operation<model::Diff> diff(const QString& sandboxId, const QString& fromSnapshot,
                                const QString& toSnapshot, const model::Actor& actor);
    /// Removes Fluid domains and volumes nobody owns and fixes rows whose domain is gone.
    Operation<virt::ReconcileReport> reconcile(const model::Actor& actor);

    /// Connects to a running sandbox's sshd as root with a short-lived certificate from Fluid's CA (the CA is
    /// loaded and the connection made on a worker) and calls `done` on this session's thread with the
    /// connected shell, unless `context` was destroyed first. Open terminals with openPty() on the returned
    /// shell, on the thread that will own them; keep the shell while they live. Dropping the last reference
    /// closes the connection on a worker, never blocking the caller. A remote host's sandboxes are reached
    /// through that host (ProxyJump over Setup::connectHost, one connection shared by its shells).
    /// Its terminals are audited (pty.open, pty.close) as `actor`'s; destroying the session closes it.
    void openShell(const QString& sandboxId, const model::Actor& actor, QObject* context, ShellCallback done);

    /// Closes the session without blocking the caller: running operations are cancelled (creates roll back,
    /// diffs release their mounts, a create waiting for a person stops waiting; other operations run to their
    /// end on the workers), libvirt's events are no longer followed, and no new work starts (operations fail
    /// saying the host was closed). The host's connections are dropped on a worker too. closed() follows
    /// once every worker is done; delete the session then (deleting it earlier waits for the workers). Open
    /// terminals keep their own connections. Calling it again does nothing.
    void close();
    bool isClosing() const { return m_closeRequested; }
    /// New defaults from changed settings, taken from `fresh` (a setup made from them for the same host):
    /// sandbox defaults (memory, vCPUs, accelerator, limits, ready timeout), the stop timeout and the
    /// certificate validity, for operations and shells started from now on; running ones keep theirs.
    void setDefaults(const Setup& fresh);
    /// How many worker threads run work right now (for tests: a create waiting for a person holds none).
    int activeWorkers() const { return m_pool.activeThreadCount(); }

Q_SIGNALS:
    void opened(bool ok, const QString& message);
    /// The host's connection dropped (up=false, Fluid reconnects by itself) or came back.
    void connectionChanged(bool up, const QString& reason);
    void hostInfoChanged(const QString& summary);
    void sourcesChanged(const QList<fluid::services::HostSession::Source>& sources);
    /// Every sandbox of this host that is not destroyed, newest first.
    void sandboxesChanged(const QList<fluid::model::Sandbox>& sandboxes);
    void snapshotsLoaded(const QString& sandboxId, const QList<fluid::virt::SnapshotInfo>& snapshots);
    /// close() has finished: no worker of this session runs any more.
    void closed();

private:
    /// Inspector options whose local helper calls are audited through m_audit.
    inspect::InspectorOptions inspectorOptions() const;
    using WorkerFn = std::function<void(virt::SandboxManager&, store::Database&)>;
    /// Runs fn on a worker with its thread's store connection and a manager over it; false (fn not run) when
    /// the session is closing or not connected. On `pool` when given, else on the general pool.
    bool onWorker(WorkerFn fn, QThreadPool* pool = nullptr);
    /// Registers an operation of this host.
    template <typename T>
    Operation<T> begin(OperationKind kind, const model::Actor& actor, const QString& subject,
                       const QString& subjectId, const QString& description, bool cancellable);
    /// Runs `work` for `op` on a worker and finishes op with its result (summary from `summarize`), then
    /// emits the sandboxes; fails op at once (asynchronously for the caller) when no work can start.
    template <typename T>
    void run(const Operation<T>& op,
             std::function<Result<T>(virt::SandboxManager&, const Operation<T>&)> work,
             std::function<QString(const T&)> summarize);
    template <typename R>
    QFuture<Result<R>> ask(std::function<Result<R>(virt::SandboxManager&, store::Database&)> question);
    Operation<model::Sandbox>
    lifecycle(OperationKind kind, const QString& verb, const QString& sandboxId, const model::Actor& actor,
              Result<model::Sandbox> (virt::SandboxManager::*step)(const QString&, const model::Actor&));
    /// The second half of a create, once the plan is allowed.
    void build(const Operation<model::Sandbox>& op, const virt::CreatePlan& plan);
    /// Starts the host's egress gate when it is not running (Setup::ensureEgressGate); a failure is reported
    /// through `progress` and the log, never fatal. On a worker.
    void ensureGate(const ProgressSink& progress);
    /// The SSH connection to a remote host (Setup::connectHost), made once and reused while it is up.
    Result<std::shared_ptr<ssh::SshConnection>> jumpConnection();
    Result<std::shared_ptr<const ssh::CertificateAuthority>> certificateAuthority();
    void emitSandboxes(store::Database& db);
    void emitSources(virt::SandboxManager& manager);
    /// The start of closing (close() and the destructor): no more signals through the relay, no new work,
    /// every running operation told to cancel.
    void stopAcceptingWork();
    virt::ManagerOptions currentManagerOptions() const;
    /// What operations and shells say after close().
    Error closedError() const;
    Error notConnectedError() const;

    /// What libvirt's threads and continuations call back into; cut from the session before it goes away.
    struct Relay {
        QMutex mutex;
        HostSession* session = nullptr;
    };

    Setup m_setup;
    std::unique_ptr<OperationRegistry> m_ownOperations;
    OperationRegistry* m_operations;
    std::shared_ptr<Relay> m_relay;
    /// Cancelled when the session closes; every operation's token is a child of it.
    CancelToken m_cancel;
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

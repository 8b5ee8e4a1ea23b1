// SPDX-License-Identifier: Apache-2.0
#include "HostSession.h"

#include "base/Logging.h"
#include "inspect/RemoteMount.h"
#include "inspect/SnapshotInspector.h"
#include "Runtime.h"
#include "SandboxDiff.h"
#include "ssh/SshConnection.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QMetaObject>
#include <QPointer>
#include <QPromise>

#include <mutex>
#include <utility>

namespace fluid::services {

HostSession::HostSession(Setup setup, QObject* parent)
    : QObject(parent)
    , m_setup(std::move(setup))
    , m_relay(std::make_shared<Relay>())
{
    m_relay->session = this;
    if (!m_setup.operations)
        m_ownOperations = std::make_unique<OperationRegistry>();
    m_operations = m_setup.operations ? m_setup.operations : m_ownOperations.get();
    // Creates wait for the guest (tens of seconds under TCG): enough workers that one slow create does not
    // hold up a stop or a refresh.
    m_pool.setMaxThreadCount(6);
    m_eventPool.setMaxThreadCount(1);
    if (!m_setup.connect)
        m_setup.connect = [loadKey = m_setup.loadLoginKey,
                           knownHosts = m_setup.knownHostsFile](const QString& uri) {
            return connectHypervisor(uri, knownHosts, loadKey);
        };
    if (!m_setup.connectHost)
        m_setup.connectHost = hostShellConnector(m_setup.knownHostsFile, m_setup.loadLoginKey);
}

HostSession::Setup
HostSession::setupFor(const config::Settings& settings, const config::HostSettings& host,
                      const store::DatabaseOptions& database,
                      std::function<Result<std::shared_ptr<const ssh::CertificateAuthority>>()> loadCa,
                      std::function<Result<QByteArray>()> loadLoginKey)
{
    Setup setup;
    setup.host = host;
    setup.database = database;
    setup.manager = managerOptions(settings);
    setup.manager.issueIdentity = lazyIdentityIssuer(loadCa);
    setup.createDefaults = services::createDefaults(settings, host, {});
    setup.loadCa = std::move(loadCa);
    setup.loadLoginKey = std::move(loadLoginKey);
    setup.certificateValidity = std::chrono::minutes(settings.ssh.certTtlMinutes);
    return setup;
}

HostSession::~HostSession()
{
    // close() may still be waiting for the workers on its own thread.
    m_closer.waitForDone();
    stopAcceptingWork();
    std::shared_ptr<virt::Hypervisor> hv;
    {
        QMutexLocker lock(&m_mutex);
        hv = m_hv;
    }
    if (hv) {
        hv->setDomainEventHandler({});
        hv->setConnectionHandler({});
    }
    m_pool.waitForDone();
    m_eventPool.waitForDone();
    // Terminals end before their audit writer closes, so each one's pty.close is stored; tabs holding a shell
    // are left with a closed one.
    QList<std::weak_ptr<ssh::SandboxShell>> shells;
    {
        QMutexLocker lock(&m_mutex);
        shells.swap(m_shells);
    }
    for (const auto& weak : std::as_const(shells))
        if (auto shell = weak.lock())
            shell->close();
    m_audit.close();
}

QString HostSession::hostId() const
{
    QMutexLocker lock(&m_mutex);
    return m_hostId;
}

bool HostSession::isOpen() const
{
    QMutexLocker lock(&m_mutex);
    return m_hv != nullptr;
}

virt::CreateOptions HostSession::createDefaults() const
{
    QMutexLocker lock(&m_mutex);
    return m_setup.createDefaults;
}

QFuture<Result<QString>> HostSession::open()
{
    auto promise = std::make_shared<QPromise<Result<QString>>>();
    promise->start();
    QFuture<Result<QString>> future = promise->future();
    const auto answer = [this, promise](bool ok, const QString& message) {
        promise->addResult(ok ? Result<QString>(message)
                              : Result<QString>(makeError(ErrorCode::Unavailable, message)));
        promise->finish();
        Q_EMIT opened(ok, message);
    };
    if (m_closeRequested) {
        promise->addResult(closedError());
        promise->finish();
        return future;
    }
    m_pool.start([this, answer]() {
        // Snapshot mounts a crashed Fluid left behind (their owner process is gone) go first, once.
        static std::once_flag leftovers;
        std::call_once(leftovers, [] {
            if (auto cleaned = inspect::SnapshotInspector().cleanupLeftovers(); cleaned && *cleaned > 0)
                qCInfo(lcInspect) << "cleaned up" << *cleaned << "snapshot mount(s) left by an earlier run";
        });
        auto hv = m_setup.connect(m_setup.host.uri);
        if (m_closing) {
            answer(false, closedError().message);
            return;
        }
        if (!hv) {
            answer(false, QStringLiteral("%1: %2").arg(m_setup.host.name, hv.error().message));
            return;
        }
        if (!inspect::isLocalHostUri(m_setup.host.uri)) {
            // Snapshot mounts a crashed Fluid on this machine left on that host; a host where Fluid cannot
            // log in as root has none (diffs there fail saying why).
            if (auto host = m_setup.connectHost(m_setup.host.uri)) {
                auto cleaned = inspect::RemoteImageMount::cleanupLeftovers(**host);
                if (!cleaned)
                    qCWarning(lcInspect) << m_setup.host.name << ":" << cleaned.error().toString();
                else if (*cleaned > 0)
                    qCInfo(lcInspect) << "cleaned up" << *cleaned
                                      << "snapshot mount(s) an earlier run left on" << m_setup.host.name;
            }
        }
        std::shared_ptr<virt::Hypervisor> shared(std::move(*hv));
        auto db = store::threadConnection(m_setup.database);
        if (!db) {
            answer(false, db.error().message);
            return;
        }
        auto row = ensureHostRow(**db, m_setup.host);
        if (!row) {
            answer(false, row.error().message);
            return;
        }
        const std::weak_ptr<Relay> relay = m_relay;
        shared->setConnectionHandler([relay](bool up, const QString& reason) {
            if (auto r = relay.lock()) {
                QMutexLocker lock(&r->mutex);
                if (r->session)
                    Q_EMIT r->session->connectionChanged(up, reason);
            }
        });
        shared->setDomainEventHandler([relay](const QString& domain, virt::DomainState state) {
            auto r = relay.lock();
            if (!r)
                return;
            QMutexLocker lock(&r->mutex);
            if (!r->session)
                return;
            HostSession* self = r->session;
            self->onWorker(
                [self, domain, state](virt::SandboxManager& manager, store::Database& db) {
                    if (auto applied = manager.applyDomainEvent(domain, state); !applied)
                        qCWarning(lcVirt)
                            << "domain event for" << domain << "not stored:" << applied.error().toString();
                    self->emitSandboxes(db);
                },
                &self->m_eventPool);
        });
        {
            QMutexLocker lock(&m_mutex);
            m_hv = shared;
            m_hostId = row->id;
        }
        virt::SandboxManager manager(*shared, **db, currentManagerOptions());
        QString message = QStringLiteral("Connected to %1 (%2).").arg(m_setup.host.name, m_setup.host.uri);
        if (m_setup.reconcileOnOpen) {
            if (auto report = manager.reconcile(row->id); !report) {
                message += QStringLiteral(" Clean-up of leftovers failed: %1").arg(report.error().message);
            } else if (!report->removedDomains.isEmpty() || !report->removedVolumes.isEmpty() ||
                       !report->updatedRows.isEmpty()) {
                message += QStringLiteral(
                               " Cleaned up after an earlier crash: %1 domain(s), %2 volume(s), %3 row(s).")
                               .arg(report->removedDomains.size())
                               .arg(report->removedVolumes.size())
                               .arg(report->updatedRows.size());
            }
        }
        answer(true, message);
        if (auto info = shared->hostInfo(createDefaults().accelerator)) {
            Q_EMIT hostInfoChanged(QStringLiteral("%1 CPUs, %2 of %3 MiB free, %4")
                                       .arg(info->cpus)
                                       .arg(info->memoryFreeKib / 1024)
                                       .arg(info->memoryTotalKib / 1024)
                                       .arg(virt::acceleratorName(info->accelerator)));
        }
        emitSources(manager);
        emitSandboxes(**db);
    });
    return future;
}

void HostSession::refresh()
{
    onWorker([this](virt::SandboxManager& manager, store::Database& db) {
        emitSources(manager);
        emitSandboxes(db);
    });
}

void HostSession::loadSnapshots(const QString& sandboxId)
{
    onWorker([this, sandboxId](virt::SandboxManager& manager, store::Database&) {
        auto list = manager.snapshots(sandboxId);
        Q_EMIT snapshotsLoaded(sandboxId, list ? *list : QList<virt::SnapshotInfo>{});
    });
}

template <typename R>
QFuture<Result<R>>
HostSession::ask(std::function<Result<R>(virt::SandboxManager&, store::Database&)> question)
{
    auto promise = std::make_shared<QPromise<Result<R>>>();
    promise->start();
    QFuture<Result<R>> future = promise->future();
    const bool started = onWorker([promise, question](virt::SandboxManager& manager, store::Database& db) {
        promise->addResult(question(manager, db));
        promise->finish();
    });
    if (!started) {
        promise->addResult(m_closing ? closedError() : notConnectedError());
        promise->finish();
    }
    return future;
}

QFuture<Result<QList<virt::SandboxManager::Source>>> HostSession::sources()
{
    return ask<QList<virt::SandboxManager::Source>>(
        [](virt::SandboxManager& manager, store::Database&) { return manager.sources(); });
}

QFuture<Result<QList<model::Sandbox>>> HostSession::sandboxes(bool includeDestroyed)
{
    return ask<QList<model::Sandbox>>([this, includeDestroyed](virt::SandboxManager&, store::Database& db) {
        return includeDestroyed ? store::allSandboxes(db, hostId()) : store::liveSandboxes(db, hostId());
    });
}

QFuture<Result<model::Sandbox>> HostSession::findSandbox(const QString& name)
{
    return ask<model::Sandbox>([this, name](virt::SandboxManager&,
                                            store::Database& db) -> Result<model::Sandbox> {
        auto row = store::liveSandboxNamed(db, hostId(), name);
        if (!row)
            return row.error();
        if (!*row)
            return makeError(ErrorCode::NotFound,
                             QStringLiteral("No sandbox named %1 on host %2").arg(name, m_setup.host.name));
        return **row;
    });
}

QFuture<Result<QList<virt::SnapshotInfo>>> HostSession::snapshots(const QString& sandboxId)
{
    return ask<QList<virt::SnapshotInfo>>([sandboxId](virt::SandboxManager& manager, store::Database&) {
        return manager.snapshots(sandboxId);
    });
}

template <typename T>
Operation<T> HostSession::begin(OperationKind kind, const model::Actor& actor, const QString& subject,
                                const QString& subjectId, const QString& description, bool cancellable)
{
    OperationInfo info;
    info.kind = kind;
    info.actor = actor;
    info.host = m_setup.host.name;
    info.subject = subject;
    info.subjectId = subjectId;
    info.description = description;
    info.cancellable = cancellable;
    return m_operations->start<T>(info, m_cancel);
}

template <typename T>
void HostSession::run(const Operation<T>& op,
                      std::function<Result<T>(virt::SandboxManager&, const Operation<T>&)> work,
                      std::function<QString(const T&)> summarize)
{
    const bool started =
        onWorker([this, op, work, summarize](virt::SandboxManager& manager, store::Database& db) {
            Result<T> r = work(manager, op);
            const QString summary = r ? summarize(*r) : QString();
            op.finish(std::move(r), summary);
            emitSandboxes(db);
        });
    if (started)
        return;
    const Error error = m_closing ? closedError() : notConnectedError();
    // Still asynchronous for the caller, like every other outcome.
    QMetaObject::invokeMethod(
        this, [op, error]() { op.finish(error); }, Qt::QueuedConnection);
}

Operation<model::Sandbox> HostSession::create(const CreateRequest& request, const model::Actor& actor)
{
    virt::CreateOptions options = createDefaults();
    options.sourceDomain = request.source;
    options.name = request.name;
    options.actor = actor;
    options.waitReady = request.waitReady.value_or(options.waitReady);
    if (request.memoryMib > 0)
        options.memoryMib = request.memoryMib;
    if (request.vcpus > 0)
        options.vcpus = request.vcpus;
    auto op = begin<model::Sandbox>(
        OperationKind::Create, actor, request.name, {},
        QStringLiteral("Create %1 from %2")
            .arg(request.name.isEmpty() ? QStringLiteral("a sandbox") : request.name, request.source),
        true);
    const bool started =
        onWorker([this, op, options](virt::SandboxManager& manager, store::Database&) mutable {
            options.hostId = hostId();
            auto plan = manager.planCreate(options, op.progressSink());
            if (!plan) {
                op.finish(plan.error());
                return;
            }
            if (!plan->admission) {
                build(op, *plan);
                return;
            }
            if (!m_setup.admit) {
                op.finish(makeError(
                    ErrorCode::Refused,
                    QStringLiteral("Creating %1 needs a person's approval (%2), and approvals are not "
                                   "available here")
                        .arg(plan->options.name, plan->admission->over.join(QStringLiteral("; ")))));
                return;
            }
            // The answer may take minutes: no thread waits for it. The rest of the create runs on a worker
            // once a person decided; a session closed meanwhile fails it instead.
            m_setup.admit(*plan->admission, op.progressSink(), op.cancelToken())
                .then([relay = m_relay, op, plan = *plan](Result<void> allowed) {
                    if (!allowed) {
                        op.finish(allowed.error());
                        return;
                    }
                    QMutexLocker lock(&relay->mutex);
                    if (!relay->session) {
                        op.finish(makeError(ErrorCode::Cancelled, QStringLiteral("The host was closed")));
                        return;
                    }
                    HostSession* self = relay->session;
                    if (!self->onWorker([self, op, plan](virt::SandboxManager&, store::Database&) {
                            self->build(op, plan);
                        }))
                        op.finish(self->closedError());
                });
        });
    if (!started) {
        const Error error = m_closing ? closedError() : notConnectedError();
        QMetaObject::invokeMethod(
            this, [op, error]() { op.finish(error); }, Qt::QueuedConnection);
    }
    return op;
}

void HostSession::build(const Operation<model::Sandbox>& op, const virt::CreatePlan& plan)
{
    // On a worker (onWorker): a manager over this thread's connection.
    std::shared_ptr<virt::Hypervisor> hv;
    {
        QMutexLocker lock(&m_mutex);
        hv = m_hv;
    }
    auto db = store::threadConnection(m_setup.database);
    if (!hv || !db) {
        op.finish(!db ? db.error() : notConnectedError());
        return;
    }
    virt::SandboxManager manager(*hv, **db, currentManagerOptions());
    auto made = manager.create(plan, op.progressSink(), op.cancelToken());
    const QString summary = made ? QStringLiteral("%1 is ready at %2").arg(made->name, made->ip) : QString();
    op.finish(std::move(made), summary);
    emitSandboxes(**db);
}

Operation<model::Sandbox> HostSession::lifecycle(
    OperationKind kind, const QString& verb, const QString& sandboxId, const model::Actor& actor,
    Result<model::Sandbox> (virt::SandboxManager::*step)(const QString&, const model::Actor&))
{
    auto op = begin<model::Sandbox>(kind, actor, {}, sandboxId, verb, false);
    run<model::Sandbox>(
        op,
        [sandboxId, step, actor](virt::SandboxManager& m, const Operation<model::Sandbox>&) {
            return (m.*step)(sandboxId, actor);
        },
        [verb](const model::Sandbox& s) {
            return QStringLiteral("%1: %2 done").arg(s.name, verb.toLower());
        });
    return op;
}

Operation<model::Sandbox> HostSession::start(const QString& sandboxId, const model::Actor& actor)
{
    return lifecycle(OperationKind::Start, QStringLiteral("Start"), sandboxId, actor,
                     &virt::SandboxManager::start);
}

Operation<model::Sandbox> HostSession::stop(const QString& sandboxId, const model::Actor& actor)
{
    return lifecycle(OperationKind::Stop, QStringLiteral("Stop"), sandboxId, actor,
                     &virt::SandboxManager::stop);
}

Operation<model::Sandbox> HostSession::destroy(const QString& sandboxId, const model::Actor& actor)
{
    return lifecycle(OperationKind::Destroy, QStringLiteral("Destroy"), sandboxId, actor,
                     &virt::SandboxManager::destroy);
}

Operation<model::Snapshot> HostSession::snapshot(const QString& sandboxId, const QString& snapshotName,
                                                 const model::Actor& actor, const QString& description)
{
    auto op = begin<model::Snapshot>(OperationKind::Snapshot, actor, snapshotName, sandboxId,
                                     QStringLiteral("Snapshot %1").arg(snapshotName), false);
    run<model::Snapshot>(
        op,
        [sandboxId, snapshotName, actor, description](virt::SandboxManager& m,
                                                      const Operation<model::Snapshot>&) {
            return m.snapshot(sandboxId, snapshotName, actor, model::SnapshotKind::Manual, description);
        },
        [](const model::Snapshot& s) { return QStringLiteral("snapshot %1 taken").arg(s.name); });
    return op;
}

Operation<void> HostSession::revert(const QString& sandboxId, const QString& snapshotName,
                                    const model::Actor& actor)
{
    auto op = begin<void>(OperationKind::Revert, actor, snapshotName, sandboxId,
                          QStringLiteral("Revert to %1").arg(snapshotName), false);
    const bool started =
        onWorker([this, op, sandboxId, snapshotName, actor](virt::SandboxManager& m, store::Database& db) {
            Result<void> r = m.revert(sandboxId, snapshotName, actor);
            op.finish(r, r ? QStringLiteral("reverted to %1").arg(snapshotName) : QString());
            emitSandboxes(db);
        });
    if (!started) {
        const Error error = m_closing ? closedError() : notConnectedError();
        QMetaObject::invokeMethod(
            this, [op, error]() { op.finish(error); }, Qt::QueuedConnection);
    }
    return op;
}

Operation<model::Diff> HostSession::diff(const QString& sandboxId, const QString& fromSnapshot,
                                         const QString& toSnapshot, const model::Actor& actor)
{
    const QString to = toSnapshot.isEmpty() ? QStringLiteral("now") : toSnapshot;
    auto op = begin<model::Diff>(OperationKind::Diff, actor, {}, sandboxId,
                                 QStringLiteral("Diff %1 → %2").arg(fromSnapshot, to), true);
    run<model::Diff>(
        op,
        [this, sandboxId, fromSnapshot, toSnapshot,
         actor](virt::SandboxManager& manager, const Operation<model::Diff>& self) -> Result<model::Diff> {
            auto sandbox = store::SandboxRepository(manager.database()).get(sandboxId);
            if (!sandbox)
                return sandbox.error();
            const inspect::SnapshotInspector inspector;
            auto d = diffSandbox(manager, manager.database(), inspector, *sandbox, fromSnapshot, toSnapshot,
                                 actor, self.progressSink(), self.cancelToken(), m_setup.connectHost);
            if (!d) {
                Error e = d.error();
                if (!e.detail.isEmpty())
                    e.message += QStringLiteral(" (%1)").arg(e.detail);
                return e;
            }
            return d;
        },
        [](const model::Diff& d) {
            return QStringLiteral("%1 path(s) changed")
                .arg(d.summary.value(QStringLiteral("paths"))
                         .toObject()
                         .value(QStringLiteral("total"))
                         .toInt());
        });
    return op;
}

Operation<virt::ReconcileReport> HostSession::reconcile(const model::Actor& actor)
{
    auto op = begin<virt::ReconcileReport>(OperationKind::Reconcile, actor, {}, {},
                                           QStringLiteral("Clean up leftovers on %1").arg(m_setup.host.name),
                                           false);
    run<virt::ReconcileReport>(
        op,
        [this](virt::SandboxManager& m, const Operation<virt::ReconcileReport>&) {
            return m.reconcile(hostId());
        },
        [](const virt::ReconcileReport& r) {
            return QStringLiteral("%1 domain(s), %2 volume(s), %3 row(s) cleaned up")
                .arg(r.removedDomains.size())
                .arg(r.removedVolumes.size())
                .arg(r.updatedRows.size());
        });
    return op;
}

bool HostSession::onWorker(WorkerFn fn, QThreadPool* pool)
{
    std::shared_ptr<virt::Hypervisor> hv;
    {
        QMutexLocker lock(&m_mutex);
        if (m_closing || !m_hv)
            return false;
        hv = m_hv;
    }
    (pool ? pool : &m_pool)->start([this, hv, fn = std::move(fn)]() {
        auto db = store::threadConnection(m_setup.database);
        if (!db) {
            qCWarning(lcStore) << "host session" << m_setup.host.name << db.error().toString();
            return;
        }
        virt::SandboxManager manager(*hv, **db, currentManagerOptions());
        fn(manager, **db);
    });
    return true;
}

void HostSession::emitSandboxes(store::Database& db)
{
    QMutexLocker ordered(&m_emitMutex);
    auto rows = store::liveSandboxes(db, hostId());
    if (!rows) {
        qCWarning(lcStore) << "cannot list sandboxes:" << rows.error().toString();
        return;
    }
    Q_EMIT sandboxesChanged(*rows);
}

void HostSession::emitSources(virt::SandboxManager& manager)
{
    auto sources = manager.sources();
    if (!sources) {
        qCWarning(lcVirt) << "cannot list source VMs:" << sources.error().toString();
        return;
    }
    QList<Source> out;
    for (const virt::SandboxManager::Source& s : *sources) {
        Source row;
        static_cast<SourceVmRow&>(row) = toSourceVmRow(s);
        row.disk = s.domain.disks.isEmpty() ? QString() : s.domain.disks.first().sourcePath;
        row.golden = !m_setup.host.golden.isEmpty() && row.name == m_setup.host.golden;
        out.append(row);
    }
    Q_EMIT sourcesChanged(out);
}

Result<ssh::SandboxEndpoint> HostSession::sandboxEndpoint(const model::Sandbox& sandbox)
{
    if (sandbox.state != model::SandboxState::Running)
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Sandbox %1 is %2, not running: start it, then open the terminal again.")
                .arg(sandbox.name, model::enumName(sandbox.state)));
    if (sandbox.ip.isEmpty())
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Sandbox %1 has no IP address yet: wait until it has finished booting "
                           "(the hosts dock shows its address), then try again.")
                .arg(sandbox.name));
    auto key = ssh::PublicKey::fromOpenSshLine(sandbox.hostPublicKey);
    if (!key)
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Sandbox %1 has no SSH host key Fluid injected, so its identity cannot be "
                           "verified; recreate the sandbox to get a terminal on it.")
                .arg(sandbox.name),
            key.error().message);
    ssh::SandboxEndpoint endpoint;
    endpoint.sandboxId = sandbox.id;
    endpoint.sandboxName = sandbox.name;
    endpoint.host = sandbox.ip;
    endpoint.hostKey = *key;
    return endpoint;
}

Result<std::shared_ptr<ssh::SshConnection>> HostSession::jumpConnection()
{
    QMutexLocker lock(&m_jumpMutex);
    if (m_jump && m_jump->state() == ssh::SshConnection::State::Ready)
        return m_jump;
    auto shell = m_setup.connectHost(m_setup.host.uri);
    if (!shell)
        return makeError(shell.error().code,
                         QStringLiteral("Cannot reach %1's sandbox network through the host: %2")
                             .arg(m_setup.host.name, shell.error().message),
                         shell.error().detail);
    auto connection = std::dynamic_pointer_cast<ssh::SshConnection>(*shell);
    if (!connection)
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The connection to %1 cannot forward to its sandboxes").arg(m_setup.host.name));
    m_jump = connection;
    return m_jump;
}

Result<std::shared_ptr<const ssh::CertificateAuthority>> HostSession::certificateAuthority()
{
    {
        QMutexLocker lock(&m_mutex);
        if (m_ca)
            return m_ca;
    }
    if (!m_setup.loadCa)
        return makeError(ErrorCode::Config,
                         QStringLiteral("No SSH certificate authority is configured for %1, so "
                                        "Fluid cannot log in to its sandboxes.")
                             .arg(m_setup.host.name));
    auto loaded = m_setup.loadCa();
    if (!loaded)
        return makeError(loaded.error().code,
                         QStringLiteral("Fluid's SSH certificate authority could not be loaded: %1")
                             .arg(loaded.error().message),
                         loaded.error().detail);
    QMutexLocker lock(&m_mutex);
    m_ca = *loaded;
    return m_ca;
}

void HostSession::openShell(const QString& sandboxId, const model::Actor& actor, QObject* context,
                            ShellCallback done)
{
    using ShellResult = Result<std::shared_ptr<ssh::RemoteShell>>;
    const QPointer<QObject> guard(context);
    // Always answered later on this thread, so the caller sees one behaviour whatever happens.
    auto answer = [this, guard, done](ShellResult r) {
        QMetaObject::invokeMethod(
            this,
            [guard, done, r = std::move(r)]() {
                if (guard)
                    done(r);
            },
            Qt::QueuedConnection);
    };
    if (m_closeRequested) {
        answer(closedError());
        return;
    }
    if (!isOpen()) {
        answer(makeError(
            ErrorCode::Unavailable,
            QStringLiteral("%1 is not connected yet; try again once it is.").arg(m_setup.host.name)));
        return;
    }
    onWorker([this, sandboxId, actor, answer](virt::SandboxManager&, store::Database& db) {
        auto row = store::SandboxRepository(db).get(sandboxId);
        if (!row) {
            answer(row.error());
            return;
        }
        auto endpoint = m_setup.shellEndpoint ? m_setup.shellEndpoint(*row) : sandboxEndpoint(*row);
        if (!endpoint) {
            answer(endpoint.error());
            return;
        }
        // A remote host's sandbox network is only reachable from that host: through it (ProxyJump).
        if (!inspect::isLocalHostUri(m_setup.host.uri)) {
            auto jump = jumpConnection();
            if (!jump) {
                answer(jump.error());
                return;
            }
            endpoint->jump = *jump;
        }
        auto ca = certificateAuthority();
        if (!ca) {
            answer(ca.error());
            return;
        }
        ssh::SandboxShellOptions options;
        options.actor = actor.toString();
        options.auditSink = m_audit.sink();
        {
            QMutexLocker lock(&m_mutex);
            options.certificateValidity = m_setup.certificateValidity;
        }
        // The last owner may be the GUI thread: closing joins the connection's thread, so it happens on a
        // worker.
        std::shared_ptr<ssh::SandboxShell> shell(
            new ssh::SandboxShell(*ca, *endpoint, options),
            [](ssh::SandboxShell* s) { QThreadPool::globalInstance()->start([s]() { delete s; }); });
        {
            QMutexLocker lock(&m_mutex);
            m_shells.removeIf([](const std::weak_ptr<ssh::SandboxShell>& s) { return s.expired(); });
            m_shells.append(shell);
        }
        auto connected = shell->connect();
        connected.waitForFinished();
        const Result<void> r = connected.result();
        if (!r) {
            answer(makeError(r.error().code,
                             QStringLiteral("Could not open a shell on sandbox %1 (%2): %3")
                                 .arg(row->name, endpoint->host, r.error().message),
                             r.error().detail));
            return;
        }
        answer(std::shared_ptr<ssh::RemoteShell>(shell));
    });
}

void HostSession::stopAcceptingWork()
{
    {
        QMutexLocker lock(&m_relay->mutex);
        m_relay->session = nullptr;
    }
    {
        QMutexLocker lock(&m_mutex);
        m_closing = true;
    }
    m_cancel.cancel();
}

void HostSession::close()
{
    if (m_closeRequested)
        return;
    m_closeRequested = true;
    stopAcceptingWork();
    m_closer.start([this]() {
        m_pool.waitForDone();
        m_eventPool.waitForDone();
        std::shared_ptr<virt::Hypervisor> hv;
        {
            QMutexLocker lock(&m_mutex);
            hv = std::exchange(m_hv, nullptr);
        }
        if (hv) {
            hv->setDomainEventHandler({});
            hv->setConnectionHandler({});
        }
        // Closing a remote host's connections may wait on the network: here, not on the caller's thread.
        hv.reset();
        {
            QMutexLocker lock(&m_jumpMutex);
            m_jump.reset();
        }
        QMetaObject::invokeMethod(
            this, [this]() { Q_EMIT closed(); }, Qt::QueuedConnection);
    });
}

void HostSession::setDefaults(const Setup& fresh)
{
    QMutexLocker lock(&m_mutex);
    m_setup.createDefaults = fresh.createDefaults;
    m_setup.manager.stopTimeoutS = fresh.manager.stopTimeoutS;
    m_setup.certificateValidity = fresh.certificateValidity;
}

virt::ManagerOptions HostSession::currentManagerOptions() const
{
    QMutexLocker lock(&m_mutex);
    return m_setup.manager;
}

Error HostSession::closedError() const
{
    return makeError(
        ErrorCode::Cancelled,
        QStringLiteral("%1 was closed (its settings changed or it was removed); use the host as it is "
                       "listed now.")
            .arg(m_setup.host.name));
}

Error HostSession::notConnectedError() const
{
    return makeError(ErrorCode::Unavailable,
                     QStringLiteral("%1 is not connected yet.").arg(m_setup.host.name));
}

} // namespace fluid::services

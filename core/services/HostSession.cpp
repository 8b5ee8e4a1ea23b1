// SPDX-License-Identifier: Apache-2.0
#include "HostSession.h"

#include "base/Logging.h"
#include "inspect/RemoteMount.h"
#include "inspect/SnapshotInspector.h"
#include "Runtime.h"
#include "SandboxDiff.h"
#include "ssh/SshConnection.h"
#include "store/Repository.h"

#include <QMetaObject>
#include <QPointer>
#include <QUrl>

#include <algorithm>
#include <mutex>
#include <utility>

namespace fluid::services {

HostSession::HostSession(Setup setup, QObject* parent)
    : QObject(parent)
    , m_setup(std::move(setup))
    , m_relay(std::make_shared<Relay>())
{
    m_relay->session = this;
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
    return setup;
}

HostSession::~HostSession()
{
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

void HostSession::open()
{
    if (m_closeRequested)
        return;
    m_pool.start([this]() {
        // Snapshot mounts a crashed Fluid left behind (their owner process is gone) go first, once.
        static std::once_flag leftovers;
        std::call_once(leftovers, [] {
            if (auto cleaned = inspect::SnapshotInspector().cleanupLeftovers(); cleaned && *cleaned > 0)
                qCInfo(lcInspect) << "cleaned up" << *cleaned << "snapshot mount(s) left by an earlier run";
        });
        auto hv = m_setup.connect(m_setup.host.uri);
        if (m_closing)
            return; // closed while connecting: nothing to set up
        if (!hv) {
            Q_EMIT opened(false, QStringLiteral("%1: %2").arg(m_setup.host.name, hv.error().message));
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
        auto db = store::Database::open(m_setup.database);
        if (!db) {
            Q_EMIT opened(false, db.error().message);
            return;
        }
        auto row = ensureHostRow(**db, m_setup.host);
        if (!row) {
            Q_EMIT opened(false, row.error().message);
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
        if (auto report = manager.reconcile(row->id); !report) {
            message += QStringLiteral(" Clean-up of leftovers failed: %1").arg(report.error().message);
        } else if (!report->removedDomains.isEmpty() || !report->removedVolumes.isEmpty() ||
                   !report->updatedRows.isEmpty()) {
            message +=
                QStringLiteral(" Cleaned up after an earlier crash: %1 domain(s), %2 volume(s), %3 row(s).")
                    .arg(report->removedDomains.size())
                    .arg(report->removedVolumes.size())
                    .arg(report->updatedRows.size());
        }
        Q_EMIT opened(true, message);
        virt::AcceleratorChoice accelerator;
        {
            QMutexLocker lock(&m_mutex);
            accelerator = m_setup.createDefaults.accelerator;
        }
        if (auto info = shared->hostInfo(accelerator)) {
            Q_EMIT hostInfoChanged(QStringLiteral("%1 CPUs, %2 of %3 MiB free, %4")
                                       .arg(info->cpus)
                                       .arg(info->memoryFreeKib / 1024)
                                       .arg(info->memoryTotalKib / 1024)
                                       .arg(virt::acceleratorName(info->accelerator)));
        }
        emitSources(manager);
        emitSandboxes(**db);
    });
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

int HostSession::create(const QString& sourceDomain, const QString& name, int memoryMib, int vcpus)
{
    virt::CreateOptions options = m_setup.createDefaults;
    options.sourceDomain = sourceDomain;
    options.name = name;
    if (memoryMib > 0)
        options.memoryMib = memoryMib;
    if (vcpus > 0)
        options.vcpus = vcpus;
    return launch(
        QStringLiteral("Create %1 from %2")
            .arg(name.isEmpty() ? QStringLiteral("a sandbox") : name, sourceDomain),
        [this, options](virt::SandboxManager& manager, const std::atomic<bool>& cancel,
                        const std::function<void(const QString&)>& progress) mutable -> Result<QString> {
            options.hostId = hostId();
            auto s = manager.create(
                options, [&](virt::CreateStage, const QString& message) { progress(message); }, &cancel);
            if (!s)
                return s.error();
            return QStringLiteral("%1 is ready at %2").arg(s->name, s->ip);
        });
}

int HostSession::lifecycle(const QString& verb, const QString& sandboxId,
                           Result<model::Sandbox> (virt::SandboxManager::*step)(const QString&))
{
    return launch(
        verb, [verb, sandboxId, step](virt::SandboxManager& m, const auto&, const auto&) -> Result<QString> {
            auto s = (m.*step)(sandboxId);
            if (!s)
                return s.error();
            return QStringLiteral("%1: %2 done").arg(s->name, verb.toLower());
        });
}

int HostSession::start(const QString& sandboxId)
{
    return lifecycle(QStringLiteral("Start"), sandboxId, &virt::SandboxManager::start);
}

int HostSession::stop(const QString& sandboxId)
{
    return lifecycle(QStringLiteral("Stop"), sandboxId, &virt::SandboxManager::stop);
}

int HostSession::destroy(const QString& sandboxId)
{
    return lifecycle(QStringLiteral("Destroy"), sandboxId, &virt::SandboxManager::destroy);
}

int HostSession::snapshot(const QString& sandboxId, const QString& snapshotName)
{
    return launch(
        QStringLiteral("Snapshot %1").arg(snapshotName),
        [sandboxId, snapshotName](virt::SandboxManager& m, const auto&, const auto&) -> Result<QString> {
            auto s = m.snapshot(sandboxId, snapshotName);
            if (!s)
                return s.error();
            return QStringLiteral("snapshot %1 taken").arg(snapshotName);
        });
}

int HostSession::revert(const QString& sandboxId, const QString& snapshotName)
{
    return launch(
        QStringLiteral("Revert to %1").arg(snapshotName),
        [sandboxId, snapshotName](virt::SandboxManager& m, const auto&, const auto&) -> Result<QString> {
            if (auto r = m.revert(sandboxId, snapshotName); !r)
                return r.error();
            return QStringLiteral("reverted to %1").arg(snapshotName);
        });
}

int HostSession::diff(const QString& sandboxId, const QString& fromSnapshot, const QString& toSnapshot)
{
    const QString to = toSnapshot.isEmpty() ? QStringLiteral("now") : toSnapshot;
    return launchOperation(
        QStringLiteral("Diff %1 → %2").arg(fromSnapshot, to),
        [this, sandboxId, fromSnapshot, toSnapshot](int id) -> Work {
            return [this, id, sandboxId, fromSnapshot,
                    toSnapshot](virt::SandboxManager& manager, const std::atomic<bool>& cancel,
                                const std::function<void(const QString&)>& progress) -> Result<QString> {
                auto sandbox = store::SandboxRepository(manager.database()).get(sandboxId);
                if (!sandbox)
                    return sandbox.error();
                const inspect::SnapshotInspector inspector;
                auto d = diffSandbox(
                    manager, manager.database(), inspector, *sandbox, fromSnapshot, toSnapshot,
                    [this, id, &progress](const QString& stage, double fraction) {
                        progress(QStringLiteral("%1 (%2%)").arg(stage).arg(int(fraction * 100)));
                        Q_EMIT operationFraction(id, fraction);
                    },
                    [&cancel]() { return cancel.load(); }, m_setup.connectHost);
                if (!d) {
                    Error e = d.error();
                    if (!e.detail.isEmpty())
                        e.message += QStringLiteral(" (%1)").arg(e.detail);
                    return e;
                }
                Q_EMIT diffReady(id, sandboxId, *d);
                return QStringLiteral("%1: %2 path(s) changed")
                    .arg(sandbox->name)
                    .arg(d->summary.value(QStringLiteral("paths"))
                             .toObject()
                             .value(QStringLiteral("total"))
                             .toInt());
            };
        });
}

void HostSession::cancel(int operation)
{
    QMutexLocker lock(&m_mutex);
    if (auto flag = m_cancels.value(operation))
        *flag = true;
}

int HostSession::launch(const QString& description, Work work)
{
    return launchOperation(description, [work = std::move(work)](int) { return work; });
}

int HostSession::launchOperation(const QString& description, const std::function<Work(int)>& make)
{
    auto flag = std::make_shared<std::atomic<bool>>(false);
    int id = 0;
    bool open = false;
    bool closing = false;
    {
        QMutexLocker lock(&m_mutex);
        id = m_nextOperation++;
        m_cancels.insert(id, flag);
        closing = m_closing;
        open = m_hv != nullptr && !closing;
    }
    Q_EMIT operationStarted(id, description);
    if (!open) {
        // Still asynchronous for the caller, like every other outcome.
        QMetaObject::invokeMethod(
            this,
            [this, id, closing]() {
                {
                    QMutexLocker lock(&m_mutex);
                    m_cancels.remove(id);
                }
                Q_EMIT operationFinished(
                    id, false,
                    closing ? closedMessage()
                            : QStringLiteral("%1 is not connected yet.").arg(m_setup.host.name));
            },
            Qt::QueuedConnection);
        return id;
    }
    onWorker([this, id, flag, work = make(id)](virt::SandboxManager& manager, store::Database& db) {
        const auto progress = [this, id](const QString& message) {
            Q_EMIT operationProgress(id, message);
        };
        const Result<QString> r = work(manager, *flag, progress);
        {
            QMutexLocker lock(&m_mutex);
            m_cancels.remove(id);
        }
        Q_EMIT operationFinished(id, r.ok(), r ? *r : r.error().message);
        emitSandboxes(db);
    });
    return id;
}

void HostSession::onWorker(std::function<void(virt::SandboxManager&, store::Database&)> fn, QThreadPool* pool)
{
    std::shared_ptr<virt::Hypervisor> hv;
    virt::ManagerOptions options;
    {
        QMutexLocker lock(&m_mutex);
        if (m_closing || !m_hv)
            return;
        hv = m_hv;
        options = m_setup.manager;
    }
    (pool ? pool : &m_pool)->start([this, hv, options, fn = std::move(fn)]() {
        auto db = store::Database::open(m_setup.database);
        if (!db) {
            qCWarning(lcStore) << "host session" << m_setup.host.name << db.error().toString();
            return;
        }
        virt::SandboxManager manager(*hv, **db, options);
        fn(manager, **db);
    });
}

void HostSession::emitSandboxes(store::Database& db)
{
    QMutexLocker ordered(&m_emitMutex);
    auto rows =
        store::SandboxRepository(db).list(QStringLiteral("host_id = ? AND state <> 'destroyed'"), {hostId()});
    if (!rows) {
        qCWarning(lcStore) << "cannot list sandboxes:" << rows.error().toString();
        return;
    }
    std::sort(rows->begin(), rows->end(),
              [](const model::Sandbox& a, const model::Sandbox& b) { return a.createdAt > b.createdAt; });
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
                .arg(sandbox.name, model::sandboxStateName(sandbox.state)));
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

void HostSession::openShell(const QString& sandboxId, QObject* context, ShellCallback done)
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
        answer(makeError(ErrorCode::Unavailable, closedMessage()));
        return;
    }
    if (!isOpen()) {
        answer(makeError(
            ErrorCode::Unavailable,
            QStringLiteral("%1 is not connected yet; try again once it is.").arg(m_setup.host.name)));
        return;
    }
    onWorker([this, sandboxId, answer](virt::SandboxManager&, store::Database& db) {
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
        std::shared_ptr<const ssh::CertificateAuthority> ca;
        {
            QMutexLocker lock(&m_mutex);
            ca = m_ca;
        }
        if (!ca) {
            if (!m_setup.loadCa) {
                answer(makeError(ErrorCode::Config,
                                 QStringLiteral("No SSH certificate authority is configured for %1, so Fluid "
                                                "cannot log in to its sandboxes.")
                                     .arg(m_setup.host.name)));
                return;
            }
            auto loaded = m_setup.loadCa();
            if (!loaded) {
                answer(makeError(loaded.error().code,
                                 QStringLiteral("Fluid's SSH certificate authority could not be loaded: %1")
                                     .arg(loaded.error().message),
                                 loaded.error().detail));
                return;
            }
            ca = *loaded;
            QMutexLocker lock(&m_mutex);
            m_ca = ca;
        }
        ssh::SandboxShellOptions options;
        options.actor = model::Actor::localPerson();
        options.auditSink = m_audit.sink();
        // The last owner may be the GUI thread: closing joins the connection's thread, so it happens on a
        // worker.
        std::shared_ptr<ssh::SandboxShell> shell(
            new ssh::SandboxShell(ca, *endpoint, options),
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
    QMutexLocker lock(&m_mutex);
    m_closing = true;
    for (const auto& flag : std::as_const(m_cancels))
        *flag = true;
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

void HostSession::setDefaults(const virt::CreateOptions& createDefaults, int stopTimeoutS)
{
    QMutexLocker lock(&m_mutex);
    m_setup.createDefaults = createDefaults;
    m_setup.manager.stopTimeoutS = stopTimeoutS;
}

virt::ManagerOptions HostSession::currentManagerOptions() const
{
    QMutexLocker lock(&m_mutex);
    return m_setup.manager;
}

QString HostSession::closedMessage() const
{
    return QStringLiteral("%1 was closed (its settings changed or it was removed); use the host as it is "
                          "listed now.")
        .arg(m_setup.host.name);
}

} // namespace fluid::services

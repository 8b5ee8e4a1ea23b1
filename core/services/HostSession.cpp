// SPDX-License-Identifier: Apache-2.0
#include "HostSession.h"

#include "base/Logging.h"
#include "inspect/RemoteMount.h"
#include "inspect/SnapshotInspector.h"
#include "ssh/SshConnection.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "Wiring.h"

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
        m_setup.connectHost =
            hostShellConnector(m_setup.knownHostsFile, m_setup.loadLoginKey, m_audit.sink(), m_audit.gate());
    // Only a remote host reaches its sandbox network: ask for the guest's SSH banner through the host.
    if (config::isOverSsh(m_setup.host.uri))
        m_setup.manager.probe = [this](const QString& ip, int timeoutMs) {
            auto host = jumpConnection();
            return host && sshBannerThrough(**host, ip, 22, timeoutMs);
        };
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
    setup.manager.issueIdentity =
        lazyIdentityIssuer(loadCa, std::chrono::hours(24) * settings.sandbox.maxLifetimeDays);
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
        std::call_once(leftovers, [this] {
            if (auto cleaned = inspect::SnapshotInspector(inspectorOptions()).cleanupLeftovers();
                cleaned && *cleaned > 0)
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

inspect::InspectorOptions HostSession::inspectorOptions() const
{
    // The inspection helper's root commands on this machine go to the audit log like a remote host's.
    inspect::InspectorOptions o;
    o.auditSink = m_audit.sink();
    o.auditGate = m_audit.gate();
    return o;
}

} // namespace fluid::services

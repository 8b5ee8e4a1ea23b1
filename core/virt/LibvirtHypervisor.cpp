// SPDX-License-Identifier: Apache-2.0
#include "LibvirtHypervisor.h"
#include "SandboxNetwork.h"

#include "EventLoop.h"

#include "base/Logging.h"
#include "base/Process.h"
#include "base/Redact.h"
#include "base/Signals.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QThread>
#include <QUrl>
#include <QWaitCondition>
#include <QXmlStreamReader>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <mutex>

namespace fluid::virt {
namespace {

template <typename T, int (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const
    {
        if (p)
            Free(p);
    }
};
using DomainPtr = std::unique_ptr<virDomain, Deleter<virDomain, virDomainFree>>;
using PoolPtr = std::unique_ptr<virStoragePool, Deleter<virStoragePool, virStoragePoolFree>>;
using VolPtr = std::unique_ptr<virStorageVol, Deleter<virStorageVol, virStorageVolFree>>;
using NetPtr = std::unique_ptr<virNetwork, Deleter<virNetwork, virNetworkFree>>;
using SnapPtr = std::unique_ptr<virDomainSnapshot, Deleter<virDomainSnapshot, virDomainSnapshotFree>>;
using StreamPtr = std::unique_ptr<virStream, Deleter<virStream, virStreamFree>>;

struct CString {
    char* p = nullptr;
    ~CString() { free(p); } // NOLINT(cppcoreguidelines-no-malloc): libvirt hands out malloc'd strings
    QString text() const { return QString::fromUtf8(p); }
};

/// libvirt's last error on this thread, as an Error that says what Fluid was doing.
Error lastError(const QString& what, ErrorCode fallback = ErrorCode::Unavailable)
{
    const virError* e = virGetLastError();
    QString detail =
        e && e->message ? QString::fromUtf8(e->message) : QStringLiteral("no detail from libvirt");
    ErrorCode code = fallback;
    if (e) {
        switch (e->code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_STORAGE_POOL:
        case VIR_ERR_NO_NETWORK:
        case VIR_ERR_NO_DOMAIN_SNAPSHOT:
            code = ErrorCode::NotFound;
            break;
        case VIR_ERR_OPERATION_DENIED:
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_CANCELLED:
            code = ErrorCode::PermissionDenied;
            break;
        case VIR_ERR_NO_SUPPORT:
            code = ErrorCode::Refused;
            break;
        default:
            break;
        }
    }
    virResetLastError();
    return makeError(code, what, redact(detail));
}

bool lastErrorIs(int code)
{
    const virError* e = virGetLastError();
    return e && e->code == code;
}

void silentErrorHandler(void*, virErrorPtr) {}

/// Fluid's libvirt event loop (EventLoop.h), needed for keepalive and events, and quiet error reporting.
void ensureEventLoop()
{
    static std::once_flag once;
    std::call_once(once, []() {
        ignoreBrokenPipes(); // libvirt's client writes with plain write(): a dead daemon must not kill Fluid
        virSetErrorFunc(nullptr, silentErrorHandler);
        installEventLoop();
    });
}

DomainState stateFrom(int s)
{
    switch (s) {
    case VIR_DOMAIN_RUNNING:
        return DomainState::Running;
    case VIR_DOMAIN_BLOCKED:
        return DomainState::Running;
    case VIR_DOMAIN_PAUSED:
        return DomainState::Paused;
    case VIR_DOMAIN_SHUTDOWN:
        return DomainState::ShuttingDown;
    case VIR_DOMAIN_SHUTOFF:
        return DomainState::ShutOff;
    case VIR_DOMAIN_CRASHED:
        return DomainState::Crashed;
    case VIR_DOMAIN_PMSUSPENDED:
        return DomainState::Suspended;
    default:
        return DomainState::Unknown;
    }
}

DomainState stateFromEvent(int event)
{
    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
        return DomainState::Running;
    case VIR_DOMAIN_EVENT_SUSPENDED:
        return DomainState::Paused;
    case VIR_DOMAIN_EVENT_STOPPED:
        return DomainState::ShutOff;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
        return DomainState::ShuttingDown;
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        return DomainState::Suspended;
    case VIR_DOMAIN_EVENT_CRASHED:
        return DomainState::Crashed;
    default:
        return DomainState::Unknown;
    }
}

QString versionText(unsigned long v)
{
    return QStringLiteral("%1.%2.%3").arg(v / 1000000).arg((v / 1000) % 1000).arg(v % 1000);
}

QString xmlEscape(const QString& s)
{
    return s.toHtmlEscaped();
}

/// The virtual size of a local disk image (qemu-img reads it without locking, so a running source is fine).
Result<qint64> localImageSize(const QString& path)
{
    ProcessSpec spec;
    spec.program = QStringLiteral("qemu-img");
    spec.arguments = {QStringLiteral("info"), QStringLiteral("-U"), QStringLiteral("--output=json"), path};
    spec.timeoutMs = 30000;
    auto run = runProcess(spec);
    if (!run)
        return run.error();
    if (!run->succeeded())
        return run->toError(QStringLiteral("qemu-img info %1").arg(path));
    const qint64 size =
        QJsonDocument::fromJson(run->out).object().value(QStringLiteral("virtual-size")).toInteger();
    if (size <= 0)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("qemu-img info %1 gave no virtual size").arg(path),
                         QString::fromUtf8(run->out.left(600)));
    return size;
}

/// Fluid's mark in a domain's metadata: the persistent definition's when it has one (what Fluid defines and
/// marks), else the live one. No mark is not an error.
Result<DomainMark> markOf(virDomainPtr d)
{
    const unsigned flags =
        virDomainIsPersistent(d) == 1 ? VIR_DOMAIN_AFFECT_CONFIG : VIR_DOMAIN_AFFECT_CURRENT;
    CString xml{virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, kMetadataNamespace, flags)};
    if (!xml.p) {
        if (lastErrorIs(VIR_ERR_NO_DOMAIN_METADATA)) {
            virResetLastError();
            return DomainMark();
        }
        return lastError(QStringLiteral("Cannot read Fluid's metadata of domain %1")
                             .arg(QString::fromUtf8(virDomainGetName(d))));
    }
    return parseDomainMark(xml.text());
}

} // namespace

QString acceleratorName(Accelerator a)
{
    return a == Accelerator::Kvm ? QStringLiteral("kvm") : QStringLiteral("tcg");
}

QString domainStateName(DomainState s)
{
    switch (s) {
    case DomainState::Running:
        return QStringLiteral("running");
    case DomainState::Paused:
        return QStringLiteral("paused");
    case DomainState::ShuttingDown:
        return QStringLiteral("shutting down");
    case DomainState::ShutOff:
        return QStringLiteral("shut off");
    case DomainState::Crashed:
        return QStringLiteral("crashed");
    case DomainState::Suspended:
        return QStringLiteral("suspended");
    case DomainState::Unknown:
        break;
    }
    return QStringLiteral("unknown");
}

Accelerator chooseAccelerator(AcceleratorChoice choice, bool kvmAdvertised, bool localHost, QString* reason)
{
    auto say = [reason](const QString& text) {
        if (reason)
            *reason = text;
    };
    if (choice == AcceleratorChoice::Kvm) {
        say(QStringLiteral("KVM chosen in settings"));
        return Accelerator::Kvm;
    }
    if (choice == AcceleratorChoice::Tcg) {
        say(QStringLiteral("TCG (software emulation) chosen in settings"));
        return Accelerator::Tcg;
    }
    if (!kvmAdvertised) {
        say(QStringLiteral("the host does not offer KVM: using TCG (software emulation, slower)"));
        return Accelerator::Tcg;
    }
    if (localHost && QFile::exists(QStringLiteral("/sys/module/kvm_pvm"))) {
        say(QStringLiteral(
            "this kernel's KVM is PVM (/sys/module/kvm_pvm), which cannot run ordinary guests: "
            "using TCG (software emulation, slower)"));
        return Accelerator::Tcg;
    }
    if (localHost && !QFile::exists(QStringLiteral("/dev/kvm"))) {
        say(QStringLiteral("/dev/kvm is missing: using TCG (software emulation, slower)"));
        return Accelerator::Tcg;
    }
    say(QStringLiteral("KVM hardware acceleration"));
    return Accelerator::Kvm;
}

using ConnPtr = std::unique_ptr<virConnect, Deleter<virConnect, virConnectClose>>;

/// The connection and what keeps it alive: keepalive probes, a close callback that notices a dropped
/// connection, and a reconnect thread that opens a new one (with back-off) so lifecycle events resume
/// without waiting for the next call.
struct LibvirtHypervisor::Impl {
    QString uri;

    QMutex connMutex; // guards conn, eventCallbackId, lost
    virConnectPtr conn = nullptr;
    int eventCallbackId = -1;
    bool lost = false;
    QString lostReason;

    QMutex handlerMutex; // guards handler, connectionHandler
    DomainEventHandler handler;
    ConnectionHandler connectionHandler;

    QMutex reconnectMutex; // guards stopping, with reconnectWake
    QWaitCondition reconnectWake;
    bool stopping = false;
    QThread* reconnector = nullptr;

    ~Impl()
    {
        {
            QMutexLocker lock(&reconnectMutex);
            stopping = true;
            reconnectWake.wakeAll();
        }
        if (reconnector) {
            reconnector->wait();
            delete reconnector;
        }
        QMutexLocker lock(&connMutex);
        release(conn, eventCallbackId);
    }

    /// Drops Fluid's hold on `c`: its event and close callbacks, then its reference.
    void release(virConnectPtr c, int callbackId)
    {
        if (!c)
            return;
        if (callbackId >= 0)
            virConnectDomainEventDeregisterAny(c, callbackId);
        virConnectUnregisterCloseCallback(c, &Impl::onClose);
        virResetLastError();
        virConnectClose(c);
    }

    /// Opens a connection with keepalive, the close callback and lifecycle events. connMutex held (or not
    /// yet shared).
    Result<void> open()
    {
        virConnectPtr c = virConnectOpenAuth(uri.toUtf8().constData(), virConnectAuthPtrDefault, 0);
        if (!c) {
            Error e = lastError(QStringLiteral("Cannot connect to libvirt at %1").arg(uri));
            if (uri.startsWith(QLatin1String("qemu+ssh")))
                e.message += QStringLiteral(". Check that the host is reachable and its SSH host key is "
                                            "trusted (known_hosts).");
            else
                e.message += QStringLiteral(". Check that libvirtd is running and you may use it.");
            return e;
        }
        // Not every driver has keepalive or close callbacks (test:///default has neither): that is fine.
        if (virConnectSetKeepAlive(c, 5, 3) < 0)
            virResetLastError();
        if (virConnectRegisterCloseCallback(c, &Impl::onClose, this, nullptr) < 0)
            virResetLastError();
        const int id =
            virConnectDomainEventRegisterAny(c, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                             VIR_DOMAIN_EVENT_CALLBACK(Impl::onLifecycle), this, nullptr);
        if (id < 0)
            qCWarning(lcVirt) << "no lifecycle events from" << uri << lastError(QString()).detail;
        release(conn, eventCallbackId);
        conn = c;
        eventCallbackId = id;
        lost = false;
        return {};
    }

    /// A reference to the live connection, reconnecting first when it was lost. The caller's reference
    /// keeps the connection valid even if another thread replaces it meanwhile.
    Result<ConnPtr> connection()
    {
        bool reconnected = false;
        ConnPtr out;
        {
            QMutexLocker lock(&connMutex);
            if (lost || !conn || virConnectIsAlive(conn) != 1) {
                virResetLastError();
                if (auto r = open(); !r)
                    return makeError(
                        r.error().code,
                        QStringLiteral("The connection to %1 was lost and cannot be made again: %2")
                            .arg(uri, r.error().message),
                        r.error().detail);
                reconnected = true;
            }
            virConnectRef(conn);
            out.reset(conn);
        }
        if (reconnected) {
            qCInfo(lcVirt) << "reconnected to" << uri;
            notifyConnection(true, QString());
        }
        return out;
    }

    Result<DomainPtr> domain(const QString& name)
    {
        auto c = connection();
        if (!c)
            return c.error();
        DomainPtr d(virDomainLookupByName(c->get(), name.toUtf8().constData()));
        if (!d)
            return lastError(QStringLiteral("Domain %1 was not found").arg(name), ErrorCode::NotFound);
        return d;
    }

    /// Runs call(domain) and turns a negative return into an error saying `what`.
    Result<void> onDomain(const QString& name, int (*call)(virDomainPtr), const QString& what)
    {
        auto d = domain(name);
        if (!d)
            return d.error();
        if (call(d->get()) < 0)
            return lastError(what);
        return {};
    }

    void notifyConnection(bool up, const QString& reason)
    {
        ConnectionHandler h;
        {
            QMutexLocker lock(&handlerMutex);
            h = connectionHandler;
        }
        if (h)
            h(up, reason);
    }

    /// Reconnects in the background after a drop: 1 s, then doubling up to 30 s between attempts.
    void reconnectLoop()
    {
        int backoffMs = 1000;
        for (;;) {
            {
                QMutexLocker lock(&reconnectMutex);
                if (stopping)
                    return;
            }
            bool needed = false;
            {
                QMutexLocker lock(&connMutex);
                needed = lost;
            }
            if (needed && connection()) {
                backoffMs = 1000;
                continue;
            }
            QMutexLocker lock(&reconnectMutex);
            if (stopping)
                return;
            reconnectWake.wait(&reconnectMutex, QDeadlineTimer(needed ? backoffMs : 60000));
            if (needed)
                backoffMs = qMin(backoffMs * 2, 30000);
        }
    }

    /// libvirt's close callback, on its event thread: the connection dropped (daemon restarted, network
    /// gone, keepalive timed out). Marks it lost and wakes the reconnect thread.
    static void onClose(virConnectPtr c, int reason, void* opaque)
    {
        auto* self = static_cast<Impl*>(opaque);
        static const char* const reasons[] = {"an I/O error", "the end of the stream", "keepalive timeout",
                                              "a client request"};
        const QString why = QString::fromLatin1(reason >= 0 && reason < 4 ? reasons[reason] : "unknown");
        {
            QMutexLocker lock(&self->connMutex);
            if (c != self->conn)
                return; // an old connection we already replaced
            self->lost = true;
            self->lostReason = why;
        }
        qCWarning(lcVirt) << "connection to" << self->uri << "lost:" << why;
        self->notifyConnection(false, QStringLiteral("Connection lost (%1); reconnecting.").arg(why));
        {
            QMutexLocker lock(&self->reconnectMutex);
            if (!self->reconnector && !self->stopping) {
                self->reconnector = QThread::create([self]() { self->reconnectLoop(); });
                self->reconnector->setObjectName(QStringLiteral("libvirt-reconnect"));
                self->reconnector->start();
            }
            self->reconnectWake.wakeAll();
        }
    }

    static int onLifecycle(virConnectPtr, virDomainPtr dom, int event, int, void* opaque)
    {
        auto* self = static_cast<Impl*>(opaque);
        const QString name = QString::fromUtf8(virDomainGetName(dom));
        DomainEventHandler h;
        {
            QMutexLocker lock(&self->handlerMutex);
            h = self->handler;
        }
        if (h)
            h(name, stateFromEvent(event));
        return 0;
    }
};

Result<std::unique_ptr<LibvirtHypervisor>> LibvirtHypervisor::connect(const QString& uri)
{
    ensureEventLoop();
    auto impl = std::make_unique<Impl>();
    impl->uri = uri;
    {
        QMutexLocker lock(&impl->connMutex);
        if (auto r = impl->open(); !r)
            return r.error();
    }
    return std::unique_ptr<LibvirtHypervisor>(new LibvirtHypervisor(uri, std::move(impl)));
}

LibvirtHypervisor::LibvirtHypervisor(QString uri, std::unique_ptr<Impl> impl)
    : m_uri(std::move(uri))
    , m_impl(std::move(impl))
{
}

LibvirtHypervisor::~LibvirtHypervisor() = default;

bool LibvirtHypervisor::isLocal() const
{
    return QUrl(m_uri).host().isEmpty();
}

Result<HostInfo> LibvirtHypervisor::hostInfo(AcceleratorChoice choice)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    HostInfo info;
    info.uri = m_uri;
    virNodeInfo node;
    if (virNodeGetInfo(conn->get(), &node) < 0)
        return lastError(QStringLiteral("Cannot read the host's CPU and memory"));
    info.cpus = int(node.cpus);
    info.memoryTotalKib = qint64(node.memory);
    const unsigned long long freeBytes = virNodeGetFreeMemory(conn->get());
    info.memoryFreeKib = freeBytes > 0 ? qint64(freeBytes / 1024) : -1;
    if (freeBytes == 0)
        virResetLastError();
    unsigned long v = 0;
    if (virConnectGetLibVersion(conn->get(), &v) == 0)
        info.libvirtVersion = versionText(v);
    if (virConnectGetVersion(conn->get(), &v) == 0)
        info.hypervisorVersion = versionText(v);
    virResetLastError();
    CString host{virConnectGetHostname(conn->get())};
    info.hostname = host.text();
    CString caps{virConnectGetCapabilities(conn->get())};
    const bool kvmAdvertised = caps.text().contains(QLatin1String("<domain type='kvm'"));
    info.accelerator = chooseAccelerator(choice, kvmAdvertised, isLocal(), &info.acceleratorReason);

    auto poolNames = pools();
    if (poolNames && !poolNames->isEmpty()) {
        info.poolName = poolNames->first();
        PoolPtr pool(virStoragePoolLookupByName(conn->get(), info.poolName.toUtf8().constData()));
        virStoragePoolInfo pi;
        if (pool && virStoragePoolGetInfo(pool.get(), &pi) == 0)
            info.poolFreeBytes = qint64(pi.available);
    }
    virResetLastError();
    return info;
}

Result<QList<DomainSummary>> LibvirtHypervisor::domains()
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    virDomainPtr* list = nullptr;
    const int n = virConnectListAllDomains(conn->get(), &list, 0);
    if (n < 0)
        return lastError(QStringLiteral("Cannot list the host's domains"));
    QList<DomainSummary> out;
    for (int i = 0; i < n; ++i) {
        DomainPtr d(list[i]);
        DomainSummary s;
        s.name = QString::fromUtf8(virDomainGetName(d.get()));
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(d.get(), uuid) == 0)
            s.uuid = QString::fromLatin1(uuid);
        virDomainInfo di;
        if (virDomainGetInfo(d.get(), &di) == 0) {
            s.state = stateFrom(di.state);
            s.vcpus = di.nrVirtCpu;
            s.memoryKib = qint64(di.maxMem);
        }
        auto mark = markOf(d.get());
        if (!mark) {
            // A domain undefined while listing has no metadata left to read: it is no longer listed.
            if (mark.error().code == ErrorCode::NotFound)
                continue;
            for (int j = i + 1; j < n; ++j)
                virDomainFree(list[j]);
            free(list); // NOLINT(cppcoreguidelines-no-malloc)
            return mark.error();
        }
        s.mark = *mark;
        out.append(s);
    }
    free(list); // NOLINT(cppcoreguidelines-no-malloc)
    virResetLastError();
    return out;
}

Result<DomainMark> LibvirtHypervisor::domainMark(const QString& name)
{
    auto d = m_impl->domain(name);
    if (!d)
        return d.error();
    return markOf(d->get());
}

Result<void> LibvirtHypervisor::setDomainMark(const QString& name, const DomainMark& mark)
{
    auto d = m_impl->domain(name);
    if (!d)
        return d.error();
    unsigned flags = 0;
    if (virDomainIsPersistent(d->get()) == 1)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (virDomainIsActive(d->get()) == 1)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    const QByteArray xml = domainMarkXml(mark, false).toUtf8();
    if (virDomainSetMetadata(d->get(), VIR_DOMAIN_METADATA_ELEMENT, xml.constData(), "fluid",
                             kMetadataNamespace, flags) < 0)
        return lastError(QStringLiteral("Cannot mark domain %1 as Fluid's").arg(name));
    return {};
}

Result<QString> LibvirtHypervisor::domainXml(const QString& name)
{
    auto d = m_impl->domain(name);
    if (!d)
        return d.error();
    CString xml{virDomainGetXMLDesc(d->get(), VIR_DOMAIN_XML_INACTIVE)};
    if (!xml.p)
        return lastError(QStringLiteral("Cannot read the definition of %1").arg(name));
    return xml.text();
}

Result<DomainState> LibvirtHypervisor::domainState(const QString& name)
{
    auto d = m_impl->domain(name);
    if (!d)
        return d.error();
    int state = 0;
    int reason = 0;
    if (virDomainGetState(d->get(), &state, &reason, 0) < 0)
        return lastError(QStringLiteral("Cannot read the state of %1").arg(name));
    return stateFrom(state);
}

Result<void> LibvirtHypervisor::defineDomain(const QString& xml)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    DomainPtr d(virDomainDefineXML(conn->get(), xml.toUtf8().constData()));
    if (!d)
        return lastError(QStringLiteral("libvirt refused the sandbox definition"), ErrorCode::Refused);
    return {};
}

Result<void> LibvirtHypervisor::undefineDomain(const QString& name)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    DomainPtr d(virDomainLookupByName(conn->get(), name.toUtf8().constData()));
    if (!d) {
        if (lastErrorIs(VIR_ERR_NO_DOMAIN)) {
            virResetLastError();
            return {};
        }
        return lastError(QStringLiteral("Cannot look up %1").arg(name));
    }
    const unsigned int all = VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM |
                             VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
    if (virDomainUndefineFlags(d.get(), all) == 0)
        return {};
    // Drivers without NVRAM or checkpoint support reject those flags; retry with what they know.
    if (virDomainUndefineFlags(d.get(), VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) == 0)
        return {};
    return lastError(QStringLiteral("Cannot remove the definition of %1").arg(name));
}

Result<void> LibvirtHypervisor::startDomain(const QString& name)
{
    return m_impl->onDomain(name, virDomainCreate, QStringLiteral("Cannot start %1").arg(name));
}

Result<void> LibvirtHypervisor::shutdownDomain(const QString& name)
{
    return m_impl->onDomain(name, virDomainShutdown, QStringLiteral("Cannot ask %1 to shut down").arg(name));
}

Result<void> LibvirtHypervisor::destroyDomain(const QString& name)
{
    auto d = m_impl->domain(name);
    if (!d)
        return d.error();
    if (virDomainIsActive(d->get()) == 0)
        return {};
    if (virDomainDestroy(d->get()) < 0) {
        if (lastErrorIs(VIR_ERR_OPERATION_INVALID)) { // it stopped in the meantime
            virResetLastError();
            return {};
        }
        return lastError(QStringLiteral("Cannot power off %1").arg(name));
    }
    return {};
}

Result<QStringList> LibvirtHypervisor::addresses(const QString& name)
{
    auto d = m_impl->domain(name);
    if (!d)
        return d.error();
    QStringList out;
    for (unsigned int source :
         {VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT}) {
        virDomainInterfacePtr* ifaces = nullptr;
        const int n = virDomainInterfaceAddresses(d->get(), &ifaces, source, 0);
        for (int i = 0; i < n; ++i) {
            for (unsigned int a = 0; a < ifaces[i]->naddrs; ++a) {
                const virDomainIPAddress& addr = ifaces[i]->addrs[a];
                const QString ip = QString::fromLatin1(addr.addr);
                if (addr.type == VIR_IP_ADDR_TYPE_IPV4 && !ip.startsWith(QLatin1String("127.")) &&
                    !out.contains(ip))
                    out.append(ip);
            }
            virDomainInterfaceFree(ifaces[i]);
        }
        free(ifaces); // NOLINT(cppcoreguidelines-no-malloc)
        virResetLastError();
        if (!out.isEmpty())
            break;
    }
    return out;
}

Result<void> LibvirtHypervisor::syncGuestTime(const QString& name)
{
    return m_impl->onDomain(
        name, [](virDomainPtr d) { return virDomainSetTime(d, 0, 0, VIR_DOMAIN_TIME_SYNC); },
        QStringLiteral("Cannot set the clock of %1 (is the guest agent running?)").arg(name));
}

Result<QStringList> LibvirtHypervisor::pools()
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    virStoragePoolPtr* list = nullptr;
    const int n = virConnectListAllStoragePools(conn->get(), &list, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
    if (n < 0)
        return lastError(QStringLiteral("Cannot list the host's storage pools"));
    QStringList names;
    for (int i = 0; i < n; ++i) {
        PoolPtr p(list[i]);
        names.append(QString::fromUtf8(virStoragePoolGetName(p.get())));
    }
    free(list); // NOLINT(cppcoreguidelines-no-malloc)
    return names;
}

Result<VolumeInfo> LibvirtHypervisor::createOverlay(const QString& pool, const QString& name,
                                                    const QString& backingPath, const QString& backingFormat)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    PoolPtr p(virStoragePoolLookupByName(conn->get(), pool.toUtf8().constData()));
    if (!p)
        return lastError(QStringLiteral("Storage pool %1 was not found").arg(pool), ErrorCode::NotFound);
    // The overlay's size must be at least its backing image's.
    qint64 capacity = 0;
    virStoragePoolRefresh(p.get(), 0);
    VolPtr backing(virStorageVolLookupByPath(conn->get(), backingPath.toUtf8().constData()));
    virStorageVolInfo bi;
    if (backing && virStorageVolGetInfo(backing.get(), &bi) == 0)
        capacity = qint64(bi.capacity);
    virResetLastError();
    QString sizeFailure;
    if (capacity <= 0 && isLocal()) {
        if (auto size = localImageSize(backingPath))
            capacity = *size;
        else
            sizeFailure = size.error().message + QStringLiteral(": ") + size.error().detail;
    }
    if (capacity <= 0) {
        return makeError(
            ErrorCode::NotFound,
            QStringLiteral("The source disk %1 is not a volume libvirt knows on %2. Put its folder in a "
                           "storage pool there (for example: virsh pool-define-as golden dir --target "
                           "<folder>; virsh pool-start golden; virsh pool-autostart golden).")
                .arg(backingPath, m_uri),
            sizeFailure);
    }
    const QString xml =
        QStringLiteral("<volume><name>%1</name><capacity unit='bytes'>%2</capacity>"
                       "<target><format type='qcow2'/><permissions><mode>0600</mode></permissions>"
                       "</target><backingStore><path>%3</path><format type='%4'/></backingStore>"
                       "</volume>")
            .arg(xmlEscape(name))
            .arg(capacity)
            .arg(xmlEscape(backingPath), xmlEscape(backingFormat));
    VolPtr vol(virStorageVolCreateXML(p.get(), xml.toUtf8().constData(), 0));
    if (!vol)
        return lastError(QStringLiteral("Cannot create the overlay %1 in pool %2").arg(name, pool));
    CString path{virStorageVolGetPath(vol.get())};
    return VolumeInfo{pool, name, path.text(), capacity};
}

Result<VolumeInfo> LibvirtHypervisor::createVolume(const QString& pool, const QString& name,
                                                   qint64 capacityBytes, const QString& format)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    PoolPtr p(virStoragePoolLookupByName(conn->get(), pool.toUtf8().constData()));
    if (!p)
        return lastError(QStringLiteral("Storage pool %1 was not found").arg(pool), ErrorCode::NotFound);
    const QString xml =
        QStringLiteral("<volume><name>%1</name><capacity unit='bytes'>%2</capacity>"
                       "<target><format type='%3'/><permissions><mode>0600</mode></permissions>"
                       "</target></volume>")
            .arg(xmlEscape(name))
            .arg(qMax<qint64>(capacityBytes, 1))
            .arg(xmlEscape(format));
    VolPtr vol(virStorageVolCreateXML(p.get(), xml.toUtf8().constData(), 0));
    if (!vol)
        return lastError(QStringLiteral("Cannot create volume %1 in pool %2").arg(name, pool));
    CString path{virStorageVolGetPath(vol.get())};
    return VolumeInfo{pool, name, path.text(), capacityBytes};
}

Result<VolumeInfo> LibvirtHypervisor::createVolumeWithContent(const QString& pool, const QString& name,
                                                              const QByteArray& content)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    auto made = createVolume(pool, name, content.size(), QStringLiteral("raw"));
    if (!made)
        return made.error();
    VolPtr vol(virStorageVolLookupByPath(conn->get(), made->path.toUtf8().constData()));
    if (!vol)
        return lastError(QStringLiteral("Volume %1 vanished after it was created").arg(made->path));
    CString path{virStorageVolGetPath(vol.get())};
    auto fail = [&](const QString& what) -> Error {
        Error e = lastError(what);
        virStorageVolDelete(vol.get(), 0);
        virResetLastError();
        return e;
    };
    StreamPtr stream(virStreamNew(conn->get(), 0));
    if (!stream || virStorageVolUpload(vol.get(), stream.get(), 0, quint64(content.size()), 0) < 0)
        return fail(QStringLiteral("Cannot upload %1 to %2").arg(name, m_uri));
    qint64 sent = 0;
    while (sent < content.size()) {
        const int n = virStreamSend(stream.get(), content.constData() + sent, size_t(content.size() - sent));
        if (n < 0) {
            virStreamAbort(stream.get());
            return fail(QStringLiteral("Uploading %1 to %2 failed").arg(name, m_uri));
        }
        sent += n;
    }
    if (virStreamFinish(stream.get()) < 0)
        return fail(QStringLiteral("Uploading %1 to %2 did not finish").arg(name, m_uri));
    return VolumeInfo{pool, name, path.text(), content.size()};
}

Result<void> LibvirtHypervisor::deleteVolume(const QString& path)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    VolPtr vol(virStorageVolLookupByPath(conn->get(), path.toUtf8().constData()));
    if (!vol) {
        if (lastErrorIs(VIR_ERR_NO_STORAGE_VOL)) {
            virResetLastError();
            return {};
        }
        return lastError(QStringLiteral("Cannot look up volume %1").arg(path));
    }
    if (virStorageVolDelete(vol.get(), 0) < 0)
        return lastError(QStringLiteral("Cannot delete volume %1").arg(path));
    return {};
}

Result<QList<VolumeInfo>> LibvirtHypervisor::volumes(const QString& pool)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    PoolPtr p(virStoragePoolLookupByName(conn->get(), pool.toUtf8().constData()));
    if (!p)
        return lastError(QStringLiteral("Storage pool %1 was not found").arg(pool), ErrorCode::NotFound);
    virStoragePoolRefresh(p.get(), 0);
    virResetLastError();
    virStorageVolPtr* list = nullptr;
    const int n = virStoragePoolListAllVolumes(p.get(), &list, 0);
    if (n < 0)
        return lastError(QStringLiteral("Cannot list the volumes of pool %1").arg(pool));
    QList<VolumeInfo> out;
    for (int i = 0; i < n; ++i) {
        VolPtr v(list[i]);
        CString path{virStorageVolGetPath(v.get())};
        virStorageVolInfo vi;
        const qint64 cap = virStorageVolGetInfo(v.get(), &vi) == 0 ? qint64(vi.capacity) : 0;
        out.append(VolumeInfo{pool, QString::fromUtf8(virStorageVolGetName(v.get())), path.text(), cap});
    }
    free(list); // NOLINT(cppcoreguidelines-no-malloc)
    return out;
}

namespace {

Result<void> ensureSandboxFilter(virConnectPtr conn, const QString& uri)
{
    using FilterPtr = std::unique_ptr<virNWFilter, Deleter<virNWFilter, virNWFilterFree>>;
    FilterPtr filter(virNWFilterLookupByName(conn, kFilterName));
    if (filter)
        return {};
    if (lastErrorIs(VIR_ERR_NO_SUPPORT) && uri.startsWith(QLatin1String("test:"))) {
        // libvirt's test driver runs no guests and has no network filters: there is no traffic to filter.
        virResetLastError();
        return {};
    }
    virResetLastError();
    filter.reset(virNWFilterDefineXML(conn, sandboxFilterXml().toUtf8().constData()));
    if (!filter) {
        const Error e = lastError(
            QStringLiteral("Cannot define the network filter %1 that keeps sandboxes from reaching "
                           "anything but Fluid's egress gate; the host needs libvirt's nwfilter driver "
                           "(virtnwfilterd or libvirtd), ebtables and iptables")
                .arg(QLatin1String(kFilterName)));
        // Defined meanwhile by a concurrent create: that is what was asked for.
        filter.reset(virNWFilterLookupByName(conn, kFilterName));
        if (!filter)
            return e;
        virResetLastError();
    }
    return {};
}

Result<void> replaceOldNetwork(virConnectPtr conn, virNetworkPtr net, const NetworkSpec& spec,
                               const QStringList& differences)
{
    // A network an earlier Fluid (or someone else) defined under this name. Redefining it detaches running
    // guests, so it is replaced only while no running domain uses it.
    virDomainPtr* list = nullptr;
    const int n = virConnectListAllDomains(conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0)
        return lastError(QStringLiteral("Cannot list the host's domains"));
    QStringList users;
    for (int i = 0; i < n; ++i) {
        DomainPtr d(list[i]);
        CString xml{virDomainGetXMLDesc(d.get(), 0)};
        if (xml.p && domainUsesNetwork(xml.text(), spec.name))
            users << QString::fromUtf8(virDomainGetName(d.get()));
    }
    free(list); // NOLINT(cppcoreguidelines-no-malloc)
    virResetLastError();
    if (!users.isEmpty())
        return makeError(
            ErrorCode::Refused,
            QStringLiteral("The network %1 does not contain sandboxes (%2), and running VMs "
                           "use it: %3. Stop them; Fluid then redefines the network on the "
                           "next create.")
                .arg(spec.name, differences.join(QStringLiteral("; ")), users.join(QStringLiteral(", "))));
    qCInfo(lcVirt).noquote() << "redefining network" << spec.name << "because"
                             << differences.join(QStringLiteral("; "));
    if (virNetworkIsActive(net) == 1 && virNetworkDestroy(net) < 0)
        return lastError(QStringLiteral("Cannot stop the old network %1 to upgrade it").arg(spec.name));
    if (virNetworkUndefine(net) < 0)
        return lastError(QStringLiteral("Cannot remove the old definition of network %1").arg(spec.name));
    return {};
}

} // namespace

Result<void> LibvirtHypervisor::ensureNetwork(const NetworkSpec& spec)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    if (auto r = ensureSandboxFilter(conn->get(), m_impl->uri); !r)
        return r;
    NetPtr net(virNetworkLookupByName(conn->get(), spec.name.toUtf8().constData()));
    if (net) {
        CString current{virNetworkGetXMLDesc(net.get(), 0)};
        if (!current.p)
            return lastError(QStringLiteral("Cannot read the definition of network %1").arg(spec.name));
        const QStringList differences = sandboxNetworkDifferences(current.text(), spec);
        if (!differences.isEmpty()) {
            if (auto r = replaceOldNetwork(conn->get(), net.get(), spec, differences); !r)
                return r;
            net.reset();
        }
    } else {
        virResetLastError();
    }
    if (!net) {
        net.reset(virNetworkDefineXML(conn->get(), sandboxNetworkXml(spec).toUtf8().constData()));
        if (!net) {
            // Concurrent creates (worker threads, another Fluid) may define it between the lookup and here.
            const Error defineError =
                lastError(QStringLiteral("Cannot define the sandbox network %1").arg(spec.name));
            net.reset(virNetworkLookupByName(conn->get(), spec.name.toUtf8().constData()));
            if (!net)
                return defineError;
            virResetLastError();
        }
    }
    if (virNetworkIsActive(net.get()) == 0 && virNetworkCreate(net.get()) < 0) {
        // Likewise started by a concurrent create meanwhile: that is what was asked for.
        const Error startError =
            lastError(QStringLiteral("Cannot start the sandbox network %1").arg(spec.name));
        if (virNetworkIsActive(net.get()) != 1)
            return startError;
        virResetLastError();
    }
    return {};
}

Result<void> LibvirtHypervisor::ensurePool(const QString& name, const QString& path)
{
    auto conn = m_impl->connection();
    if (!conn)
        return conn.error();
    PoolPtr pool(virStoragePoolLookupByName(conn->get(), name.toUtf8().constData()));
    if (!pool) {
        virResetLastError();
        const QString xml =
            QStringLiteral("<pool type='dir'><name>%1</name><target><path>%2</path><permissions>"
                           "<mode>0711</mode></permissions></target></pool>")
                .arg(xmlEscape(name), xmlEscape(path));
        pool.reset(virStoragePoolDefineXML(conn->get(), xml.toUtf8().constData(), 0));
        if (pool) {
            if (virStoragePoolBuild(pool.get(), 0) < 0)
                virResetLastError(); // the folder may exist already
            virStoragePoolSetAutostart(pool.get(), 1);
            virResetLastError();
        } else {
            // Concurrent creates (worker threads, another Fluid) may define it between the lookup and here.
            const Error defineError =
                lastError(QStringLiteral("Cannot define storage pool %1 at %2").arg(name, path));
            pool.reset(virStoragePoolLookupByName(conn->get(), name.toUtf8().constData()));
            if (!pool)
                return defineError;
            virResetLastError();
        }
    }
    if (virStoragePoolIsActive(pool.get()) == 0 && virStoragePoolCreate(pool.get(), 0) < 0) {
        // Likewise started by a concurrent create meanwhile: that is what was asked for.
        const Error startError = lastError(QStringLiteral("Cannot start storage pool %1").arg(name));
        if (virStoragePoolIsActive(pool.get()) != 1)
            return startError;
        virResetLastError();
    }
    return {};
}

Result<void> LibvirtHypervisor::createSnapshot(const QString& domain, const QString& name,
                                               const QString& description, bool quiesce)
{
    auto d = m_impl->domain(domain);
    if (!d)
        return d.error();
    const QString xml = QStringLiteral("<domainsnapshot><name>%1</name><description>%2</description>"
                                       "</domainsnapshot>")
                            .arg(xmlEscape(name), xmlEscape(description));
    // Freeze the guest's file systems through its agent so what the disk holds is consistent; a guest
    // without an agent still gets a snapshot (its memory is saved too, so nothing is lost, only less tidy).
    bool frozen = false;
    if (quiesce && virDomainIsActive(d->get()) == 1) {
        frozen = virDomainFSFreeze(d->get(), nullptr, 0, 0) >= 0;
        if (!frozen)
            qCInfo(lcVirt) << "snapshot of" << domain << "without freezing:" << lastError(QString()).detail;
    }
    SnapPtr s(
        virDomainSnapshotCreateXML(d->get(), xml.toUtf8().constData(), VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC));
    std::optional<Error> failure;
    if (!s)
        failure = lastError(QStringLiteral("Cannot take snapshot %1 of %2").arg(name, domain));
    if (frozen) {
        int thawed = -1;
        for (int attempt = 0; attempt < 3 && thawed < 0; ++attempt)
            thawed = virDomainFSThaw(d->get(), nullptr, 0, 0);
        if (thawed < 0) {
            return lastError(
                QStringLiteral("The file systems of %1 stay frozen after snapshot %2: run `virsh "
                               "domfsthaw %1`")
                    .arg(domain, name));
        }
    }
    if (failure)
        return *failure;
    return {};
}

Result<QList<SnapshotInfo>> LibvirtHypervisor::snapshots(const QString& domain)
{
    auto d = m_impl->domain(domain);
    if (!d)
        return d.error();
    virDomainSnapshotPtr* list = nullptr;
    const int n = virDomainListAllSnapshots(d->get(), &list, 0);
    if (n < 0)
        return lastError(QStringLiteral("Cannot list the snapshots of %1").arg(domain));
    QList<SnapshotInfo> out;
    for (int i = 0; i < n; ++i) {
        SnapPtr s(list[i]);
        SnapshotInfo info;
        info.name = QString::fromUtf8(virDomainSnapshotGetName(s.get()));
        info.current = virDomainSnapshotIsCurrent(s.get(), 0) == 1;
        CString xml{virDomainSnapshotGetXMLDesc(s.get(), VIR_DOMAIN_SNAPSHOT_XML_SECURE)};
        QXmlStreamReader r(xml.text());
        int depth = 0;
        while (!r.atEnd()) {
            r.readNext();
            if (r.isStartElement()) {
                ++depth;
                if (depth == 2 && r.name() == QLatin1String("description")) {
                    info.description = r.readElementText();
                    --depth;
                } else if (depth == 2 && r.name() == QLatin1String("creationTime")) {
                    info.createdAt = QDateTime::fromSecsSinceEpoch(r.readElementText().toLongLong(), Qt::UTC);
                    --depth;
                } else if (depth == 2 && r.name() == QLatin1String("state")) {
                    const QString st = r.readElementText();
                    info.state = st == QLatin1String("running")   ? DomainState::Running
                                 : st == QLatin1String("shutoff") ? DomainState::ShutOff
                                 : st == QLatin1String("paused")  ? DomainState::Paused
                                                                  : DomainState::Unknown;
                    --depth;
                } else if (depth == 2) {
                    r.skipCurrentElement();
                    --depth;
                }
            } else if (r.isEndElement()) {
                --depth;
            }
        }
        out.append(info);
    }
    free(list); // NOLINT(cppcoreguidelines-no-malloc)
    std::sort(out.begin(), out.end(),
              [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.createdAt < b.createdAt; });
    return out;
}

Result<void> LibvirtHypervisor::revertSnapshot(const QString& domain, const QString& name)
{
    auto d = m_impl->domain(domain);
    if (!d)
        return d.error();
    SnapPtr s(virDomainSnapshotLookupByName(d->get(), name.toUtf8().constData(), 0));
    if (!s)
        return lastError(QStringLiteral("%1 has no snapshot %2").arg(domain, name), ErrorCode::NotFound);
    if (virDomainRevertToSnapshot(s.get(), 0) < 0)
        return lastError(QStringLiteral("Cannot revert %1 to %2").arg(domain, name));
    // A running snapshot was taken with the guest's file systems frozen (createSnapshot), and its memory
    // comes back that way: thaw them, or every write in the guest would hang. The agent needs a moment to
    // answer after the revert; a guest without an agent was never frozen.
    if (virDomainIsActive(d->get()) == 1) {
        bool thawed = false;
        for (int attempt = 0; attempt < 20 && !thawed; ++attempt) {
            thawed = virDomainFSThaw(d->get(), nullptr, 0, 0) >= 0;
            if (!thawed && lastErrorIs(VIR_ERR_AGENT_UNRESPONSIVE))
                QThread::msleep(500);
            else if (!thawed)
                break;
        }
        if (!thawed)
            qCInfo(lcVirt) << "no thaw after reverting" << domain << lastError(QString()).detail;
        virResetLastError();
    }
    return {};
}

Result<void> LibvirtHypervisor::deleteSnapshot(const QString& domain, const QString& name)
{
    auto d = m_impl->domain(domain);
    if (!d)
        return d.error();
    SnapPtr s(virDomainSnapshotLookupByName(d->get(), name.toUtf8().constData(), 0));
    if (!s)
        return lastError(QStringLiteral("%1 has no snapshot %2").arg(domain, name), ErrorCode::NotFound);
    if (virDomainSnapshotDelete(s.get(), 0) < 0)
        return lastError(QStringLiteral("Cannot delete snapshot %1 of %2").arg(name, domain));
    return {};
}

void LibvirtHypervisor::setDomainEventHandler(DomainEventHandler handler)
{
    QMutexLocker lock(&m_impl->handlerMutex);
    m_impl->handler = std::move(handler);
}

void LibvirtHypervisor::setConnectionHandler(ConnectionHandler handler)
{
    QMutexLocker lock(&m_impl->handlerMutex);
    m_impl->connectionHandler = std::move(handler);
}

} // namespace fluid::virt

// SPDX-License-Identifier: Apache-2.0
#include "SandboxManager.h"

#include "base/Logging.h"
#include "base/Process.h"
#include "DomainXml.h"
#include "Names.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>

namespace fluid::virt {
using model::Sandbox;
using model::SandboxState;

namespace {

/// "fluid-<name>.<what>": a volume or file that belongs to sandbox <name>. Names have no dots, so the
/// first dot ends the name even when the name has dashes.
QString hostFileName(const QString& sandboxName, const QString& what)
{
    return domainNameFor(sandboxName) + QLatin1Char('.') + what;
}

QString ownerOfHostFile(const QString& fileName)
{
    if (!fileName.startsWith(QLatin1String(kDomainPrefix)))
        return {};
    const qsizetype dot = fileName.indexOf(QLatin1Char('.'));
    return dot < 0 ? QString() : sandboxNameFromDomain(fileName.left(dot));
}

Result<void> validateSnapshotName(const QString& name)
{
    static const QRegularExpression valid(QStringLiteral("^[a-z0-9][a-z0-9._-]{0,63}$"));
    if (valid.match(name).hasMatch())
        return {};
    return makeError(ErrorCode::InvalidArgument,
                     QStringLiteral("Snapshot names use 1 to 64 lower-case letters, digits, dots, dashes and "
                                    "underscores, starting with a letter or digit"));
}

Error cancelError()
{
    return makeError(ErrorCode::Cancelled,
                     QStringLiteral("Creating the sandbox was cancelled; everything made "
                                    "so far was removed"));
}

/// A NoCloud seed (ISO 9660, volume id "cidata") carrying the sandbox's identity, for cloud-init images.
Result<QByteArray> makeCloudInitSeed(const QString& hostname, const SandboxIdentity& id)
{
    QTemporaryDir dir;
    if (!dir.isValid())
        return makeError(ErrorCode::Io,
                         QStringLiteral("Cannot make a temporary folder for the cloud-init seed"));
    auto indent = [](const QByteArray& text) {
        QByteArray out;
        for (const QByteArray& line : text.trimmed().split('\n'))
            out += "      " + line + '\n';
        return out;
    };
    QByteArray userData = "#cloud-config\n";
    userData += "hostname: " + hostname.toUtf8() + "\n";
    userData += "ssh_deletekeys: true\nssh_genkeytypes: []\n";
    userData += "ssh_keys:\n  ed25519_private: |\n" + indent(id.hostPrivateKey).replace("      ", "    ");
    userData += "  ed25519_certificate: \"" + id.hostCertificate.trimmed() + "\"\n";
    userData += "write_files:\n";
    userData += "  - path: /etc/ssh/fluid_user_ca.pub\n    permissions: '0644'\n    content: |\n" +
                indent(id.userCaPublicKey);
    userData += "  - path: /etc/ssh/fluid_principals/root\n    permissions: '0644'\n    content: |\n" +
                indent(id.principal.toUtf8());
    userData +=
        "  - path: /etc/ssh/ssh_host_ed25519_key-cert.pub\n    permissions: '0644'\n    content: |\n" +
        indent(id.hostCertificate);
    const QByteArray metaData =
        "instance-id: " + hostname.toUtf8() + "\nlocal-hostname: " + hostname.toUtf8() + "\n";
    for (const auto& [name, content] : {std::pair{"user-data", userData}, std::pair{"meta-data", metaData}}) {
        QFile f(dir.filePath(QLatin1String(name)));
        if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size())
            return makeError(ErrorCode::Io, QStringLiteral("Cannot write the cloud-init seed"));
    }
    ProcessSpec spec;
    spec.program = QStringLiteral("genisoimage");
    spec.arguments = {QStringLiteral("-quiet"), QStringLiteral("-output"),   QStringLiteral("seed.iso"),
                      QStringLiteral("-volid"), QStringLiteral("cidata"),    QStringLiteral("-joliet"),
                      QStringLiteral("-rock"),  QStringLiteral("user-data"), QStringLiteral("meta-data")};
    spec.workingDirectory = dir.path();
    spec.timeoutMs = 30000;
    auto run = runProcess(spec);
    if (!run)
        return makeError(
            run.error().code,
            QStringLiteral("Cannot build the cloud-init seed: %1; install the genisoimage package")
                .arg(run.error().message),
            run.error().detail);
    if (!run->succeeded())
        return run->toError(QStringLiteral("Building the cloud-init seed with genisoimage"));
    QFile iso(dir.filePath(QStringLiteral("seed.iso")));
    if (!iso.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io, QStringLiteral("The cloud-init seed was not written"));
    return iso.readAll();
}

} // namespace

bool sshBannerAnswers(const QString& ip, int timeoutMs)
{
    QTcpSocket socket;
    socket.connectToHost(ip, 22);
    if (!socket.waitForConnected(timeoutMs))
        return false;
    QByteArray banner;
    QElapsedTimer timer;
    timer.start();
    while (!banner.contains('\n') && timer.elapsed() < timeoutMs) {
        if (!socket.waitForReadyRead(int(qMax<qint64>(1, timeoutMs - timer.elapsed()))))
            break;
        banner += socket.readAll();
    }
    return banner.startsWith("SSH-2.0");
}

namespace {
void report(const ProgressSink& progress, CreateStage stage, const QString& message = {})
{
    if (progress)
        progress(Progress{createStageName(stage), message, -1});
}
} // namespace

QString createStageName(CreateStage s)
{
    switch (s) {
    case CreateStage::Checking:
        return QStringLiteral("checking the source");
    case CreateStage::Admission:
        return QStringLiteral("checking resources");
    case CreateStage::Overlay:
        return QStringLiteral("creating the overlay disk");
    case CreateStage::Identity:
        return QStringLiteral("issuing the SSH identity");
    case CreateStage::Define:
        return QStringLiteral("defining the VM");
    case CreateStage::Start:
        return QStringLiteral("starting the VM");
    case CreateStage::WaitAddress:
        return QStringLiteral("waiting for an IP address");
    case CreateStage::WaitSsh:
        return QStringLiteral("waiting for SSH");
    case CreateStage::Ready:
        return QStringLiteral("ready");
    }
    return {};
}

/// What a create has made so far, for rollback.
struct SandboxManager::Created {
    Sandbox row;
    SandboxXmlSpec spec; ///< the domain XML being put together
    bool rowInserted = false;
    QStringList hostFiles; ///< volumes or local files
    bool defined = false;
    bool started = false;
};

SandboxManager::SandboxManager(Hypervisor& hypervisor, store::Database& db, ManagerOptions options,
                               const Clock& clock)
    : m_hv(hypervisor)
    , m_db(db)
    , m_options(std::move(options))
    , m_clock(clock)
{
}

void SandboxManager::audit(const model::Actor& actor, const QString& kind, const QString& summary,
                           const QString& sandboxId, const QJsonObject& data)
{
    auto r = store::AuditLog(m_db, m_clock).append(actor.toString(), kind, summary, data, sandboxId);
    if (!r)
        qCWarning(lcVirt) << "audit failed:" << r.error().toString();
}

Result<QList<SandboxManager::Source>> SandboxManager::sources()
{
    return listSources(m_hv);
}

Result<QList<SandboxManager::Source>> SandboxManager::listSources(Hypervisor& hv)
{
    auto domains = hv.domains();
    if (!domains)
        return domains.error();
    QList<Source> out;
    for (const DomainSummary& d : *domains) {
        if (!sandboxNameFromDomain(d.name).isEmpty())
            continue;
        auto xml = hv.domainXml(d.name);
        if (!xml)
            continue; // vanished while listing
        auto parsed = parseDomainXml(*xml);
        if (!parsed || !parsed->sandboxId.isEmpty())
            continue;
        Source s;
        s.domain = *parsed;
        s.state = d.state;
        if (auto ok = checkCloneable(*parsed); !ok)
            s.refusal = ok.error().message;
        if (d.state == DomainState::Running || d.state == DomainState::Paused) {
            s.warning =
                QStringLiteral("%1 is running: its disk changes under a clone. Shut it down, or take a "
                               "snapshot of it and clone a shut-off copy.")
                    .arg(d.name);
        }
        out.append(s);
    }
    return out;
}

Result<QStringList> SandboxManager::overLimits(const CreateOptions& o, const HostInfo& host)
{
    auto live = store::liveSandboxes(m_db, o.hostId);
    if (!live)
        return live.error();
    int usedMemory = 0;
    int usedVcpus = 0;
    for (const Sandbox& s : *live) {
        usedMemory += s.memoryMib;
        usedVcpus += s.vcpus;
    }
    QStringList over;
    const qint64 freeMib = host.memoryFreeKib / 1024;
    if (host.memoryFreeKib > 0 && o.memoryMib > freeMib)
        over << QStringLiteral("%1 MiB asked, the host has %2 MiB free").arg(o.memoryMib).arg(freeMib);
    if (o.limits.maxMemoryMib > 0 && usedMemory + o.memoryMib > o.limits.maxMemoryMib) {
        over << QStringLiteral("sandboxes would use %1 MiB, the limit is %2 MiB")
                    .arg(usedMemory + o.memoryMib)
                    .arg(o.limits.maxMemoryMib);
    }
    if (o.limits.maxVcpus > 0 && usedVcpus + o.vcpus > o.limits.maxVcpus)
        over << QStringLiteral("sandboxes would use %1 vCPUs, the limit is %2")
                    .arg(usedVcpus + o.vcpus)
                    .arg(o.limits.maxVcpus);
    if (o.limits.maxSandboxes > 0 && live->size() + 1 > o.limits.maxSandboxes)
        over << QStringLiteral("%1 sandboxes would run, the limit is %2")
                    .arg(live->size() + 1)
                    .arg(o.limits.maxSandboxes);
    return over;
}

Result<void> SandboxManager::checkNameFree(const CreateOptions& o)
{
    auto clash = store::liveSandboxNamed(m_db, o.hostId, o.name);
    if (!clash)
        return clash.error();
    if (*clash)
        return makeError(ErrorCode::AlreadyExists,
                         QStringLiteral("A sandbox named %1 already exists on this host").arg(o.name));
    return {};
}

Result<QString> SandboxManager::storeHostFile(const QString& pool, const QString& name,
                                              const QByteArray& content)
{
    auto vol = m_hv.createVolumeWithContent(pool, name, content);
    if (vol)
        return vol->path;
    // libvirt's test driver cannot upload; on a local host a private file serves the same purpose.
    if (vol.error().code != ErrorCode::Refused || !m_hv.isLocal() || m_options.localFileDir.isEmpty())
        return vol.error();
    if (!QDir().mkpath(m_options.localFileDir))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot create %1").arg(m_options.localFileDir));
    QFile::setPermissions(m_options.localFileDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    const QString path = m_options.localFileDir + QLatin1Char('/') + name;
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size() ||
        !f.setPermissions(QFile::ReadOwner | QFile::WriteOwner) || !f.commit())
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write %1").arg(path), f.errorString());
    return path;
}

Result<QHash<QString, QStringList>> SandboxManager::hostFiles()
{
    QHash<QString, QStringList> owned;
    auto pools = m_hv.pools();
    if (!pools)
        return pools.error();
    for (const QString& pool : *pools) {
        auto vols = m_hv.volumes(pool);
        if (!vols)
            return vols.error();
        for (const VolumeInfo& v : *vols) {
            if (const QString owner = ownerOfHostFile(v.name); !owner.isEmpty())
                owned[owner] << v.path;
        }
    }
    if (!m_options.localFileDir.isEmpty()) {
        for (const QString& f : QDir(m_options.localFileDir).entryList(QDir::Files)) {
            if (const QString owner = ownerOfHostFile(f); !owner.isEmpty())
                owned[owner] << m_options.localFileDir + QLatin1Char('/') + f;
        }
    }
    return owned;
}

Result<void> SandboxManager::removeHostFile(const QString& path)
{
    if (!m_options.localFileDir.isEmpty() && path.startsWith(m_options.localFileDir + QLatin1Char('/'))) {
        if (QFile::exists(path) && !QFile::remove(path))
            return makeError(ErrorCode::Io, QStringLiteral("Cannot remove %1").arg(path));
        return {};
    }
    return m_hv.deleteVolume(path);
}

Result<void> SandboxManager::rollback(Created& made)
{
    QStringList problems;
    const QString domain = made.row.domainName;
    if (made.started) {
        if (auto r = m_hv.destroyDomain(domain); !r && r.error().code != ErrorCode::NotFound)
            problems << r.error().toString();
    }
    if (made.defined) {
        if (auto r = m_hv.undefineDomain(domain); !r)
            problems << r.error().toString();
    }
    for (const QString& path : std::as_const(made.hostFiles)) {
        if (auto r = removeHostFile(path); !r)
            problems << r.error().toString();
    }
    if (made.rowInserted) {
        if (auto r = store::SandboxRepository(m_db).remove(made.row.id); !r)
            problems << r.error().toString();
    }
    if (problems.isEmpty())
        return {};
    return makeError(ErrorCode::Unknown,
                     QStringLiteral("Some of what was made for %1 could not be removed; the next start-up "
                                    "reconcile will retry")
                         .arg(made.row.name),
                     problems.join(QStringLiteral("; ")));
}

Result<CreatePlan> SandboxManager::planCreate(const CreateOptions& options, const ProgressSink& progress)
{
    CreatePlan plan;
    plan.options = options;
    CreateOptions& o = plan.options;
    if (o.name.isEmpty())
        o.name = generateSandboxName();
    if (auto ok = validateSandboxName(o.name); !ok)
        return ok.error();
    report(progress, CreateStage::Checking);
    if (auto free = checkNameFree(o); !free)
        return free.error();
    auto sourceXml = m_hv.domainXml(o.sourceDomain);
    if (!sourceXml)
        return sourceXml.error();
    auto source = parseDomainXml(*sourceXml);
    if (!source)
        return source.error();
    if (!source->sandboxId.isEmpty())
        return makeError(ErrorCode::Refused,
                         QStringLiteral("%1 is itself a sandbox; clone a golden VM").arg(o.sourceDomain));
    if (auto ok = checkCloneable(*source); !ok)
        return ok.error();
    auto host = m_hv.hostInfo(o.accelerator);
    if (!host)
        return host.error();
    plan.sourceXml = *sourceXml;
    plan.source = *source;
    plan.host = *host;

    report(progress, CreateStage::Admission);
    auto over = overLimits(o, *host);
    if (!over)
        return over.error();
    if (!over->isEmpty()) {
        AdmissionRequest a;
        a.sandboxName = o.name;
        a.hostUri = host->uri;
        a.hostLabel = host->hostname.isEmpty() ? host->uri : host->hostname;
        a.memoryMib = o.memoryMib;
        a.vcpus = o.vcpus;
        a.over = *over;
        a.actor = o.actor;
        a.sessionId = o.sessionId;
        a.ttlMs = o.approvalTtlMs;
        plan.admission = a;
    }
    return plan;
}

Result<Sandbox> SandboxManager::createWithinLimits(const CreateOptions& options, const ProgressSink& progress,
                                                   const CancelToken& cancel)
{
    auto plan = planCreate(options, progress);
    if (!plan)
        return plan.error();
    if (plan->admission)
        return makeError(ErrorCode::Refused,
                         QStringLiteral("Creating %1 needs a person's approval: %2")
                             .arg(plan->options.name, plan->admission->over.join(QStringLiteral("; "))));
    return create(*plan, progress, cancel);
}

Result<Sandbox> SandboxManager::create(const CreatePlan& plan, const ProgressSink& progress,
                                       const CancelToken& cancel)
{
    const CreateOptions& o = plan.options;
    // A name taken while a person decided is refused before anything is made.
    if (auto free = checkNameFree(o); !free)
        return free.error();
    Created made;
    if (auto r = insertRow(plan, made); !r)
        return r.error();
    auto fail = [&](const Error& e) -> Result<Sandbox> {
        const Error error = cancel.isCancelled() && e.code != ErrorCode::Cancelled ? cancelError() : e;
        auto undone = rollback(made);
        audit(o.actor, QStringLiteral("sandbox.create.failed"),
              QStringLiteral("Creating %1 failed: %2").arg(o.name, error.message), made.row.id,
              QJsonObject{{QStringLiteral("error"), error.toString()},
                          {QStringLiteral("rollback"),
                           undone ? QStringLiteral("complete") : undone.error().toString()}});
        if (!undone)
            qCWarning(lcVirt) << undone.error().toString();
        return error;
    };
    using Step = Result<void> (SandboxManager::*)(const CreatePlan&, Created&);
    const std::pair<CreateStage, Step> steps[] = {{CreateStage::Overlay, &SandboxManager::makeOverlays},
                                                  {CreateStage::Overlay, &SandboxManager::copyNvram},
                                                  {CreateStage::Identity, &SandboxManager::injectIdentity}};
    for (const auto& [stage, step] : steps) {
        if (cancel.isCancelled())
            return fail(cancelError());
        report(progress, stage);
        if (auto r = (this->*step)(plan, made); !r)
            return fail(r.error());
    }
    if (auto r = defineAndStart(plan, made, progress, cancel); !r)
        return fail(r.error());
    if (o.waitReady) {
        if (cancel.isCancelled())
            return fail(cancelError());
        report(progress, CreateStage::WaitAddress);
        auto ip = waitForAddress(plan, made, cancel);
        if (!ip)
            return fail(ip.error());
        made.row.ip = *ip;
        report(progress, CreateStage::WaitSsh, QStringLiteral("waiting for SSH on %1").arg(*ip));
        if (auto r = waitForSsh(plan, *ip, cancel); !r)
            return fail(r.error());
    }
    auto ready = markRunning(plan, made);
    if (!ready)
        return fail(ready.error());
    report(progress, CreateStage::Ready, QStringLiteral("%1 is ready").arg(o.name));
    return ready;
}

Result<void> SandboxManager::insertRow(const CreatePlan& plan, Created& made)
{
    const CreateOptions& o = plan.options;
    made.row.id = model::newId();
    made.row.name = o.name;
    made.row.hostId = o.hostId;
    made.row.domainName = domainNameFor(o.name);
    made.row.state = SandboxState::Creating;
    made.row.memoryMib = o.memoryMib;
    made.row.vcpus = o.vcpus;
    made.row.accelerator = acceleratorName(plan.host.accelerator);
    made.row.createdAt = made.row.updatedAt = m_clock.now();
    // The row comes first: if Fluid dies from here on, reconcile finds it in CREATING and cleans up.
    if (auto r = store::SandboxRepository(m_db).insert(made.row); !r)
        return r.error();
    made.rowInserted = true;
    audit(o.actor, QStringLiteral("sandbox.create.begin"),
          QStringLiteral("Creating %1 from %2 (%3 MiB, %4 vCPU, %5)")
              .arg(o.name, o.sourceDomain)
              .arg(o.memoryMib)
              .arg(o.vcpus)
              .arg(made.row.accelerator),
          made.row.id,
          QJsonObject{{QStringLiteral("source"), o.sourceDomain}, {QStringLiteral("host"), m_hv.uri()}});
    made.spec.domainName = made.row.domainName;
    made.spec.sandboxId = made.row.id;
    made.spec.sourceName = plan.source.name;
    made.spec.macAddress = randomMac();
    made.spec.networkName = m_options.network.name;
    if (plan.source.domainType == QLatin1String("kvm") || plan.source.domainType == QLatin1String("qemu"))
        made.spec.domainType =
            plan.host.accelerator == Accelerator::Kvm ? QStringLiteral("kvm") : QStringLiteral("qemu");
    made.spec.memoryMib = o.memoryMib;
    made.spec.vcpus = o.vcpus;
    return {};
}

Result<void> SandboxManager::makeOverlays(const CreatePlan& plan, Created& made)
{
    if (auto r = m_hv.ensurePool(m_options.poolName, m_options.poolPath); !r)
        return r;
    for (const DiskInfo& disk : plan.source.writableDisks()) {
        auto overlay = m_hv.createOverlay(m_options.poolName,
                                          hostFileName(made.row.name, disk.target + QStringLiteral(".qcow2")),
                                          disk.sourcePath, disk.format);
        if (!overlay)
            return overlay.error();
        made.hostFiles << overlay->path;
        made.spec.overlays.insert(disk.target, overlay->path);
        if (made.row.overlayPath.isEmpty())
            made.row.overlayPath = overlay->path;
    }
    return {};
}

Result<void> SandboxManager::copyNvram(const CreatePlan& plan, Created& made)
{
    if (plan.source.nvramPath.isEmpty())
        return {};
    if (!m_hv.isLocal())
        return makeError(ErrorCode::Refused,
                         QStringLiteral("%1 boots UEFI with its own NVRAM; copying NVRAM on a remote host "
                                        "is not supported yet")
                             .arg(plan.source.name));
    QFile nvram(plan.source.nvramPath);
    if (!nvram.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot read the NVRAM of %1").arg(plan.source.name),
                         nvram.errorString());
    auto copy = storeHostFile(m_options.poolName, hostFileName(made.row.name, QStringLiteral("nvram.fd")),
                              nvram.readAll());
    if (!copy)
        return copy.error();
    made.hostFiles << *copy;
    made.spec.nvramPath = *copy;
    return {};
}

Result<void> SandboxManager::injectIdentity(const CreatePlan& plan, Created& made)
{
    if (!m_options.issueIdentity)
        return {};
    const QString& name = made.row.name;
    auto id = m_options.issueIdentity(name);
    if (!id)
        return id.error();
    made.row.hostPublicKey = id->hostPublicKey;
    if (plan.source.identity == QLatin1String("cloud-init")) {
        auto seed = makeCloudInitSeed(name, *id);
        if (!seed)
            return seed.error();
        auto path = storeHostFile(m_options.poolName, hostFileName(name, QStringLiteral("seed.iso")), *seed);
        if (!path)
            return path.error();
        made.hostFiles << *path;
        made.spec.seedIsoPath = *path;
        return {};
    }
    made.spec.fwcfg << FwCfgEntry{QStringLiteral("opt/fluid/hostname"), name, {}}
                    << FwCfgEntry{QStringLiteral("opt/fluid/principal"), id->principal, {}};
    const QList<std::pair<QString, QByteArray>> files = {{QStringLiteral("host_key"), id->hostPrivateKey},
                                                         {QStringLiteral("host_cert"), id->hostCertificate},
                                                         {QStringLiteral("user_ca"), id->userCaPublicKey}};
    for (const auto& [entry, content] : files) {
        auto path = storeHostFile(m_options.poolName, hostFileName(name, entry), content);
        if (!path)
            return path.error();
        made.hostFiles << *path;
        made.spec.fwcfg << FwCfgEntry{QStringLiteral("opt/fluid/") + entry, {}, *path};
    }
    return {};
}

Result<void> SandboxManager::defineAndStart(const CreatePlan& plan, Created& made,
                                            const ProgressSink& progress, const CancelToken& cancel)
{
    if (cancel.isCancelled())
        return cancelError();
    report(progress, CreateStage::Define);
    if (auto r = m_hv.ensureNetwork(m_options.network); !r)
        return r;
    auto xml = deriveSandboxXml(plan.sourceXml, made.spec);
    if (!xml)
        return xml.error();
    if (auto r = m_hv.defineDomain(xml->xml); !r)
        return r;
    made.defined = true;
    if (auto r = store::SandboxRepository(m_db).update(made.row); !r)
        return r;
    if (cancel.isCancelled())
        return cancelError();
    report(progress, CreateStage::Start);
    if (auto r = m_hv.startDomain(made.row.domainName); !r)
        return r;
    made.started = true;
    return {};
}

Result<QString> SandboxManager::waitForAddress(const CreatePlan& plan, const Created& made,
                                               const CancelToken& cancel)
{
    QElapsedTimer timer;
    timer.start();
    const qint64 deadline = qint64(plan.options.readyTimeoutS) * 1000;
    for (;;) {
        auto ips = m_hv.addresses(made.row.domainName);
        if (ips && !ips->isEmpty())
            return ips->first();
        if (timer.elapsed() > deadline)
            return makeError(
                ErrorCode::Timeout,
                QStringLiteral("%1 got no IP address within %2 s (is DHCP working on network %3?)")
                    .arg(made.row.name)
                    .arg(plan.options.readyTimeoutS)
                    .arg(m_options.network.name));
        // No libvirt event exists for DHCP leases: ask again shortly.
        if (cancel.sleepFor(500))
            return cancelError();
    }
}

Result<void> SandboxManager::waitForSsh(const CreatePlan& plan, const QString& ip, const CancelToken& cancel)
{
    QElapsedTimer timer;
    timer.start();
    const qint64 deadline = qint64(plan.options.readyTimeoutS) * 1000;
    while (!m_options.probe(ip, 2000)) {
        if (cancel.isCancelled())
            return cancelError();
        if (timer.elapsed() > deadline)
            return makeError(ErrorCode::Timeout, QStringLiteral("%1 (%2) did not answer on SSH within %3 s")
                                                     .arg(plan.options.name, ip)
                                                     .arg(plan.options.readyTimeoutS));
        if (cancel.sleepFor(500))
            return cancelError();
    }
    return {};
}

Result<Sandbox> SandboxManager::markRunning(const CreatePlan& plan, Created& made)
{
    const CreateOptions& o = plan.options;
    made.row.state = SandboxState::Running;
    made.row.updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(made.row); !r)
        return r.error();
    audit(o.actor, QStringLiteral("sandbox.create"),
          QStringLiteral("Created %1 from %2%3")
              .arg(o.name, o.sourceDomain,
                   made.row.ip.isEmpty() ? QString() : QStringLiteral(" at ") + made.row.ip),
          made.row.id,
          QJsonObject{{QStringLiteral("domain"), made.row.domainName}, {QStringLiteral("ip"), made.row.ip}});
    return made.row;
}

Result<Sandbox> SandboxManager::loadLive(const QString& sandboxId)
{
    auto row = store::SandboxRepository(m_db).get(sandboxId);
    if (!row)
        return row.error();
    if (row->state == SandboxState::Destroyed)
        return makeError(ErrorCode::NotFound, QStringLiteral("Sandbox %1 was destroyed").arg(row->name));
    return row;
}

Result<void> SandboxManager::waitForState(const QString& domain, DomainState wanted, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    for (;;) {
        auto state = m_hv.domainState(domain);
        if (!state)
            return state.error();
        if (*state == wanted)
            return {};
        if (timer.elapsed() > timeoutMs)
            return makeError(
                ErrorCode::Timeout,
                QStringLiteral("%1 did not reach state %2").arg(domain, domainStateName(wanted)));
        QThread::msleep(200);
    }
}

Result<Sandbox> SandboxManager::start(const QString& sandboxId, const model::Actor& actor)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    auto state = m_hv.domainState(row->domainName);
    if (!state)
        return state.error();
    if (*state != DomainState::Running) {
        if (auto r = m_hv.startDomain(row->domainName); !r)
            return r.error();
    }
    row->state = SandboxState::Running;
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r.error();
    audit(actor, QStringLiteral("sandbox.start"), QStringLiteral("Started %1").arg(row->name), row->id);
    return row;
}

Result<Sandbox> SandboxManager::stop(const QString& sandboxId, const model::Actor& actor)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    auto state = m_hv.domainState(row->domainName);
    if (!state)
        return state.error();
    bool forced = false;
    if (*state != DomainState::ShutOff) {
        auto asked = m_hv.shutdownDomain(row->domainName);
        if (!asked || !waitForState(row->domainName, DomainState::ShutOff, m_options.stopTimeoutS * 1000)) {
            forced = true;
            if (auto r = m_hv.destroyDomain(row->domainName); !r)
                return r.error();
            if (auto r = waitForState(row->domainName, DomainState::ShutOff, 30000); !r)
                return r.error();
        }
    }
    row->state = SandboxState::Stopped;
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r.error();
    audit(actor, QStringLiteral("sandbox.stop"),
          QStringLiteral("Stopped %1%2")
              .arg(row->name,
                   forced ? QStringLiteral(" (forced after the guest did not shut down)") : QString()),
          row->id);
    return row;
}

Result<Sandbox> SandboxManager::destroy(const QString& sandboxId, const model::Actor& actor)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    if (auto r = m_hv.destroyDomain(row->domainName); !r && r.error().code != ErrorCode::NotFound)
        return r.error();
    if (auto r = m_hv.undefineDomain(row->domainName); !r)
        return r.error();
    auto files = hostFiles();
    if (!files)
        return files.error();
    const QStringList mine = files->value(row->name);
    for (const QString& path : mine) {
        if (auto r = removeHostFile(path); !r)
            return r.error();
    }
    row->state = SandboxState::Destroyed;
    row->ip.clear();
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r.error();
    audit(actor, QStringLiteral("sandbox.destroy"), QStringLiteral("Destroyed %1").arg(row->name), row->id,
          QJsonObject{{QStringLiteral("removed"), QJsonArray::fromStringList(mine)}});
    return row;
}

Result<model::Snapshot> SandboxManager::snapshot(const QString& sandboxId, const QString& name,
                                                 const model::Actor& actor, model::SnapshotKind kind,
                                                 const QString& description)
{
    if (auto ok = validateSnapshotName(name); !ok)
        return ok.error();
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    if (auto r = m_hv.createSnapshot(row->domainName, name, description, true); !r)
        return r.error();
    model::Snapshot snap{model::newId(), row->id, name, kind, description, m_clock.now()};
    if (auto r = store::SnapshotRepository(m_db).insert(snap); !r) {
        if (auto undone = m_hv.deleteSnapshot(row->domainName, name); !undone)
            qCWarning(lcVirt) << undone.error().toString();
        return r.error();
    }
    audit(actor, QStringLiteral("snapshot.create"), QStringLiteral("Snapshot %1 of %2").arg(name, row->name),
          row->id);
    return snap;
}

Result<QList<SnapshotInfo>> SandboxManager::snapshots(const QString& sandboxId)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    return m_hv.snapshots(row->domainName);
}

Result<void> SandboxManager::revert(const QString& sandboxId, const QString& snapshotName,
                                    const model::Actor& actor)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    if (auto r = m_hv.revertSnapshot(row->domainName, snapshotName); !r)
        return r;
    auto state = m_hv.domainState(row->domainName);
    if (state && *state == DomainState::Running) {
        // A revert brings back the clock of the snapshot too.
        if (auto r = m_hv.syncGuestTime(row->domainName); !r)
            qCInfo(lcVirt) << "guest clock not synced after revert:" << r.error().toString();
    }
    row->state = state && *state == DomainState::Running ? SandboxState::Running : SandboxState::Stopped;
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r;
    audit(actor, QStringLiteral("snapshot.revert"),
          QStringLiteral("Reverted %1 to %2").arg(row->name, snapshotName), row->id);
    return {};
}

Result<void> SandboxManager::deleteSnapshot(const QString& sandboxId, const QString& snapshotName,
                                            const model::Actor& actor)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    if (auto r = m_hv.deleteSnapshot(row->domainName, snapshotName); !r)
        return r;
    if (auto removed = store::removeSnapshotNamed(m_db, row->id, snapshotName); !removed)
        return removed;
    audit(actor, QStringLiteral("snapshot.delete"),
          QStringLiteral("Deleted snapshot %1 of %2").arg(snapshotName, row->name), row->id);
    return {};
}

Result<ReconcileReport> SandboxManager::reconcile(const QString& hostId)
{
    ReconcileReport report;
    auto rows = store::liveSandboxes(m_db, hostId);
    if (!rows)
        return rows.error();
    auto domains = m_hv.domains();
    if (!domains)
        return domains.error();
    QHash<QString, DomainState> domainStates;
    for (const DomainSummary& d : *domains)
        domainStates.insert(d.name, d.state);

    // Rows first: a create that died mid-way, and sandboxes whose domain is gone.
    QSet<QString> keep;
    for (Sandbox row : *rows) {
        if (row.state == SandboxState::Creating) {
            Created leftover;
            leftover.row = row;
            leftover.rowInserted = true;
            leftover.defined = leftover.started = domainStates.contains(row.domainName);
            if (auto r = rollback(leftover); !r)
                report.problems << r.error().toString();
            report.updatedRows << QStringLiteral("%1: unfinished create removed").arg(row.name);
            audit(model::Actor::system(), QStringLiteral("reconcile.create"),
                  QStringLiteral("Removed %1, left half-created by an earlier run").arg(row.name), row.id);
            continue;
        }
        if (!domainStates.contains(row.domainName)) {
            row.state = SandboxState::Destroyed;
            row.error = QStringLiteral("its domain disappeared from the host");
            row.updatedAt = m_clock.now();
            if (auto r = store::SandboxRepository(m_db).update(row); !r)
                report.problems << r.error().toString();
            report.updatedRows << QStringLiteral("%1: domain gone, marked destroyed").arg(row.name);
            audit(model::Actor::system(), QStringLiteral("reconcile.missing"),
                  QStringLiteral("%1's domain is gone from the host: marked destroyed").arg(row.name),
                  row.id);
            continue;
        }
        keep.insert(row.name);
        const DomainState actual = domainStates.value(row.domainName);
        const SandboxState state =
            actual == DomainState::ShutOff ? SandboxState::Stopped : SandboxState::Running;
        if (state != row.state) {
            row.state = state;
            row.updatedAt = m_clock.now();
            if (auto r = store::SandboxRepository(m_db).update(row); !r)
                report.problems << r.error().toString();
            report.updatedRows << QStringLiteral("%1: now %2").arg(row.name, model::enumName(state));
        }
    }

    // Then Fluid-named things nobody owns.
    for (auto it = domainStates.cbegin(); it != domainStates.cend(); ++it) {
        const QString owner = sandboxNameFromDomain(it.key());
        if (owner.isEmpty() || keep.contains(owner))
            continue;
        if (auto r = m_hv.destroyDomain(it.key()); !r && r.error().code != ErrorCode::NotFound)
            report.problems << r.error().toString();
        if (auto r = m_hv.undefineDomain(it.key()); !r) {
            report.problems << r.error().toString();
            continue;
        }
        report.removedDomains << it.key();
        audit(model::Actor::system(), QStringLiteral("reconcile.domain"),
              QStringLiteral("Removed domain %1 that no sandbox owns").arg(it.key()), QString());
    }
    auto files = hostFiles();
    if (!files)
        return files.error();
    QStringList orphanFiles;
    for (auto it = files->cbegin(); it != files->cend(); ++it) {
        if (!keep.contains(it.key()))
            orphanFiles << it.value();
    }
    for (const QString& path : std::as_const(orphanFiles)) {
        if (auto r = removeHostFile(path); !r) {
            report.problems << r.error().toString();
            continue;
        }
        report.removedVolumes << path;
        audit(model::Actor::system(), QStringLiteral("reconcile.volume"),
              QStringLiteral("Removed %1 that no sandbox owns").arg(path), QString());
    }
    return report;
}

Result<void> SandboxManager::applyDomainEvent(const QString& domainName, DomainState state)
{
    // Read and write in one write transaction: an event read before a concurrent destroy must not write
    // its stale row back over DESTROYED afterwards.
    return m_db.transaction([&]() -> Result<void> {
        auto rows = store::settledSandboxesOfDomain(m_db, domainName);
        if (!rows)
            return rows.error();
        for (Sandbox row : *rows) {
            const SandboxState mapped = state == DomainState::ShutOff || state == DomainState::Crashed
                                            ? SandboxState::Stopped
                                        : state == DomainState::Running ? SandboxState::Running
                                                                        : row.state;
            if (mapped == row.state)
                continue;
            row.state = mapped;
            row.updatedAt = m_clock.now();
            if (auto r = store::SandboxRepository(m_db).update(row); !r)
                return r;
            audit(model::Actor::system(), QStringLiteral("sandbox.state"),
                  QStringLiteral("%1 is now %2 (%3)")
                      .arg(row.name, model::enumName(mapped), domainStateName(state)),
                  row.id);
        }
        return {};
    });
}

} // namespace fluid::virt

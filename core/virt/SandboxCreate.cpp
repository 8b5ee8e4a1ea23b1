// SPDX-License-Identifier: Apache-2.0
// SandboxManager's create: the plan (checks, what it goes beyond), then the steps that make the sandbox, each
// undone by rollback() on failure or cancel.
#include "SandboxManager.h"

#include "base/Logging.h"
#include "base/Process.h"
#include "DomainAllowlist.h"
#include "DomainXml.h"
#include "Names.h"
#include "SandboxCreated.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QTcpSocket>
#include <QTemporaryDir>

namespace fluid::virt {
using model::Sandbox;
using model::SandboxState;

namespace {

Error cancelError()
{
    return makeError(ErrorCode::Cancelled,
                     QStringLiteral("Creating the sandbox was cancelled; everything made "
                                    "so far was removed"));
}

QByteArray aptProxyConf(const QString& proxy)
{
    return "Acquire::http::Proxy \"" + proxy.toUtf8() + "\";\nAcquire::https::Proxy \"" + proxy.toUtf8() +
           "\";\n";
}

QByteArray proxyEnvironment(const QString& proxy)
{
    QByteArray out;
    for (const char* name : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"})
        out += QByteArray(name) + '=' + proxy.toUtf8() + '\n';
    return out + "no_proxy=localhost,127.0.0.1,::1\nNO_PROXY=localhost,127.0.0.1,::1\n";
}

/// A NoCloud seed (ISO 9660, volume id "cidata") carrying the sandbox's identity, for cloud-init images.
Result<QByteArray> makeCloudInitSeed(const QString& hostname, const SandboxIdentity& id, const QString& proxy)
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
    // The egress gate: the only way out (SandboxNetwork.h), for apt and for every tool that honours the
    // proxy variables (pam_env reads /etc/environment for SSH sessions too).
    userData += "  - path: /etc/apt/apt.conf.d/90fluid-proxy\n    permissions: '0644'\n    content: |\n" +
                indent(aptProxyConf(proxy));
    userData +=
        "  - path: /etc/environment\n    append: true\n    content: |\n" + indent(proxyEnvironment(proxy));
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
    if (made.lease)
        made.lease->release();
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
    if (auto contained = checkSourceContainment(*sourceXml); !contained)
        return contained.error();
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
        if (auto kept = keepLease(made); !kept)
            return fail(kept.error());
        report(progress, stage);
        if (auto r = (this->*step)(plan, made); !r)
            return fail(r.error());
    }
    if (auto kept = keepLease(made); !kept)
        return fail(kept.error());
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
        if (auto r = waitForSsh(plan, made, *ip, cancel); !r)
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
    auto mine = storeId();
    if (!mine)
        return mine.error();
    // The row comes first, with its lease: if Fluid dies from here on, the lease runs out and a reconcile
    // finds the row in CREATING and cleans up; while this create renews the lease, reconciles leave it be.
    auto inserted = m_db.transaction([&]() -> Result<void> {
        auto lease = store::Lease::acquire(m_db, createLeaseName(made.row.id), m_options.leaseTtlMs, m_clock);
        if (!lease)
            return lease.error();
        if (!*lease)
            return makeError(ErrorCode::AlreadyExists,
                             QStringLiteral("Another process claims the create of %1").arg(o.name));
        made.lease.emplace(std::move(**lease));
        return store::SandboxRepository(m_db).insert(made.row);
    });
    if (!inserted) {
        made.lease.reset();
        return inserted.error();
    }
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
    made.spec.storeId = *mine;
    made.spec.macAddress = randomMac();
    made.spec.networkName = m_options.network.name;
    made.spec.gatewayAddress = m_options.network.gatewayAddress;
    made.spec.gatePort = m_options.network.gatePort;
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
        auto overlay = m_hv.createOverlay(
            m_options.poolName,
            hostFileName(made.spec.storeId, made.row.name, disk.target + QStringLiteral(".qcow2")),
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
    auto copy = storeHostFile(m_options.poolName,
                              hostFileName(made.spec.storeId, made.row.name, QStringLiteral("nvram.fd")),
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
    made.row.principal = model::sandboxPrincipal(made.row.id);
    auto id = m_options.issueIdentity(name, made.row.principal);
    if (!id)
        return id.error();
    made.row.hostPublicKey = id->hostPublicKey;
    const QString proxy =
        QStringLiteral("http://%1:%2/")
            .arg(m_options.network.gatewayAddress, QString::number(m_options.network.gatePort));
    if (plan.source.identity == QLatin1String("cloud-init")) {
        auto seed = makeCloudInitSeed(name, *id, proxy);
        if (!seed)
            return seed.error();
        auto path = storeHostFile(m_options.poolName,
                                  hostFileName(made.spec.storeId, name, QStringLiteral("seed.iso")), *seed);
        if (!path)
            return path.error();
        made.hostFiles << *path;
        made.spec.seedIsoPath = *path;
        return {};
    }
    made.spec.fwcfg << FwCfgEntry{QStringLiteral("opt/fluid/hostname"), name, {}}
                    << FwCfgEntry{QStringLiteral("opt/fluid/principal"), id->principal, {}}
                    << FwCfgEntry{QStringLiteral("opt/fluid/proxy"), proxy, {}};
    const QList<std::pair<QString, QByteArray>> files = {{QStringLiteral("host_key"), id->hostPrivateKey},
                                                         {QStringLiteral("host_cert"), id->hostCertificate},
                                                         {QStringLiteral("user_ca"), id->userCaPublicKey}};
    for (const auto& [entry, content] : files) {
        auto path = storeHostFile(m_options.poolName, hostFileName(made.spec.storeId, name, entry), content);
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
    for (const QString& note : xml->notes)
        qCInfo(lcVirt).noquote() << made.row.domainName << note;
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

Result<void> SandboxManager::keepLease(Created& made, bool now)
{
    if (!made.lease)
        return {};
    auto r = now ? made.lease->renew() : made.lease->keepAlive();
    if (!r && r.error().code == ErrorCode::Refused)
        return makeError(ErrorCode::Refused,
                         QStringLiteral("Creating %1 stopped: its claim in the store ran out and another "
                                        "Fluid took it over to clean up")
                             .arg(made.row.name),
                         r.error().toString());
    return r;
}

Result<QString> SandboxManager::waitForAddress(const CreatePlan& plan, Created& made,
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
        if (auto kept = keepLease(made); !kept)
            return kept.error();
    }
}

Result<void> SandboxManager::waitForSsh(const CreatePlan& plan, Created& made, const QString& ip,
                                        const CancelToken& cancel)
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
        if (auto kept = keepLease(made); !kept)
            return kept.error();
    }
    return {};
}

Result<Sandbox> SandboxManager::markRunning(const CreatePlan& plan, Created& made)
{
    const CreateOptions& o = plan.options;
    made.row.state = SandboxState::Running;
    made.row.updatedAt = m_clock.now();
    // Only while the lease is still this create's: one taken over is being rolled back elsewhere.
    auto marked = m_db.transaction([&]() -> Result<void> {
        if (auto kept = keepLease(made, true); !kept)
            return kept;
        return store::SandboxRepository(m_db).update(made.row);
    });
    if (!marked)
        return marked.error();
    if (made.lease)
        made.lease->release();
    audit(o.actor, QStringLiteral("sandbox.create"),
          QStringLiteral("Created %1 from %2%3")
              .arg(o.name, o.sourceDomain,
                   made.row.ip.isEmpty() ? QString() : QStringLiteral(" at ") + made.row.ip),
          made.row.id,
          QJsonObject{{QStringLiteral("domain"), made.row.domainName}, {QStringLiteral("ip"), made.row.ip}});
    return made.row;
}

} // namespace fluid::virt

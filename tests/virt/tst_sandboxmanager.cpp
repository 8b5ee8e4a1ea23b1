// SPDX-License-Identifier: Apache-2.0
// The sandbox lifecycle on libvirt's own test driver (test:///default): create with every step, rollback
// after an injected failure at each step, cancel, what goes beyond the limits (the plan asks; waiting for the
// answer is the services' business: tst_hostsession), snapshots, destroy, reconcile.
#include "approval/ApprovalBroker.h"
#include "store/AuditLog.h"
#include "store/Lease.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"
#include "virt/LibvirtHypervisor.h"
#include "virt/Names.h"
#include "virt/SandboxManager.h"
#include "virt/SandboxNetwork.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <functional>
#include <optional>

#include <libvirt/libvirt.h>

using namespace fluid;
using fluid::test::must;
using namespace fluid::virt;

namespace {

/// The real libvirt test driver with one call made to fail, to prove rollback at that step.
class FailingHypervisor final : public Hypervisor {
public:
    explicit FailingHypervisor(Hypervisor& real)
        : m_real(real)
    {
    }
    QString failOn;                      ///< method name to fail
    std::function<void()> beforeDomains; ///< runs before each domains() (to line up concurrent callers)

    Error injected(const char* what) const
    {
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("injected failure in %1").arg(QLatin1String(what)));
    }
#define FLUID_MAYBE_FAIL(name)                                                                               \
    if (failOn == QLatin1String(#name))                                                                      \
        return injected(#name);

    QString uri() const override
    {
        return m_real.uri();
    }
    bool isLocal() const override
    {
        return m_real.isLocal();
    }
    Result<HostInfo> hostInfo(AcceleratorChoice c) override
    {
        return m_real.hostInfo(c);
    }
    Result<QList<DomainSummary>> domains() override
    {
        if (beforeDomains)
            beforeDomains();
        return m_real.domains();
    }
    Result<DomainMark> domainMark(const QString& n) override
    {
        return m_real.domainMark(n);
    }
    Result<void> setDomainMark(const QString& n, const DomainMark& m) override
    {
        return m_real.setDomainMark(n, m);
    }
    Result<QString> domainXml(const QString& n) override
    {
        return m_real.domainXml(n);
    }
    Result<DomainState> domainState(const QString& n) override
    {
        return m_real.domainState(n);
    }
    Result<void> defineDomain(const QString& xml) override
    {
        FLUID_MAYBE_FAIL(defineDomain)
        return m_real.defineDomain(xml);
    }
    Result<void> undefineDomain(const QString& n) override
    {
        return m_real.undefineDomain(n);
    }
    Result<void> startDomain(const QString& n) override
    {
        FLUID_MAYBE_FAIL(startDomain)
        return m_real.startDomain(n);
    }
    Result<void> shutdownDomain(const QString& n) override
    {
        return m_real.shutdownDomain(n);
    }
    Result<void> destroyDomain(const QString& n) override
    {
        return m_real.destroyDomain(n);
    }
    Result<QStringList> addresses(const QString& n) override
    {
        FLUID_MAYBE_FAIL(addresses)
        return m_real.addresses(n);
    }
    Result<void> syncGuestTime(const QString& n) override
    {
        return m_real.syncGuestTime(n);
    }
    Result<void> ensurePool(const QString& n, const QString& p) override
    {
        FLUID_MAYBE_FAIL(ensurePool)
        return m_real.ensurePool(n, p);
    }
    Result<VolumeInfo> createOverlay(const QString& pool, const QString& n, const QString& b,
                                     const QString& f) override
    {
        FLUID_MAYBE_FAIL(createOverlay)
        return m_real.createOverlay(pool, n, b, f);
    }
    Result<VolumeInfo> createVolume(const QString& pool, const QString& n, qint64 size,
                                    const QString& f) override
    {
        return m_real.createVolume(pool, n, size, f);
    }
    Result<VolumeInfo> createVolumeWithContent(const QString& pool, const QString& n,
                                               const QByteArray& c) override
    {
        if (failOn == QLatin1String("createVolumeWithContent") && n.contains(QLatin1String("host_cert")))
            return injected("createVolumeWithContent");
        return m_real.createVolumeWithContent(pool, n, c);
    }
    Result<void> deleteVolume(const QString& p) override
    {
        return m_real.deleteVolume(p);
    }
    Result<QList<VolumeInfo>> volumes(const QString& pool) override
    {
        return m_real.volumes(pool);
    }
    Result<QStringList> pools() override
    {
        return m_real.pools();
    }
    Result<void> ensureNetwork(const NetworkSpec& s) override
    {
        FLUID_MAYBE_FAIL(ensureNetwork)
        return m_real.ensureNetwork(s);
    }
    Result<void> createSnapshot(const QString& d, const QString& n, const QString& desc, bool q) override
    {
        return m_real.createSnapshot(d, n, desc, q);
    }
    Result<QList<SnapshotInfo>> snapshots(const QString& d) override
    {
        return m_real.snapshots(d);
    }
    Result<void> revertSnapshot(const QString& d, const QString& n) override
    {
        return m_real.revertSnapshot(d, n);
    }
    Result<void> deleteSnapshot(const QString& d, const QString& n) override
    {
        return m_real.deleteSnapshot(d, n);
    }
    void setDomainEventHandler(DomainEventHandler h) override
    {
        m_real.setDomainEventHandler(std::move(h));
    }
#undef FLUID_MAYBE_FAIL

private:
    Hypervisor& m_real;
};

const char* const kGoldenXml = fluid::test::kTestDriverGoldenXml;

/// The golden VM's XML under another name, with `mark` in its metadata when it is a sandbox's.
QString domainXmlNamed(const QString& name, const DomainMark& mark = {})
{
    QString xml = QString::fromLatin1(kGoldenXml);
    QString head = QStringLiteral("<name>%1</name>").arg(name);
    if (mark.isSandbox())
        head += QStringLiteral("<metadata>%1</metadata>").arg(domainMarkXml(mark, true));
    return xml.replace(QLatin1String("<name>golden</name>"), head);
}

} // namespace

class TestSandboxManager : public QObject {
    Q_OBJECT

    std::unique_ptr<LibvirtHypervisor> m_hv;
    std::unique_ptr<store::Database> m_db;
    QString m_hostId;
    QString m_files;
    int m_identityCalls = 0;
    bool m_identityFails = false;
    QString m_lastPrincipal;

    ManagerOptions options()
    {
        ManagerOptions o;
        o.localFileDir = m_files;
        o.poolName = QStringLiteral("default-pool");
        o.poolPath = QStringLiteral("/default-pool");
        o.issueIdentity = [this](const QString& name, const QString& principal) -> Result<SandboxIdentity> {
            ++m_identityCalls;
            m_lastPrincipal = principal;
            if (m_identityFails)
                return makeError(ErrorCode::Crypto, QStringLiteral("injected failure in the CA"));
            return SandboxIdentity{"-----BEGIN OPENSSH PRIVATE KEY-----\nkey of " + name.toUtf8() +
                                       "\n-----END OPENSSH PRIVATE KEY-----\n",
                                   QStringLiteral("ssh-ed25519 AAAAhost ") + name,
                                   "ssh-ed25519-cert-v01@openssh.com AAAA " + name.toUtf8(),
                                   "ssh-ed25519 AAAA ca", principal};
        };
        // No network is touched from unit tests: the probe never answers.
        o.probe = [](const QString&, int) {
            return false;
        };
        o.stopTimeoutS = 5;
        return o;
    }

    CreateOptions createOptions(const QString& name = {})
    {
        CreateOptions c;
        c.hostId = m_hostId;
        c.sourceDomain = QStringLiteral("golden");
        c.name = name;
        c.memoryMib = 2; // the test driver's host has 3 MiB free
        c.vcpus = 1;
        c.waitReady = false;
        c.approvalTtlMs = 60000;
        return c;
    }

    QString storeId() { return must(store::storeId(*m_db)); }

    /// A sandbox row as a create writes it first.
    model::Sandbox creatingRow(const QString& name)
    {
        model::Sandbox row;
        row.id = model::newId();
        row.name = name;
        row.hostId = m_hostId;
        row.domainName = domainNameFor(name);
        row.state = model::SandboxState::Creating;
        row.createdAt = row.updatedAt = QDateTime::currentDateTimeUtc();
        must(store::SandboxRepository(*m_db).insert(row));
        return row;
    }

    /// An overlay in Fluid's pool (the test driver's) as this store names them.
    QString plantOverlay(const QString& fileName)
    {
        return must(m_hv->createOverlay(QStringLiteral("default-pool"), fileName,
                                        QStringLiteral("/default-pool/golden.img"), QStringLiteral("raw")))
            .path;
    }

    bool domainExists(const QString& name)
    {
        for (const DomainSummary& d : must(m_hv->domains()))
            if (d.name == name)
                return true;
        return false;
    }

    bool volumeExists(const QString& name)
    {
        for (const VolumeInfo& v : must(m_hv->volumes(QStringLiteral("default-pool"))))
            if (v.name == name)
                return true;
        return false;
    }

    /// Asserts nothing of a sandbox is left: no fluid- domain, volume, file or live row.
    void verifyNothingLeft()
    {
        for (const DomainSummary& d : must(m_hv->domains()))
            QVERIFY2(!d.name.startsWith(QLatin1String("fluid-")), qPrintable(d.name));
        for (const VolumeInfo& v : must(m_hv->volumes(QStringLiteral("default-pool"))))
            QVERIFY2(!v.name.startsWith(QLatin1String("fluid-")), qPrintable(v.name));
        QCOMPARE(QDir(m_files).entryList(QDir::Files), QStringList());
        QCOMPARE(must(store::liveSandboxes(*m_db, m_hostId)).size(), 0);
    }

private Q_SLOTS:
    void init()
    {
        m_hv = must(LibvirtHypervisor::connect(QStringLiteral("test:///default")));
        const QString dir = test::makeTempDir(QStringLiteral("virt"));
        m_files = dir + QStringLiteral("/hostfiles");
        store::DatabaseOptions o;
        o.sqlitePath = dir + QStringLiteral("/fluid.sqlite");
        m_db = must(store::openAndMigrate(o));
        model::Host host{
            model::newId(), QStringLiteral("local"), m_hv->uri(), {}, QDateTime::currentDateTimeUtc()};
        must(store::HostRepository(*m_db).insert(host));
        m_hostId = host.id;
        m_identityCalls = 0;
        m_identityFails = false;
        // A golden VM with a raw disk in the test driver's pool.
        must(m_hv->createVolume(QStringLiteral("default-pool"), QStringLiteral("golden.img"), 1 << 20,
                                QStringLiteral("raw")));
        must(m_hv->defineDomain(QString::fromLatin1(kGoldenXml)));
    }

    void cleanup()
    {
        m_db.reset();
        m_hv.reset();
    }

    void choosesAccelerator()
    {
        QString why;
        QCOMPARE(chooseAccelerator(AcceleratorChoice::Tcg, true, true, &why), Accelerator::Tcg);
        QCOMPARE(chooseAccelerator(AcceleratorChoice::Kvm, false, true, &why), Accelerator::Kvm);
        QCOMPARE(chooseAccelerator(AcceleratorChoice::Auto, false, true, &why), Accelerator::Tcg);
        QVERIFY(why.contains(QLatin1String("does not offer KVM")));
        // Remote hosts are judged by what they advertise.
        QCOMPARE(chooseAccelerator(AcceleratorChoice::Auto, true, false, &why), Accelerator::Kvm);
        const bool pvm = QFileInfo::exists(QStringLiteral("/sys/module/kvm_pvm"));
        const bool kvmDevice = QFileInfo::exists(QStringLiteral("/dev/kvm"));
        QCOMPARE(chooseAccelerator(AcceleratorChoice::Auto, true, true, &why),
                 (pvm || !kvmDevice) ? Accelerator::Tcg : Accelerator::Kvm);
        if (pvm)
            QVERIFY(why.contains(QLatin1String("PVM")));
    }

    void reportsHostInfo()
    {
        const HostInfo info = must(m_hv->hostInfo(AcceleratorChoice::Auto));
        QVERIFY(info.cpus > 0);
        QVERIFY(info.memoryTotalKib > 0);
        QVERIFY(!info.libvirtVersion.isEmpty());
        QCOMPARE(info.poolName, QStringLiteral("default-pool"));
        QVERIFY(!info.acceleratorReason.isEmpty());
    }

    void listsSourcesWithReasons()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        const auto sources = must(manager.sources());
        QStringList names;
        for (const auto& s : sources) {
            names << s.domain.name;
            if (s.domain.name == QLatin1String("golden"))
                QVERIFY2(s.refusal.isEmpty(), qPrintable(s.refusal));
            if (s.domain.name == QLatin1String("test")) {
                // The driver's built-in domain has a disk of unknown format, and it runs.
                QVERIFY(s.refusal.contains(QLatin1String("format")));
                QVERIFY(s.warning.contains(QLatin1String("running")));
            }
        }
        QVERIFY(names.contains(QStringLiteral("golden")));
        QVERIFY(names.contains(QStringLiteral("test")));
    }

    void refusedSourceSaysWhyAndMakesNothing()
    {
        // A golden VM whose serial port is a TCP connection out: listed with the reason, and a create
        // from it stops before anything is made.
        must(m_hv->defineDomain(QStringLiteral(
            "<domain type='test'><name>golden-tcp</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
            "<driver name='qemu' type='raw'/><source file='/default-pool/golden.img'/>"
            "<target dev='vda' bus='virtio'/></disk><serial type='tcp'><source mode='connect' "
            "host='192.0.2.1' service='4555'/><target port='0'/></serial></devices></domain>")));
        SandboxManager manager(*m_hv, *m_db, options());
        bool listed = false;
        for (const auto& s : must(manager.sources())) {
            if (s.domain.name != QLatin1String("golden-tcp"))
                continue;
            listed = true;
            QVERIFY2(s.refusal.contains(QLatin1String("<serial type='tcp'>")), qPrintable(s.refusal));
        }
        QVERIFY(listed);
        CreateOptions c = createOptions(QStringLiteral("web-tcp"));
        c.sourceDomain = QStringLiteral("golden-tcp");
        auto r = manager.createWithinLimits(c, {});
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Refused);
        QVERIFY2(r.error().message.contains(QLatin1String("golden-tcp cannot be a sandbox source: <serial "
                                                          "type='tcp'>")),
                 qPrintable(r.error().message));
        QCOMPARE(m_identityCalls, 0);
        verifyNothingLeft();
        must(m_hv->undefineDomain(QStringLiteral("golden-tcp")));
    }

    void createsRunsSnapshotsAndDestroys()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        QStringList stages;
        const model::Actor alice = model::Actor::person(QStringLiteral("alice"));
        CreateOptions c = createOptions(QStringLiteral("web-1"));
        c.actor = alice;
        const model::Sandbox s =
            must(manager.createWithinLimits(c, [&](const Progress& p) { stages << p.stage; }));
        QCOMPARE(stages.first(), createStageName(CreateStage::Checking));
        QCOMPARE(stages.last(), createStageName(CreateStage::Ready));
        for (CreateStage st : {CreateStage::Admission, CreateStage::Overlay, CreateStage::Identity,
                               CreateStage::Define, CreateStage::Start})
            QVERIFY2(stages.contains(createStageName(st)), qPrintable(createStageName(st)));
        QCOMPARE(s.state, model::SandboxState::Running);
        QCOMPARE(s.domainName, QStringLiteral("fluid-web-1"));
        QCOMPARE(must(m_hv->domainState(s.domainName)), DomainState::Running);
        // The overlay's name carries this store's id; the domain carries its mark.
        const QString mine = storeId();
        QCOMPARE(mine.size(), 16);
        QCOMPARE(s.overlayPath, QStringLiteral("/default-pool/fluid-%1-web-1.vda.qcow2").arg(mine));
        const DomainMark mark = must(m_hv->domainMark(s.domainName));
        QCOMPARE(mark.sandboxId, s.id);
        QCOMPARE(mark.storeId, mine);
        QCOMPARE(mark.sourceName, QStringLiteral("golden"));
        QCOMPARE(m_identityCalls, 1);
        QCOMPARE(must(store::SandboxRepository(*m_db).get(s.id)).hostPublicKey,
                 QStringLiteral("ssh-ed25519 AAAAhost web-1"));
        // Its principal is in Fluid's namespace, never its name; the row keeps it for later logins.
        QCOMPARE(m_lastPrincipal, QStringLiteral("fluid-sbx-") + s.id);
        QCOMPARE(must(store::SandboxRepository(*m_db).get(s.id)).principal, m_lastPrincipal);

        // The domain is the derived sandbox: overlay disk, isolated NIC, fw_cfg identity files.
        const QString xml = must(m_hv->domainXml(s.domainName));
        QVERIFY(xml.contains(s.overlayPath));
        QVERIFY(xml.contains(QLatin1String("network='fluid-sandbox'")));
        QVERIFY(xml.contains(QLatin1String("opt/fluid/host_key")));
        QVERIFY(xml.contains(QStringLiteral("fluid-sbx-") + s.id));
        QVERIFY(xml.contains(QLatin1String("opt/fluid/proxy")) &&
                xml.contains(QLatin1String("http://10.213.0.1:3128/")));
        QVERIFY(!xml.contains(QLatin1String("/default-pool/golden.img'")));
        // The test driver cannot upload volumes: identity files are private local files.
        const QStringList files = QDir(m_files).entryList(QDir::Files);
        QCOMPARE(files.size(), 3);
        for (const QString& f : files) {
            QVERIFY(f.startsWith(QStringLiteral("fluid-%1-web-1.").arg(mine)));
            QCOMPARE(QFileInfo(m_files + QLatin1Char('/') + f).permissions() &
                         (QFile::ReadGroup | QFile::ReadOther),
                     QFileDevice::Permissions());
        }

        // A second sandbox with the same name is refused.
        QCOMPARE(manager.createWithinLimits(createOptions(QStringLiteral("web-1"))).error().code,
                 ErrorCode::AlreadyExists);

        must(manager.snapshot(s.id, QStringLiteral("baseline"), alice, model::SnapshotKind::Baseline));
        must(manager.snapshot(s.id, QStringLiteral("after"), alice, model::SnapshotKind::Manual,
                              QStringLiteral("installed x")));
        QCOMPARE(manager.snapshot(s.id, QStringLiteral("Bad Name"), alice).error().code,
                 ErrorCode::InvalidArgument);
        const QList<SnapshotInfo> snaps = must(manager.snapshots(s.id));
        QCOMPARE(snaps.size(), 2);
        QCOMPARE(must(store::snapshotNamed(*m_db, s.id, QStringLiteral("baseline")))->kind,
                 model::SnapshotKind::Baseline);
        must(manager.revert(s.id, QStringLiteral("baseline"), alice));
        must(manager.deleteSnapshot(s.id, QStringLiteral("after"), alice));
        QCOMPARE(must(manager.snapshots(s.id)).size(), 1);
        QCOMPARE(must(store::SnapshotRepository(*m_db).count()), 1);

        const model::Sandbox stopped = must(manager.stop(s.id, alice));
        QCOMPARE(stopped.state, model::SandboxState::Stopped);
        QCOMPARE(must(m_hv->domainState(s.domainName)), DomainState::ShutOff);
        QCOMPARE(must(manager.start(s.id, alice)).state, model::SandboxState::Running);

        const model::Sandbox gone = must(manager.destroy(s.id, alice));
        QCOMPARE(gone.state, model::SandboxState::Destroyed);
        verifyNothingLeft();
        QCOMPARE(manager.destroy(s.id, alice).error().code, ErrorCode::NotFound);

        // Every step is audited, each as the person who asked for it.
        QStringList kinds;
        for (const model::AuditEvent& e : must(store::AuditLog(*m_db).list())) {
            kinds << e.kind;
            QVERIFY2(e.actor == QLatin1String("person:alice"),
                     qPrintable(e.kind + QLatin1Char(' ') + e.actor));
        }
        for (const char* k : {"sandbox.create.begin", "sandbox.create", "snapshot.create", "snapshot.revert",
                              "snapshot.delete", "sandbox.stop", "sandbox.start", "sandbox.destroy"})
            QVERIFY2(kinds.contains(QLatin1String(k)), k);
        QVERIFY(must(store::AuditLog(*m_db).verify()).intact());
    }

    void rollsBackAfterFailureAtEachStep_data()
    {
        QTest::addColumn<QString>("failOn");
        QTest::addColumn<bool>("waitReady");
        QTest::newRow("pool lookup") << "ensurePool" << false;
        QTest::newRow("overlay") << "createOverlay" << false;
        QTest::newRow("identity CA") << "ca" << false;
        QTest::newRow("identity upload") << "createVolumeWithContent" << false;
        QTest::newRow("network") << "ensureNetwork" << false;
        QTest::newRow("define") << "defineDomain" << false;
        QTest::newRow("start") << "startDomain" << false;
        QTest::newRow("address") << "addresses" << true;
        QTest::newRow("ssh timeout") << "" << true;
    }

    void rollsBackAfterFailureAtEachStep()
    {
        QFETCH(QString, failOn);
        QFETCH(bool, waitReady);
        FailingHypervisor failing(*m_hv);
        failing.failOn = failOn;
        m_identityFails = failOn == QLatin1String("ca");
        // The identity upload must reach the failing call, so no local-file fallback here.
        ManagerOptions o = options();
        if (failOn == QLatin1String("createVolumeWithContent"))
            o.localFileDir.clear();
        SandboxManager manager(failing, *m_db, o);
        CreateOptions c = createOptions(QStringLiteral("doomed"));
        c.waitReady = waitReady;
        c.readyTimeoutS = 1;
        auto r = manager.createWithinLimits(c);
        QVERIFY(!r.ok());
        if (!failOn.isEmpty() && failOn != QLatin1String("ca") &&
            failOn != QLatin1String("createVolumeWithContent") && failOn != QLatin1String("addresses"))
            QVERIFY2(r.error().message.contains(failOn), qPrintable(r.error().toString()));
        if (failOn.isEmpty() || failOn == QLatin1String("addresses"))
            QCOMPARE(r.error().code, failOn.isEmpty() ? ErrorCode::Timeout : ErrorCode::Timeout);
        verifyNothingLeft();
        bool auditedFailure = false;
        for (const model::AuditEvent& e : must(store::AuditLog(*m_db).list()))
            auditedFailure |= e.kind == QLatin1String("sandbox.create.failed");
        QVERIFY(auditedFailure);
    }

    void cancelRollsBack()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        CancelToken cancel;
        auto r = manager.createWithinLimits(
            createOptions(QStringLiteral("cancelled")),
            [&](const Progress& p) {
                if (p.stage == createStageName(CreateStage::Define))
                    cancel.cancel();
            },
            cancel);
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Cancelled);
        verifyNothingLeft();

        // A cancel while waiting for the guest's address ends the wait at once, not at the ready timeout.
        CreateOptions waiting = createOptions(QStringLiteral("waiting"));
        waiting.waitReady = true;
        waiting.readyTimeoutS = 120;
        CancelToken stop;
        QElapsedTimer timer;
        timer.start();
        r = manager.createWithinLimits(
            waiting,
            [&](const Progress& p) {
                if (p.stage == createStageName(CreateStage::WaitAddress) ||
                    p.stage == createStageName(CreateStage::WaitSsh))
                    stop.cancel();
            },
            stop);
        QCOMPARE(r.error().code, ErrorCode::Cancelled);
        QVERIFY2(timer.elapsed() < 10000, qPrintable(QString::number(timer.elapsed())));
        verifyNothingLeft();
    }

    void refusesInjectionAndSandboxSources()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        QCOMPARE(manager.planCreate(createOptions(QStringLiteral("a';rm -rf /"))).error().code,
                 ErrorCode::InvalidArgument);
        QCOMPARE(manager.planCreate(createOptions(QStringLiteral("-oProxyCommand=x"))).error().code,
                 ErrorCode::InvalidArgument);
        const model::Sandbox s = must(manager.createWithinLimits(createOptions(QStringLiteral("one"))));
        CreateOptions fromSandbox = createOptions(QStringLiteral("two"));
        fromSandbox.sourceDomain = s.domainName;
        QCOMPARE(manager.planCreate(fromSandbox).error().code, ErrorCode::Refused);
        must(manager.destroy(s.id, model::Actor::system()));
        verifyNothingLeft();
    }

    void overLimitPlanAsksAndChangesNothing()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        CreateOptions c = createOptions(QStringLiteral("big"));
        c.limits.maxMemoryMib = 1; // 2 asked
        c.actor = model::Actor::agent(QStringLiteral("session-7"));
        c.sessionId = QStringLiteral("session-7");
        const CreatePlan plan = must(manager.planCreate(c));
        QVERIFY(plan.admission.has_value());
        const AdmissionRequest& a = *plan.admission;
        QCOMPARE(a.sandboxName, QStringLiteral("big"));
        QCOMPARE(a.memoryMib, 2);
        QCOMPARE(a.vcpus, 1);
        QCOMPARE(a.actor, c.actor);
        QCOMPARE(a.sessionId, QStringLiteral("session-7"));
        QCOMPARE(a.ttlMs, c.approvalTtlMs);
        QCOMPARE(a.over, QStringList{QStringLiteral("sandboxes would use 2 MiB, the limit is 1 MiB")});
        // Planning made nothing: no row, no domain, no volume.
        verifyNothingLeft();
        // Creating without asking is refused, saying what it goes beyond; nothing is made.
        auto refused = manager.createWithinLimits(c);
        QCOMPARE(refused.error().code, ErrorCode::Refused);
        QVERIFY2(refused.error().message.contains(QLatin1String("limit is 1 MiB")),
                 qPrintable(refused.error().message));
        verifyNothingLeft();
        // Once allowed, the plan's second half makes it.
        const model::Sandbox s = must(manager.create(plan));
        QCOMPARE(s.name, QStringLiteral("big"));
        for (const model::AuditEvent& e : must(store::AuditLog(*m_db).list()))
            QCOMPARE(e.actor, QStringLiteral("agent:session-7"));
        // Every limit kind is named.
        c.name = QStringLiteral("bigger");
        c.limits = {1, 0, 1};
        c.memoryMib = 4; // the driver's host has 3 MiB free
        const CreatePlan all = must(manager.planCreate(c));
        QCOMPARE(all.admission->over.size(), 3);
        // A name taken between the plan and its second half is refused before anything is made.
        CreateOptions twin = createOptions(QStringLiteral("twin"));
        const CreatePlan first = must(manager.planCreate(twin));
        const CreatePlan second = must(manager.planCreate(twin));
        const model::Sandbox made = must(manager.create(first));
        QCOMPARE(manager.create(second).error().code, ErrorCode::AlreadyExists);
        must(manager.destroy(made.id, model::Actor::system()));
        must(manager.destroy(s.id, model::Actor::system()));
        verifyNothingLeft();
    }

    void approvalsBindToTheirContent()
    {
        approval::ApprovalBroker broker(m_db->options());
        model::Approval a;
        a.kind = QStringLiteral("resources");
        a.request = QStringLiteral("x");
        const model::Approval filed = must(broker.request(*m_db, a, model::Actor::system(), 60000));
        const model::Actor bob = model::Actor::person(QStringLiteral("bob"));
        QCOMPARE(broker.decide(*m_db, filed.id, true, bob, {}, QStringLiteral("deadbeef")).error().code,
                 ErrorCode::Refused);
        must(broker.decide(*m_db, filed.id, false, bob, QStringLiteral("no")));
        QCOMPARE(broker.decide(*m_db, filed.id, true, bob, {}).error().code, ErrorCode::Refused);
    }

    void reconcileCleansUp()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        const QString mine = storeId();
        // A sandbox that stays, one whose domain vanished, a create that died mid-way, and this store's
        // orphans.
        const model::Sandbox keep = must(manager.createWithinLimits(createOptions(QStringLiteral("keep"))));
        const model::Sandbox vanished =
            must(manager.createWithinLimits(createOptions(QStringLiteral("vanished"))));
        must(m_hv->destroyDomain(vanished.domainName));
        must(m_hv->undefineDomain(vanished.domainName));
        const model::Sandbox half = creatingRow(QStringLiteral("half"));
        const QString halfOverlay = plantOverlay(QStringLiteral("fluid-%1-half.vda.qcow2").arg(mine));
        const QString ghost = plantOverlay(QStringLiteral("fluid-%1-ghost.vda.qcow2").arg(mine));
        must(m_hv->defineDomain(domainXmlNamed(QStringLiteral("fluid-orphan"),
                                               {model::newId(), QStringLiteral("golden"), mine})));

        const ReconcileReport report = must(manager.reconcile(m_hostId));
        QVERIFY2(report.problems.isEmpty(), qPrintable(report.problems.join(QLatin1Char('\n'))));
        QCOMPARE(report.removedDomains, QStringList{QStringLiteral("fluid-orphan")});
        QStringList removedVolumes = report.removedVolumes;
        removedVolumes.sort();
        // Sorted on both sides: the temporary directory may sort before or after the pool path.
        QStringList expectedVolumes{halfOverlay,
                                    ghost,
                                    QStringLiteral("/default-pool/fluid-%1-vanished.vda.qcow2").arg(mine),
                                    m_files + QStringLiteral("/fluid-%1-vanished.host_cert").arg(mine),
                                    m_files + QStringLiteral("/fluid-%1-vanished.host_key").arg(mine),
                                    m_files + QStringLiteral("/fluid-%1-vanished.user_ca").arg(mine)};
        expectedVolumes.sort();
        QCOMPARE(removedVolumes, expectedVolumes);
        QCOMPARE(must(store::SandboxRepository(*m_db).get(vanished.id)).state,
                 model::SandboxState::Destroyed);
        QCOMPARE(store::SandboxRepository(*m_db).get(half.id).error().code, ErrorCode::NotFound);
        QCOMPARE(must(store::SandboxRepository(*m_db).get(keep.id)).state, model::SandboxState::Running);
        QCOMPARE(must(m_hv->domainState(keep.domainName)), DomainState::Running);

        // A second reconcile has nothing to do.
        const ReconcileReport again = must(manager.reconcile(m_hostId));
        QVERIFY(again.removedDomains.isEmpty() && again.removedVolumes.isEmpty() &&
                again.updatedRows.isEmpty());
        must(manager.destroy(keep.id, model::Actor::system()));
        verifyNothingLeft();
    }

    /// Fluid-named things that are not this store's: a production VM named fluid-web, a fluid- volume with no
    /// store's id, another store's sandboxes on the same libvirt (and the same local folder).
    void reconcileLeavesWhatIsNotItsOwn()
    {
        must(m_hv->defineDomain(domainXmlNamed(QStringLiteral("fluid-web"))));
        plantOverlay(QStringLiteral("fluid-x.qcow2"));
        plantOverlay(QStringLiteral("fluid-y.vda.qcow2"));
        store::DatabaseOptions otherOptions;
        otherOptions.sqlitePath =
            test::makeTempDir(QStringLiteral("virt-other")) + QStringLiteral("/other.sqlite");
        auto other = must(store::openAndMigrate(otherOptions));
        QVERIFY(must(store::storeId(*other)) != storeId());
        model::Host otherHost{
            model::newId(), QStringLiteral("local"), m_hv->uri(), {}, QDateTime::currentDateTimeUtc()};
        must(store::HostRepository(*other).insert(otherHost));
        SandboxManager theirs(*m_hv, *other, options());
        CreateOptions c = createOptions(QStringLiteral("theirs"));
        c.hostId = otherHost.id;
        const model::Sandbox their = must(theirs.createWithinLimits(c));
        const QStringList theirFiles = QDir(m_files).entryList(QDir::Files);
        QCOMPARE(theirFiles.size(), 3);
        // And a create of theirs that is still going on, with its overlay.
        model::Sandbox theirHalf = creatingRow(QStringLiteral("their-half"));
        must(store::SandboxRepository(*m_db).remove(theirHalf.id));
        theirHalf.hostId = otherHost.id;
        must(store::SandboxRepository(*other).insert(theirHalf));
        const QString theirOverlay =
            plantOverlay(QStringLiteral("fluid-%1-their-half.vda.qcow2").arg(must(store::storeId(*other))));

        SandboxManager manager(*m_hv, *m_db, options());
        const ReconcileReport report = must(manager.reconcile(m_hostId));
        QVERIFY2(report.problems.isEmpty(), qPrintable(report.problems.join(QLatin1Char('\n'))));
        QCOMPARE(report.removedDomains, QStringList());
        QCOMPARE(report.removedVolumes, QStringList());
        QVERIFY(domainExists(QStringLiteral("fluid-web")));
        QVERIFY(volumeExists(QStringLiteral("fluid-x.qcow2")));
        QVERIFY(volumeExists(QStringLiteral("fluid-y.vda.qcow2")));
        QCOMPARE(must(m_hv->domainState(their.domainName)), DomainState::Running);
        QVERIFY(volumeExists(QFileInfo(their.overlayPath).fileName()));
        QVERIFY(volumeExists(QFileInfo(theirOverlay).fileName()));
        QCOMPARE(QDir(m_files).entryList(QDir::Files), theirFiles);
        QCOMPARE(must(store::SandboxRepository(*other).get(their.id)).state, model::SandboxState::Running);

        // Their store cleans up its own.
        must(theirs.destroy(their.id, model::Actor::system()));
        const ReconcileReport theirReport = must(theirs.reconcile(otherHost.id));
        QCOMPARE(theirReport.removedVolumes, QStringList{theirOverlay});
        QVERIFY(domainExists(QStringLiteral("fluid-web")));
        QVERIFY(volumeExists(QStringLiteral("fluid-x.qcow2")));
        must(m_hv->undefineDomain(QStringLiteral("fluid-web")));
        must(m_hv->deleteVolume(QStringLiteral("/default-pool/fluid-x.qcow2")));
        must(m_hv->deleteVolume(QStringLiteral("/default-pool/fluid-y.vda.qcow2")));
        verifyNothingLeft();
    }

    /// A create another process is still working on (renewing its lease) is not rolled back, even after
    /// longer than one lease term.
    void reconcileLeavesALiveCreateAlone()
    {
        CancelToken cancel;
        std::optional<Result<model::Sandbox>> created;
        const store::DatabaseOptions dbOptions = m_db->options();
        ManagerOptions o = options();
        o.leaseTtlMs = 1500;
        std::unique_ptr<QThread> worker(QThread::create([&] {
            auto db = store::Database::open(dbOptions);
            auto hv = LibvirtHypervisor::connect(QStringLiteral("test:///default"));
            if (!db || !hv)
                return;
            SandboxManager manager(**hv, **db, o);
            CreateOptions c = createOptions(QStringLiteral("busy"));
            c.waitReady = true;
            c.readyTimeoutS = 60;
            created = manager.createWithinLimits(c, {}, cancel);
        }));
        worker->start();
        QTRY_VERIFY_WITH_TIMEOUT(domainExists(QStringLiteral("fluid-busy")), 10000);
        QTest::qWait(int(3 * o.leaseTtlMs));
        const model::Sandbox row =
            must(store::liveSandboxNamed(*m_db, m_hostId, QStringLiteral("busy"))).value();
        QCOMPARE(row.state, model::SandboxState::Creating);

        SandboxManager manager(*m_hv, *m_db, options());
        const ReconcileReport report = must(manager.reconcile(m_hostId));
        QVERIFY2(report.problems.isEmpty(), qPrintable(report.problems.join(QLatin1Char('\n'))));
        QCOMPARE(report.removedDomains, QStringList());
        QCOMPARE(report.removedVolumes, QStringList());
        QCOMPARE(report.leftAlone.size(), 1);
        QVERIFY2(report.leftAlone.first().startsWith(QLatin1String("busy: being created by")),
                 qPrintable(report.leftAlone.first()));
        QCOMPARE(must(store::SandboxRepository(*m_db).get(row.id)).state, model::SandboxState::Creating);
        QCOMPARE(must(m_hv->domainState(QStringLiteral("fluid-busy"))), DomainState::Running);

        cancel.cancel();
        QVERIFY(worker->wait(30000));
        QVERIFY(created.has_value());
        QCOMPARE(created->error().code, ErrorCode::Cancelled);
        verifyNothingLeft();
    }

    /// A create whose lease ran out and was taken over (it hung longer than a term) stops at its next renewal
    /// and rolls back, instead of going on beside the reconcile that took it.
    void createStopsOnceItsLeaseIsTakenOver()
    {
        CancelToken cancel;
        std::optional<Result<model::Sandbox>> created;
        const store::DatabaseOptions dbOptions = m_db->options();
        // The creating process's clock lags an hour behind: every term it writes has ended for the others.
        ManualClock lagging(QDateTime::currentDateTimeUtc().addSecs(-3600));
        ManagerOptions o = options();
        o.leaseTtlMs = 1000;
        std::unique_ptr<QThread> worker(QThread::create([&] {
            auto db = store::Database::open(dbOptions);
            auto hv = LibvirtHypervisor::connect(QStringLiteral("test:///default"));
            if (!db || !hv)
                return;
            SandboxManager manager(**hv, **db, o, lagging);
            CreateOptions c = createOptions(QStringLiteral("hung"));
            c.waitReady = true;
            c.readyTimeoutS = 60;
            created = manager.createWithinLimits(c, {}, cancel);
        }));
        worker->start();
        QTRY_VERIFY_WITH_TIMEOUT(domainExists(QStringLiteral("fluid-hung")), 10000);
        const model::Sandbox row =
            must(store::liveSandboxNamed(*m_db, m_hostId, QStringLiteral("hung"))).value();
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        QCOMPARE(must(store::acquireLease(*m_db, QStringLiteral("create:") + row.id,
                                          QStringLiteral("reconciler"), now, now + 60000)),
                 QStringLiteral("reconciler"));
        lagging.advance(o.leaseTtlMs);
        const bool finished = worker->wait(30000);
        if (!finished)
            cancel.cancel();
        QVERIFY(finished || worker->wait(30000));
        QVERIFY(created.has_value());
        QCOMPARE(created->error().code, ErrorCode::Refused);
        QVERIFY2(created->error().message.contains(QLatin1String("took it over")),
                 qPrintable(created->error().message));
        must(store::releaseLease(*m_db, QStringLiteral("create:") + row.id, QStringLiteral("reconciler")));
        verifyNothingLeft();
    }

    /// One whose lease ran out (its process died) is rolled back, with what it made: its marked domain and
    /// its volume.
    void reconcileRollsBackACreateWhoseLeaseRanOut()
    {
        const QString mine = storeId();
        const model::Sandbox dead = creatingRow(QStringLiteral("dead"));
        const qint64 tenMinutesAgo = QDateTime::currentMSecsSinceEpoch() - 10 * 60 * 1000;
        QCOMPARE(
            must(store::acquireLease(*m_db, QStringLiteral("create:") + dead.id, QStringLiteral("gone pid 1"),
                                     tenMinutesAgo, tenMinutesAgo + 60000)),
            QStringLiteral("gone pid 1"));
        const QString overlay = plantOverlay(QStringLiteral("fluid-%1-dead.vda.qcow2").arg(mine));
        must(m_hv->defineDomain(domainXmlNamed(dead.domainName, {dead.id, QStringLiteral("golden"), mine})));
        must(m_hv->startDomain(dead.domainName));

        SandboxManager manager(*m_hv, *m_db, options());
        const ReconcileReport report = must(manager.reconcile(m_hostId));
        QVERIFY2(report.problems.isEmpty(), qPrintable(report.problems.join(QLatin1Char('\n'))));
        QCOMPARE(report.removedDomains, QStringList{dead.domainName});
        QCOMPARE(report.removedVolumes, QStringList{overlay});
        QCOMPARE(report.leftAlone, QStringList());
        QCOMPARE(store::SandboxRepository(*m_db).get(dead.id).error().code, ErrorCode::NotFound);
        verifyNothingLeft();
        // Its lease went with it.
        QCOMPARE(must(store::acquireLease(*m_db, QStringLiteral("create:") + dead.id, QStringLiteral("next"),
                                          QDateTime::currentMSecsSinceEpoch(),
                                          QDateTime::currentMSecsSinceEpoch() + 1000)),
                 QStringLiteral("next"));
    }

    /// A sandbox this store made before marks named a store keeps everything; reconcile marks it, and
    /// destroy then removes it with its files named the old way.
    void reconcileAdoptsSandboxesMadeBeforeMarks()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        const model::Sandbox old = must(manager.createWithinLimits(createOptions(QStringLiteral("old"))));
        must(m_hv->setDomainMark(old.domainName, {old.id, QStringLiteral("golden"), QString()}));
        QCOMPARE(must(m_hv->domainMark(old.domainName)).storeId, QString());
        plantOverlay(QStringLiteral("fluid-old.vdb.qcow2"));
        QFile legacyFile(m_files + QStringLiteral("/fluid-old.seed.iso"));
        QVERIFY(legacyFile.open(QIODevice::WriteOnly));
        legacyFile.close();

        const ReconcileReport report = must(manager.reconcile(m_hostId));
        QVERIFY2(report.problems.isEmpty(), qPrintable(report.problems.join(QLatin1Char('\n'))));
        QCOMPARE(report.removedDomains, QStringList());
        QCOMPARE(report.removedVolumes, QStringList());
        QCOMPARE(report.updatedRows, QStringList{QStringLiteral("old: marked as this store's")});
        const DomainMark mark = must(m_hv->domainMark(old.domainName));
        QCOMPARE(mark.storeId, storeId());
        QCOMPARE(mark.sandboxId, old.id);
        QCOMPARE(mark.sourceName, QStringLiteral("golden"));
        QCOMPARE(must(m_hv->domainState(old.domainName)), DomainState::Running);
        QVERIFY(volumeExists(QStringLiteral("fluid-old.vdb.qcow2")));
        QVERIFY(legacyFile.exists());

        must(manager.destroy(old.id, model::Actor::system()));
        verifyNothingLeft();
    }

    /// A domain of the sandbox's name that does not carry its mark (its own vanished, a person made another)
    /// is not destroyed with it.
    void destroyLeavesADomainThatIsNotItsOwn()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        const model::Sandbox s = must(manager.createWithinLimits(createOptions(QStringLiteral("web"))));
        must(m_hv->destroyDomain(s.domainName));
        must(m_hv->undefineDomain(s.domainName));
        must(m_hv->defineDomain(domainXmlNamed(s.domainName)));

        QCOMPARE(must(manager.destroy(s.id, model::Actor::system())).state, model::SandboxState::Destroyed);
        QVERIFY(domainExists(s.domainName));
        QCOMPARE(must(m_hv->domainMark(s.domainName)).isSandbox(), false);
        must(m_hv->undefineDomain(s.domainName));
        verifyNothingLeft();
    }

    /// Start, stop, snapshots and revert act only on a domain that carries this store's mark for the row:
    /// a foreign domain that took the sandbox's name is refused and left as it is.
    void lifecycleLeavesADomainThatIsNotItsOwn()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        const model::Sandbox s = must(manager.createWithinLimits(createOptions(QStringLiteral("web"))));
        must(manager.snapshot(s.id, QStringLiteral("before"), model::Actor::system()));
        must(m_hv->destroyDomain(s.domainName));
        must(m_hv->undefineDomain(s.domainName));
        must(m_hv->defineDomain(domainXmlNamed(
            s.domainName, {model::newId(), QStringLiteral("golden"), QStringLiteral("another-store")})));
        const auto refused = [](const auto& r) {
            return !r.ok() && r.error().code == ErrorCode::Refused &&
                   r.error().message.contains(QLatin1String("leaves it alone"));
        };
        QVERIFY(refused(manager.start(s.id, model::Actor::system())));
        QCOMPARE(must(m_hv->domainState(s.domainName)), DomainState::ShutOff);
        must(m_hv->startDomain(s.domainName));
        QVERIFY(refused(manager.stop(s.id, model::Actor::system())));
        QCOMPARE(must(m_hv->domainState(s.domainName)), DomainState::Running);
        QVERIFY(refused(manager.snapshot(s.id, QStringLiteral("after"), model::Actor::system())));
        QVERIFY(refused(manager.revert(s.id, QStringLiteral("before"), model::Actor::system())));
        QVERIFY(refused(manager.deleteSnapshot(s.id, QStringLiteral("before"), model::Actor::system())));
        QVERIFY(refused(manager.snapshots(s.id)));
        QVERIFY(must(m_hv->snapshots(s.domainName)).isEmpty());
        must(m_hv->destroyDomain(s.domainName));
        must(manager.destroy(s.id, model::Actor::system()));
        QVERIFY(domainExists(s.domainName));
        must(m_hv->undefineDomain(s.domainName));
        verifyNothingLeft();
    }

    /// While another reconcile of the host holds its lease, a reconcile refuses and touches nothing.
    void reconcileRefusesWhileAnotherRuns()
    {
        const QString orphan = QStringLiteral("fluid-orphan");
        must(m_hv->defineDomain(
            domainXmlNamed(orphan, {model::newId(), QStringLiteral("golden"), storeId()})));
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        const QString lease = QStringLiteral("reconcile:") + m_hostId;
        QCOMPARE(must(store::acquireLease(*m_db, lease, QStringLiteral("other pid 2"), now, now + 60000)),
                 QStringLiteral("other pid 2"));
        SandboxManager manager(*m_hv, *m_db, options());
        auto refused = manager.reconcile(m_hostId);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Unavailable);
        QVERIFY2(refused.error().detail.contains(QLatin1String("other pid 2")),
                 qPrintable(refused.error().detail));
        QVERIFY(domainExists(orphan));

        must(store::releaseLease(*m_db, lease, QStringLiteral("other pid 2")));
        QCOMPARE(must(manager.reconcile(m_hostId)).removedDomains, QStringList{orphan});
        verifyNothingLeft();
    }

    /// Two reconciles of one store started together: one acts, the other is refused (without the lease both
    /// would list the orphan, wait for each other here, and both remove it).
    void concurrentReconcilesDoNotBothAct()
    {
        const QString orphan = QStringLiteral("fluid-orphan");
        must(m_hv->defineDomain(
            domainXmlNamed(orphan, {model::newId(), QStringLiteral("golden"), storeId()})));
        constexpr int kReconciles = 2;
        std::atomic<int> listing{0};
        std::atomic<int> ready{0};
        std::vector<std::optional<Result<ReconcileReport>>> results(kReconciles);
        std::vector<std::unique_ptr<QThread>> threads;
        const store::DatabaseOptions dbOptions = m_db->options();
        const ManagerOptions o = options();
        for (int i = 0; i < kReconciles; ++i) {
            threads.emplace_back(QThread::create([&, i] {
                auto db = store::Database::open(dbOptions);
                auto hv = LibvirtHypervisor::connect(QStringLiteral("test:///default"));
                if (!db || !hv)
                    return;
                FailingHypervisor lined(**hv);
                lined.beforeDomains = [&] {
                    ++listing;
                    QElapsedTimer waited;
                    waited.start();
                    while (listing.load() < kReconciles && waited.elapsed() < 3000)
                        QThread::msleep(10);
                };
                SandboxManager manager(lined, **db, o);
                ++ready;
                while (ready.load() < kReconciles) {
                }
                results[size_t(i)] = manager.reconcile(m_hostId);
            }));
            threads.back()->start();
        }
        for (auto& t : threads)
            QVERIFY(t->wait(30000));
        int removed = 0;
        int refused = 0;
        for (const auto& r : results) {
            QVERIFY(r.has_value());
            if (r->ok()) {
                QVERIFY2(r->value().problems.isEmpty(),
                         qPrintable(r->value().problems.join(QLatin1Char('\n'))));
                removed += int(r->value().removedDomains.count(orphan));
            } else if (r->error().code == ErrorCode::Unavailable) {
                ++refused;
            } else {
                QFAIL(qPrintable(r->error().toString()));
            }
        }
        QCOMPARE(removed, 1);
        QCOMPARE(refused, 1);
        QVERIFY(!domainExists(orphan));
    }

    void domainEventsReachTheStore()
    {
        SandboxManager manager(*m_hv, *m_db, options());
        QMutex mutex;
        QList<QPair<QString, DomainState>> events;
        m_hv->setDomainEventHandler([&](const QString& d, DomainState s) {
            QMutexLocker lock(&mutex);
            events.append({d, s});
        });
        const model::Sandbox s = must(manager.createWithinLimits(createOptions(QStringLiteral("evented"))));
        must(m_hv->destroyDomain(s.domainName)); // powered off behind Fluid's back
        QTRY_VERIFY_WITH_TIMEOUT(
            [&]() {
                QMutexLocker lock(&mutex);
                return events.contains({s.domainName, DomainState::ShutOff});
            }(),
            5000);
        must(manager.applyDomainEvent(s.domainName, DomainState::ShutOff));
        QCOMPARE(must(store::SandboxRepository(*m_db).get(s.id)).state, model::SandboxState::Stopped);
        m_hv->setDomainEventHandler({});
        must(manager.destroy(s.id, model::Actor::system()));
    }

    /// Creates run on several workers at once, each ensuring the sandbox network: the ones that lose the race
    /// to define or start it must still succeed (tst_gui_responsiveness saw "Cannot define the isolated
    /// network" for one of 4 concurrent creates).
    void concurrentEnsureNetworkAllSucceed()
    {
        constexpr int kThreads = 6;
        std::vector<std::unique_ptr<Hypervisor>> connections;
        for (int i = 0; i < kThreads; ++i)
            connections.push_back(must(LibvirtHypervisor::connect(QStringLiteral("test:///default"))));
        for (int round = 0; round < 10; ++round) {
            NetworkSpec spec;
            spec.name = QStringLiteral("fluid-race-%1").arg(round);
            spec.bridge = QStringLiteral("flrace%1").arg(round);
            spec.gatewayAddress = QStringLiteral("10.214.%1.1").arg(round);
            spec.dhcpStart = QStringLiteral("10.214.%1.10").arg(round);
            spec.dhcpEnd = QStringLiteral("10.214.%1.200").arg(round);
            std::atomic<int> ready{0};
            // Empty until its thread has run: a thread that never ran must fail the test, not pass it.
            std::vector<std::optional<Result<void>>> results(kThreads);
            std::vector<std::unique_ptr<QThread>> threads;
            for (int i = 0; i < kThreads; ++i) {
                threads.emplace_back(QThread::create([&, i] {
                    ++ready;
                    while (ready.load() < kThreads) {
                    }
                    results[size_t(i)] = connections[size_t(i)]->ensureNetwork(spec);
                }));
                threads.back()->start();
            }
            for (auto& t : threads)
                QVERIFY(t->wait(30000));
            for (const std::optional<Result<void>>& r : results) {
                QVERIFY(r.has_value());
                QVERIFY2(r->ok(), qPrintable(r->ok() ? QString() : r->error().toString()));
            }
            // And there is one network, active, as the spec says.
            virConnectPtr conn = virConnectOpen("test:///default");
            QVERIFY(conn);
            virNetworkPtr net = virNetworkLookupByName(conn, spec.name.toUtf8().constData());
            QVERIFY2(net, qPrintable(spec.name));
            QCOMPARE(virNetworkIsActive(net), 1);
            char* xml = virNetworkGetXMLDesc(net, 0);
            const QString text = QString::fromUtf8(xml);
            free(xml);
            QVERIFY2(text.contains(QStringLiteral("name='%1'").arg(spec.bridge)), qPrintable(text));
            QVERIFY2(text.contains(QStringLiteral("address='%1'").arg(spec.gatewayAddress)),
                     qPrintable(text));
            QVERIFY2(text.contains(QStringLiteral("start='%1'").arg(spec.dhcpStart)), qPrintable(text));
            virNetworkFree(net);
            virConnectClose(conn);
        }
    }

    /// A network an earlier Fluid defined (no DNS switch, ports not isolated) is redefined as Fluid's
    /// network today while nothing runs on it; while a VM runs on it, the create is refused saying which VM
    /// and what to do. The result is exactly what the network checks accept.
    void anEarlierNetworkIsUpgradedOrRefusedWithWhatToDo()
    {
        NetworkSpec spec;
        spec.name = QStringLiteral("fluid-old");
        spec.bridge = QStringLiteral("flold0");
        spec.gatewayAddress = QStringLiteral("10.215.0.1");
        spec.dhcpStart = QStringLiteral("10.215.0.100");
        spec.dhcpEnd = QStringLiteral("10.215.0.200");
        const QString oldXml =
            QStringLiteral("<network><name>fluid-old</name><bridge name='flold0' stp='on' delay='0'/>"
                           "<ip address='10.215.0.1' netmask='255.255.255.0'><dhcp><range "
                           "start='10.215.0.100' end='10.215.0.200'/></dhcp></ip></network>");
        QVERIFY(!sandboxNetworkDifferences(oldXml, spec).isEmpty());
        virConnectPtr conn = virConnectOpen("test:///default");
        QVERIFY(conn);
        auto readXml = [&] {
            virNetworkPtr net = virNetworkLookupByName(conn, "fluid-old");
            char* xml = net ? virNetworkGetXMLDesc(net, 0) : nullptr;
            const QString text = QString::fromUtf8(xml);
            free(xml);
            if (net)
                virNetworkFree(net);
            return text;
        };
        virNetworkPtr old = virNetworkDefineXML(conn, oldXml.toUtf8().constData());
        QVERIFY(old);
        QCOMPARE(virNetworkCreate(old), 0);
        virNetworkFree(old);

        // A running VM on it: refused, naming the VM and what to do; the old network is left as it was.
        QString vm = domainXmlNamed(QStringLiteral("vm-on-old"));
        vm.replace(
            QLatin1String("</devices>"),
            QLatin1String("<interface type='network'><source network='fluid-old'/></interface></devices>"));
        must(m_hv->defineDomain(vm));
        must(m_hv->startDomain(QStringLiteral("vm-on-old")));
        const Result<void> refused = m_hv->ensureNetwork(spec);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ErrorCode::Refused);
        QVERIFY2(refused.error().message.contains(QLatin1String("vm-on-old")) &&
                     refused.error().message.contains(QLatin1String("its guests can reach each other")) &&
                     refused.error().message.contains(QLatin1String("Stop them")),
                 qPrintable(refused.error().message));
        QVERIFY(!sandboxNetworkDifferences(readXml(), spec).isEmpty());

        // Stopped: the next ensure redefines it, active, as Fluid writes it today.
        must(m_hv->destroyDomain(QStringLiteral("vm-on-old")));
        must(m_hv->ensureNetwork(spec));
        const QString now = readXml();
        QVERIFY2(sandboxNetworkDifferences(now, spec).isEmpty(), qPrintable(now));
        QVERIFY2(now.contains(QLatin1String("<dns enable='no'/>")) &&
                     now.contains(QLatin1String("<port isolated='yes'/>")),
                 qPrintable(now));
        virNetworkPtr net = virNetworkLookupByName(conn, "fluid-old");
        QCOMPARE(virNetworkIsActive(net), 1);
        virNetworkFree(net);
        // And an ensure of the current network changes nothing.
        must(m_hv->ensureNetwork(spec));
        QCOMPARE(readXml(), now);
        must(m_hv->undefineDomain(QStringLiteral("vm-on-old")));
        virConnectClose(conn);
    }
};

QTEST_GUILESS_MAIN(TestSandboxManager)
#include "tst_sandboxmanager.moc"

// SPDX-License-Identifier: Apache-2.0
// The sandbox lifecycle on libvirt's own test driver (test:///default): create with every step, rollback
// after an injected failure at each step, cancel, what goes beyond the limits (the plan asks; waiting for the
// answer is the services' business: tst_hostsession), snapshots, destroy, reconcile.
#include "approval/ApprovalBroker.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"
#include "virt/LibvirtHypervisor.h"
#include "virt/Names.h"
#include "virt/SandboxManager.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
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
    QString failOn; ///< method name to fail

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
        return m_real.domains();
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

} // namespace

class TestSandboxManager : public QObject {
    Q_OBJECT

    std::unique_ptr<LibvirtHypervisor> m_hv;
    std::unique_ptr<store::Database> m_db;
    QString m_hostId;
    QString m_files;
    int m_identityCalls = 0;
    bool m_identityFails = false;

    ManagerOptions options()
    {
        ManagerOptions o;
        o.localFileDir = m_files;
        o.poolName = QStringLiteral("default-pool");
        o.poolPath = QStringLiteral("/default-pool");
        o.issueIdentity = [this](const QString& name) -> Result<SandboxIdentity> {
            ++m_identityCalls;
            if (m_identityFails)
                return makeError(ErrorCode::Crypto, QStringLiteral("injected failure in the CA"));
            return SandboxIdentity{"-----BEGIN OPENSSH PRIVATE KEY-----\nkey of " + name.toUtf8() +
                                       "\n-----END OPENSSH PRIVATE KEY-----\n",
                                   QStringLiteral("ssh-ed25519 AAAAhost ") + name,
                                   "ssh-ed25519-cert-v01@openssh.com AAAA " + name.toUtf8(),
                                   "ssh-ed25519 AAAA ca", name};
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
        QCOMPARE(s.overlayPath, QStringLiteral("/default-pool/fluid-web-1.vda.qcow2"));
        QCOMPARE(m_identityCalls, 1);
        QCOMPARE(must(store::SandboxRepository(*m_db).get(s.id)).hostPublicKey,
                 QStringLiteral("ssh-ed25519 AAAAhost web-1"));

        // The domain is the derived sandbox: overlay disk, isolated NIC, fw_cfg identity files.
        const QString xml = must(m_hv->domainXml(s.domainName));
        QVERIFY(xml.contains(QLatin1String("/default-pool/fluid-web-1.vda.qcow2")));
        QVERIFY(xml.contains(QLatin1String("network='fluid-sandbox'")));
        QVERIFY(xml.contains(QLatin1String("opt/fluid/host_key")));
        QVERIFY(!xml.contains(QLatin1String("/default-pool/golden.img'")));
        // The test driver cannot upload volumes: identity files are private local files.
        const QStringList files = QDir(m_files).entryList(QDir::Files);
        QCOMPARE(files.size(), 3);
        for (const QString& f : files) {
            QVERIFY(f.startsWith(QLatin1String("fluid-web-1.")));
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
        // A sandbox that stays, one whose domain vanished, a create that died mid-way, and orphans.
        const model::Sandbox keep = must(manager.createWithinLimits(createOptions(QStringLiteral("keep"))));
        const model::Sandbox vanished =
            must(manager.createWithinLimits(createOptions(QStringLiteral("vanished"))));
        must(m_hv->destroyDomain(vanished.domainName));
        must(m_hv->undefineDomain(vanished.domainName));

        model::Sandbox half;
        half.id = model::newId();
        half.name = QStringLiteral("half");
        half.hostId = m_hostId;
        half.domainName = QStringLiteral("fluid-half");
        half.state = model::SandboxState::Creating;
        half.createdAt = half.updatedAt = QDateTime::currentDateTimeUtc();
        must(store::SandboxRepository(*m_db).insert(half));
        must(m_hv->createOverlay(QStringLiteral("default-pool"), QStringLiteral("fluid-half.vda.qcow2"),
                                 QStringLiteral("/default-pool/golden.img"), QStringLiteral("raw")));
        must(m_hv->createOverlay(QStringLiteral("default-pool"), QStringLiteral("fluid-ghost.vda.qcow2"),
                                 QStringLiteral("/default-pool/golden.img"), QStringLiteral("raw")));
        QString orphanXml = QString::fromLatin1(kGoldenXml);
        orphanXml.replace(QLatin1String("<name>golden</name>"), QLatin1String("<name>fluid-orphan</name>"));
        must(m_hv->defineDomain(orphanXml));

        const ReconcileReport report = must(manager.reconcile(m_hostId));
        QVERIFY2(report.problems.isEmpty(), qPrintable(report.problems.join(QLatin1Char('\n'))));
        QCOMPARE(report.removedDomains, QStringList{QStringLiteral("fluid-orphan")});
        QStringList removedVolumes = report.removedVolumes;
        removedVolumes.sort();
        // Sorted on both sides: the temporary directory may sort before or after the pool path.
        QStringList expectedVolumes{QStringLiteral("/default-pool/fluid-ghost.vda.qcow2"),
                                    QStringLiteral("/default-pool/fluid-half.vda.qcow2"),
                                    QStringLiteral("/default-pool/fluid-vanished.vda.qcow2"),
                                    m_files + QStringLiteral("/fluid-vanished.host_cert"),
                                    m_files + QStringLiteral("/fluid-vanished.host_key"),
                                    m_files + QStringLiteral("/fluid-vanished.user_ca")};
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
};

QTEST_GUILESS_MAIN(TestSandboxManager)
#include "tst_sandboxmanager.moc"

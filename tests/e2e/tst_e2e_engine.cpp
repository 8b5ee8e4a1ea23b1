// SPDX-License-Identifier: Apache-2.0
// Fluid's own code paths on real VMs in the test bed: SandboxManager (libvirt C API) creates sandboxes from
// the golden image with identities from Fluid's SSH CA, SandboxShell logs in with short-lived certificates
// and a pinned host key; snapshot, revert, stop, start, destroy; 4 creates at once; a create killed with
// SIGKILL half-way leaves nothing behind once reconcile has run. Runs inside the test bed's namespace.
#include "E2eBed.h"
#include "services/Wiring.h"
#include "ssh/SandboxShell.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"
#include "virt/LibvirtHypervisor.h"
#include "virt/Names.h"

#include <QCoreApplication>
#include <QFile>
#include <QMutex>
#include <QProcess>
#include <QTest>
#include <QThread>

#include <atomic>

#include <csignal>

using namespace fluid;
using fluid::test::must;

namespace {

QHash<QString, QString> readEnvFile()
{
    return test::readTestbedEnv();
}

std::shared_ptr<ssh::CertificateAuthority> makeCa()
{
    test::Bed bed;
    test::makeCa(bed);
    return bed.ca;
}

using test::Bed;
using test::createOptions;

/// The lease of killedCreateLeavesNoOrphan's child create.
constexpr qint64 kChildLeaseTtlMs = 5000;

} // namespace

class TestE2eEngine : public QObject {
    Q_OBJECT

    Bed m_bed;
    std::unique_ptr<store::Database> m_db;
    QString m_hostId;
    QString m_golden;

    std::unique_ptr<ssh::SandboxShell> shellFor(const model::Sandbox& s)
    {
        return test::shellFor(m_bed.ca, s);
    }

    ssh::ExecResult exec(ssh::SandboxShell& shell, const QByteArray& command)
    {
        return test::execIn(shell, command);
    }

    /// Rows of any state with this name.
    int rowsNamed(const QString& name)
    {
        int n = 0;
        for (const model::Sandbox& s : must(store::allSandboxes(*m_db, m_hostId)))
            n += s.name == name ? 1 : 0;
        return n;
    }

    void verifyNothingLeft()
    {
        for (const virt::DomainSummary& d : must(m_bed.hv->domains()))
            QVERIFY2(!d.name.startsWith(QLatin1String("fluid-")), qPrintable(d.name));
        for (const virt::VolumeInfo& v : must(m_bed.hv->volumes(QStringLiteral("fluid-e2e"))))
            QVERIFY2(!v.name.startsWith(QLatin1String("fluid-")), qPrintable(v.name));
        QCOMPARE(must(store::liveSandboxes(*m_db, m_hostId)).size(), 0);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_bed.env = readEnvFile();
        if (m_bed.env.isEmpty())
            test::skipWholeTest(QStringLiteral("the test bed is not up (no %1)")
                                    .arg(qEnvironmentVariable("FLUID_TESTBED_ENV")));
        m_golden = m_bed.env.value(QStringLiteral("FLUID_GOLDEN_FWCFG_DOMAIN"));
        m_bed.dir = test::makeTempDir(QStringLiteral("e2e-engine"));
        m_bed.hv = must(
            virt::LibvirtHypervisor::connect(m_bed.env.value(QStringLiteral("FLUID_TESTBED_LIBVIRT_URI"))));
        m_bed.ca = makeCa();
        m_db = must(store::openAndMigrate(m_bed.dbOptions()));
        m_hostId = must(services::ensureHostRow(*m_db, m_bed.host())).id;
        // As the app does at start-up: whatever an earlier, crashed run left goes first.
        must(virt::SandboxManager(*m_bed.hv, *m_db, m_bed.options()).reconcile(m_hostId));
    }

    void cleanupTestCase()
    {
        if (!m_db)
            return;
        // Whatever a failed assertion left behind goes now.
        virt::SandboxManager manager(*m_bed.hv, *m_db, m_bed.options());
        if (auto rows = store::liveSandboxes(*m_db, m_hostId)) {
            for (const model::Sandbox& s : *rows)
                (void)manager.destroy(s.id, model::Actor::system());
        }
        (void)manager.reconcile(m_hostId);
    }

    void lifecycleOnARealVm()
    {
        virt::SandboxManager manager(*m_bed.hv, *m_db, m_bed.options());
        QElapsedTimer timer;
        timer.start();
        QStringList stages;
        const model::Sandbox s = must(manager.createWithinLimits(
            createOptions(m_hostId, m_golden, QStringLiteral("e2e-life")), [&](const Progress& p) {
                stages << QStringLiteral("%1 ms %2").arg(timer.elapsed()).arg(p.text());
            }));
        qInfo().noquote() << "create to SSH ready:" << timer.elapsed() << "ms\n "
                          << stages.join(QStringLiteral("\n  "));
        QCOMPARE(s.state, model::SandboxState::Running);
        QVERIFY(s.ip.startsWith(QLatin1String("10.213.0.")));
        // What the host really runs: TCG here (this machine's KVM is PVM), KVM on a workstation.
        QCOMPARE(s.accelerator,
                 virt::acceleratorName(must(m_bed.hv->hostInfo(virt::AcceleratorChoice::Auto)).accelerator));

        auto shell = shellFor(s);
        ssh::ExecResult r = exec(*shell, "hostname; id -u; test -s /etc/machine-id && echo machine-id-ok");
        QCOMPARE(r.exitCode, std::optional<int>(0));
        QCOMPARE(r.stdoutData.text(), QByteArray("e2e-life\n0\nmachine-id-ok\n"));

        const model::Actor me = model::Actor::localPerson();
        must(manager.snapshot(s.id, QStringLiteral("base"), me, model::SnapshotKind::Baseline));
        QVERIFY(exec(*shell, "echo changed > /root/marker && sync").succeeded());
        must(manager.revert(s.id, QStringLiteral("base"), me));
        shell = shellFor(s); // the revert dropped the connection with the guest's memory
        QTRY_VERIFY_WITH_TIMEOUT(virt::sshBannerAnswers(s.ip, 2000), 60000);
        r = exec(*shell, "test -e /root/marker; echo $?");
        QCOMPARE(r.stdoutData.text(), QByteArray("1\n"));
        // The snapshot was taken with the file systems frozen: after the revert they are thawed (a write
        // does not hang) and the guest clock is the host's again.
        r = test::execIn(
            *shell, "echo written > /root/after-revert && sync && cat /root/after-revert && date +%s", 30);
        QVERIFY2(r.succeeded(), r.stderrData.text().constData());
        const QList<QByteArray> out = r.stdoutData.text().split('\n');
        QCOMPARE(out.value(0), QByteArray("written"));
        const qint64 skew = out.value(1).toLongLong() - QDateTime::currentSecsSinceEpoch();
        QVERIFY2(qAbs(skew) < 15,
                 qPrintable(QStringLiteral("guest clock off by %1 s after the revert").arg(skew)));

        QCOMPARE(must(manager.stop(s.id, me)).state, model::SandboxState::Stopped);
        QCOMPARE(must(m_bed.hv->domainState(s.domainName)), virt::DomainState::ShutOff);
        QCOMPARE(must(manager.start(s.id, me)).state, model::SandboxState::Running);
        QTRY_VERIFY_WITH_TIMEOUT(virt::sshBannerAnswers(s.ip, 2000), 180000);

        must(manager.destroy(s.id, me));
        verifyNothingLeft();
    }

    void fourAtOnceAllReachSsh()
    {
        constexpr int count = 4;
        QList<QThread*> threads;
        QList<std::optional<Result<model::Sandbox>>> results(count);
        const QElapsedTimer started = [] {
            QElapsedTimer t;
            t.start();
            return t;
        }();
        for (int i = 0; i < count; ++i) {
            threads << QThread::create([this, i, &results]() {
                auto db = store::Database::open(m_bed.dbOptions());
                if (!db) {
                    results[i] = db.error();
                    return;
                }
                virt::SandboxManager manager(*m_bed.hv, **db, m_bed.options());
                results[i] = manager.createWithinLimits(
                    createOptions(m_hostId, m_golden, QStringLiteral("e2e-par-%1").arg(i)));
            });
            threads.last()->start();
        }
        for (QThread* t : threads) {
            QVERIFY(t->wait(900000));
            delete t;
        }
        qInfo() << count << "sandboxes at once on SSH after" << started.elapsed() << "ms";
        virt::SandboxManager manager(*m_bed.hv, *m_db, m_bed.options());
        for (int i = 0; i < count; ++i) {
            QVERIFY(results[i].has_value());
            QVERIFY2(results[i]->ok(),
                     qPrintable(results[i]->ok() ? QString() : results[i]->error().toString()));
            auto shell = shellFor(results[i]->value());
            QCOMPARE(exec(*shell, "hostname").stdoutData.text(),
                     QStringLiteral("e2e-par-%1\n").arg(i).toUtf8());
        }
        for (int i = 0; i < count; ++i)
            must(manager.destroy(results[i]->value().id, model::Actor::system()));
        verifyNothingLeft();
    }

    void killedCreateLeavesNoOrphan()
    {
        // A child process creates a sandbox; it is killed with SIGKILL once the VM is defined.
        QProcess child;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("FLUID_E2E_CHILD_DIR"), m_bed.dir);
        env.insert(QStringLiteral("FLUID_E2E_CHILD_HOST"), m_hostId);
        env.insert(QStringLiteral("FLUID_E2E_CHILD_GOLDEN"), m_golden);
        child.setProcessEnvironment(env);
        child.start(QCoreApplication::applicationFilePath(), {QStringLiteral("--create-child")});
        QVERIFY(child.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(
            [&]() {
                auto domains = m_bed.hv->domains();
                if (!domains)
                    return false;
                for (const virt::DomainSummary& d : *domains) {
                    if (d.name == QLatin1String("fluid-e2e-killed"))
                        return true;
                }
                return false;
            }(),
            120000);
        ::kill(pid_t(child.processId()), SIGKILL);
        QVERIFY(child.waitForFinished(10000));
        QCOMPARE(rowsNamed(QStringLiteral("e2e-killed")), 1);

        // The next start-up of Fluid reconciles, once the dead create's lease has run out (before that, a
        // reconcile cannot tell it from a create still at work).
        QTest::qWait(int(kChildLeaseTtlMs) + 1000);
        virt::SandboxManager manager(*m_bed.hv, *m_db, m_bed.options());
        const virt::ReconcileReport report = must(manager.reconcile(m_hostId));
        QVERIFY2(report.problems.isEmpty(), qPrintable(report.problems.join(QLatin1Char('\n'))));
        QCOMPARE(rowsNamed(QStringLiteral("e2e-killed")), 0);
        verifyNothingLeft();
        QVERIFY(QDir(m_bed.dir + QStringLiteral("/hostfiles")).entryList(QDir::Files).isEmpty());
    }

    void reconnectsAfterLibvirtdRestarts()
    {
        // Shared with libvirt's threads, which may still call the handlers after a failed check returns.
        struct Seen {
            std::atomic<int> downs{0};
            std::atomic<int> ups{0};
            QMutex mutex;
            QStringList domains;
        };
        auto seen = std::make_shared<Seen>();
        m_bed.hv->setConnectionHandler([seen](bool up, const QString&) { ++(up ? seen->ups : seen->downs); });
        m_bed.hv->setDomainEventHandler([seen](const QString& domain, virt::DomainState) {
            QMutexLocker lock(&seen->mutex);
            seen->domains << domain;
        });
        const auto domainSeen = [seen](const QString& name) {
            QMutexLocker lock(&seen->mutex);
            return seen->domains.contains(name);
        };

        QProcess restart;
        restart.setProcessChannelMode(QProcess::MergedChannels);
        restart.start(QStringLiteral("bash"), {QStringLiteral(FLUID_SOURCE_DIR "/scripts/testbed"),
                                               QStringLiteral("restart-libvirtd")});
        QVERIFY(restart.waitForFinished(120000));
        QVERIFY2(restart.exitCode() == 0, restart.readAll().constData());

        // The drop is noticed and the connection made again in the background, with no call from Fluid.
        QTRY_VERIFY_WITH_TIMEOUT(seen->downs.load() >= 1, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(seen->ups.load() >= 1, 60000);
        // Events flow on the new connection.
        const QString probe = QStringLiteral("fluid-e2e-reconnect");
        must(m_bed.hv->defineDomain(
            QStringLiteral("<domain type='qemu'><name>%1</name><memory unit='MiB'>16</memory><vcpu>1</vcpu>"
                           "<os><type arch='x86_64'>hvm</type></os></domain>")
                .arg(probe)));
        QTRY_VERIFY_WITH_TIMEOUT(domainSeen(probe), 20000);
        must(m_bed.hv->undefineDomain(probe));
        QVERIFY(must(m_bed.hv->domains()).size() >= 1);
        m_bed.hv->setDomainEventHandler({});
        m_bed.hv->setConnectionHandler({});
    }
};

/// Helper mode for killedCreateLeavesNoOrphan: create one sandbox and wait to be killed.
static int createChild()
{
    Bed bed;
    bed.dir = qEnvironmentVariable("FLUID_E2E_CHILD_DIR");
    bed.env = readEnvFile();
    bed.hv =
        must(virt::LibvirtHypervisor::connect(bed.env.value(QStringLiteral("FLUID_TESTBED_LIBVIRT_URI"))));
    bed.ca = makeCa();
    auto db = must(store::Database::open(bed.dbOptions()));
    // A short lease, so the test does not wait long for a killed create's lease to run out.
    virt::ManagerOptions options = bed.options();
    options.leaseTtlMs = kChildLeaseTtlMs;
    virt::SandboxManager manager(*bed.hv, *db, options);
    auto r = manager.createWithinLimits(createOptions(qEnvironmentVariable("FLUID_E2E_CHILD_HOST"),
                                                      qEnvironmentVariable("FLUID_E2E_CHILD_GOLDEN"),
                                                      QStringLiteral("e2e-killed")));
    return r ? 0 : 1;
}

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    if (argc > 1 && qstrcmp(argv[1], "--create-child") == 0)
        return createChild();
    TestE2eEngine test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_e2e_engine.moc"

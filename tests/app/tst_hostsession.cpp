// SPDX-License-Identifier: Apache-2.0
// HostSession on libvirt's test driver: opening, operations on worker threads with progress and results as
// queued signals, libvirt lifecycle events reaching the store and the session's listeners, cancel, and a
// clean shutdown while work is in flight.
#include "services/HostSession.h"
#include "services/Runtime.h"
#include "ssh/CertificateAuthority.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

using namespace fluid;
using fluid::test::must;

class TestHostSession : public QObject {
    Q_OBJECT

    QString m_dir;
    store::DatabaseOptions m_store;
    virt::Hypervisor* m_raw = nullptr; ///< the session's connection, to change things behind its back
    QThread* m_guiThread = nullptr;

    services::HostSession::Setup setup() { return test::testDriverSessionSetup(m_dir, &m_raw); }

    /// Waits for operationFinished(op) and returns (ok, message).
    static QPair<bool, QString> finished(QSignalSpy& spy, int op, int timeoutMs = 20000)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeoutMs) {
            for (const QList<QVariant>& args : std::as_const(spy))
                if (args.value(0).toInt() == op)
                    return {args.value(1).toBool(), args.value(2).toString()};
            spy.wait(100);
        }
        return {false, QStringLiteral("operation %1 did not finish").arg(op)};
    }

private Q_SLOTS:
    void init()
    {
        m_dir = test::makeTempDir(QStringLiteral("hostsession"));
        m_store = test::migratedStore(m_dir); // the app migrates once at start-up (StoreWorker)
        m_raw = nullptr;
    }

    void opensListsAndRunsOperations()
    {
        services::HostSession session(setup());
        QSignalSpy opened(&session, &services::HostSession::opened);
        QSignalSpy sources(&session, &services::HostSession::sourcesChanged);
        QSignalSpy sandboxes(&session, &services::HostSession::sandboxesChanged);
        QSignalSpy progress(&session, &services::HostSession::operationProgress);
        QSignalSpy done(&session, &services::HostSession::operationFinished);

        // Before it is open, operations fail cleanly (and asynchronously).
        const int early = session.start(QStringLiteral("nothing"));
        QVERIFY(!finished(done, early).first);

        session.open();
        QVERIFY(opened.wait(20000));
        QVERIFY2(opened.first().value(0).toBool(), qPrintable(opened.first().value(1).toString()));
        QTRY_VERIFY_WITH_TIMEOUT(!sources.isEmpty(), 20000);
        const auto list = sources.last().value(0).value<QList<services::HostSession::Source>>();
        bool goldenCloneable = false;
        for (const auto& s : list)
            goldenCloneable |= s.name == QLatin1String("golden") && s.refusal.isEmpty();
        QVERIFY(goldenCloneable);

        const int op = session.create(QStringLiteral("golden"), QStringLiteral("tree"));
        const auto [ok, message] = finished(done, op);
        QVERIFY2(ok, qPrintable(message));
        QVERIFY(!progress.isEmpty()); // stages were reported
        QTRY_VERIFY_WITH_TIMEOUT(!sandboxes.isEmpty() &&
                                     !sandboxes.last().value(0).value<QList<model::Sandbox>>().isEmpty(),
                                 20000);
        const model::Sandbox s = sandboxes.last().value(0).value<QList<model::Sandbox>>().first();
        QCOMPARE(s.name, QStringLiteral("tree"));
        QCOMPARE(s.state, model::SandboxState::Running);

        // Powered off behind Fluid's back: libvirt's event reaches the store and the listeners.
        sandboxes.clear();
        must(m_raw->destroyDomain(s.domainName));
        QTRY_VERIFY_WITH_TIMEOUT(
            [&]() {
                for (const QList<QVariant>& args : std::as_const(sandboxes))
                    for (const model::Sandbox& row : args.value(0).value<QList<model::Sandbox>>())
                        if (row.id == s.id && row.state == model::SandboxState::Stopped)
                            return true;
                return false;
            }(),
            20000);

        QVERIFY2(finished(done, session.start(s.id)).first, "start");
        QVERIFY2(finished(done, session.snapshot(s.id, QStringLiteral("one"))).first, "snapshot");
        QSignalSpy snaps(&session, &services::HostSession::snapshotsLoaded);
        session.loadSnapshots(s.id);
        QVERIFY(snaps.wait(20000));
        QCOMPARE(snaps.first().value(1).value<QList<virt::SnapshotInfo>>().size(), 1);
        QVERIFY2(finished(done, session.revert(s.id, QStringLiteral("one"))).first, "revert");
        QVERIFY2(finished(done, session.destroy(s.id)).first, "destroy");
        QTRY_VERIFY_WITH_TIMEOUT(sandboxes.last().value(0).value<QList<model::Sandbox>>().isEmpty(), 20000);

        const auto refused = finished(done, session.stop(QStringLiteral("no-such-id")));
        QVERIFY(!refused.first);
        QVERIFY(!refused.second.isEmpty());
    }

    void identityIssuerLoadsTheCaLazilyOffTheGuiThread()
    {
        std::atomic<int> loads{0};
        std::atomic<bool> onGuiThread{false};
        QThread* gui = QThread::currentThread();
        services::HostSession::Setup s = setup();
        s.manager.issueIdentity =
            services::lazyIdentityIssuer([&]() -> Result<std::shared_ptr<const ssh::CertificateAuthority>> {
                if (QThread::currentThread() == gui)
                    onGuiThread = true;
                if (loads++ == 0)
                    return makeError(ErrorCode::Unavailable, QStringLiteral("the keychain is locked"));
                return std::make_shared<const ssh::CertificateAuthority>(must(ssh::KeyPair::generate()),
                                                                         must(ssh::KeyPair::generate()));
            });
        services::HostSession session(s);
        QSignalSpy opened(&session, &services::HostSession::opened);
        QSignalSpy sandboxes(&session, &services::HostSession::sandboxesChanged);
        QSignalSpy done(&session, &services::HostSession::operationFinished);
        session.open();
        QVERIFY(opened.wait(20000));
        QCOMPARE(loads.load(), 0); // nothing loaded before the first create

        const auto locked = finished(done, session.create(QStringLiteral("golden"), QStringLiteral("first")));
        QVERIFY(!locked.first);
        QVERIFY2(locked.second.contains(QLatin1String("keychain is locked")), qPrintable(locked.second));

        // A failed load is not kept: the next create loads again, and the one after uses the cached CA.
        for (const QString& name : {QStringLiteral("second"), QStringLiteral("third")}) {
            const auto made = finished(done, session.create(QStringLiteral("golden"), name));
            QVERIFY2(made.first, qPrintable(made.second));
            sandboxes.clear();
            session.refresh();
            QVERIFY(sandboxes.wait(20000));
            const auto rows = sandboxes.last().value(0).value<QList<model::Sandbox>>();
            QCOMPARE(rows.size(), 1);
            QVERIFY(!rows.first().hostPublicKey.isEmpty()); // an identity was injected
            QVERIFY2(finished(done, session.destroy(rows.first().id)).first, "destroy");
        }
        QCOMPARE(loads.load(), 2);
        QVERIFY(!onGuiThread);
    }

    void unreachableHostSaysWhy()
    {
        services::HostSession::Setup s = setup();
        s.host.uri = QStringLiteral("qemu+unix:///system?socket=/nonexistent/libvirt-sock");
        s.connect = {};
        services::HostSession session(s);
        QSignalSpy opened(&session, &services::HostSession::opened);
        session.open();
        QVERIFY(opened.wait(20000));
        QVERIFY(!opened.first().value(0).toBool());
        QVERIFY2(opened.first().value(1).toString().contains(QLatin1String("Cannot connect")),
                 qPrintable(opened.first().value(1).toString()));
    }

    void goingAwayMidCreateRollsBack()
    {
        QString domainName;
        {
            services::HostSession::Setup s = setup();
            // A readiness wait that never ends unless cancelled.
            s.createDefaults.waitReady = true;
            s.createDefaults.readyTimeoutS = 600;
            services::HostSession session(s);
            QSignalSpy opened(&session, &services::HostSession::opened);
            QSignalSpy progress(&session, &services::HostSession::operationProgress);
            session.open();
            QVERIFY(opened.wait(20000));
            session.create(QStringLiteral("golden"), QStringLiteral("gone"));
            QTRY_VERIFY_WITH_TIMEOUT(test::progressSays(progress, QStringLiteral("waiting")), 20000);
        } // the destructor cancels the create and waits for it to roll back
        auto db = must(store::Database::open(m_store));
        QCOMPARE(must(store::SandboxRepository(*db).count(QStringLiteral("state <> 'destroyed'"))), 0);
    }

    /// close() returns at once; the running create is cancelled and rolled back on the workers, closed()
    /// follows, and work asked for afterwards fails saying the host was closed.
    void closeDoesNotWaitAndRefusesNewWork()
    {
        services::HostSession::Setup s = setup();
        s.createDefaults.waitReady = true; // a readiness wait that never ends unless cancelled
        s.createDefaults.readyTimeoutS = 600;
        services::HostSession session(s);
        QSignalSpy opened(&session, &services::HostSession::opened);
        QSignalSpy progress(&session, &services::HostSession::operationProgress);
        QSignalSpy done(&session, &services::HostSession::operationFinished);
        QSignalSpy closed(&session, &services::HostSession::closed);
        session.open();
        QVERIFY(opened.wait(20000));
        QVERIFY(opened.first().value(0).toBool());

        // New defaults reach later operations; a running one keeps its own.
        virt::CreateOptions defaults = session.createDefaults();
        defaults.readyTimeoutS = 900;
        session.setDefaults(defaults, 42);
        QCOMPARE(session.createDefaults().readyTimeoutS, 900);

        const int create = session.create(QStringLiteral("golden"), QStringLiteral("closing"));
        QTRY_VERIFY_WITH_TIMEOUT(test::progressSays(progress, QStringLiteral("waiting")), 20000);

        QElapsedTimer timer;
        timer.start();
        session.close();
        QVERIFY2(timer.elapsed() < 200, qPrintable(QStringLiteral("close took %1 ms").arg(timer.elapsed())));
        QVERIFY(session.isClosing());
        QVERIFY(closed.isEmpty()); // the create is still rolling back on its worker
        QVERIFY(closed.wait(20000));
        const auto cancelled = finished(done, create);
        QVERIFY(!cancelled.first);
        QVERIFY2(cancelled.second.contains(QLatin1String("cancelled")), qPrintable(cancelled.second));
        QVERIFY(!session.isOpen());
        auto db = must(store::Database::open(m_store));
        QCOMPARE(must(store::SandboxRepository(*db).count(QStringLiteral("state <> 'destroyed'"))), 0);

        const int late = session.start(QStringLiteral("whatever"));
        const auto refused = finished(done, late);
        QVERIFY(!refused.first);
        QVERIFY2(refused.second.contains(QLatin1String("local was closed")), qPrintable(refused.second));
        bool answered = false;
        QString shellError;
        session.openShell(QStringLiteral("whatever"), this,
                          [&](Result<std::shared_ptr<ssh::RemoteShell>> shell) {
                              answered = true;
                              shellError = shell ? QString() : shell.error().message;
                          });
        QTRY_VERIFY(answered);
        QVERIFY2(shellError.contains(QLatin1String("local was closed")), qPrintable(shellError));
        session.close(); // again: nothing happens
        QTest::qWait(50);
        QCOMPARE(closed.count(), 1);
    }
};

QTEST_GUILESS_MAIN(TestHostSession)
#include "tst_hostsession.moc"

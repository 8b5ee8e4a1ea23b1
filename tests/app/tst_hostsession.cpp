// SPDX-License-Identifier: Apache-2.0
// HostSession on libvirt's test driver, as every front end uses it: opening, operations registered with their
// actor, typed results, progress and cancel; libvirt's lifecycle events reaching the store and the listeners;
// a create beyond the host's limits waiting for a person without holding a thread (in-process and
// cross-process decisions, rejection, a host closed meanwhile); and a clean shutdown while work is in flight.
#include "approval/ApprovalBroker.h"
#include "base/Worker.h"
#include "services/HostSession.h"
#include "services/Services.h"
#include "services/Wiring.h"
#include "ssh/CertificateAuthority.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

using namespace fluid;
using fluid::test::must;
using services::OperationInfo;
using services::OperationKind;
using services::OperationState;

class TestHostSession : public QObject {
    Q_OBJECT

    QString m_dir;
    store::DatabaseOptions m_store;
    virt::Hypervisor* m_raw = nullptr; ///< the session's connection, to change things behind its back
    const model::Actor m_tester = model::Actor::person(QStringLiteral("tester"));

    services::HostSession::Setup setup() { return test::testDriverSessionSetup(m_dir, &m_raw); }

    static services::CreateRequest createRequest(const QString& name)
    {
        services::CreateRequest r;
        r.source = QStringLiteral("golden");
        r.name = name;
        return r;
    }

    /// The end of an operation, waited for with this thread's events running.
    template <typename T>
    static Result<T> wait(const services::Operation<T>& op)
    {
        return await(op.future());
    }

    QList<model::Sandbox> liveRows()
    {
        auto db = must(store::Database::open(m_store));
        return must(store::allSandboxes(*db, must(store::hostNamed(*db, QStringLiteral("local")))->id));
    }

    int liveCount()
    {
        int n = 0;
        for (const model::Sandbox& s : liveRows())
            n += s.state != model::SandboxState::Destroyed ? 1 : 0;
        return n;
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
        test::OperationLog log(session.operations());
        QSignalSpy opened(&session, &services::HostSession::opened);
        QSignalSpy sources(&session, &services::HostSession::sourcesChanged);
        QSignalSpy sandboxes(&session, &services::HostSession::sandboxesChanged);

        // Before it is open, operations fail cleanly (and asynchronously), saying why.
        auto early = session.start(QStringLiteral("nothing"), m_tester);
        QVERIFY(!early.future().isFinished());
        const Result<model::Sandbox> notYet = wait(early);
        QCOMPARE(notYet.error().code, ErrorCode::Unavailable);
        QCOMPARE(notYet.error().message, QStringLiteral("local is not connected yet."));

        const QString openedMessage = must(await(session.open()));
        QVERIFY(openedMessage.startsWith(QLatin1String("Connected to local (test:///default).")));
        QTRY_COMPARE(opened.count(), 1);
        QCOMPARE(opened.first().value(0).toBool(), true);
        QTRY_VERIFY_WITH_TIMEOUT(!sources.isEmpty(), 20000);
        const auto list = sources.last().value(0).value<QList<services::HostSession::Source>>();
        bool goldenCloneable = false;
        for (const auto& s : list)
            goldenCloneable |= s.name == QLatin1String("golden") && s.refusal.isEmpty() &&
                               s.disk == QLatin1String("/default-pool/golden.img");
        QVERIFY(goldenCloneable);

        auto create = session.create(createRequest(QStringLiteral("tree")), m_tester);
        const model::Sandbox s = must(wait(create));
        QCOMPARE(s.name, QStringLiteral("tree"));
        QCOMPARE(s.state, model::SandboxState::Running);
        QCOMPARE(s.memoryMib, 2);
        // The registry knows the operation: its kind, actor, description, outcome and typed result.
        const OperationInfo info = *session.operations()->find(create.id());
        QCOMPARE(info.kind, OperationKind::Create);
        QCOMPARE(info.state, OperationState::Succeeded);
        QCOMPARE(info.actor, m_tester);
        QCOMPARE(info.host, QStringLiteral("local"));
        QCOMPARE(info.description, QStringLiteral("Create tree from golden"));
        QCOMPARE(info.outcome, QStringLiteral("tree is ready at %1").arg(s.ip));
        QVERIFY(info.cancellable);
        QCOMPARE(session.operations()->result<model::Sandbox>(create.id())->value().id, s.id);
        // Its stages were reported in order.
        QTRY_VERIFY(!log.finished.isEmpty());
        QStringList stages;
        for (const OperationInfo& p : std::as_const(log.progress))
            if (p.id == create.id())
                stages << p.progress.stage;
        QCOMPARE(stages.first(), virt::createStageName(virt::CreateStage::Checking));
        QCOMPARE(stages.last(), virt::createStageName(virt::CreateStage::Ready));
        QVERIFY(stages.indexOf(virt::createStageName(virt::CreateStage::Overlay)) <
                stages.indexOf(virt::createStageName(virt::CreateStage::Start)));

        QTRY_VERIFY_WITH_TIMEOUT(!sandboxes.isEmpty() &&
                                     !sandboxes.last().value(0).value<QList<model::Sandbox>>().isEmpty(),
                                 20000);
        QCOMPARE(sandboxes.last().value(0).value<QList<model::Sandbox>>().first().id, s.id);

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

        QCOMPARE(must(wait(session.start(s.id, m_tester))).state, model::SandboxState::Running);
        QCOMPARE(must(wait(session.snapshot(s.id, QStringLiteral("one"), m_tester))).name,
                 QStringLiteral("one"));
        QCOMPARE(must(await(session.snapshots(s.id))).size(), 1);
        QSignalSpy snaps(&session, &services::HostSession::snapshotsLoaded);
        session.loadSnapshots(s.id);
        QTRY_VERIFY_WITH_TIMEOUT(!snaps.isEmpty(), 20000); // emitted on a worker: the spy records it there
        QCOMPARE(snaps.first().value(1).value<QList<virt::SnapshotInfo>>().first().name,
                 QStringLiteral("one"));
        must(wait(session.revert(s.id, QStringLiteral("one"), m_tester)));
        QCOMPARE(must(await(session.findSandbox(QStringLiteral("tree")))).id, s.id);
        QCOMPARE(await(session.findSandbox(QStringLiteral("forest"))).error().message,
                 QStringLiteral("No sandbox named forest on host local"));
        QCOMPARE(must(wait(session.destroy(s.id, m_tester))).state, model::SandboxState::Destroyed);
        QTRY_VERIFY_WITH_TIMEOUT(sandboxes.last().value(0).value<QList<model::Sandbox>>().isEmpty(), 20000);
        QCOMPARE(must(await(session.sandboxes())).size(), 0);
        QCOMPARE(must(await(session.sandboxes(true))).size(), 1);

        const Result<model::Sandbox> refused = wait(session.stop(QStringLiteral("no-such-id"), m_tester));
        QCOMPARE(refused.error().code, ErrorCode::NotFound);
        QCOMPARE(refused.error().message, QStringLiteral("No sandboxes row with id no-such-id"));
        const OperationInfo failed = session.operations()->recent(1).first();
        QCOMPARE(failed.state, OperationState::Failed);
        QCOMPARE(failed.error->code, ErrorCode::NotFound);
        QVERIFY(!session.operations()->cancel(failed.id)); // ended: nothing to cancel
        QVERIFY(session.operations()->running().isEmpty());

        // Every record of the sandbox names the person who acted; libvirt's event is Fluid's own.
        auto db = must(store::Database::open(m_store));
        QStringList actors;
        for (const model::AuditEvent& e : must(store::AuditLog(*db).list()))
            if (e.sandboxId == s.id)
                actors << e.kind + QLatin1Char('=') + e.actor;
        for (const char* kind :
             {"sandbox.create", "sandbox.start", "snapshot.create", "snapshot.revert", "sandbox.destroy"})
            QVERIFY2(actors.contains(QLatin1String(kind) + QStringLiteral("=person:tester")), kind);
        QVERIFY2(actors.contains(QStringLiteral("sandbox.state=system")),
                 qPrintable(actors.join(QLatin1Char(' '))));
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
        must(await(session.open()));
        QCOMPARE(loads.load(), 0); // nothing loaded before the first create

        const auto locked = wait(session.create(createRequest(QStringLiteral("first")), m_tester));
        QCOMPARE(locked.error().code, ErrorCode::Unavailable);
        QCOMPARE(locked.error().message, QStringLiteral("the keychain is locked"));

        // A failed load is not kept: the next create loads again, and the one after uses the cached CA.
        for (const QString& name : {QStringLiteral("second"), QStringLiteral("third")}) {
            const model::Sandbox made = must(wait(session.create(createRequest(name), m_tester)));
            QVERIFY(made.hostPublicKey.startsWith(QLatin1String("ssh-ed25519 "))); // an identity was injected
            must(wait(session.destroy(made.id, m_tester)));
        }
        QCOMPARE(loads.load(), 2);
        QVERIFY(!onGuiThread);
    }

    /// setupFor() takes the sandbox lifetime from settings: host certificates are valid that long and name
    /// only the sandbox's principal.
    void hostCertificatesLastAsLongAsASandboxMayLive()
    {
        config::Settings settings;
        settings.sandbox.maxLifetimeDays = 3;
        auto ca = std::make_shared<const ssh::CertificateAuthority>(must(ssh::KeyPair::generate()),
                                                                    must(ssh::KeyPair::generate()));
        const services::HostSession::Setup s = services::HostSession::setupFor(
            settings, settings.hosts.value(0), test::migratedStore(m_dir),
            [ca]() -> Result<std::shared_ptr<const ssh::CertificateAuthority>> { return ca; }, {});
        const virt::SandboxIdentity identity = must(
            s.manager.issueIdentity(QStringLiteral("web-1"), model::sandboxPrincipal(QStringLiteral("abc"))));
        const ssh::Certificate cert =
            must(ssh::Certificate::fromOpenSshLine(QString::fromLatin1(identity.hostCertificate)));
        QCOMPARE(cert.principals, QStringList{model::sandboxPrincipal(QStringLiteral("abc"))});
        const qint64 validFor = cert.validAfter.secsTo(cert.validBefore);
        QVERIFY2(qAbs(validFor - 3 * 24 * 3600) <= 600, qPrintable(QString::number(validFor)));
    }

    void unreachableHostSaysWhy()
    {
        services::HostSession::Setup s = setup();
        s.host.uri = QStringLiteral("qemu+unix:///system?socket=/nonexistent/libvirt-sock");
        s.connect = {};
        services::HostSession session(s);
        QSignalSpy opened(&session, &services::HostSession::opened);
        const Result<QString> r = await(session.open());
        QVERIFY(!r);
        QVERIFY2(r.error().message.startsWith(QLatin1String("local: Cannot connect")),
                 qPrintable(r.error().message));
        QTRY_COMPARE(opened.count(), 1); // queued from the worker
        QCOMPARE(opened.first().value(0).toBool(), false);
        QCOMPARE(opened.first().value(1).toString(), r.error().message);
    }

    void goingAwayMidCreateRollsBack()
    {
        {
            services::HostSession::Setup s = setup();
            // A readiness wait that never ends unless cancelled.
            s.createDefaults.waitReady = true;
            s.createDefaults.readyTimeoutS = 600;
            services::HostSession session(s);
            test::OperationLog log(session.operations());
            must(await(session.open()));
            const auto op = session.create(createRequest(QStringLiteral("gone")), m_tester);
            QTRY_VERIFY_WITH_TIMEOUT(log.said(QStringLiteral("waiting for SSH"), op.id()), 20000);
            QCOMPARE(liveCount(), 1);
        } // the destructor cancels the create and waits for it to roll back
        QCOMPARE(liveCount(), 0);
    }

    /// close() returns at once; the running create is cancelled and rolled back on the workers, closed()
    /// follows, and work asked for afterwards fails saying the host was closed.
    void closeDoesNotWaitAndRefusesNewWork()
    {
        services::HostSession::Setup s = setup();
        s.createDefaults.waitReady = true; // a readiness wait that never ends unless cancelled
        s.createDefaults.readyTimeoutS = 600;
        services::HostSession session(s);
        test::OperationLog log(session.operations());
        QSignalSpy closed(&session, &services::HostSession::closed);
        must(await(session.open()));

        // New defaults reach later operations; a running one keeps its own.
        services::HostSession::Setup fresh = s;
        fresh.createDefaults.readyTimeoutS = 900;
        session.setDefaults(fresh);
        QCOMPARE(session.createDefaults().readyTimeoutS, 900);

        const auto create = session.create(createRequest(QStringLiteral("closing")), m_tester);
        QTRY_VERIFY_WITH_TIMEOUT(log.said(QStringLiteral("waiting for SSH"), create.id()), 20000);

        QElapsedTimer timer;
        timer.start();
        session.close();
        QVERIFY2(timer.elapsed() < 200, qPrintable(QStringLiteral("close took %1 ms").arg(timer.elapsed())));
        QVERIFY(session.isClosing());
        QVERIFY(closed.isEmpty()); // the create is still rolling back on its worker
        QTRY_COMPARE_WITH_TIMEOUT(closed.count(), 1, 20000);
        const Result<model::Sandbox> cancelled = wait(create);
        QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
        QVERIFY2(cancelled.error().message.contains(QLatin1String("cancelled")),
                 qPrintable(cancelled.error().message));
        QCOMPARE(session.operations()->find(create.id())->state, OperationState::Cancelled);
        QVERIFY(!session.isOpen());
        QCOMPARE(liveCount(), 0);

        const Result<model::Sandbox> refused = wait(session.start(QStringLiteral("whatever"), m_tester));
        QCOMPARE(refused.error().code, ErrorCode::Cancelled);
        QVERIFY2(refused.error().message.startsWith(QLatin1String("local was closed")),
                 qPrintable(refused.error().message));
        bool answered = false;
        QString shellError;
        session.openShell(QStringLiteral("whatever"), m_tester, this,
                          [&](Result<std::shared_ptr<ssh::RemoteShell>> shell) {
                              answered = true;
                              shellError = shell ? QString() : shell.error().message;
                          });
        QTRY_VERIFY(answered);
        QVERIFY2(shellError.startsWith(QLatin1String("local was closed")), qPrintable(shellError));
        session.close(); // again: nothing happens
        QTest::qWait(50);
        QCOMPARE(closed.count(), 1);
    }

    /// A create beyond the host's limits through the services: an approval is filed, the create waits for
    /// it holding no worker, an in-process decision lets it go on at once, a rejection ends it with the
    /// person's words, a decision another process records is noticed, and closing the host stops the wait.
    void overLimitCreateWaitsForAPersonWithoutAThread()
    {
        services::Services::Options options = test::testDriverServicesOptions(m_dir, &m_raw);
        options.config.settings.hosts.first().limits.maxMemoryMib = 1; // each create asks for 2
        options.approvalPollMs = 100;
        services::Services services(std::move(options));
        store::Database* db = must(services.openStoreHere());
        auto session = must(services.openHostSession(QStringLiteral("local")));
        test::OperationLog log(services.operations());
        approval::ApprovalBroker& broker = *services.approvals();
        const model::Actor agent = model::Actor::agent(QStringLiteral("s-1"));

        const auto pendingNow = [&]() {
            return must(broker.pending(*db));
        };
        const auto waitForRequest = [&]() -> model::Approval {
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < 20000) {
                if (const QList<model::Approval> p = pendingNow(); !p.isEmpty())
                    return p.first();
                QTest::qWait(20);
            }
            qFatal("no approval request was filed");
        };

        // Approved in this process: the create goes on at once.
        auto approved = session->create(createRequest(QStringLiteral("big")), agent);
        const model::Approval request = waitForRequest();
        QCOMPARE(request.kind, QStringLiteral("resources"));
        QCOMPARE(request.requestedBy, QStringLiteral("agent:s-1"));
        QVERIFY2(request.request.startsWith(QLatin1String("Create sandbox big (2 MiB, 1 vCPU) on ")),
                 qPrintable(request.request));
        QCOMPARE(request.context.value(QStringLiteral("over")).toArray().first().toString(),
                 QStringLiteral("sandboxes would use 2 MiB, the limit is 1 MiB"));
        QTRY_VERIFY_WITH_TIMEOUT(
            log.said(QStringLiteral("waiting for approval %1").arg(request.id), approved.id()), 20000);
        QTest::qWait(300); // well past the first look of the poll
        QVERIFY(!approved.future().isFinished());
        QCOMPARE(session->activeWorkers(), 0); // nobody parked on the answer
        QCOMPARE(broker.waiting(), 1);
        QCOMPARE(services.operations()->find(approved.id())->state, OperationState::Running);
        must(broker.decide(*db, request.id, true, m_tester, QStringLiteral("ok today"), request.contentHash));
        const model::Sandbox big = must(wait(approved));
        QCOMPARE(big.name, QStringLiteral("big"));
        QCOMPARE(broker.waiting(), 0);

        // Rejected: the create ends with the person's words, and nothing is left.
        auto rejected = session->create(createRequest(QStringLiteral("bigger")), agent);
        const model::Approval second = waitForRequest();
        must(broker.decide(*db, second.id, false, m_tester, QStringLiteral("not today")));
        const Result<model::Sandbox> refusal = wait(rejected);
        QCOMPARE(refusal.error().code, ErrorCode::Refused);
        QCOMPARE(refusal.error().message, QStringLiteral("person:tester rejected the request: not today"));
        QCOMPARE(liveCount(), 1);

        // Another process approves: its own broker over its own connection; the poll notices.
        auto elsewhere = session->create(createRequest(QStringLiteral("third")), agent);
        const model::Approval third = waitForRequest();
        {
            auto otherDb = must(store::Database::open(*services.databaseOptions()));
            approval::ApprovalBroker theirs(otherDb->options());
            must(theirs.decide(*otherDb, third.id, true, model::Actor::person(QStringLiteral("carol")), {}));
        }
        QCOMPARE(must(wait(elsewhere)).name, QStringLiteral("third"));

        // Closing the host while a create waits: the wait ends, the create is cancelled, nothing is made.
        auto abandoned = session->create(createRequest(QStringLiteral("fourth")), agent);
        const model::Approval fourth = waitForRequest();
        QCOMPARE(broker.waiting(), 1);
        QSignalSpy closed(session.get(), &services::HostSession::closed);
        session->close();
        QCOMPARE(wait(abandoned).error().code, ErrorCode::Cancelled);
        QCOMPARE(broker.waiting(), 0);
        QCOMPARE(must(store::ApprovalRepository(*db).get(fourth.id)).status, model::ApprovalStatus::Pending);
        QCOMPARE(liveCount(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(closed.count(), 1, 20000);
    }
};

QTEST_GUILESS_MAIN(TestHostSession)
#include "tst_hostsession.moc"

// SPDX-License-Identifier: Apache-2.0
// The services every front end starts from: the operation registry on its own (ids, actors, progress, cancel,
// typed results, the recent list), and Services as the CLI and the window use it (the store opened here or
// on its thread, the hosts following the settings, one broker and one registry for every host).
#include "approval/ApprovalBroker.h"
#include "base/Worker.h"
#include "services/Operations.h"
#include "services/Services.h"
#include "store/Queries.h"
#include "store/StoreWorker.h"
#include "TestSupport.h"

#include <QSignalSpy>
#include <QTest>
#include <QThread>

using namespace fluid;
using services::OperationInfo;
using services::OperationKind;
using services::OperationRegistry;
using services::OperationState;

class TestServices : public QObject {
    Q_OBJECT

    static OperationInfo describe(const QString& what, bool cancellable = true)
    {
        OperationInfo info;
        info.kind = OperationKind::Create;
        info.actor = model::Actor::agent(QStringLiteral("s-9"));
        info.host = QStringLiteral("local");
        info.subject = what;
        info.description = QStringLiteral("Create %1").arg(what);
        info.cancellable = cancellable;
        return info;
    }

private Q_SLOTS:
    void registryTracksAnOperationToItsEnd()
    {
        ManualClock clock;
        OperationRegistry registry(clock);
        QSignalSpy started(&registry, &OperationRegistry::started);
        QSignalSpy changed(&registry, &OperationRegistry::changed);
        QSignalSpy finished(&registry, &OperationRegistry::finished);

        auto op = registry.start<int>(describe(QStringLiteral("a")));
        QVERIFY(op.id() > 0);
        QCOMPARE(started.count(), 1);
        const OperationInfo running = *registry.find(op.id());
        QCOMPARE(running.state, OperationState::Running);
        QCOMPARE(running.actor, model::Actor::agent(QStringLiteral("s-9")));
        QCOMPARE(running.startedAt, clock.now());
        QCOMPARE(registry.running().size(), 1);

        op.progress(Progress{QStringLiteral("overlay"), QStringLiteral("creating the overlay disk"), 0.25});
        QCOMPARE(changed.count(), 1);
        QCOMPARE(registry.find(op.id())->progress.fraction, 0.25);
        QCOMPARE(registry.find(op.id())->progress.text(), QStringLiteral("creating the overlay disk"));

        clock.advance(1500);
        op.finish(42, QStringLiteral("made it"));
        op.finish(makeError(ErrorCode::Unknown, QStringLiteral("late")), {}); // only the first end counts
        op.progress(Progress{QStringLiteral("ignored"), {}, 1});              // nor progress after it
        QCOMPARE(finished.count(), 1);
        QCOMPARE(changed.count(), 1);
        const OperationInfo done = *registry.find(op.id());
        QCOMPARE(done.state, OperationState::Succeeded);
        QCOMPARE(done.outcome, QStringLiteral("made it"));
        QCOMPARE(done.finishedAt, clock.now());
        QVERIFY(!done.error);
        QCOMPARE(registry.result<int>(op.id())->value(), 42);
        QVERIFY(!registry.result<QString>(op.id())); // a result of another type is none
        QVERIFY(op.future().isFinished());
        QCOMPARE(*op.future().result(), 42);
        QVERIFY(registry.running().isEmpty());
        QCOMPARE(registry.recent().first().id, op.id());
    }

    void failuresKeepTheirCodeAndCancelsTheirState()
    {
        OperationRegistry registry;
        auto failing = registry.start<void>(describe(QStringLiteral("b")));
        failing.finish(makeError(ErrorCode::Refused, QStringLiteral("person:bob rejected the request")));
        const OperationInfo failed = *registry.find(failing.id());
        QCOMPARE(failed.state, OperationState::Failed);
        QCOMPARE(failed.error->code, ErrorCode::Refused);
        QCOMPARE(failed.outcome, QStringLiteral("person:bob rejected the request"));

        // Cancel: only a running, cancellable operation; its token fires, the registry says so.
        auto fixed = registry.start<void>(describe(QStringLiteral("c"), false));
        QVERIFY(!registry.cancel(fixed.id()));
        QVERIFY(!fixed.isCancelled());
        auto stoppable = registry.start<void>(describe(QStringLiteral("d")));
        QSignalSpy changed(&registry, &OperationRegistry::changed);
        QVERIFY(registry.cancel(stoppable.id()));
        QVERIFY(stoppable.isCancelled());
        QVERIFY(registry.find(stoppable.id())->cancelRequested);
        QCOMPARE(changed.count(), 1);
        stoppable.finish(makeError(ErrorCode::Cancelled, QStringLiteral("stopped")));
        QCOMPARE(registry.find(stoppable.id())->state, OperationState::Cancelled);
        QVERIFY(!registry.cancel(stoppable.id()));
        QVERIFY(!registry.cancel(999)); // unknown
        fixed.finish({});

        // A parent token (a closing host) cancels its operations.
        CancelToken host;
        auto child = registry.start<void>(describe(QStringLiteral("e"), false), host);
        host.cancel();
        QVERIFY(child.isCancelled());
        child.finish({});
    }

    void recentIsBoundedNewestFirst()
    {
        OperationRegistry registry(Clock::system(), 3);
        QList<quint64> ids;
        for (int i = 0; i < 5; ++i) {
            auto op = registry.start<int>(describe(QString::number(i)));
            op.finish(i);
            ids << op.id();
        }
        const QList<OperationInfo> recent = registry.recent(10);
        QCOMPARE(recent.size(), 3);
        QCOMPARE(recent.at(0).id, ids.at(4));
        QCOMPARE(recent.at(2).id, ids.at(2));
        QVERIFY(!registry.find(ids.at(0))); // forgotten with its result
        QVERIFY(!registry.result<int>(ids.at(0)));
        QCOMPARE(registry.recent(1).size(), 1);
    }

    void progressAndEndsFromWorkersReachTheRegistryThread()
    {
        OperationRegistry registry;
        test::OperationLog log(&registry);
        auto op = registry.start<QString>(describe(QStringLiteral("w")));
        QThread* worker = QThread::create([op]() {
            for (int i = 1; i <= 3; ++i)
                op.progress(Progress{QStringLiteral("step"), QString::number(i), i / 3.0});
            op.finish(QStringLiteral("done"), QStringLiteral("ok"));
        });
        worker->start();
        QVERIFY(worker->wait(10000));
        delete worker;
        QCOMPARE(await(op.future()).value(), QStringLiteral("done"));
        QTRY_COMPARE(log.finished.size(), 1);
        QCOMPARE(log.progress.size(), 3);
        QCOMPARE(log.progress.last().progress.message, QStringLiteral("3"));
    }

    void cliPathOpensTheStoreHereAndAHostSessionOfItsOwn()
    {
        const QString dir = test::makeTempDir(QStringLiteral("services"));
        services::Services services(test::testDriverServicesOptions(dir));
        QVERIFY(services.approvals() != nullptr);
        QVERIFY(services.operations() != nullptr);
        QVERIFY(!services.hosts()); // nothing opens before the store
        QVERIFY(!services.databaseOptions());
        QCOMPARE(services.openHostSession(QStringLiteral("local")).error().code, ErrorCode::Unavailable);

        store::Database* db = test::must(services.openStoreHere());
        QCOMPARE(test::must(services.openStoreHere()), db); // once
        QCOMPARE(services.databaseOptions()->sqlitePath, dir + QStringLiteral("/fluid.sqlite"));
        QCOMPARE(test::must(db->schemaVersion()), store::Database::latestSchemaVersion());
        QVERIFY(services.hosts());
        QCOMPARE(services.hosts()->sessions().size(), 1);

        // Every host's setup shares the process's registry and asks the process's broker.
        const services::HostSession::Setup setup = services.hostSetup(services.settings().hosts.first());
        QCOMPARE(setup.operations, services.operations());
        QVERIFY(bool(setup.admit));
        QCOMPARE(setup.certificateValidity, std::chrono::seconds(300)); // ssh.cert_ttl_minutes: 5

        auto session = test::must(services.openHostSession(QString())); // the first host
        QVERIFY(session->isOpen());
        QCOMPARE(session->operations(), services.operations());
        QCOMPARE(services.openHostSession(QStringLiteral("nowhere")).error().code, ErrorCode::NotFound);
        QVERIFY(test::must(store::hostNamed(*db, QStringLiteral("local"))).has_value());
    }

    void windowPathOpensTheStoreOnItsThreadAndFollowsTheSettings()
    {
        const QString dir = test::makeTempDir(QStringLiteral("services-window"));
        services::Services::Options options = test::testDriverServicesOptions(dir);
        options.config.settings.ssh.certTtlMinutes = 7;
        services::Services services(std::move(options));
        QSignalSpy opened(&services, &services::Services::storeOpened);
        services.start();
        QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, 20000);
        QVERIFY2(opened.first().value(0).toBool(), qPrintable(opened.first().value(1).toString()));
        QCOMPARE(services.storeWorker()->databaseOptions()->sqlitePath,
                 dir + QStringLiteral("/fluid.sqlite"));
        QVERIFY(services.hosts());
        services::HostSession* local = services.hosts()->session(QStringLiteral("local"));
        QVERIFY(local);
        QCOMPARE(services.hostSetup(services.settings().hosts.first()).certificateValidity,
                 std::chrono::seconds(7 * 60));

        // Saved settings: a second host joins, the first keeps its session.
        config::Settings saved = services.settings();
        config::HostSettings second = saved.hosts.first();
        second.name = QStringLiteral("second");
        saved.hosts << second;
        QCOMPARE(services.applySettings(saved), QStringLiteral("Hosts: second added."));
        QCOMPARE(services.hosts()->session(QStringLiteral("local")), local);
        QVERIFY(services.hosts()->session(QStringLiteral("second")));
        QCOMPARE(services.settings().hosts.size(), 2);
    }
};

QTEST_GUILESS_MAIN(TestServices)
#include "tst_services.moc"

// SPDX-License-Identifier: Apache-2.0
// Every repository, the migrations and the audit chain, against the backend FLUID_TEST_BACKEND names.
#include "StoreTestEnv.h"
#include "TestSupport.h"

#include "approval/ApprovalBroker.h"
#include "base/Clock.h"
#include "base/Worker.h"
#include "store/AuditAnchor.h"
#include "store/AuditLog.h"
#include "store/Lease.h"
#include "store/Migrations.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "store/StoreWorker.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlError>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <optional>

using namespace fluid;
using fluid::test::must;
using namespace fluid::model;
using namespace fluid::store;
using fluid::test::StoreTestEnv;

namespace {
QDateTime at(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC);
}

Host makeHost(const QString& name)
{
    return {newId(), name, QStringLiteral("qemu:///system"), QStringLiteral("SHA256:abc"), at(1000)};
}

Sandbox makeSandbox(const QString& hostId)
{
    Sandbox s;
    s.id = newId();
    s.name = QStringLiteral("sbx-1");
    s.hostId = hostId;
    s.domainName = QStringLiteral("fluid-sbx-1");
    s.state = SandboxState::Running;
    s.ip = QStringLiteral("10.0.0.5");
    s.memoryMib = 512;
    s.vcpus = 1;
    s.accelerator = QStringLiteral("tcg");
    s.overlayPath = QStringLiteral("/var/lib/libvirt/images/sbx-1.qcow2");
    s.createdAt = at(2000);
    s.updatedAt = at(3000);
    return s;
}

QStringList tableNames(Database& db)
{
    const QString sql =
        db.backend() == Backend::Sqlite
            ? QStringLiteral("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
            : QStringLiteral("SELECT tablename FROM pg_tables WHERE schemaname='public' ORDER BY "
                             "tablename");
    auto q = must(db.exec(sql));
    QStringList names;
    while (q.next())
        names << q.value(0).toString();
    return names;
}

void dropAuditTriggers(Database& db)
{
    if (db.backend() == Backend::Sqlite) {
        must(db.exec(QStringLiteral("DROP TRIGGER audit_events_no_update")));
        must(db.exec(QStringLiteral("DROP TRIGGER audit_events_no_delete")));
    } else {
        must(db.exec(QStringLiteral("DROP TRIGGER audit_events_append_only ON audit_events")));
    }
}
} // namespace

class TestStore : public QObject {
    Q_OBJECT

private:
    std::unique_ptr<Database> freshDb()
    {
        auto db = must(Database::open(StoreTestEnv::fresh()));
        must(db->migrate());
        return db;
    }

private Q_SLOTS:
    void initTestCase() { qInfo() << "backend:" << StoreTestEnv::backendName(); }

    void migratesFromEmpty()
    {
        auto db = must(Database::open(StoreTestEnv::fresh()));
        QCOMPARE(must(db->schemaVersion()), 0);
        must(db->migrate());
        QCOMPARE(must(db->schemaVersion()), Database::latestSchemaVersion());
        const QStringList tables = tableNames(*db);
        for (const char* t :
             {"hosts", "source_vms", "sandboxes", "snapshots", "diffs", "commands", "agent_sessions",
              "messages", "tool_calls", "approvals", "playbooks", "playbook_tasks", "audit_events",
              "schema_migrations", "store_identity", "leases"})
            QVERIFY2(tables.contains(QLatin1String(t)), t);
        // A second run is a no-op.
        must(db->migrate());
        QCOMPARE(must(db->schemaVersion()), Database::latestSchemaVersion());
        auto q = must(db->exec(QStringLiteral("SELECT COUNT(*) FROM schema_migrations")));
        QVERIFY(q.next());
        QCOMPARE(q.value(0).toInt(), migrations().size());
    }

    void postgresqlVerifiesTheServerWhenAsked()
    {
        if (StoreTestEnv::backend() != Backend::Postgresql)
            QSKIP("PostgreSQL only: tst_store_postgresql runs this");
        DatabaseOptions options = StoreTestEnv::fresh();
        QCOMPARE(options.pgHost, QStringLiteral("127.0.0.1"));
        const auto usesTls = [](Database& db) {
            auto q =
                must(db.exec(QStringLiteral("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")));
            return q.next() && q.value(0).toBool();
        };

        // verify-full against the server's own CA: connected, over TLS.
        options.pgSslMode = QStringLiteral("verify-full");
        options.pgSslRootCert = StoreTestEnv::postgresCa();
        QVERIFY(QFile::exists(options.pgSslRootCert));
        {
            auto db = must(Database::open(options));
            QVERIFY(usesTls(*db));
        }
        // The same server under a name its certificate does not carry: refused, saying why.
        DatabaseOptions otherName = options;
        otherName.pgHost = QStringLiteral("localhost");
        auto refused = Database::open(otherName);
        QVERIFY(!refused.ok());
        QVERIFY2(refused.error().toString().contains(QLatin1String("sslmode verify-full")),
                 qPrintable(refused.error().toString()));
        QVERIFY2(refused.error().toString().contains(QLatin1String("does not match host name")),
                 qPrintable(refused.error().toString()));
        // A CA that did not sign the server's certificate: refused.
        const QString strangerCa = test::makeTempDir(QStringLiteral("pg-ca")) + QStringLiteral("/ca.crt");
        QVERIFY(QProcess::execute(QStringLiteral("openssl"),
                                  {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                                   QStringLiteral("ec"), QStringLiteral("-pkeyopt"),
                                   QStringLiteral("ec_paramgen_curve:prime256v1"), QStringLiteral("-nodes"),
                                   QStringLiteral("-subj"), QStringLiteral("/CN=stranger"),
                                   QStringLiteral("-keyout"), strangerCa + QStringLiteral(".key"),
                                   QStringLiteral("-out"), strangerCa}) == 0);
        DatabaseOptions stranger = options;
        stranger.pgSslRootCert = strangerCa;
        QVERIFY(!Database::open(stranger).ok());
        // A path that could break out of the connect options never reaches libpq.
        DatabaseOptions injected = options;
        injected.pgSslRootCert = QStringLiteral("/tmp/ca.crt;sslmode=disable");
        auto bad = Database::open(injected);
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().code, ErrorCode::InvalidArgument);
        // disable: connected without TLS (the mode really reaches libpq).
        DatabaseOptions plain = options;
        plain.pgSslMode = QStringLiteral("disable");
        plain.pgSslRootCert.clear();
        auto db = must(Database::open(plain));
        QVERIFY(!usesTls(*db));
    }

    void migratesFromPreviousVersion_data()
    {
        QTest::addColumn<int>("previous");
        for (int v = 1; v < Database::latestSchemaVersion(); ++v)
            QTest::addRow("from v%d", v) << v;
    }

    void migratesFromPreviousVersion()
    {
        QFETCH(int, previous);
        const DatabaseOptions options = StoreTestEnv::fresh();
        Host host = makeHost(QStringLiteral("old"));
        {
            auto db = must(Database::open(options));
            must(db->migrate(previous));
            QCOMPARE(must(db->schemaVersion()), previous);
            QCOMPARE(tableNames(*db).contains(QStringLiteral("playbooks")), previous >= 2);
            // Rows written by the previous version, with the previous version's columns.
            must(
                db->exec(QStringLiteral("INSERT INTO hosts (id, name, uri, host_key_fingerprint, created_at) "
                                        "VALUES (?, ?, ?, ?, ?)"),
                         {host.id, host.name, host.uri, host.hostKeyFingerprint, qint64(1000)}));
            must(db->exec(
                QStringLiteral("INSERT INTO sandboxes (id, name, host_id, domain_name, state, created_at, "
                               "updated_at) VALUES ('s1', 'sbx-old', ?, 'fluid-sbx-old', 'stopped', 5, 6)"),
                {host.id}));
            if (previous >= 2) {
                // A message as the previous version wrote it: plain text before version 5, JSON parts since.
                must(db->exec(QStringLiteral("INSERT INTO agent_sessions (id, task, mode, state, created_at) "
                                             "VALUES ('a1', 'task', 'edit', 'finished', 1)")));
                const QString content =
                    previous < 5
                        ? QStringLiteral("it's \"quoted\"\nand two lines")
                        : QStringLiteral(
                              "[{\"type\":\"text\",\"text\":\"it's \\\"quoted\\\"\\nand two lines\"}]");
                must(db->exec(
                    QStringLiteral("INSERT INTO messages (id, session_id, seq, role, content, created_at) "
                                   "VALUES ('m1', 'a1', 0, 'user', ?, 2)"),
                    {content}));
            }
            AuditLog audit(*db);
            must(audit.append(QStringLiteral("system"), QStringLiteral("host.add"),
                              QStringLiteral("added old")));
            must(audit.append(QStringLiteral("system"), QStringLiteral("sandbox.create"),
                              QStringLiteral("made s1")));
        }
        auto db = must(Database::open(options));
        must(db->migrate());
        QCOMPARE(must(db->schemaVersion()), Database::latestSchemaVersion());
        QCOMPARE(must(HostRepository(*db).get(host.id)).name, host.name);
        const Sandbox old = must(SandboxRepository(*db).get(QStringLiteral("s1")));
        QCOMPARE(old.state, SandboxState::Stopped);
        QCOMPARE(old.accelerator, QString());
        // A sandbox from before principals (schema 8) keeps logging in by its name.
        QCOMPARE(old.principal, QString());
        QCOMPARE(principalOf(old), QStringLiteral("sbx-old"));
        QVERIFY(must(AuditLog(*db).verify()).intact());
        if (previous >= 2) {
            const Message m = must(MessageRepository(*db).get(QStringLiteral("m1")));
            QCOMPARE(m.content, QList<ContentPart>{
                                    ContentPart::textPart(QStringLiteral("it's \"quoted\"\nand two lines"))});
            QCOMPARE(must(AgentSessionRepository(*db).get(QStringLiteral("a1"))).state,
                     AgentSessionState::Finished);
        }
        // New tables work after the upgrade.
        Playbook p{
            newId(), QStringLiteral("s1"), QString(), QStringLiteral("web"), QStringLiteral("all"), at(1),
            at(2)};
        must(PlaybookRepository(*db).insert(p));
        QCOMPARE(must(PlaybookRepository(*db).get(p.id)).name, QStringLiteral("web"));
    }

    void storeIdIsMadeOnceAndDiffersPerStore()
    {
        const DatabaseOptions options = StoreTestEnv::fresh();
        QString first;
        {
            auto db = must(Database::open(options));
            must(db->migrate(5));
            QVERIFY(!tableNames(*db).contains(QStringLiteral("store_identity")));
            must(db->migrate());
            first = must(storeId(*db));
            QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-f]{16}$")).match(first).hasMatch(),
                     qPrintable(first));
        }
        // The same on every later open and migrate.
        auto again = must(Database::open(options));
        must(again->migrate());
        QCOMPARE(must(storeId(*again)), first);
        // Another store has another.
        auto other = freshDb();
        QVERIFY(must(storeId(*other)) != first);
    }

    void leasesHaveOneLiveHolder()
    {
        auto db = freshDb();
        const QString name = QStringLiteral("create:s1");
        QCOMPARE(must(acquireLease(*db, name, QStringLiteral("a"), 1000, 2000)), QStringLiteral("a"));
        // Held and live: another holder does not get it; the holder itself may take it again.
        QCOMPARE(must(acquireLease(*db, name, QStringLiteral("b"), 1500, 2500)), QStringLiteral("a"));
        QCOMPARE(must(acquireLease(*db, name, QStringLiteral("a"), 1500, 3000)), QStringLiteral("a"));
        QCOMPARE(must(acquireLease(*db, name, QStringLiteral("b"), 2999, 4000)), QStringLiteral("a"));
        QVERIFY(must(renewLease(*db, name, QStringLiteral("a"), 3500)));
        QVERIFY(!must(renewLease(*db, name, QStringLiteral("b"), 9000)));
        // Run out: the next holder takes it over, and the old one can no longer renew or release it.
        QCOMPARE(must(acquireLease(*db, name, QStringLiteral("b"), 3500, 5000)), QStringLiteral("b"));
        QVERIFY(!must(renewLease(*db, name, QStringLiteral("a"), 9000)));
        must(releaseLease(*db, name, QStringLiteral("a")));
        QCOMPARE(must(acquireLease(*db, name, QStringLiteral("c"), 4000, 6000)), QStringLiteral("b"));
        // Released: free for anyone at once. Other names are independent.
        must(releaseLease(*db, name, QStringLiteral("b")));
        QCOMPARE(must(acquireLease(*db, name, QStringLiteral("c"), 4000, 6000)), QStringLiteral("c"));
        QCOMPARE(must(acquireLease(*db, QStringLiteral("create:s2"), QStringLiteral("d"), 4000, 6000)),
                 QStringLiteral("d"));
    }

    void leaseRenewsAndReleases()
    {
        auto db = freshDb();
        ManualClock clock;
        const QString name = QStringLiteral("reconcile:h1");
        QString heldBy;
        {
            auto lease = must(Lease::acquire(*db, name, 1000, clock));
            QVERIFY(lease.has_value());
            QVERIFY(!must(Lease::acquire(*db, name, 1000, clock, &heldBy)).has_value());
            QCOMPARE(heldBy, lease->holder());
            // Renewed as it works, it outlives its first term.
            for (int i = 0; i < 10; ++i) {
                clock.advance(400);
                must(lease->keepAlive());
            }
            QVERIFY(!must(Lease::acquire(*db, name, 1000, clock)).has_value());
            // Not renewed, it runs out and is taken over; the old holder learns it on its next renewal.
            clock.advance(1001);
            auto next = must(Lease::acquire(*db, name, 1000, clock));
            QVERIFY(next.has_value());
            QCOMPARE(lease->renew().error().code, ErrorCode::Refused);
            lease.reset();
            // The old holder's release leaves the new holder's lease be.
            QVERIFY(!must(Lease::acquire(*db, name, 1000, clock)).has_value());
        }
        // Released when it goes out of scope.
        QVERIFY(must(Lease::acquire(*db, name, 1000, clock)).has_value());
    }

    /// Connections of their own (as processes have) asking at the same moment: one gets it.
    void leaseAcquiredByOneOfManyAtOnce()
    {
        auto db = freshDb();
        const DatabaseOptions options = db->options();
        constexpr int kThreads = 6;
        std::atomic<int> ready{0};
        std::vector<std::optional<bool>> got(kThreads);
        std::vector<std::unique_ptr<QThread>> threads;
        for (int i = 0; i < kThreads; ++i) {
            threads.emplace_back(QThread::create([&, i] {
                auto mine = Database::open(options);
                if (!mine)
                    return;
                ++ready;
                while (ready.load() < kThreads) {
                }
                const QString holder = QStringLiteral("t%1").arg(i);
                const qint64 now = QDateTime::currentMSecsSinceEpoch();
                auto held = acquireLease(**mine, QStringLiteral("reconcile:h"), holder, now, now + 60000);
                if (held)
                    got[size_t(i)] = *held == holder;
            }));
            threads.back()->start();
        }
        for (auto& t : threads)
            QVERIFY(t->wait(60000));
        int winners = 0;
        for (const auto& g : got) {
            QVERIFY(g.has_value());
            winners += *g ? 1 : 0;
        }
        QCOMPARE(winners, 1);
    }

    void refusesNewerSchema()
    {
        auto db = freshDb();
        must(db->exec(
            QStringLiteral("INSERT INTO schema_migrations (version, description, applied_at) VALUES (999, "
                           "'future', 0)")));
        auto r = db->migrate();
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message.contains(QLatin1String("newer")), qPrintable(r.error().message));
    }

    void hostsAndSourceVms()
    {
        auto db = freshDb();
        HostRepository hosts(*db);
        Host h = makeHost(QStringLiteral("local"));
        must(hosts.insert(h));
        QCOMPARE(must(hosts.get(h.id)).uri, h.uri);
        QCOMPARE(must(hosts.get(h.id)).createdAt, h.createdAt);
        // Names are unique.
        Host dup = makeHost(QStringLiteral("local"));
        auto r = hosts.insert(dup);
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Database);

        h.hostKeyFingerprint = QStringLiteral("SHA256:new");
        must(hosts.update(h));
        QCOMPARE(must(hosts.get(h.id)).hostKeyFingerprint, QStringLiteral("SHA256:new"));
        QCOMPARE(hosts.update(makeHost(QStringLiteral("ghost"))).error().code, ErrorCode::NotFound);
        QCOMPARE(hosts.get(QStringLiteral("nope")).error().code, ErrorCode::NotFound);

        SourceVm vm;
        vm.id = newId();
        vm.hostId = h.id;
        vm.domainName = QStringLiteral("golden-bookworm");
        vm.diskPath = QStringLiteral("/var/lib/libvirt/images/golden.qcow2");
        vm.diskFormat = QStringLiteral("qcow2");
        vm.memoryMib = 512;
        vm.vcpus = 2;
        vm.golden = true;
        vm.createdAt = at(5);
        SourceVmRepository vms(*db);
        must(vms.insert(vm));
        const SourceVm back = must(vms.get(vm.id));
        QCOMPARE(back.golden, true);
        QCOMPARE(back.vcpus, 2);
        QCOMPARE(must(vms.list()).size(), 1);
        QCOMPARE(must(hostNamed(*db, h.name))->id, h.id);
        QVERIFY(!must(hostNamed(*db, QStringLiteral("nobody"))).has_value());
        // Deleting the host cascades to its source VMs.
        must(hosts.remove(h.id));
        QCOMPARE(must(vms.count()), 0);
        QCOMPARE(hosts.remove(h.id).error().code, ErrorCode::NotFound);
    }

    void sandboxesSnapshotsDiffs()
    {
        auto db = freshDb();
        Host h = makeHost(QStringLiteral("local"));
        must(HostRepository(*db).insert(h));
        SandboxRepository sandboxes(*db);
        Sandbox s = makeSandbox(h.id);
        must(sandboxes.insert(s));
        Sandbox back = must(sandboxes.get(s.id));
        QCOMPARE(back.state, SandboxState::Running);
        QCOMPARE(back.sourceVmId, QString());
        QCOMPARE(back.accelerator, QStringLiteral("tcg"));
        QCOMPARE(back.updatedAt, s.updatedAt);
        // The named queries: live rows newest first, by name, by domain.
        Sandbox newer = makeSandbox(h.id);
        newer.name = QStringLiteral("sbx-2");
        newer.domainName = QStringLiteral("fluid-sbx-2");
        newer.state = SandboxState::Stopped;
        newer.createdAt = at(2500);
        must(sandboxes.insert(newer));
        QList<Sandbox> live = must(liveSandboxes(*db, h.id));
        QCOMPARE(live.size(), 2);
        QCOMPARE(live.at(0).id, newer.id);
        QCOMPARE(must(liveSandboxNamed(*db, h.id, QStringLiteral("sbx-1")))->id, s.id);
        QCOMPARE(must(settledSandboxesOfDomain(*db, QStringLiteral("fluid-sbx-2"))).size(), 1);
        s.state = SandboxState::Destroyed;
        must(sandboxes.update(s));
        live = must(liveSandboxes(*db, h.id));
        QCOMPARE(live.size(), 1);
        QCOMPARE(live.first().id, newer.id);
        QVERIFY(!must(liveSandboxNamed(*db, h.id, QStringLiteral("sbx-1"))).has_value());
        QCOMPARE(must(allSandboxes(*db, h.id)).size(), 2);
        QVERIFY(must(settledSandboxesOfDomain(*db, s.domainName)).isEmpty());
        must(sandboxes.remove(newer.id));

        // A sandbox must belong to a known host (foreign keys are on).
        Sandbox orphan = makeSandbox(QStringLiteral("no-such-host"));
        QVERIFY(!sandboxes.insert(orphan).ok());

        SnapshotRepository snapshots(*db);
        Snapshot a{newId(), s.id, QStringLiteral("baseline"), SnapshotKind::Baseline, QString(), at(10)};
        Snapshot b{newId(), s.id, QStringLiteral("after"), SnapshotKind::Manual, QStringLiteral("x"), at(20)};
        must(snapshots.insert(a));
        must(snapshots.insert(b));
        QCOMPARE(must(snapshotNamed(*db, s.id, QStringLiteral("after")))->id, b.id);
        QCOMPARE(must(snapshotNamed(*db, s.id, QStringLiteral("baseline")))->kind, SnapshotKind::Baseline);
        // Enums are stored by their names.
        auto kind = must(db->exec(QStringLiteral("SELECT kind FROM snapshots WHERE id = ?"), {a.id}));
        QVERIFY(kind.next());
        QCOMPARE(kind.value(0).toString(), QStringLiteral("baseline"));
        Snapshot gone{newId(), s.id, QStringLiteral("gone"), SnapshotKind::Auto, QString(), at(25)};
        must(snapshots.insert(gone));
        must(removeSnapshotNamed(*db, s.id, QStringLiteral("gone")));
        QVERIFY(!must(snapshotNamed(*db, s.id, QStringLiteral("gone"))).has_value());

        QVERIFY(!must(findDiff(*db, a.id, b.id)).has_value());
        Diff d{newId(),
               s.id,
               a.id,
               b.id,
               QJsonObject{{QStringLiteral("added"), 3}},
               QByteArray("{\"files\":[]}"),
               at(30)};
        must(DiffRepository(*db).insert(d));
        const auto found = must(findDiff(*db, a.id, b.id));
        QVERIFY(found.has_value());
        QCOMPARE(found->summary.value(QStringLiteral("added")).toInt(), 3);
        QCOMPARE(found->content, d.content);

        // Removing the sandbox cascades to its snapshots and diffs.
        must(sandboxes.remove(s.id));
        QCOMPARE(must(snapshots.count()), 0);
        QCOMPARE(must(DiffRepository(*db).count()), 0);
    }

    void commandsKeepBytesAndFlags()
    {
        auto db = freshDb();
        Host h = makeHost(QStringLiteral("local"));
        must(HostRepository(*db).insert(h));
        Sandbox s = makeSandbox(h.id);
        must(SandboxRepository(*db).insert(s));

        CommandRepository commands(*db);
        Command ok;
        ok.id = newId();
        ok.sandboxId = s.id;
        ok.command = QStringLiteral("printf 'a\\0b' | cat; echo \"$HOME\" `id`");
        ok.stdoutData = QByteArray("a\0b\xff\xfe", 5);
        ok.stderrData = QByteArray("warning\n");
        ok.exitCode = 0;
        ok.stdoutBytes = 5;
        ok.stderrBytes = 8;
        ok.startedAt = at(100);
        ok.finishedAt = at(150);
        must(commands.insert(ok));
        Command back = must(commands.get(ok.id));
        QCOMPARE(back.command, ok.command);
        QCOMPARE(back.stdoutData, ok.stdoutData);
        QCOMPARE(back.stderrData, ok.stderrData);
        QCOMPARE(back.exitCode, std::optional<int>(0));
        QCOMPARE(back.finishedAt, ok.finishedAt);

        Command killed;
        killed.id = newId();
        killed.sandboxId = s.id;
        killed.command = QStringLiteral("sleep 1000");
        killed.signal = QStringLiteral("KILL");
        killed.timedOut = true;
        killed.stdoutTruncated = true;
        killed.stdoutBytes = 10'000'000'000LL;
        killed.startedAt = at(200);
        must(commands.insert(killed));
        back = must(commands.get(killed.id));
        QVERIFY(!back.exitCode.has_value());
        QCOMPARE(back.signal, QStringLiteral("KILL"));
        QVERIFY(back.timedOut);
        QVERIFY(back.stdoutTruncated);
        QVERIFY(!back.stderrTruncated);
        QCOMPARE(back.stdoutBytes, 10'000'000'000LL);
        QVERIFY(!back.finishedAt.isValid());
    }

    void secretsAreRedactedOnWrite()
    {
        auto db = freshDb();
        Host h = makeHost(QStringLiteral("local"));
        must(HostRepository(*db).insert(h));
        Sandbox s = makeSandbox(h.id);
        must(SandboxRepository(*db).insert(s));

        const QString key = QStringLiteral("sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234");
        Command c;
        c.id = newId();
        c.sandboxId = s.id;
        c.command = QStringLiteral("curl -H 'Authorization: Bearer %1' https://api.example/v1").arg(key);
        c.stdoutData = QByteArray("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END "
                                  "OPENSSH PRIVATE KEY-----\nok\n");
        c.stderrData = QByteArray("\x00\x01sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234\xff\xfe", 40);
        c.startedAt = at(1);
        must(CommandRepository(*db).insert(c));
        const Command back = must(CommandRepository(*db).get(c.id));
        QVERIFY(!back.command.contains(key));
        QVERIFY(back.command.contains(QLatin1String("[REDACTED]")));
        QVERIFY(!back.stdoutData.contains("b3BlbnNzaC1rZXktdjEAAAAA"));
        QVERIFY(back.stdoutData.endsWith("ok\n"));
        // Binary output keeps every byte except the secret in it.
        QCOMPARE(back.stderrData, QByteArray("\x00\x01[REDACTED]\xff\xfe", 14));
        Command binary = c;
        binary.id = newId();
        binary.stderrData = QByteArray("\x00\xff\xfe\x80plain", 9);
        must(CommandRepository(*db).insert(binary));
        QCOMPARE(must(CommandRepository(*db).get(binary.id)).stderrData, binary.stderrData);

        // Playbook task arguments are approved by hash and must run as written.
        Playbook p{newId(), s.id, QString(), QStringLiteral("p"), QStringLiteral("all"), at(1), at(1)};
        must(PlaybookRepository(*db).insert(p));
        PlaybookTask t;
        t.name = QStringLiteral("set password");
        t.module = QStringLiteral("ansible.builtin.user");
        t.args = QJsonObject{{QStringLiteral("password"), QStringLiteral("{{ vault_pw }}")}};
        must(replacePlaybookTasks(*db, p.id, {t}));
        QCOMPARE(must(playbookTasks(*db, p.id)).first().args, t.args);

        // Audit summaries and data are redacted before hashing.
        AuditLog audit(*db);
        const AuditEvent e = must(audit.append(QStringLiteral("person"), QStringLiteral("llm.key"),
                                               QStringLiteral("set key %1").arg(key),
                                               QJsonObject{{QStringLiteral("api_key"), key}}));
        QVERIFY(!e.summary.contains(key));
        QCOMPARE(e.data.value(QStringLiteral("api_key")).toString(), QStringLiteral("[REDACTED]"));
        QVERIFY(must(audit.verify()).intact());
    }

    void sessionsMessagesToolCalls()
    {
        auto db = freshDb();
        AgentSession session{newId(),
                             QString(),
                             QStringLiteral("install nginx"),
                             AgentMode::Edit,
                             QStringLiteral("openai"),
                             QStringLiteral("gpt"),
                             AgentSessionState::Active,
                             at(1),
                             {}};
        must(AgentSessionRepository(*db).insert(session));
        const AgentSession storedSession = must(AgentSessionRepository(*db).get(session.id));
        QCOMPARE(storedSession.task, session.task);
        QCOMPARE(storedSession.mode, AgentMode::Edit);
        QCOMPARE(storedSession.state, AgentSessionState::Active);
        MessageRepository messages(*db);
        const auto message = [&](int seq, MessageRole role, QList<ContentPart> content, int tokens) {
            return Message{newId(), session.id, seq, role, std::move(content), tokens, at(seq)};
        };
        for (int i : {2, 0, 1}) {
            must(messages.insert(message(i, i == 0 ? MessageRole::User : MessageRole::Assistant,
                                         {ContentPart::textPart(QStringLiteral("m%1").arg(i))}, 10 * i)));
        }
        const QList<Message> ordered = must(sessionMessages(*db, session.id));
        QCOMPARE(ordered.size(), 3);
        QCOMPARE(ordered.at(0).text(), QStringLiteral("m0"));
        QCOMPARE(ordered.at(0).role, MessageRole::User);
        QCOMPARE(ordered.at(2).tokens, 20);
        // (session, seq) is unique.
        QVERIFY(
            !messages.insert(message(1, MessageRole::User, {ContentPart::textPart(QStringLiteral("dup"))}, 0))
                 .ok());
        // Structured content: text, a tool call and its result come back as they went in.
        const QList<ContentPart> parts = {
            ContentPart::textPart(QStringLiteral("Installing nginx.")),
            ContentPart::toolCall(
                QStringLiteral("call-1"), QStringLiteral("run_command"),
                QJsonObject{{QStringLiteral("command"), QStringLiteral("apt-get install -y nginx")}})};
        must(messages.insert(message(3, MessageRole::Assistant, parts, 5)));
        must(messages.insert(
            message(4, MessageRole::Tool,
                    {ContentPart::toolResult(QStringLiteral("call-1"), QStringLiteral("E: no"), true)}, 0)));
        const QList<Message> all = must(sessionMessages(*db, session.id));
        QCOMPARE(all.at(3).content, parts);
        QCOMPARE(all.at(3).text(), QStringLiteral("Installing nginx."));
        QCOMPARE(all.at(4).role, MessageRole::Tool);
        QCOMPARE(all.at(4).content.first().kind, ContentPart::Kind::ToolResult);
        QVERIFY(all.at(4).content.first().isError);

        ToolCall call{newId(),
                      session.id,
                      ordered.at(1).id,
                      QStringLiteral("run_command"),
                      QJsonObject{{QStringLiteral("command"), QStringLiteral("apt-get install -y nginx")}},
                      QStringLiteral("exit 0"),
                      ToolCallStatus::Ok,
                      at(5),
                      at(6)};
        must(ToolCallRepository(*db).insert(call));
        const ToolCall back = must(ToolCallRepository(*db).get(call.id));
        QCOMPARE(back.arguments, call.arguments);
        QCOMPARE(back.status, ToolCallStatus::Ok);
        QCOMPARE(back.finishedAt, call.finishedAt);
        must(AgentSessionRepository(*db).remove(session.id));
        QCOMPARE(must(messages.count()), 0);
        QCOMPARE(must(ToolCallRepository(*db).count()), 0);
    }

    void approvals()
    {
        auto db = freshDb();
        Approval a;
        a.id = newId();
        a.kind = QStringLiteral("resources");
        a.sandboxId = QStringLiteral("sbx");
        a.request = QStringLiteral("8192 MiB over the host limit");
        a.context = QJsonObject{{QStringLiteral("memoryMib"), 8192}};
        a.contentHash = QStringLiteral("ab12");
        a.requestedBy = QStringLiteral("agent:1");
        a.createdAt = at(10);
        a.expiresAt = at(100);
        ApprovalRepository approvals(*db);
        must(approvals.insert(a));
        QCOMPARE(must(pendingApprovals(*db)).size(), 1);
        QCOMPARE(must(approvalsWithIds(*db, {a.id, QStringLiteral("nope")})).size(), 1);
        a.status = ApprovalStatus::Approved;
        a.decidedBy = QStringLiteral("alice");
        a.comment = QStringLiteral("fine for today");
        a.decidedAt = at(50);
        must(approvals.update(a));
        const Approval back = must(approvals.get(a.id));
        QCOMPARE(back.status, ApprovalStatus::Approved);
        QCOMPARE(back.decidedBy, QStringLiteral("alice"));
        QCOMPARE(back.context.value(QStringLiteral("memoryMib")).toInt(), 8192);
        QCOMPARE(back.expiresAt, a.expiresAt);
        QCOMPARE(back.decidedAt, a.decidedAt);
    }

    void approvalBrokerPendingHistoryAndTamper()
    {
        auto db = freshDb();
        ManualClock clock;
        const QDateTime t0 = clock.now();
        approval::ApprovalBroker broker(db->options(), clock);
        const model::Actor alice = model::Actor::person(QStringLiteral("alice"));
        Approval a;
        a.kind = QStringLiteral("resources");
        a.request = QStringLiteral("brief");
        const Approval brief = must(broker.request(*db, a, model::Actor::agent(QStringLiteral("s-1")), 1000));
        clock.advance(10);
        a.request = QStringLiteral("long");
        const Approval lasting =
            must(broker.request(*db, a, model::Actor::agent(QStringLiteral("s-1")), 60000));
        QCOMPARE(must(broker.pending(*db)).size(), 2);
        QCOMPARE(must(broker.history(*db)).size(), 0);

        // pending() marks what is due as expired: it expired when its time was up, not when noticed.
        clock.advance(1500);
        const QList<Approval> waiting = must(broker.pending(*db));
        QCOMPARE(waiting.size(), 1);
        QCOMPARE(waiting.first().id, lasting.id);
        const Approval expired = must(ApprovalRepository(*db).get(brief.id));
        QCOMPARE(expired.status, ApprovalStatus::Expired);
        QCOMPARE(expired.decidedBy, QStringLiteral("system"));
        QCOMPARE(expired.decidedAt, t0.addMSecs(1000));

        clock.advance(100);
        must(broker.decide(*db, lasting.id, true, alice, QStringLiteral("ok"), lasting.contentHash));
        const QList<Approval> history = must(broker.history(*db));
        QCOMPARE(history.size(), 2);
        QCOMPARE(history.at(0).id, lasting.id); // most recently decided first
        QCOMPARE(history.at(1).id, brief.id);
        QCOMPARE(must(broker.history(*db, 1)).size(), 1);

        // A request edited in the store behind the broker (its hash column unchanged) cannot be approved,
        // whatever hash the decider saw; rejecting it still works.
        a.request = QStringLiteral("small");
        const Approval edited =
            must(broker.request(*db, a, model::Actor::agent(QStringLiteral("s-1")), 60000));
        must(db->exec(QStringLiteral("UPDATE approvals SET request = 'huge' WHERE id = ?"), {edited.id}));
        const auto refused = broker.decide(*db, edited.id, true, alice, {}, edited.contentHash);
        QCOMPARE(refused.error().code, ErrorCode::Tampered);
        QVERIFY(refused.error().message.contains(QLatin1String("changed in the store after it was filed")));
        QCOMPARE(must(broker.decide(*db, edited.id, false, alice, QStringLiteral("edited"))).status,
                 ApprovalStatus::Rejected);

        // What is stored is redacted; the hash binds to the stored content, so it can still be approved.
        a.request = QStringLiteral("use key sk-abcdefghijklmnopqrstuvwx for the mirror");
        const Approval secret =
            must(broker.request(*db, a, model::Actor::agent(QStringLiteral("s-1")), 60000));
        QVERIFY(!secret.request.contains(QLatin1String("sk-abcdefghijklmnop")));
        QCOMPARE(secret.contentHash, approval::contentHash(secret.kind, secret.request, secret.context));
        QCOMPARE(must(ApprovalRepository(*db).get(secret.id)).contentHash, secret.contentHash);
        must(broker.decide(*db, secret.id, true, alice, {}, secret.contentHash));
        QCOMPARE(must(ApprovalRepository(*db).get(secret.id)).decidedBy, QStringLiteral("person:alice"));
        QCOMPARE(must(ApprovalRepository(*db).get(secret.id)).requestedBy, QStringLiteral("agent:s-1"));
    }

    void approvalWaitsAreFuturesAnsweredAtOnceInProcess()
    {
        auto db = freshDb();
        // A poll so slow that only the in-process notification can answer within the test's limits.
        approval::ApprovalBroker broker(db->options(), Clock::system(), 60 * 60 * 1000);
        model::Approval a;
        a.kind = QStringLiteral("resources");
        a.request = QStringLiteral("more memory");
        const Approval filed = must(broker.request(*db, a, model::Actor::system(), 60000));
        QFuture<Result<Approval>> decision = broker.decision(filed.id);
        QCOMPARE(broker.waiting(), 1);
        QThread::msleep(100); // the first look of the poll has come and gone
        QVERIFY(!decision.isFinished());
        QElapsedTimer timer;
        timer.start();
        must(broker.decide(*db, filed.id, true, model::Actor::person(QStringLiteral("bob")), {},
                           filed.contentHash));
        QVERIFY(decision.isFinished()); // at once, not at the next poll
        QVERIFY(timer.elapsed() < 1000);
        QCOMPARE(decision.result()->status, ApprovalStatus::Approved);
        QCOMPARE(broker.waiting(), 0);

        // A decision recorded before the wait began is found by the first look.
        const Approval early = must(broker.request(*db, a, model::Actor::system(), 60000));
        must(broker.decide(*db, early.id, false, model::Actor::person(QStringLiteral("bob")),
                           QStringLiteral("no")));
        QCOMPARE(test::must(await(broker.decision(early.id))).status, ApprovalStatus::Rejected);

        // Cancel ends the wait with Cancelled; no waiter is left behind.
        const Approval other = must(broker.request(*db, a, model::Actor::system(), 60000));
        CancelToken cancel;
        QFuture<Result<Approval>> stopped = broker.decision(other.id, cancel);
        cancel.cancel();
        QVERIFY(stopped.isFinished());
        QCOMPARE(stopped.result().error().code, ErrorCode::Cancelled);
        QCOMPARE(broker.waiting(), 0);
        QCOMPARE(await(broker.decision(QStringLiteral("no-such-request"))).error().code, ErrorCode::NotFound);
    }

    void approvalWaitsSeeOtherProcessesAndExpiry()
    {
        auto db = freshDb();
        ManualClock clock;
        approval::ApprovalBroker broker(db->options(), clock, 50);
        model::Approval a;
        a.kind = QStringLiteral("egress");
        a.request = QStringLiteral("deb.debian.org:443");
        const Approval filed = must(broker.request(*db, a, model::Actor::system(), 60000));
        QFuture<Result<Approval>> decision = broker.decision(filed.id);
        // Another process decides: a broker of its own, over a connection of its own.
        {
            auto elsewhere = must(Database::open(db->options()));
            approval::ApprovalBroker theirs(elsewhere->options(), clock);
            must(
                theirs.decide(*elsewhere, filed.id, true, model::Actor::person(QStringLiteral("carol")), {}));
        }
        QTRY_VERIFY_WITH_TIMEOUT(decision.isFinished(), 5000);
        QCOMPARE(decision.result()->decidedBy, QStringLiteral("person:carol"));

        // Nobody decides: the poll marks it expired when its time is up.
        const Approval lapsing = must(broker.request(*db, a, model::Actor::system(), 1000));
        QFuture<Result<Approval>> expiry = broker.decision(lapsing.id);
        QThread::msleep(200);
        QVERIFY(!expiry.isFinished());
        clock.advance(1500);
        QTRY_VERIFY_WITH_TIMEOUT(expiry.isFinished(), 5000);
        QCOMPARE(expiry.result()->status, ApprovalStatus::Expired);
        QCOMPARE(must(ApprovalRepository(*db).get(lapsing.id)).status, ApprovalStatus::Expired);
    }

    void threadConnectionsAreKeptPerThread()
    {
        const DatabaseOptions options = StoreTestEnv::fresh();
        must(must(Database::open(options))->migrate());
        Database* first = must(threadConnection(options));
        QCOMPARE(must(threadConnection(options)), first); // the same connection on this thread
        Database* other = nullptr;
        QThread* t = QThread::create([&]() {
            other = must(threadConnection(options));
            QCOMPARE(must(threadConnection(options)), other);
            must(AuditLog(*other).append(QStringLiteral("system"), QStringLiteral("k"),
                                         QStringLiteral("there")));
        });
        t->start();
        QVERIFY(t->wait(30000));
        delete t; // its connection closed with the thread
        QVERIFY(other != nullptr && other != first);
        QCOMPARE(must(AuditLog(*first).list()).size(), 1);
    }

    void playbookTasksKeepOrder()
    {
        auto db = freshDb();
        Playbook p{newId(), QString(), QString(), QStringLiteral("web"), QStringLiteral("web"), at(1), at(1)};
        must(PlaybookRepository(*db).insert(p));
        QList<PlaybookTask> tasks;
        for (const char* n : {"install", "configure", "start"}) {
            PlaybookTask t;
            t.name = QLatin1String(n);
            t.module = QStringLiteral("ansible.builtin.command");
            t.createdAt = at(1);
            tasks << t;
        }
        must(replacePlaybookTasks(*db, p.id, tasks));
        std::reverse(tasks.begin(), tasks.end());
        must(replacePlaybookTasks(*db, p.id, tasks));
        const QList<PlaybookTask> back = must(playbookTasks(*db, p.id));
        QCOMPARE(back.size(), 3);
        QCOMPARE(back.at(0).name, QStringLiteral("start"));
        QCOMPARE(back.at(2).name, QStringLiteral("install"));
        QCOMPARE(back.at(2).position, 2);
    }

    void auditChainVerifies()
    {
        auto db = freshDb();
        ManualClock clock;
        AuditLog audit(*db, clock);
        QVERIFY(must(audit.verify()).intact());
        QCOMPARE(must(audit.verify()).rowsChecked, 0);
        QString prev = AuditLog::genesisHash();
        for (int i = 1; i <= 5; ++i) {
            clock.advance(1000);
            const AuditEvent e = must(audit.append(
                QStringLiteral("system"), QStringLiteral("sandbox.event"), QStringLiteral("event %1").arg(i),
                QJsonObject{{QStringLiteral("i"), i}}, QStringLiteral("sbx")));
            QCOMPARE(e.seq, qint64(i));
            QCOMPARE(e.prevHash, prev);
            QCOMPARE(e.time, clock.now());
            prev = e.hash;
        }
        const AuditVerifyReport report = must(audit.verify());
        QVERIFY(report.intact());
        QCOMPARE(report.rowsChecked, 5);

        AuditFilter filter;
        filter.kindPrefix = QStringLiteral("sandbox.");
        filter.limit = 2;
        const QList<AuditEvent> newest = must(audit.list(filter));
        QCOMPARE(newest.size(), 2);
        QCOMPARE(newest.first().seq, 5);
        filter.kindPrefix = QStringLiteral("sandbox_");
        QCOMPARE(must(audit.list(filter)).size(), 0); // '_' is not a wildcard
    }

    void auditRowsCannotBeChangedThroughSql()
    {
        auto db = freshDb();
        AuditLog audit(*db);
        must(audit.append(QStringLiteral("system"), QStringLiteral("a"), QStringLiteral("one")));
        QVERIFY(!db->exec(QStringLiteral("UPDATE audit_events SET summary = 'x' WHERE seq = 1")).ok());
        QVERIFY(!db->exec(QStringLiteral("DELETE FROM audit_events WHERE seq = 1")).ok());
    }

    void auditDetectsEditedRow()
    {
        auto db = freshDb();
        AuditLog audit(*db);
        for (int i = 1; i <= 6; ++i)
            must(audit.append(QStringLiteral("system"), QStringLiteral("k"),
                              QStringLiteral("event %1").arg(i)));
        dropAuditTriggers(*db);
        must(db->exec(QStringLiteral("UPDATE audit_events SET summary = 'nothing happened' WHERE seq = 4")));
        const AuditVerifyReport report = must(audit.verify());
        QVERIFY(!report.intact());
        QCOMPARE(*report.firstBrokenSeq, 4);
        QVERIFY2(report.reason.contains(QLatin1String("changed")), qPrintable(report.reason));
    }

    void auditDetectsEditedDataAndRecomputedHash()
    {
        // An attacker who also recomputes the edited row's own hash still breaks the link of the next row.
        auto db = freshDb();
        AuditLog audit(*db);
        for (int i = 1; i <= 4; ++i)
            must(audit.append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("e%1").arg(i)));
        dropAuditTriggers(*db);
        AuditFilter all;
        QList<AuditEvent> events = must(audit.list(all));
        AuditEvent second = events.at(2); // newest first: seq 2
        QCOMPARE(second.seq, 2);
        second.summary = QStringLiteral("forged");
        const QString forgedHash =
            AuditLog::chainHash(second.prevHash, AuditLog::canonical(second, QStringLiteral("{}")));
        must(db->exec(QStringLiteral("UPDATE audit_events SET summary = ?, hash = ? WHERE seq = 2"),
                      {second.summary, forgedHash}));
        const AuditVerifyReport report = must(audit.verify());
        QCOMPARE(report.firstBrokenSeq, std::optional<qint64>(3));
    }

    void auditDetectsRemovedRow()
    {
        auto db = freshDb();
        AuditLog audit(*db);
        for (int i = 1; i <= 5; ++i)
            must(audit.append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("e%1").arg(i)));
        dropAuditTriggers(*db);
        must(db->exec(QStringLiteral("DELETE FROM audit_events WHERE seq = 2")));
        const AuditVerifyReport report = must(audit.verify());
        QCOMPARE(report.firstBrokenSeq, std::optional<qint64>(3));
    }

    void auditAnchorCatchesWhatTheChainCannot()
    {
        // The key store is the seam to the keychain: a map here, reachable or not at will.
        struct Keys {
            QHash<QString, QByteArray> map;
            bool reachable = false;
        };
        auto keys = std::make_shared<Keys>();
        AnchorKeyStore keyStore;
        keyStore.read = [keys](const QString& id) -> Result<QByteArray> {
            if (!keys->reachable)
                return makeError(ErrorCode::Unavailable, QStringLiteral("the keychain is locked"));
            if (!keys->map.contains(id))
                return makeError(ErrorCode::NotFound, QStringLiteral("no such secret"));
            return keys->map.value(id);
        };
        keyStore.write = [keys](const QString& id, const QByteArray& key) -> Result<void> {
            if (!keys->reachable)
                return makeError(ErrorCode::Unavailable, QStringLiteral("the keychain is locked"));
            keys->map.insert(id, key);
            return {};
        };
        const QString checkpoint =
            test::makeTempDir(QStringLiteral("anchor")) + QStringLiteral("/checkpoint");
        DatabaseOptions options = StoreTestEnv::fresh();
        // Each "process" is a connection with its own anchor object (its own cached key) on the same file.
        auto process = [&]() {
            DatabaseOptions o = options;
            o.auditAnchor = std::make_shared<AuditAnchor>(checkpoint, keyStore);
            auto db = must(Database::open(o));
            must(db->migrate());
            return db;
        };
        auto db = process();
        AuditLog audit(*db);
        auto append = [&](AuditLog& log, int i) {
            return log.append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("e%1").arg(i));
        };

        // No secret store to keep a key in: the log works, unanchored, and says so.
        for (int i = 1; i <= 3; ++i)
            QVERIFY(append(audit, i).ok());
        QVERIFY(!QFile::exists(checkpoint));
        AuditVerifyReport report = must(audit.verify());
        QVERIFY(report.intact());
        QVERIFY2(report.anchorNote.contains(QLatin1String("not anchored")), qPrintable(report.anchorNote));

        // Reachable: the next event makes the key and the checkpoint, and every later one moves it.
        keys->reachable = true;
        for (int i = 4; i <= 6; ++i)
            QVERIFY(append(audit, i).ok());
        QVERIFY(QFile::exists(checkpoint));
        QCOMPARE(keys->map.size(), 1);
        QCOMPARE(QFileInfo(checkpoint).permissions() & ~(QFileDevice::ReadUser | QFileDevice::WriteUser),
                 QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        report = must(audit.verify());
        QVERIFY(report.intact());
        QVERIFY2(report.anchorNote.contains(QLatin1String("anchored at row 6")),
                 qPrintable(report.anchorNote));

        // A process whose checkpoint write comes after another's later one leaves the later one in place.
        QFile file(checkpoint);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray checkpointAt6 = file.readAll();
        file.close();
        const QString id = must(storeId(*db));
        const AuditEvent fifth = must(audit.list({QString(), QString(), {}, {}, 2})).at(1);
        QCOMPARE(fifth.seq, 5);
        auto other = process();
        must(other->options().auditAnchor->advance(id, fifth.seq, fifth.hash, [&](qint64 seq) {
            auto q = must(other->exec(QStringLiteral("SELECT hash FROM audit_events WHERE seq = ?"), {seq}));
            return Result<std::optional<QString>>(q.next() ? std::optional<QString>(q.value(0).toString())
                                                           : std::optional<QString>());
        }));
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), checkpointAt6);
        file.close();

        // The newest row removed: every remaining row still verifies, the checkpoint does not.
        dropAuditTriggers(*db);
        must(db->exec(QStringLiteral("DELETE FROM audit_events WHERE seq = 6")));
        report = must(AuditLog(*process()).verify());
        QVERIFY(!report.intact());
        QVERIFY(!report.firstBrokenSeq);
        QVERIFY2(report.anchorBroken &&
                     report.anchorBroken->contains(QLatin1String("newest rows were removed")),
                 qPrintable(report.anchorBroken.value_or(QString())));
        // ... and the next event is stored but refused: the checkpoint will not silently cover the gap.
        Result<AuditEvent> refused = append(audit, 7);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Tampered);

        // A person looked: reanchor, and the log is whole again.
        report = must(audit.reanchor());
        QVERIFY(report.intact());
        QVERIFY(append(audit, 8).ok());
        QVERIFY(must(audit.verify()).intact());

        // The chain rewritten with consistent hashes (one summary changed, every hash recomputed).
        QList<AuditEvent> events = must(audit.list({}));
        std::reverse(events.begin(), events.end());
        QString prev = AuditLog::genesisHash();
        for (AuditEvent e : events) {
            if (e.seq == 2)
                e.summary = QStringLiteral("nothing happened");
            const QString dataText = QString::fromUtf8(QJsonDocument(e.data).toJson(QJsonDocument::Compact));
            const QString hash = AuditLog::chainHash(prev, AuditLog::canonical(e, dataText));
            must(db->exec(
                QStringLiteral("UPDATE audit_events SET summary = ?, prev_hash = ?, hash = ? WHERE seq = ?"),
                {e.summary, prev, hash, e.seq}));
            prev = hash;
        }
        report = must(AuditLog(*process()).verify());
        QVERIFY(!report.firstBrokenSeq);
        QVERIFY2(report.anchorBroken && report.anchorBroken->contains(QLatin1String("rewritten")),
                 qPrintable(report.anchorBroken.value_or(QString())));
        must(audit.reanchor());

        // A checkpoint edited by hand (moved back to row 2) does not verify without the key.
        QVERIFY(file.open(QIODevice::ReadOnly));
        QByteArray edited = file.readAll();
        file.close();
        edited.replace(QRegularExpression(QStringLiteral("\"seq\":\"[0-9]+\""))
                           .match(QString::fromUtf8(edited))
                           .captured(0)
                           .toUtf8(),
                       QByteArray("\"seq\":\"2\""));
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(edited);
        file.close();
        report = must(AuditLog(*process()).verify());
        QVERIFY2(report.anchorBroken && report.anchorBroken->contains(QLatin1String("does not verify")),
                 qPrintable(report.anchorBroken.value_or(QString())));
        must(audit.reanchor());

        // The checkpoint file removed while its key exists: reported, and events are refused until a
        // person reanchors.
        QVERIFY(QFile::remove(checkpoint));
        report = must(AuditLog(*process()).verify());
        QVERIFY2(report.anchorBroken && report.anchorBroken->contains(QLatin1String("missing")),
                 qPrintable(report.anchorBroken.value_or(QString())));
        refused =
            AuditLog(*process()).append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("x"));
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Tampered);
        must(audit.reanchor());

        // Anchored, and the key cannot be read now: an event is not recorded as if nothing were wrong.
        keys->reachable = false;
        refused =
            AuditLog(*process()).append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("y"));
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::Unavailable);
    }

    void auditConcurrentWritersFormOneChain()
    {
        const DatabaseOptions options = StoreTestEnv::fresh();
        must(must(Database::open(options))->migrate());
        constexpr int perThread = 40;
        auto writer = [options](const QString& actor) {
            auto db = must(Database::open(options));
            AuditLog audit(*db);
            for (int i = 0; i < perThread; ++i)
                must(audit.append(actor, QStringLiteral("k"), QStringLiteral("%1 %2").arg(actor).arg(i)));
        };
        QThread* a = QThread::create(writer, QStringLiteral("a"));
        QThread* b = QThread::create(writer, QStringLiteral("b"));
        a->start();
        b->start();
        QVERIFY(a->wait(120000));
        QVERIFY(b->wait(120000));
        delete a;
        delete b;
        auto db = must(Database::open(options));
        const AuditVerifyReport report = must(AuditLog(*db).verify());
        QVERIFY2(report.intact(), qPrintable(report.reason));
        QCOMPARE(report.rowsChecked, 2 * perThread);
    }

    void storeWorkerRunsOffThread()
    {
        StoreWorker worker(StoreTestEnv::fresh());
        QSignalSpy opened(&worker, &StoreWorker::opened);
        worker.start();
        QVERIFY(opened.wait(30000));
        QCOMPARE(opened.first().at(0).toBool(), true);

        QObject context;
        Qt::HANDLE workThread = nullptr;
        std::optional<Result<qint64>> got;
        worker.run<qint64>(
            &context,
            [&workThread](Database& db) -> Result<qint64> {
                workThread = QThread::currentThreadId();
                AuditLog audit(db);
                auto e = audit.append(QStringLiteral("system"), QStringLiteral("k"),
                                      QStringLiteral("from worker"));
                if (!e)
                    return e.error();
                return e->seq;
            },
            [&got](Result<qint64> r) { got = std::move(r); });
        QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 30000);
        QVERIFY(got->ok());
        QCOMPARE(got->value(), 1);
        QVERIFY(workThread != QThread::currentThreadId());

        // A result for a context that is gone is dropped, not delivered to a dangling object.
        bool delivered = false;
        auto* doomed = new QObject;
        worker.run<int>(
            doomed,
            [](Database&) -> Result<int> {
                QThread::msleep(50);
                return 1;
            },
            [&delivered](Result<int>) { delivered = true; });
        delete doomed;
        std::optional<Result<int>> after;
        worker.run<int>(
            &context, [](Database&) -> Result<int> { return 2; }, [&after](Result<int> r) { after = r; });
        QTRY_VERIFY_WITH_TIMEOUT(after.has_value(), 30000);
        QVERIFY(!delivered);
    }

    void storeWorkerReportsOpenFailure()
    {
        DatabaseOptions bad;
        bad.backend = Backend::Sqlite;
        bad.sqlitePath = QStringLiteral("/proc/fluid-cannot-be-here/fluid.sqlite");
        StoreWorker worker(bad);
        QSignalSpy opened(&worker, &StoreWorker::opened);
        worker.start();
        QVERIFY(opened.wait(30000));
        QCOMPARE(opened.first().at(0).toBool(), false);
        QVERIFY(opened.first().at(1).toString().contains(QLatin1String("Cannot create the folder")));
        QObject context;
        std::optional<Result<int>> got;
        worker.run<int>(
            &context, [](Database&) -> Result<int> { return 1; }, [&got](Result<int> r) { got = r; });
        QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 30000);
        QVERIFY(!got->ok());
    }
};

QTEST_GUILESS_MAIN(TestStore)
#include "tst_store.moc"

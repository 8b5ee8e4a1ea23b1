// SPDX-License-Identifier: Apache-2.0
// The fluid executable's command line, run as a separate process with no display.
#include "approval/ApprovalBroker.h"
#include "base/BuildInfo.h"
#include "services/GateProcess.h"
#include "store/AuditLog.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QFile>
#include <QLockFile>
#include <QProcess>
#include <QScopeGuard>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <csignal>

using namespace fluid;

namespace {
struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};
} // namespace

class TestCli : public QObject {
    Q_OBJECT

    QString m_dir;

    Run fluid(const QStringList& args, const QByteArray& configYaml = {})
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        env.remove(QStringLiteral("QT_QPA_PLATFORM")); // a window would abort without a display
        env.insert(QStringLiteral("FLUID_CONFIG_DIR"), m_dir + QStringLiteral("/config"));
        env.insert(QStringLiteral("FLUID_DATA_DIR"), m_dir + QStringLiteral("/data"));
        p.setProcessEnvironment(env);
        QStringList all = args;
        if (!configYaml.isNull()) {
            const QString path = m_dir + QStringLiteral("/test-config.yaml");
            QFile f(path);
            if (!f.open(QIODevice::WriteOnly) || f.write(configYaml) != configYaml.size())
                qFatal("cannot write %s", qPrintable(path));
            f.close();
            all.prepend(path);
            all.prepend(QStringLiteral("--config"));
        }
        p.start(QStringLiteral(FLUID_BIN), all);
        if (!p.waitForFinished(60000))
            qFatal("fluid %s did not finish", qPrintable(all.join(QLatin1Char(' '))));
        return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
                QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
    }

    QString sqlitePath() const { return m_dir + QStringLiteral("/data/fluid.sqlite"); }

private Q_SLOTS:
    void init() { m_dir = test::makeTempDir(QStringLiteral("cli")); }

    void versionWorksWithoutDisplay()
    {
        const Run r = fluid({QStringLiteral("--version")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.startsWith(QStringLiteral("fluid ") + fluidVersion()));
        for (const char* lib : {"Qt", "libvirt", "libssh", "OpenSSL", "yaml-cpp"})
            QVERIFY2(r.out.contains(QLatin1String(lib)), lib);
    }

    void helpWorksWithoutDisplay()
    {
        const Run r = fluid({QStringLiteral("--help")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains(QLatin1String("audit verify")));
        QVERIFY(r.out.contains(QLatin1String("config check")));
    }

    void unknownCommandIsAUsageError()
    {
        const Run r = fluid({QStringLiteral("frobnicate")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains(QLatin1String("unknown command: frobnicate")));
    }

    void auditVerifyWithNoStoreYet()
    {
        const Run r = fluid({QStringLiteral("audit"), QStringLiteral("verify")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QLatin1String("nothing to verify")), qPrintable(r.out));
        QVERIFY(!QFile::exists(sqlitePath())); // verifying does not create a store
    }

    void auditVerifyIntactThenTampered()
    {
        {
            store::DatabaseOptions o;
            o.sqlitePath = sqlitePath();
            auto db = store::openAndMigrate(o);
            QVERIFY(db.ok());
            store::AuditLog audit(**db);
            for (int i = 1; i <= 7; ++i)
                QVERIFY(
                    audit.append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("e%1").arg(i))
                        .ok());
        }
        Run r = fluid({QStringLiteral("audit"), QStringLiteral("verify")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QLatin1String("intact: 7 row(s)")), qPrintable(r.out));

        r = fluid({QStringLiteral("audit"), QStringLiteral("list"), QStringLiteral("--limit"),
                   QStringLiteral("2")});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.out.count(QLatin1Char('\n')), 2);
        QVERIFY(r.out.startsWith(QLatin1String("7  ")));

        {
            store::DatabaseOptions o;
            o.sqlitePath = sqlitePath();
            auto db = store::Database::open(o);
            QVERIFY(db.ok());
            QVERIFY((*db)->exec(QStringLiteral("DROP TRIGGER audit_events_no_update")).ok());
            QVERIFY(
                (*db)->exec(QStringLiteral("UPDATE audit_events SET data = '{\"x\":1}' WHERE seq = 5")).ok());
        }
        r = fluid({QStringLiteral("audit"), QStringLiteral("verify")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.out.contains(QLatin1String("BROKEN at row 5")), qPrintable(r.out));
    }

    void auditCheckpointCatchesARemovedTail()
    {
        // The real thing end to end: the CLI keeps the checkpoint's key in the configured secret store
        // (here the encrypted file, unlocked by FLUID_SECRETS_PASSPHRASE) and the checkpoint beside the
        // database; removing the newest rows leaves a chain that verifies by itself but not against it.
        const QByteArray config = "secrets:\n  backend: encrypted-file\n";
        qputenv("FLUID_SECRETS_PASSPHRASE", "audit anchor test passphrase");
        const auto unset = qScopeGuard([] { qunsetenv("FLUID_SECRETS_PASSPHRASE"); });
        {
            store::DatabaseOptions o;
            o.sqlitePath = sqlitePath();
            auto db = store::openAndMigrate(o);
            QVERIFY(db.ok());
            store::AuditLog audit(**db);
            for (int i = 1; i <= 6; ++i)
                QVERIFY(
                    audit.append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("e%1").arg(i))
                        .ok());
        }
        Run r = fluid({QStringLiteral("audit"), QStringLiteral("verify")}, config);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QLatin1String("not anchored yet")), qPrintable(r.out + r.err));

        r = fluid({QStringLiteral("audit"), QStringLiteral("reanchor")}, config);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QLatin1String("anchored anew at row 6")), qPrintable(r.out + r.err));
        QVERIFY(QFile::exists(sqlitePath() + QStringLiteral(".audit-anchor")));
        QVERIFY(QFile::exists(m_dir + QStringLiteral("/data/secrets.enc")));

        r = fluid({QStringLiteral("audit"), QStringLiteral("verify")}, config);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QLatin1String("anchored at row 6")), qPrintable(r.out));

        {
            store::DatabaseOptions o;
            o.sqlitePath = sqlitePath();
            auto db = store::Database::open(o);
            QVERIFY(db.ok());
            QVERIFY((*db)->exec(QStringLiteral("DROP TRIGGER audit_events_no_delete")).ok());
            QVERIFY((*db)->exec(QStringLiteral("DELETE FROM audit_events WHERE seq >= 5")).ok());
        }
        r = fluid({QStringLiteral("audit"), QStringLiteral("verify")}, config);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.out.contains(QLatin1String("4 row(s) verify among themselves")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QLatin1String("newest rows were removed")), qPrintable(r.out));
    }

    void configCheckReportsLineAndKey()
    {
        Run r = fluid({QStringLiteral("config"), QStringLiteral("check")},
                      "sandbox:\n  default_vcpus: 2\n  default_memory_mib: 64\n");
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QLatin1String("test-config.yaml:3: sandbox.default_memory_mib")),
                 qPrintable(r.err));

        r = fluid({QStringLiteral("config"), QStringLiteral("check")}, "sandbox:\n  default_vcpuz: 2\n");
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.contains(QLatin1String("warning:")) && r.err.contains(QLatin1String("default_vcpus")),
                 qPrintable(r.err));
        QVERIFY(r.out.contains(QLatin1String("default_memory_mib: 512")));
    }

    void configCheckIgnoresRetiredKeys()
    {
        // A config.yaml from before commands, paths and agent.context_limit_tokens stopped being settings.
        const Run r = fluid({QStringLiteral("config"), QStringLiteral("check")},
                            "commands:\n  timeout_s: 300\n  deny: ['^reboot']\n"
                            "agent:\n  provider: ollama\n  context_limit_tokens: 200000\n"
                            "paths:\n  allow: [/etc]\n");
        QCOMPARE(r.exitCode, 0);
        for (const char* line : {"test-config.yaml:1: commands: no longer a setting",
                                 "test-config.yaml:6: agent.context_limit_tokens: no longer a setting",
                                 "test-config.yaml:7: paths: no longer a setting"}) {
            QVERIFY2(r.err.contains(QLatin1String("warning: ")) && r.err.contains(QLatin1String(line)),
                     qPrintable(r.err));
        }
        QCOMPARE(r.err.count(QLatin1String("warning: ")), 3);
        QVERIFY2(r.out.contains(QLatin1String("provider: ollama")), qPrintable(r.out));
        QVERIFY2(!r.out.contains(QLatin1String("commands")) &&
                     !r.out.contains(QLatin1String("context_limit")) &&
                     !r.out.contains(QLatin1String("paths:")),
                 qPrintable(r.out));
    }

    void imagePathUsesTheSameBuilder()
    {
        // The CLI runs scripts/golden-image.sh; an unknown flavour is refused by the builder itself.
        const Run r = fluid({QStringLiteral("image"), QStringLiteral("path"), QStringLiteral("--flavour"),
                             QStringLiteral("nosuch")});
        QVERIFY(r.exitCode != 0);
        QVERIFY2(r.err.contains(QLatin1String("unknown flavour 'nosuch'")) ||
                     r.out.contains(QLatin1String("unknown flavour 'nosuch'")),
                 qPrintable(r.err + r.out));
    }

    void approvalDecisionsNeedTheHashAndRecordTheOsUser()
    {
        model::Approval filed;
        {
            store::DatabaseOptions o;
            o.sqlitePath = sqlitePath();
            auto db = test::must(store::openAndMigrate(o));
            approval::ApprovalBroker broker(o);
            model::Approval a;
            a.kind = QStringLiteral("resources");
            a.request = QStringLiteral("Create sandbox s beyond its limits");
            filed =
                test::must(broker.request(*db, a, model::Actor::agent(QStringLiteral("s-1")), 3600 * 1000));
        }
        const auto stored = [&]() {
            store::DatabaseOptions o;
            o.sqlitePath = sqlitePath();
            auto db = test::must(store::Database::open(o));
            return test::must(store::ApprovalRepository(*db).get(filed.id));
        };
        const QString approval = QStringLiteral("approval");
        const QString approve = QStringLiteral("approve");

        // The list shows what a decision needs: the id and the content hash.
        Run r = fluid({approval, QStringLiteral("list")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(filed.id) && r.out.contains(QLatin1String("hash ") + filed.contentHash),
                 qPrintable(r.out));

        // Without the hash the person reviewed: refused, saying where to see it; nothing decided.
        for (const QString& verb : {approve, QStringLiteral("reject")}) {
            r = fluid({approval, verb, filed.id});
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(r.err.contains(QLatin1String("needs --hash")) &&
                         r.err.contains(QLatin1String("fluid approval list")),
                     qPrintable(r.err));
        }
        QCOMPARE(stored().status, model::ApprovalStatus::Pending);

        // The approver is the OS user: a name typed in is refused.
        r = fluid({approval, approve, filed.id, QStringLiteral("--hash"), filed.contentHash,
                   QStringLiteral("--by"), QStringLiteral("mallory")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("takes no --by")) &&
                     r.err.contains(model::Actor::localPerson().toString()),
                 qPrintable(r.err));
        QCOMPARE(stored().status, model::ApprovalStatus::Pending);

        // A hash other than the request's: refused by the broker.
        r = fluid({approval, approve, filed.id, QStringLiteral("--hash"), QString(64, QLatin1Char('0'))});
        QCOMPARE(r.exitCode, 3);
        QVERIFY2(r.err.contains(QLatin1String("content hash differs")), qPrintable(r.err));
        QCOMPARE(stored().status, model::ApprovalStatus::Pending);

        r = fluid({approval, approve, filed.id, QStringLiteral("--hash"), filed.contentHash});
        QCOMPARE(r.exitCode, 0);
        const model::Approval decided = stored();
        QCOMPARE(decided.status, model::ApprovalStatus::Approved);
        QCOMPARE(decided.decidedBy, model::Actor::localPerson().toString());
    }

    void configWithASecretIsRefused()
    {
        const Run r = fluid({QStringLiteral("config"), QStringLiteral("check")},
                            "agent:\n  provider: openai\n  api_key: sk-test-0123456789abcdefghij\n");
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains(QLatin1String("keychain")));
        QVERIFY(!r.err.contains(QLatin1String("0123456789abcdefghij")));
    }

    /// The egress gate as its own process, started on demand and shared through its lock, decided from the
    /// command line: a held connection is refused after the hold, `egress allow` lets the next one past the
    /// policy (here to the address rules, which refuse loopback), `egress revoke` makes it ask again; all
    /// audited.
    void egressGateRunsOnDemandAndTheCliDecides()
    {
        const QByteArray yaml =
            "hosts:\n  - name: local\n    uri: qemu:///system\negress:\n  hold_seconds: 1\n";
        QString sandboxId;
        {
            store::DatabaseOptions o;
            o.sqlitePath = sqlitePath();
            auto db = test::must(store::openAndMigrate(o));
            model::Host host{model::newId(),
                             QStringLiteral("local"),
                             QStringLiteral("qemu:///system"),
                             {},
                             QDateTime::currentDateTimeUtc()};
            test::must(store::HostRepository(*db).insert(host));
            model::Sandbox s;
            s.id = sandboxId = model::newId();
            s.name = QStringLiteral("web-1");
            s.hostId = host.id;
            s.domainName = QStringLiteral("fluid-web-1");
            s.state = model::SandboxState::Running;
            s.ip = QStringLiteral("127.0.0.2");
            s.createdAt = s.updatedAt = QDateTime::currentDateTimeUtc();
            test::must(store::SandboxRepository(*db).insert(s));
        }
        const QString config = m_dir + QStringLiteral("/test-config.yaml");
        {
            QFile f(config);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(yaml);
        }
        qputenv("FLUID_CONFIG_DIR", (m_dir + QStringLiteral("/config")).toUtf8());
        qputenv("FLUID_DATA_DIR", (m_dir + QStringLiteral("/data")).toUtf8());
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        const quint16 port = probe.serverPort();
        probe.close();
        services::GateLaunch launch;
        launch.program = QStringLiteral(FLUID_BIN);
        launch.configPath = config;
        launch.hostName = QStringLiteral("local");
        launch.address = QHostAddress::LocalHost;
        launch.port = port;
        launch.subnet = QStringLiteral("10.213.0.0/24");
        test::must(services::ensureEgressGate(launch));
        QLockFile lock(services::gateLockFile(QStringLiteral("local")));
        qint64 pid = 0;
        QString lockHost, lockApp;
        QVERIFY(!lock.tryLock(0));
        QVERIFY(lock.getLockInfo(&pid, &lockHost, &lockApp) && pid > 0);
        const auto stopGate = qScopeGuard([] { (void)services::stopEgressGate(QStringLiteral("local")); });
        // Shared: a second ensure finds it, a second serve says it runs and leaves.
        test::must(services::ensureEgressGate(launch));
        const Run second =
            fluid({QStringLiteral("egress"), QStringLiteral("serve"), QStringLiteral("--host"),
                   QStringLiteral("local"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1"),
                   QStringLiteral("--port"), QString::number(port), QStringLiteral("--network"),
                   QStringLiteral("10.213.0.0/24")},
                  yaml);
        QCOMPARE(second.exitCode, 0);
        QVERIFY2(second.out.contains(QStringLiteral("already runs (pid %1)").arg(pid)),
                 qPrintable(second.out));

        const auto ask = [&]() {
            QTcpSocket s;
            s.bind(QHostAddress(QStringLiteral("127.0.0.2")));
            s.connectToHost(QHostAddress::LocalHost, port);
            s.write("CONNECT 127.0.0.3:9 HTTP/1.1\r\n\r\n");
            QByteArray got;
            while (s.state() != QAbstractSocket::UnconnectedState && s.waitForReadyRead(10000))
                got += s.readAll();
            return got + s.readAll();
        };
        QByteArray got = ask();
        QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("Waiting for a person"), got.constData());
        Run r = fluid({QStringLiteral("egress"), QStringLiteral("list")}, yaml);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QStringLiteral("127.0.0.3:9  waiting: request")), qPrintable(r.out));

        r = fluid({QStringLiteral("egress"), QStringLiteral("allow"), QStringLiteral("web-1"),
                   QStringLiteral("127.0.0.3:9")},
                  yaml);
        QCOMPARE(r.exitCode, 0);
        got = ask();
        QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("never connects to") &&
                     got.contains("loopback"),
                 got.constData());
        r = fluid({QStringLiteral("egress"), QStringLiteral("list"), QStringLiteral("--sandbox"),
                   QStringLiteral("web-1")},
                  yaml);
        QVERIFY2(r.out.contains(QStringLiteral("127.0.0.3:9  for the sandbox's life  by person:")),
                 qPrintable(r.out));
        QVERIFY2(!r.out.contains(QStringLiteral("waiting")), qPrintable(r.out)); // the request was answered

        r = fluid({QStringLiteral("egress"), QStringLiteral("revoke"), QStringLiteral("web-1"),
                   QStringLiteral("127.0.0.3:9")},
                  yaml);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QStringLiteral("revoked")), qPrintable(r.out));
        got = ask();
        QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("Waiting for a person"), got.constData());

        r = fluid({QStringLiteral("audit"), QStringLiteral("list"), QStringLiteral("--kind"),
                   QStringLiteral("egress.")},
                  yaml);
        for (const char* kind : {"egress.grant", "egress.revoke", "egress.deny", "egress.allow"})
            QVERIFY2(r.out.contains(QLatin1String(kind)), kind);
        QVERIFY(!fluid({QStringLiteral("egress"), QStringLiteral("allow"), QStringLiteral("web-1"),
                        QStringLiteral("no-port")},
                       yaml)
                     .exitCode == 0);
        QCOMPARE(sandboxId.isEmpty(), false);

        // Stopped by its lock's pid: the lock is free and the address closed.
        test::must(services::stopEgressGate(QStringLiteral("local")));
        QVERIFY(lock.tryLock(0));
        lock.unlock();
        QTcpSocket closed;
        closed.connectToHost(QHostAddress::LocalHost, port);
        QVERIFY(!closed.waitForConnected(1000));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"

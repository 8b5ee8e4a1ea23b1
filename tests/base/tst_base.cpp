// SPDX-License-Identifier: Apache-2.0
// Redaction, Result, Clock, cancel tokens, the process runner, actors and version reporting.
#include "base/BuildInfo.h"
#include "base/Cancel.h"
#include "base/Clock.h"
#include "base/Logging.h"
#include "base/Process.h"
#include "base/Redact.h"
#include "base/Result.h"
#include "base/Worker.h"
#include "model/Actor.h"

#include <QElapsedTimer>
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <atomic>
#include <csignal>
#include <unistd.h>

#include "TestSupport.h"

using namespace fluid;

namespace {
QStringList g_captured;

bool endedOrZombie(pid_t pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray text = stat.readAll();
    return text.mid(text.lastIndexOf(')') + 2, 1) == "Z";
}
void capture(QtMsgType, const QMessageLogContext&, const QString& message)
{
    g_captured << message;
}
} // namespace

class TestBase : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void redactsSecretShapes_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("secret");
        QTest::addColumn<QString>("kept");
        QTest::newRow("openai") << "key is sk-proj-AbCdEfGhIjKlMnOpQrStUv0123 ok"
                                << "AbCdEfGhIjKlMnOpQrStUv0123"
                                << "key is";
        QTest::newRow("anthropic") << "x-api-key sk-ant-api03-AAAABBBBCCCCDDDDEEEE"
                                   << "AAAABBBBCCCCDDDDEEEE"
                                   << "x-api-key";
        QTest::newRow("github") << "token ghp_abcdefghijklmnopqrstuvwxyz0123456789"
                                << "ghp_abcdefghij"
                                << "token";
        QTest::newRow("aws") << "AKIAIOSFODNN7EXAMPLE used"
                             << "AKIAIOSFODNN7EXAMPLE"
                             << "used";
        QTest::newRow("bearer") << "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"
                                << "eyJhbGciOiJIUzI1NiJ9"
                                << "Authorization: Bearer";
        QTest::newRow("url") << "postgres://fluid:hunter2secret@db.internal:5432/x"
                             << "hunter2secret"
                             << "postgres://fluid:";
        QTest::newRow("kv") << "PGPASSWORD=s3cr3t-value psql -h x"
                            << "s3cr3t-value"
                            << "psql -h x";
        QTest::newRow("json") << R"({"api_key": "abc123def456", "model": "gpt"})"
                              << "abc123def456"
                              << R"("model": "gpt")";
        QTest::newRow("yaml") << "db_password: 'correct horse'"
                              << "correct horse"
                              << "db_password:";
        QTest::newRow("cli") << "mysql --password=topsecret1 -u root"
                             << "topsecret1"
                             << "-u root";
        QTest::newRow("pem")
            << "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkAAA\n-----END OPENSSH PRIVATE "
               "KEY-----\nafter"
            << "b3BlbnNzaC1rZXkAAA"
            << "after";
        QTest::newRow("pem-truncated") << "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA"
                                       << "MIIEowIBAAKCAQEA"
                                       << "";
    }

    void redactsSecretShapes()
    {
        QFETCH(QString, input);
        QFETCH(QString, secret);
        QFETCH(QString, kept);
        const QString out = redact(input);
        QVERIFY2(!out.contains(secret), qPrintable(out));
        QVERIFY2(out.contains(QLatin1String("REDACTED")), qPrintable(out));
        QVERIFY2(out.contains(kept), qPrintable(out));
    }

    void redactedJsonStaysJson()
    {
        const QString out = redact(QStringLiteral(R"({"password":"p@ss w0rd","user":"bob"})"));
        QCOMPARE(out, QStringLiteral(R"({"password":"[REDACTED]","user":"bob"})"));
    }

    void leavesOrdinaryTextAlone()
    {
        for (const char* text :
             {"apt-get install -y nginx", "passwd alice", "the token bucket is full",
              "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA fluid", "task: set a password policy"}) {
            QCOMPARE(redact(QLatin1String(text)), QLatin1String(text));
        }
    }

    void registeredSecretsAreRemovedEverywhere()
    {
        registerSecret(QStringLiteral("zq-very-own-7731"));
        registerSecret(QStringLiteral("abc")); // too short to register
        QCOMPARE(redact(QStringLiteral("echo zq-very-own-7731 | abc")),
                 QStringLiteral("echo [REDACTED] | abc"));
    }

    void logMessagesAreRedacted()
    {
        QtMessageHandler old = qInstallMessageHandler(capture);
        installRedactingMessageHandler();
        qCWarning(lcCore) << "calling with"
                          << "sk-live-0123456789abcdefghij";
        qInstallMessageHandler(old);
        QCOMPARE(g_captured.size(), 1);
        QVERIFY2(!g_captured.first().contains(QLatin1String("0123456789abcdefghij")),
                 qPrintable(g_captured.first()));
    }

    void resultCarriesValueOrError()
    {
        Result<int> ok(5);
        QVERIFY(ok.ok());
        QCOMPARE(*ok, 5);
        Result<int> bad(
            makeError(ErrorCode::NotFound, QStringLiteral("no such sandbox"), QStringLiteral("sbx-9")));
        QVERIFY(!bad);
        QCOMPARE(bad.error().code, ErrorCode::NotFound);
        QCOMPARE(bad.error().toString(), QStringLiteral("no such sandbox (sbx-9)"));
        QCOMPARE(bad.valueOr(7), 7);
        Result<void> v;
        QVERIFY(v.ok());
        QCOMPARE(errorCodeName(ErrorCode::Tampered), QStringLiteral("tampered"));
        QCOMPARE(errorCodeName(ErrorCode::ConnectionLost), QStringLiteral("connection-lost"));
    }

    void manualClockMovesOnlyWhenTold()
    {
        ManualClock clock;
        const QDateTime t0 = clock.now();
        clock.advance(1500);
        QCOMPARE(clock.now(), t0.addMSecs(1500));
        QVERIFY(Clock::system().now().isValid());
    }

    void cancelTokenCallsBackOnceAndChildrenFollow()
    {
        CancelToken parent;
        CancelToken child = parent.child();
        CancelToken grandchild = child.child();
        int calls = 0;
        const quint64 id = child.onCancel([&calls]() { ++calls; });
        int removed = 0;
        child.removeCallback(child.onCancel([&removed]() { ++removed; }));
        QVERIFY(!child.isCancelled());
        child.cancel(); // a child's cancel stays with it and its own children
        QVERIFY(child.isCancelled());
        QVERIFY(grandchild.isCancelled());
        QVERIFY(!parent.isCancelled());
        child.cancel();
        QCOMPARE(calls, 1);
        QCOMPARE(removed, 0);
        child.removeCallback(id);
        int late = 0;
        child.onCancel([&late]() { ++late; }); // already cancelled: at once
        QCOMPARE(late, 1);

        CancelToken other = parent.child();
        parent.cancel();
        QVERIFY(other.isCancelled());
    }

    void childTokensLeaveNothingBehindInTheParent()
    {
        CancelToken parent;
        std::weak_ptr<int> witness;
        {
            auto marker = std::make_shared<int>(1);
            witness = marker;
            CancelToken child = parent.child();
            child.onCancel([marker]() {});
        }
        // The child's state (and everything its callbacks hold) went with its last copy.
        QVERIFY(witness.expired());
        parent.cancel();
    }

    void processRunsCapturesAndCapsOutput()
    {
        ProcessSpec spec;
        spec.program = QStringLiteral("sh");
        spec.arguments = {
            QStringLiteral("-c"),
            QStringLiteral("cat; printf 'err' >&2; head -c 5000 /dev/zero | tr '\\0' x; exit 3")};
        spec.input = "from stdin\n";
        spec.maxOutputBytes = 100;
        QByteArray streamed;
        const ProcessResult r =
            test::must(runProcess(spec, {}, [&streamed](const QByteArray& chunk, bool err) {
                if (!err)
                    streamed += chunk;
            }));
        QCOMPARE(r.exitCode, 3);
        QVERIFY(!r.succeeded());
        QVERIFY(r.out.startsWith("from stdin\n"));
        QCOMPARE(r.out.size(), 100);
        QVERIFY(r.outTruncated);
        QCOMPARE(r.outBytes, qint64(11 + 5000));
        QCOMPARE(streamed.size(), 11 + 5000); // the sink sees everything
        QCOMPARE(r.err, QByteArray("err"));
        QVERIFY(r.describe().startsWith(QLatin1String("exit code 3: err")));
    }

    void processMergesStderrIntoStdout()
    {
        QTest::failOnWarning(QRegularExpression(QStringLiteral(".*MergedChannels.*")));
        ProcessSpec spec;
        spec.program = QStringLiteral("sh");
        spec.arguments = {QStringLiteral("-c"), QStringLiteral("echo out; echo err >&2; exit 1")};
        spec.mergeOutput = true;
        const ProcessResult r = test::must(runProcess(spec));
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.out.contains("out\n"));
        QVERIFY(r.out.contains("err\n"));
        QVERIFY(r.err.isEmpty());
        QCOMPARE(r.toError(QStringLiteral("umount")).detail, QStringLiteral("exit code 1: out\nerr"));
    }

    void processGetsOnlyTheEnvironmentFluidChooses()
    {
        qputenv("FLUID_SECRETS_PASSPHRASE", "do-not-leak-1234");
        ProcessSpec spec;
        spec.program = QStringLiteral("env");
        spec.environment.set(QStringLiteral("FLUID_CHOSEN"), QStringLiteral("yes"));
        const ProcessResult r = test::must(runProcess(spec));
        qunsetenv("FLUID_SECRETS_PASSPHRASE");
        QVERIFY(r.succeeded());
        QVERIFY(!r.out.contains("do-not-leak"));
        QVERIFY(r.out.contains("FLUID_CHOSEN=yes\n"));
        QVERIFY(r.out.contains("PATH="));
    }

    void processCancelAndTimeoutKillTheWholeGroup()
    {
        QTemporaryDir dir;
        const QString pidFile = dir.filePath(QStringLiteral("grandchild.pid"));
        for (const bool viaCancel : {true, false}) {
            QFile::remove(pidFile);
            ProcessSpec spec;
            spec.program = QStringLiteral("sh");
            // A grandchild that ignores nothing and would outlive its parent if only the parent were killed.
            spec.arguments = {QStringLiteral("-c"),
                              QStringLiteral("sleep 60 & echo $! > %1; wait").arg(pidFile)};
            spec.killGraceMs = 500;
            spec.timeoutMs = viaCancel ? 0 : 300;
            CancelToken cancel;
            QElapsedTimer timer;
            timer.start();
            auto stopper = runAsync([cancel, viaCancel]() {
                if (viaCancel) {
                    QThread::msleep(300);
                    cancel.cancel();
                }
            });
            const ProcessResult r = test::must(runProcess(spec, cancel));
            stopper.waitForFinished();
            QVERIFY2(timer.elapsed() < 10000, "the run did not stop");
            QCOMPARE(r.cancelled, viaCancel);
            QCOMPARE(r.timedOut, !viaCancel);
            QCOMPARE(r.toError(QStringLiteral("sleeping")).code,
                     viaCancel ? ErrorCode::Cancelled : ErrorCode::Timeout);
            QFile f(pidFile);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const pid_t grandchild = pid_t(f.readAll().trimmed().toInt());
            QVERIFY(grandchild > 1);
            // Gone, or a zombie nobody has reaped yet (PID 1 here is slow to): either way it got the signal.
            QTRY_VERIFY_WITH_TIMEOUT(endedOrZombie(grandchild), 5000);
        }
    }

    void processThatCannotStartSaysSo()
    {
        ProcessSpec spec;
        spec.program = QStringLiteral("fluid-no-such-program-x");
        auto r = runProcess(spec);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::Unavailable);
        QVERIFY2(r.error().message.contains(QLatin1String("is not installed")),
                 qPrintable(r.error().message));
    }

    void lineSplitterJoinsChunks()
    {
        LineSplitter split;
        QList<QByteArray> lines;
        const auto add = [&lines](const QByteArray& l) {
            lines << l;
        };
        split.feed("one\ntw", add);
        split.feed("o\r\nthr", add);
        split.finish(add);
        QCOMPARE(lines, (QList<QByteArray>{"one", "two", "thr"}));
    }

    void backgroundProcessStopsItsGroup()
    {
        ProcessSpec spec;
        spec.program = QStringLiteral("sh");
        spec.arguments = {QStringLiteral("-c"), QStringLiteral("trap '' TERM; sleep 60")};
        auto bp = test::must(BackgroundProcess::start(spec));
        QVERIFY(bp->isRunning());
        QVERIFY(!bp->waitForExit(100));
        QElapsedTimer timer;
        timer.start();
        bp->stop(300); // ignores SIGTERM: SIGKILL follows
        QVERIFY(!bp->isRunning());
        QVERIFY(timer.elapsed() < 5000);
    }

    void actorsRoundTripThroughTheirText()
    {
        using model::Actor;
        QCOMPARE(Actor::person(QStringLiteral("alice")).toString(), QStringLiteral("person:alice"));
        QCOMPARE(Actor::agent(QStringLiteral("s-1")).toString(), QStringLiteral("agent:s-1"));
        QCOMPARE(Actor::apiToken(QStringLiteral("t-9")).toString(), QStringLiteral("token:t-9"));
        QCOMPARE(Actor().toString(), QStringLiteral("system"));
        for (const Actor& a : {Actor::person(QStringLiteral("bob")), Actor::agent(QStringLiteral("x")),
                               Actor::apiToken(QStringLiteral("y")), Actor::system()})
            QCOMPARE(Actor::fromString(a.toString()), std::optional<Actor>(a));
        QCOMPARE(Actor::fromString(QStringLiteral("person"))->kind(), Actor::Kind::Person); // older records
        QVERIFY(!Actor::fromString(QStringLiteral("agent")));
        QVERIFY(!Actor::fromString(QStringLiteral("root")));
        const Actor me = Actor::localPerson();
        QVERIFY(me.isPerson());
        QVERIFY(!me.id().isEmpty());
        qputenv("USER", "someone-else");
        QCOMPARE(Actor::localPerson(), me); // the account, not an environment variable
    }

    void reportsComponentVersions()
    {
        QStringList names;
        for (const ComponentVersion& c : componentVersions()) {
            names << c.name;
            QVERIFY2(!c.version.isEmpty() && c.version != QLatin1String("unknown"), qPrintable(c.name));
        }
        for (const char* n : {"Qt", "libvirt", "libssh", "OpenSSL", "yaml-cpp"})
            QVERIFY2(names.contains(QLatin1String(n)), n);
        QVERIFY(!fluidVersion().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestBase)
#include "tst_base.moc"

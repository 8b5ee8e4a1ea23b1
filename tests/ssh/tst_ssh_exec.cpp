// SPDX-License-Identifier: Apache-2.0
// Commands over one reused connection to a real sshd: byte-exact scripts, binary output, output caps,
// timeouts that really kill, concurrency on one connection, certificate renewal, and the audit trail.

#include "SshTestEnv.h"

#include "model/Model.h"
#include "ssh/CommandAudit.h"
#include "store/AuditLog.h"
#include "store/Database.h"
#include "store/Repository.h"
#include "store/StoreWorker.h"

#include <QCryptographicHash>
#include <QMutex>
#include <QRandomGenerator>
#include <QSet>
#include <QSignalSpy>
#include <QtTest>

using namespace fluid;
using namespace fluid::test;

class TstSshExec : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    std::unique_ptr<LoopbackSshd> m_sshd;
    std::unique_ptr<ssh::SandboxShell> m_shell;

    Result<ssh::ExecResult> run(const QByteArray& command,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60))
    {
        ssh::ExecRequest req;
        req.command = command;
        req.timeout = timeout;
        return await(m_shell->exec(req));
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_ca = makeTestCa();
        m_sshd = must(startLoopbackSshd(m_ca));
        ssh::SandboxShellOptions o;
        o.maxChannels = 32;
        m_shell = makeShell(m_ca, *m_sshd, o);
        const auto ready = await(m_shell->connect());
        QVERIFY2(ready.ok(), qPrintable(ready.ok() ? QString() : ready.error().toString()));
    }

    void cleanupTestCase()
    {
        m_shell.reset();
        if (m_sshd)
            m_sshd->stop();
    }

    void exitCodesAndStreams()
    {
        auto r = run("echo out; echo err >&2; exit 7");
        QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
        QCOMPARE(r->stdoutData.text(), QByteArray("out\n"));
        QCOMPARE(r->stderrData.text(), QByteArray("err\n"));
        QCOMPARE(r->exitCode, std::optional<int>(7));
        QVERIFY(r->signal.isEmpty());
        QVERIFY(!r->timedOut);

        auto sig = run("kill -TERM $$");
        QVERIFY(sig.ok());
        QCOMPARE(sig->signal, QStringLiteral("TERM"));
        QVERIFY(!sig->exitCode.has_value());
    }

    void trickyScriptsArriveByteExact_data()
    {
        QTest::addColumn<QByteArray>("script");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("quotes") << QByteArray("printf '%s\\n' \"double \\\"q\\\" 'single'\" 'it'\\''s'")
                                << QByteArray("double \"q\" 'single'\nit's\n");
        QTest::newRow("vars-and-backticks")
            << QByteArray("x=1; echo \"$x\" '$x' `echo bt` $(echo dollar) \\$HOME")
            << QByteArray("1 $x bt dollar $HOME\n");
        QTest::newRow("heredoc-quoted")
            << QByteArray("cat <<'EOF'\n$HOME `id` \\n \"q\"\nEOF\n") << QByteArray("$HOME `id` \\n \"q\"\n");
        QTest::newRow("heredoc-expanding")
            << QByteArray("v=value\ncat <<EOF\nv=$v $(echo sub)\nEOF") << QByteArray("v=value sub\n");
        QTest::newRow("multi-line") << QByteArray(
                                           "for i in 1 2 3\ndo\n  printf '%s,' \"$i\"\ndone\necho\n\n\n")
                                    << QByteArray("1,2,3,\n");
        QTest::newRow("trailing-newlines-kept")
            << QByteArray("printf '%s' \"$(printf 'a\\n\\n')\"; cat <<'X'\n\n\nX\n") << QByteArray("a\n\n");
        QTest::newRow("non-utf8") << QByteArray(
                                         "printf '%s' '\xff\xfe\x80 caf\xe9' | od -An -tx1 | tr -d ' \\n'")
                                  << QByteArray("fffe8020636166e9");
        QTest::newRow("backslashes-and-globs")
            << QByteArray("printf '%s\\n' 'a\\\\b' '*' \"[x]\" ~nobody-not-a-user")
            << QByteArray("a\\\\b\n*\n[x]\n~nobody-not-a-user\n");
        QTest::newRow("semicolons-and-comments")
            << QByteArray("echo a # comment ; echo no\necho 'b;c' ; echo \"#d\"")
            << QByteArray("a\nb;c\n#d\n");
        QTest::newRow("stdin-is-empty") << QByteArray("cat; echo done") << QByteArray("done\n");
    }

    void trickyScriptsArriveByteExact()
    {
        QFETCH(QByteArray, script);
        QFETCH(QByteArray, expected);
        auto r = run(script);
        QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
        QCOMPARE(r->stderrData.text(), QByteArray());
        QCOMPARE(r->exitCode, std::optional<int>(0));
        QCOMPARE(r->stdoutData.text(), expected);
    }

    void scriptTextItselfIsExact()
    {
        // The shell sees exactly our bytes: a script that hashes its own text (passed through a quoted
        // heredoc) must report the hash of what we sent.
        QByteArray payload;
        for (int i = 1; i < 256; ++i)
            if (i != '\n')
                payload.append(char(i));
        payload.replace("\r", "");
        const QByteArray body = "line1 $x `y` \"z\" 'w' \\ \t tab\n" + payload + "\nlast";
        const QByteArray script = "cat <<'FLUID_END_OF_TEXT' | head -c -1 | sha256sum | cut -d' ' -f1\n" +
                                  body + "\nFLUID_END_OF_TEXT\n";
        auto r = run(script);
        QVERIFY(r.ok());
        QCOMPARE(r->stdoutData.text().trimmed(),
                 QCryptographicHash::hash(body, QCryptographicHash::Sha256).toHex());
    }

    void largeScriptBeyondOneArgument()
    {
        // Over the 128 KiB per-argument limit the wrapper evals the text instead of exec'ing `shell -c`.
        QByteArray script = "# " + QByteArray(200 * 1024, 'x') + "\nprintf '%s' \"big $((6*7))\"\n";
        auto r = run(script);
        QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
        QCOMPARE(r->stdoutData.text(), QByteArray("big 42"));
        QCOMPARE(r->exitCode, std::optional<int>(0));
    }

    /// A command that carries a secret is kept out of the remote process list: the shell running it shows
    /// only the fixed wrapper, while an ordinary short command is an argument of `sh -c`.
    void hiddenCommandIsNotInTheProcessList()
    {
        ssh::ExecRequest visible = command("x=HIDDEN-42; tr '\\0' ' ' </proc/$$/cmdline");
        visible.shell = QStringLiteral("/bin/sh");
        auto shown = await(m_shell->exec(visible));
        QVERIFY(shown.ok());
        QVERIFY2(shown->stdoutData.head.contains("x=HIDDEN-42"), shown->stdoutData.head.constData());
        ssh::ExecRequest hidden = visible;
        hidden.hideFromProcessList = true;
        auto ran = await(m_shell->exec(hidden));
        QVERIFY(ran.ok());
        QCOMPARE(ran->exitCode, std::optional<int>(0));
        QVERIFY(!ran->stdoutData.head.isEmpty());
        QVERIFY2(!ran->stdoutData.head.contains("HIDDEN-42"), ran->stdoutData.head.constData());
    }

    void binaryOutput()
    {
        auto r = run("head -c 262144 /dev/urandom > /tmp/fluid-bin.$$; cat /tmp/fluid-bin.$$; "
                     "sha256sum < /tmp/fluid-bin.$$ | cut -d' ' -f1 >&2; rm -f /tmp/fluid-bin.$$");
        QVERIFY(r.ok());
        const QByteArray out = r->stdoutData.text();
        QCOMPARE(out.size(), 262144);
        QCOMPARE(QCryptographicHash::hash(out, QCryptographicHash::Sha256).toHex(),
                 r->stderrData.text().trimmed());
    }

    void environment()
    {
        ssh::ExecRequest req;
        req.command = "printf '%s|%s' \"$FLUID_A\" \"$FLUID_B\"";
        req.environment = {{"FLUID_A", "it's \"quoted\" $HOME `x`"}, {"FLUID_B", "line1\nline2"}};
        auto r = await(m_shell->exec(req));
        QVERIFY(r.ok());
        QCOMPARE(r->stdoutData.text(), QByteArray("it's \"quoted\" $HOME `x`|line1\nline2"));

        req.environment = {{"BAD-NAME", "x"}};
        auto bad = await(m_shell->exec(req));
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().code, ErrorCode::InvalidArgument);
    }

    void tenMegabytesCapped()
    {
        // seq output is deterministic, so the expected head and tail can be computed here.
        const qint64 total = 10 * 1024 * 1024;
        QByteArray expected;
        expected.reserve(total + 16);
        for (int i = 1; expected.size() < total; ++i)
            expected += QByteArray::number(i) + '\n';
        expected.truncate(total);

        ssh::ExecRequest req;
        req.command = "seq 1 2000000 | head -c 10485760";
        req.stdoutCap = 64 * 1024;
        auto r = await(m_shell->exec(req));
        QVERIFY(r.ok());
        QCOMPARE(r->exitCode, std::optional<int>(0));
        const auto& out = r->stdoutData;
        QCOMPARE(out.totalBytes, total);
        QVERIFY(out.truncated());
        QCOMPARE(out.head.size(), 32 * 1024);
        QCOMPARE(out.tail.size(), 32 * 1024);
        QCOMPARE(out.cutBytes(), total - 64 * 1024);
        QCOMPARE(out.head, expected.left(32 * 1024));
        QCOMPARE(out.tail, expected.right(32 * 1024));
        QVERIFY(out.text().contains("[... " + QByteArray::number(total - 64 * 1024) + " bytes cut ...]"));
    }

    void timeoutKillsTheRemoteProcessGroup()
    {
        const QByteArray tag = "98765" + QByteArray::number(QCoreApplication::applicationPid() % 1000);
        QElapsedTimer t;
        t.start();
        // A child in the background and one in the foreground: both must die.
        auto r = run("sleep " + tag + "1 & sleep " + tag + "2; echo never", std::chrono::milliseconds(1500));
        QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
        QVERIFY(r->timedOut);
        QVERIFY(!r->exitCode.has_value());
        QCOMPARE(r->signal, QStringLiteral("KILL"));
        QVERIFY2(t.elapsed() < 8000, "the timeout took far too long");
        QVERIFY(!r->stdoutData.text().contains("never"));
        // pgrep exits 1 when nothing matches; [p] keeps the pattern from matching this check's own shell.
        auto check = run("pgrep -f 'slee[p] " + tag + "' || echo gone");
        QVERIFY(check.ok());
        QCOMPARE(check->stdoutData.text(), QByteArray("gone\n"));
    }

    void cancelKillsToo()
    {
        const QByteArray tag = "87654" + QByteArray::number(QCoreApplication::applicationPid() % 1000);
        ssh::ExecRequest req;
        req.command = "sleep " + tag;
        auto f = m_shell->exec(req);
        QTest::qWait(500);
        f.cancel();
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(run("pgrep -f 'slee[p] " + tag + "' || echo gone")->stdoutData.text(),
                                  QByteArray("gone\n"), 10000);
    }

    void twentyConcurrentCommandsOnOneConnection()
    {
        const int before = m_shell->connectionsStarted();
        QList<QFuture<Result<ssh::ExecResult>>> futures;
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < 20; ++i) {
            ssh::ExecRequest req;
            req.command = "sleep 1; echo \"$SSH_CLIENT\" " + QByteArray::number(i);
            futures.append(m_shell->exec(req));
        }
        QSet<QByteArray> clientPorts;
        for (int i = 0; i < futures.size(); ++i) {
            auto r = await(futures[i]);
            QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
            const QList<QByteArray> words = r->stdoutData.text().trimmed().split(' ');
            QCOMPARE(words.size(), 4);
            QCOMPARE(words.last(), QByteArray::number(i));
            clientPorts.insert(words[1]);
        }
        // All ran at once (20 x 1 s sequentially would take 20 s) over one TCP connection (one source port).
        QVERIFY2(t.elapsed() < 6000, qPrintable(QStringLiteral("took %1 ms").arg(t.elapsed())));
        QCOMPARE(clientPorts.size(), 1);
        QCOMPARE(m_shell->connectionsStarted(), before);
    }

    void serverSessionLimitIsRespected()
    {
        // An sshd allowing 3 sessions per connection; the client asks for 10 at once and must queue, not
        // fail.
        LoopbackSshd::Options o;
        o.maxSessions = 3;
        LoopbackSshd small(m_ca, o);
        QVERIFY(small.start().ok());
        auto shell = makeShell(m_ca, small);
        QList<QFuture<Result<ssh::ExecResult>>> futures;
        for (int i = 0; i < 10; ++i) {
            ssh::ExecRequest req;
            req.command = "sleep 0.3; echo " + QByteArray::number(i);
            futures.append(shell->exec(req));
        }
        for (int i = 0; i < futures.size(); ++i) {
            auto r = await(futures[i]);
            QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
            QCOMPARE(r->stdoutData.text(), QByteArray::number(i) + '\n');
        }
        QCOMPARE(shell->connectionsStarted(), 1);
    }

    void renewalDoesNotCutInFlightCommands()
    {
        // Certificates follow the injected clock; sshd checks them against real time. Start the clock 4.5
        // minutes in the past: the first certificate is still valid for 30 s of real time, and advancing the
        // clock to real time makes a renewal due, whose certificate is valid now.
        ManualClock clock(QDateTime::currentDateTimeUtc().addSecs(-270));
        auto ca = std::make_shared<ssh::CertificateAuthority>(*ssh::KeyPair::generate(),
                                                              *ssh::KeyPair::generate(), clock);
        LoopbackSshd sshd(ca);
        QVERIFY(sshd.start().ok());
        auto shell = makeShell(ca, sshd);

        auto first = await(shell->exec(command("echo $SSH_CLIENT")));
        QVERIFY(first.ok());
        const QByteArray firstPort = first->stdoutData.text().split(' ').value(1);
        const quint64 firstSerial = shell->currentCertificate()->serial;

        ssh::ExecRequest longReq;
        longReq.command = "sleep 3; echo survived";
        auto inFlight = shell->exec(longReq);
        QTest::qWait(300);

        clock.advance(240 * 1000); // past two thirds of the 5-minute validity
        auto trigger = await(shell->exec(command("true")));
        QVERIFY(trigger.ok());
        QCOMPARE(shell->connectionsStarted(), 2);

        // New work moves to the renewed connection once it is ready.
        QByteArray port;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 10000) {
            auto r = await(shell->exec(command("echo $SSH_CLIENT")));
            QVERIFY(r.ok());
            port = r->stdoutData.text().split(' ').value(1);
            if (port != firstPort)
                break;
            QTest::qWait(50);
        }
        QVERIFY(port != firstPort);
        QVERIFY(shell->currentCertificate()->serial != firstSerial);

        auto survived = await(inFlight);
        QVERIFY2(survived.ok(), qPrintable(survived.ok() ? QString() : survived.error().toString()));
        QCOMPARE(survived->stdoutData.text(), QByteArray("survived\n"));
        QCOMPARE(survived->exitCode, std::optional<int>(0));

        // Past the renewed certificate's expiry (by the injected clock) nothing new runs on that connection:
        // a third one is made, whose certificate sshd (on real time) finds not yet valid.
        clock.advance(301 * 1000);
        auto afterExpiry = await(shell->exec(command("true")));
        QCOMPARE(shell->connectionsStarted(), 3);
        QVERIFY(!afterExpiry.ok());
        QCOMPARE(afterExpiry.error().code, ErrorCode::Refused);
    }

    /// A migrated SQLite store holding a host and a sandbox row (commands reference their sandbox).
    static QString storeWithSandbox(const QString& sandboxName, QString* sandboxId)
    {
        store::DatabaseOptions dbo;
        dbo.sqlitePath = makeTempDir(QStringLiteral("ssh-audit")) + QStringLiteral("/fluid.sqlite");
        auto db = store::openAndMigrate(dbo);
        if (!db)
            qFatal("%s", qPrintable(db.error().toString()));
        model::Host host;
        host.id = model::newId();
        host.name = QStringLiteral("loopback");
        host.uri = QStringLiteral("qemu:///system");
        host.createdAt = QDateTime::currentDateTimeUtc();
        model::Sandbox sb;
        sb.id = model::newId();
        sb.name = sandboxName;
        sb.hostId = host.id;
        sb.domainName = QStringLiteral("loopback-domain");
        sb.createdAt = sb.updatedAt = QDateTime::currentDateTimeUtc();
        if (!store::HostRepository(**db).insert(host).ok() || !store::SandboxRepository(**db).insert(sb).ok())
            qFatal("cannot insert the sandbox row");
        *sandboxId = sb.id;
        return dbo.sqlitePath;
    }

    void auditTrailReachesTheStore()
    {
        QString sandboxId;
        store::DatabaseOptions dbo;
        dbo.sqlitePath = storeWithSandbox(m_sshd->options().sandboxName, &sandboxId);
        auto db = store::Database::open(dbo);
        QVERIFY(db.ok());
        model::Sandbox sb;
        sb.id = sandboxId;

        QMutex mutex;
        QList<ssh::AuditRecord> records;
        ssh::SandboxShellOptions o;
        o.sessionId = QStringLiteral("session-1");
        o.actor = model::Actor::agent(QStringLiteral("session-1"));
        o.auditSink = [&](const ssh::AuditRecord& r) {
            QMutexLocker lock(&mutex);
            records.append(r);
        };
        ssh::SandboxShell shell(m_ca, m_sshd->endpoint(sb.id), o);
        ssh::ExecRequest req;
        req.command = "echo audited; echo warn >&2; exit 3";
        auto r = await(shell.exec(req));
        QVERIFY(r.ok());
        QVERIFY(await(shell.writeFile(QStringLiteral("/tmp/fluid-audit-test"), "x")).ok());

        QMutexLocker lock(&mutex);
        QCOMPARE(records.size(), 2);
        const ssh::AuditRecord cmd = records[0];
        QCOMPARE(cmd.event.kind, QStringLiteral("command.run"));
        QCOMPARE(cmd.event.sandboxId, sb.id);
        QCOMPARE(cmd.event.sessionId, QStringLiteral("session-1"));
        QCOMPARE(cmd.event.actor, QStringLiteral("agent:session-1"));
        QCOMPARE(cmd.event.data.value(QStringLiteral("exit_code")).toInt(), 3);
        QCOMPARE(cmd.event.data.value(QStringLiteral("stdout_bytes")).toInt(), 8);
        QCOMPARE(cmd.event.data.value(QStringLiteral("stderr_bytes")).toInt(), 5);
        QVERIFY(cmd.event.data.contains(QStringLiteral("duration_ms")));
        QVERIFY(cmd.command.has_value());
        QCOMPARE(records[1].event.kind, QStringLiteral("file.write"));

        store::AuditLog log(**db);
        for (const auto& rec : records)
            QVERIFY(ssh::storeAuditRecord(**db, log, rec).ok());
        auto stored = store::CommandRepository(**db).get(cmd.command->id);
        QVERIFY(stored.ok());
        QCOMPARE(stored->stdoutData, QByteArray("audited\n"));
        QCOMPARE(stored->stderrData, QByteArray("warn\n"));
        QCOMPARE(stored->exitCode, std::optional<int>(3));
        QCOMPARE(stored->command, QString::fromUtf8(req.command));
        auto events = log.list();
        QVERIFY(events.ok());
        QCOMPARE(events->size(), 2);
        QVERIFY(log.verify()->intact());
    }

    /// A command's start and finish times come from the shell's clock (its CA's): the result, the audit event
    /// and the command row all carry the injected time, while the duration is still measured for real.
    void commandTimesComeFromTheInjectedClock()
    {
        // A minute in the past: the certificate issued on this clock is still valid for sshd's real time.
        const QDateTime at = QDateTime::currentDateTimeUtc().addSecs(-60);
        ManualClock clock(QDateTime::fromMSecsSinceEpoch(at.toSecsSinceEpoch() * 1000 + 123, Qt::UTC));
        auto ca = makeTestCa(clock);
        auto sshd = must(startLoopbackSshd(ca));
        QList<ssh::AuditRecord> records;
        QMutex mutex;
        ssh::SandboxShellOptions o;
        o.auditSink = [&](const ssh::AuditRecord& r) {
            QMutexLocker lock(&mutex);
            records.append(r);
        };
        auto shell = makeShell(ca, *sshd, o);
        auto r = await(shell->exec(command("sleep 0.2; echo timed")));
        QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
        QCOMPARE(r->startedAt, clock.now());
        QCOMPARE(r->finishedAt, clock.now());
        QVERIFY(r->durationMs >= 200);

        QMutexLocker lock(&mutex);
        QCOMPARE(records.size(), 1);
        const ssh::AuditRecord& rec = records.first();
        QCOMPARE(rec.event.data.value(QStringLiteral("started_at")).toString(),
                 clock.now().toString(Qt::ISODateWithMs));
        QCOMPARE(rec.event.data.value(QStringLiteral("finished_at")).toString(),
                 clock.now().toString(Qt::ISODateWithMs));
        QVERIFY(rec.command.has_value());
        QCOMPARE(rec.command->startedAt, clock.now());
        QCOMPARE(rec.command->finishedAt, clock.now());
        lock.unlock();
        shell.reset();
        sshd->stop();
    }

    void auditThroughTheStoreWorker()
    {
        QString sandboxId;
        store::DatabaseOptions dbo;
        dbo.sqlitePath = storeWithSandbox(m_sshd->options().sandboxName, &sandboxId);
        store::StoreWorker worker(dbo);
        QSignalSpy opened(&worker, &store::StoreWorker::opened);
        worker.start();
        QVERIFY(opened.wait(30000));
        QVERIFY(opened.first().at(0).toBool());

        ssh::SandboxShellOptions o;
        o.sessionId = QStringLiteral("session-w");
        o.auditSink = ssh::storeWorkerAuditSink(worker);
        {
            ssh::SandboxShell shell(m_ca, m_sshd->endpoint(sandboxId), o);
            QVERIFY(await(shell.exec(command("echo stored"))).ok());
        }
        // The record reaches the store on the worker's thread; count rows there until both arrived.
        qint64 commands = 0;
        qint64 events = 0;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 10000 && (commands != 1 || events != 1)) {
            bool done = false;
            worker.run<qint64>(
                this, [](store::Database& db) { return store::CommandRepository(db).count(); },
                [&](Result<qint64> n) { commands = n.valueOr(-1); });
            worker.run<qint64>(
                this,
                [](store::Database& db) -> Result<qint64> {
                    store::AuditLog log(db);
                    auto all = log.list();
                    if (!all)
                        return all.error();
                    return qint64(all->size());
                },
                [&](Result<qint64> n) {
                    events = n.valueOr(-1);
                    done = true; // jobs run in order, so the count of commands is in too
                });
            while (!done && t.elapsed() < 20000)
                QTest::qWait(10);
        }
        QCOMPARE(commands, qint64(1));
        QCOMPARE(events, qint64(1));
    }
    /// With an audit gate, a command starts only after its command.start record is stored: with the
    /// store unreachable it fails without running; with a working store the log has start then run.
    void commandWhoseRecordCannotBeStoredDoesNotRun()
    {
        QString sandboxId;
        store::DatabaseOptions dbo;
        dbo.sqlitePath = storeWithSandbox(m_sshd->options().sandboxName, &sandboxId);
        const QByteArray marker =
            "/tmp/fluid-gate-" + QByteArray::number(QRandomGenerator::global()->generate());

        // A store that cannot be opened: under a regular file, where no folder can be made.
        store::DatabaseOptions broken;
        broken.sqlitePath = dbo.sqlitePath + QStringLiteral("/not-a-folder/fluid.sqlite");
        {
            ssh::AuditWriter writer(broken);
            ssh::SandboxShellOptions o;
            o.auditSink = writer.sink();
            o.auditGate = writer.gate();
            ssh::SandboxShell shell(m_ca, m_sshd->endpoint(sandboxId), o);
            auto r = await(shell.exec(command("touch " + marker)));
            QVERIFY(!r.ok());
            QVERIFY2(r.error().message.contains(
                         QLatin1String("was not run: its audit record could not be stored")),
                     qPrintable(r.error().toString()));
            // Checked over a shell without a gate: the file was never made.
            const QByteArray seen = runOk(*m_shell, "test -e " + marker + " && echo yes || echo no");
            QCOMPARE(seen.trimmed(), QByteArray("no"));
        }
        {
            ssh::AuditWriter writer(dbo);
            ssh::SandboxShellOptions o;
            o.auditSink = writer.sink();
            o.auditGate = writer.gate();
            ssh::SandboxShell shell(m_ca, m_sshd->endpoint(sandboxId), o);
            QVERIFY(await(shell.exec(command("touch " + marker + " && rm " + marker))).ok());
            shell.close();
            writer.close();
        }
        auto db = store::Database::open(dbo);
        QVERIFY(db.ok());
        auto events = store::AuditLog(**db).list();
        QVERIFY(events.ok());
        QCOMPARE(events->size(), 2); // newest first
        QCOMPARE(events->at(1).kind, QStringLiteral("command.start"));
        QCOMPARE(events->at(0).kind, QStringLiteral("command.run"));
        QCOMPARE(events->at(1).data.value(QStringLiteral("command_sha256")),
                 events->at(0).data.value(QStringLiteral("command_sha256")));
    }
};

QTEST_GUILESS_MAIN(TstSshExec)
#include "tst_ssh_exec.moc"

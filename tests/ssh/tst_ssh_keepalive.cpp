// SPDX-License-Identifier: Apache-2.0
// Keepalive against a real sshd: a server that silently stops answering (its per-connection processes are
// SIGSTOPped, so no FIN or RST ever comes) is noticed within interval × (misses + 1), running commands and
// terminals fail saying the connection was lost, and a server that is only idle keeps its connection.

#include "SshTestEnv.h"

#include <QElapsedTimer>
#include <QtTest>

using namespace fluid;
using namespace fluid::test;
using namespace std::chrono_literals;

namespace {

constexpr auto kInterval = 2s;
constexpr int kMisses = 2;
/// Room for a loaded machine on top of interval × (misses + 1).
constexpr qint64 kSlackMs = 4000;

ssh::SandboxShellOptions keepaliveOptions()
{
    ssh::SandboxShellOptions o;
    o.keepaliveInterval = kInterval;
    o.keepaliveMisses = kMisses;
    return o;
}

void verifyLost(const Error& error, const QString& message)
{
    QCOMPARE(error.code, ErrorCode::ConnectionLost);
    QVERIFY2(message.contains(QLatin1String("was lost (no answer for")), qPrintable(message));
}

} // namespace

class TstSshKeepalive : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<ssh::CertificateAuthority> m_ca;

private Q_SLOTS:
    void initTestCase()
    {
        requireLoopbackSshd();
        m_ca = makeTestCa();
    }

    /// Keepalives are answered: a command that prints nothing for several intervals runs to its end.
    void idleServerKeepsTheConnection()
    {
        auto sshd = must(startLoopbackSshd(m_ca));
        auto shell = makeShell(m_ca, *sshd, keepaliveOptions());
        const auto r = await(shell->exec(command("sleep 9; echo done")));
        QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
        QCOMPARE(r->stdoutData.text(), QByteArray("done\n"));
        // Idle without any work for a while longer: still the one connection.
        QTest::qWait(int(2 * std::chrono::milliseconds(kInterval).count()));
        QCOMPARE(runOk(*shell, "echo still"), QByteArray("still\n"));
        QCOMPARE(shell->connectionsStarted(), 1);
    }

    /// The sandbox's sshd stops answering: the running command and the open terminal fail with the lost
    /// connection within interval × (misses + 1), and the next call connects again.
    void silentSandboxIsNoticed()
    {
        auto sshd = must(startLoopbackSshd(m_ca));
        auto shell = makeShell(m_ca, *sshd, keepaliveOptions());
        auto running = shell->exec(command("echo started; sleep 60"));
        auto pty = shell->openPty(ssh::PtyOptions());
        bool opened = false;
        QString ptyFailure;
        connect(pty.get(), &ssh::PtySession::opened, this, [&] { opened = true; });
        connect(pty.get(), &ssh::PtySession::failed, this, [&](const QString& m) { ptyFailure = m; });
        QTRY_VERIFY_WITH_TIMEOUT(opened, 15000);
        // The command has started before the processes are frozen: the connection's sshd, the command and the
        // terminal's shell.
        QTRY_VERIFY_WITH_TIMEOUT(sshd->connectionProcesses().size() >= 3, 15000);
        QTest::qWait(300);
        QVERIFY(!running.isFinished());

        QElapsedTimer timer;
        timer.start();
        FrozenConnections freeze(*sshd);
        QVERIFY(freeze.count() > 0);
        const qint64 bound = std::chrono::milliseconds(kInterval).count() * (kMisses + 1) + kSlackMs;
        QTRY_VERIFY_WITH_TIMEOUT(running.isFinished(), int(bound));
        const qint64 elapsed = timer.elapsed();
        // Not at once: only after the keepalives went unanswered.
        QVERIFY2(elapsed >= std::chrono::milliseconds(kInterval).count() * kMisses - 1000,
                 qPrintable(QString::number(elapsed)));
        const auto r = running.result();
        QVERIFY(!r.ok());
        verifyLost(r.error(), r.error().message);
        QVERIFY2(r.error().message.contains(QStringLiteral("127.0.0.1:%1").arg(sshd->port())),
                 qPrintable(r.error().message));

        QTRY_VERIFY_WITH_TIMEOUT(!ptyFailure.isEmpty(), 5000);
        verifyLost(r.error(), ptyFailure);

        // The listener still answers: new work gets a new connection.
        QCOMPARE(runOk(*shell, "echo again"), QByteArray("again\n"));
        QCOMPARE(shell->connectionsStarted(), 2);
    }

    /// A host connection (plain key, as for remote inspection and ProxyJump) whose server stops answering:
    /// its command fails, work posted afterwards fails with the same error, and a sandbox reached through it
    /// loses its connection too.
    void silentHostIsNoticed()
    {
        auto hostKey = must(ssh::KeyPair::generate());
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("hypervisor");
        o.authorizedKeys = {hostKey.publicKey()};
        auto host = must(startLoopbackSshd(m_ca, o));
        auto sandbox = must(startLoopbackSshd(m_ca));

        ssh::ConnectionOptions c;
        c.host = host->host();
        c.port = host->port();
        c.user = QStringLiteral("root");
        c.hostKeyCheck = ssh::HostKeyCheck::pinned(host->hostKey().publicKey());
        c.identity = ssh::Identity{hostKey, std::nullopt};
        c.keepaliveInterval = kInterval;
        c.keepaliveMisses = kMisses;
        auto connection = ssh::SshConnection::open(c);
        const auto ready = await(connection->ready());
        QVERIFY2(ready.ok(), qPrintable(ready.ok() ? QString() : ready.error().toString()));

        ssh::SandboxEndpoint e = sandbox->endpoint();
        e.jump = connection;
        ssh::SandboxShell jumped(m_ca, e, keepaliveOptions());
        QCOMPARE(runOk(jumped, "echo through"), QByteArray("through\n"));
        auto throughHost = jumped.exec(command("sleep 60"));
        auto onHost = connection->exec(command("sleep 60"));
        // The connection's sshd and the command (the tunnel is no process).
        QTRY_VERIFY_WITH_TIMEOUT(host->connectionProcesses().size() >= 2, 15000);
        QTest::qWait(300);

        FrozenConnections freeze(*host);
        const qint64 bound = std::chrono::milliseconds(kInterval).count() * (kMisses + 1) + kSlackMs;
        QTRY_VERIFY_WITH_TIMEOUT(onHost.isFinished(), int(bound));
        const auto r = onHost.result();
        QVERIFY(!r.ok());
        verifyLost(r.error(), r.error().message);
        QCOMPARE(connection->state(), ssh::SshConnection::State::Closed);

        const auto later = await(connection->exec(command("true")));
        QVERIFY(!later.ok());
        QCOMPARE(later.error().code, ErrorCode::ConnectionLost);
        QCOMPARE(later.error().message, r.error().message);

        // The sandbox's connection ran through the host's: it is lost with it (its tunnel closed, or its
        // own keepalives went unanswered, whichever came first).
        QTRY_VERIFY_WITH_TIMEOUT(throughHost.isFinished(), int(bound));
        QVERIFY(!throughHost.result().ok());
        QCOMPARE(throughHost.result().error().code, ErrorCode::ConnectionLost);
    }
};

QTEST_GUILESS_MAIN(TstSshKeepalive)
#include "tst_ssh_keepalive.moc"

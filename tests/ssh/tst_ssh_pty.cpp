// SPDX-License-Identifier: Apache-2.0
// Interactive terminals against a real sshd: echo, resize (seen by `stty size`), exit status, and the tmux
// helpers used to drive a long-lived shell.

#include "SshTestEnv.h"

#include "ssh/Tmux.h"

#include <QStandardPaths>
#include <QtTest>

using namespace fluid;
using namespace fluid::test;

namespace {

/// Collects what a PtySession emits, on the test's thread.
struct Transcript {
    QByteArray output;
    bool opened = false;
    bool finished = false;
    int exitCode = -2;
    QString failure;

    void attach(ssh::PtySession* s, QObject* context)
    {
        QObject::connect(s, &ssh::PtySession::opened, context, [this] { opened = true; });
        QObject::connect(s, &ssh::PtySession::output, context, [this](const QByteArray& b) { output += b; });
        QObject::connect(s, &ssh::PtySession::finished, context, [this](int code, const QString&) {
            finished = true;
            exitCode = code;
        });
        QObject::connect(s, &ssh::PtySession::failed, context, [this](const QString& m) { failure = m; });
    }
};

} // namespace

class TstSshPty : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    std::unique_ptr<LoopbackSshd> m_sshd;
    std::unique_ptr<ssh::SandboxShell> m_shell;

private Q_SLOTS:
    void initTestCase()
    {
        m_ca = makeTestCa();
        m_sshd = must(startLoopbackSshd(m_ca));
        m_shell = makeShell(m_ca, *m_sshd);
    }

    void cleanupTestCase()
    {
        m_shell.reset();
        if (m_sshd)
            m_sshd->stop();
    }

    void echoResizeAndExit()
    {
        ssh::PtyOptions o;
        o.cols = 80;
        o.rows = 24;
        auto pty = m_shell->openPty(o);
        Transcript t;
        t.attach(pty.get(), this);
        QTRY_VERIFY_WITH_TIMEOUT(t.opened || !t.failure.isEmpty(), 10000);
        QVERIFY2(t.failure.isEmpty(), qPrintable(t.failure));

        pty->write("echo pty-$((40+2))\n");
        QTRY_VERIFY_WITH_TIMEOUT(t.output.contains("pty-42"), 10000);
        // The terminal echoes what was typed, then prints the result.
        QVERIFY(t.output.contains("echo pty-$((40+2))"));

        pty->write("stty size\n");
        QTRY_VERIFY_WITH_TIMEOUT(t.output.contains("24 80"), 10000);
        pty->resize(132, 43);
        pty->write("stty size\n");
        QTRY_VERIFY_WITH_TIMEOUT(t.output.contains("43 132"), 10000);

        pty->write("exit 3\n");
        QTRY_VERIFY_WITH_TIMEOUT(t.finished, 10000);
        QCOMPARE(t.exitCode, 3);
    }

    void closingFromTheClientSide()
    {
        auto pty = m_shell->openPty(ssh::PtyOptions());
        Transcript t;
        t.attach(pty.get(), this);
        QTRY_VERIFY_WITH_TIMEOUT(t.opened, 10000);
        pty->close();
        QTRY_VERIFY_WITH_TIMEOUT(t.finished, 10000);
        // Destroying a session that is still open is fine too.
        auto other = m_shell->openPty(ssh::PtyOptions());
        other.reset();
        QCOMPARE(runOk(*m_shell, "echo still-usable"), QByteArray("still-usable\n"));
    }

    void commandInsteadOfShell()
    {
        ssh::PtyOptions o;
        o.command = "printf 'tty:'; tty >/dev/null && echo yes";
        auto pty = m_shell->openPty(o);
        Transcript t;
        t.attach(pty.get(), this);
        QTRY_VERIFY_WITH_TIMEOUT(t.finished, 10000);
        QVERIFY(t.output.contains("tty:yes"));
        QCOMPARE(t.exitCode, 0);
    }

    void tmuxHelpers()
    {
        if (QStandardPaths::findExecutable(QStringLiteral("tmux")).isEmpty())
            QSKIP("tmux is not installed");
        const QString session = QStringLiteral("fluid-test-%1").arg(QCoreApplication::applicationPid());
        // A tmux server of its own (TMUX_TMPDIR), away from any other tmux on this machine.
        const QByteArray socketDir = makeTempDir(QStringLiteral("tmux")).toUtf8();
        auto run = [this, socketDir](const Result<ssh::ExecRequest>& req) {
            if (!req.ok())
                qFatal("%s", qPrintable(req.error().toString()));
            ssh::ExecRequest r = *req;
            r.environment.append({QByteArray("TMUX_TMPDIR"), socketDir});
            return await(m_shell->exec(r));
        };
        auto created = run(ssh::tmux::newSession(session, 100, 30));
        QVERIFY(created.ok());
        QVERIFY2(created->exitCode == 0, created->stderrData.text().constData());

        QVERIFY(
            run(ssh::tmux::sendKeys(session, "echo \"tmux $((6*7))\" 'quoted $HOME'", true))->succeeded());
        QByteArray pane;
        QTRY_VERIFY_WITH_TIMEOUT(
            (pane = run(ssh::tmux::capturePane(session))->stdoutData.text()).contains("tmux 42 quoted $HOME"),
            10000);

        QVERIFY(run(ssh::tmux::sendKeys(session, "sleep 1000"))->succeeded());
        QVERIFY(run(ssh::tmux::sendKeyNames(session, {QStringLiteral("Enter")}))->succeeded());
        QVERIFY(run(ssh::tmux::sendKeyNames(session, {QStringLiteral("C-c")}))->succeeded());
        QVERIFY(run(ssh::tmux::sendKeys(session, "echo after-interrupt", true))->succeeded());
        QTRY_VERIFY_WITH_TIMEOUT(
            run(ssh::tmux::capturePane(session, 50))->stdoutData.text().contains("after-interrupt\n"), 10000);
        QVERIFY(run(ssh::tmux::killSession(session))->succeeded());
    }
};

QTEST_GUILESS_MAIN(TstSshPty)
#include "tst_ssh_pty.moc"

// SPDX-License-Identifier: Apache-2.0
// MemoryShell, the in-memory RemoteShell for agent-tool unit tests: the file contract the real shell keeps
// over SFTP (the same checks as tst_ssh_sftp), the scripted exec responder and its record, the terminal that
// never opens, and futures that are finished when the call returns.

#include "MemoryShell.h"
#include "RemoteShellContract.h"
#include "TestSupport.h"

#include <QSignalSpy>
#include <QtTest>

using namespace fluid;
using namespace fluid::test;

class TstMemoryShell : public QObject {
    Q_OBJECT

private:
    ManualClock m_clock{QDateTime::fromSecsSinceEpoch(1'750'000'000, Qt::UTC)};
    std::unique_ptr<MemoryShell> m_shell;
    RemoteFilesFixture m_files;

private Q_SLOTS:
    void init()
    {
        m_shell = std::make_unique<MemoryShell>(m_clock);
        m_shell->addFolder(QStringLiteral("/srv/contract"));
        MemoryShell* shell = m_shell.get();
        m_files.folder = QStringLiteral("/srv/contract");
        m_files.put = [shell](const QString& path, const QByteArray& content, int mode) {
            shell->setFile(path, content, mode);
        };
        m_files.contents = [shell](const QString& path) {
            return shell->file(path);
        };
        m_files.mode = [shell](const QString& path) {
            return shell->mode(path);
        };
    }

    // The contract the real shell keeps (tst_ssh_sftp runs the same checks against sshd).
    void readsWholeFiles() { contract::readsWholeFiles(*m_shell, m_files); }
    void readCapAndErrors() { contract::readCapAndErrors(*m_shell, m_files); }
    void pathsAreValidated() { contract::pathsAreValidated(*m_shell, m_files); }
    void writesNewFiles() { contract::writesNewFiles(*m_shell, m_files); }
    void writeKeepsTheMode() { contract::writeKeepsTheMode(*m_shell, m_files); }
    void writeErrors() { contract::writeErrors(*m_shell, m_files); }
    void editsExactlyOnce() { contract::editsExactlyOnce(*m_shell, m_files); }

    void everyFutureIsFinishedWhenTheCallReturns()
    {
        m_shell->setFile(QStringLiteral("/etc/hostname"), "sbx\n");
        m_shell->setResponder([this](const ssh::ExecRequest& r) { return m_shell->reply(r, "ok\n"); });
        QVERIFY(m_shell->readFile(QStringLiteral("/etc/hostname"), 100).isFinished());
        QVERIFY(m_shell->readFile(QStringLiteral("relative"), 100).isFinished());
        QVERIFY(m_shell->writeFile(QStringLiteral("/etc/hostname"), "x", {}).isFinished());
        QVERIFY(m_shell->editFile(QStringLiteral("/etc/hostname"), "x", "y").isFinished());
        ssh::ExecRequest req;
        req.command = "true";
        QVERIFY(m_shell->exec(req).isFinished());
    }

    void setUpFilesAndFolders()
    {
        m_shell->setFile(QStringLiteral("/a/b/c.txt"), "c", 0600);
        QCOMPARE(m_shell->files(), (QStringList{QStringLiteral("/a/b/c.txt")}));
        QCOMPARE(m_shell->mode(QStringLiteral("/a/b/c.txt")), 0600);
        QCOMPARE(m_shell->mode(QStringLiteral("/a/b/none")), -1);
        QVERIFY(!m_shell->file(QStringLiteral("/a/b")).has_value());
        // The folders above a file exist: a new file can be written beside it, a folder cannot be read.
        QVERIFY(m_shell->writeFile(QStringLiteral("/a/b/d.txt"), "d", {}).result().ok());
        QCOMPARE(m_shell->readFile(QStringLiteral("/a"), 10).result().error().code,
                 ErrorCode::InvalidArgument);
        m_shell->removeFile(QStringLiteral("/a/b/c.txt"));
        QCOMPARE(m_shell->readFile(QStringLiteral("/a/b/c.txt"), 10).result().error().code,
                 ErrorCode::NotFound);
    }

    void execAnswersFromTheResponderAndRecordsEveryRequest()
    {
        m_shell->setResponder([this](const ssh::ExecRequest& r) -> Result<ssh::ExecResult> {
            if (r.command == "cat /etc/os-release")
                return m_shell->reply(r, "ID=debian\n");
            if (r.command.startsWith("touch ")) {
                m_shell->setFile(QString::fromUtf8(r.command.mid(6)), {}); // the responder may change files
                return m_shell->reply(r, {});
            }
            return m_shell->reply(r, {}, 127, "sh: not found\n");
        });
        ssh::ExecRequest os;
        os.command = "cat /etc/os-release";
        os.auditLabel = QStringLiteral("read os");
        const auto r = m_shell->exec(os).result();
        QVERIFY(r.ok());
        QCOMPARE(r->stdoutData.text(), QByteArray("ID=debian\n"));
        QVERIFY(r->succeeded());
        QCOMPARE(r->startedAt, m_clock.now());
        QCOMPARE(r->finishedAt, m_clock.now());

        ssh::ExecRequest touch;
        touch.command = "touch /tmp/marker";
        QVERIFY(m_shell->exec(touch).result()->succeeded());
        QCOMPARE(m_shell->file(QStringLiteral("/tmp/marker")), std::optional<QByteArray>(QByteArray()));

        ssh::ExecRequest bad;
        bad.command = "nope";
        const auto failed = m_shell->exec(bad).result();
        QVERIFY(failed.ok());
        QCOMPARE(failed->exitCode, std::optional<int>(127));
        QCOMPARE(failed->stderrData.text(), QByteArray("sh: not found\n"));

        const QList<ssh::ExecRequest> requests = m_shell->requests();
        QCOMPARE(requests.size(), 3);
        QCOMPARE(requests.at(0).command, QByteArray("cat /etc/os-release"));
        QCOMPARE(requests.at(0).auditLabel, QStringLiteral("read os"));
        QCOMPARE(requests.at(1).command, QByteArray("touch /tmp/marker"));
        QCOMPARE(requests.at(2).command, QByteArray("nope"));
    }

    void execChecksRequestsAsTheRealShellDoes()
    {
        int called = 0;
        m_shell->setResponder([&](const ssh::ExecRequest& r) {
            ++called;
            return m_shell->reply(r, {});
        });
        ssh::ExecRequest nul;
        nul.command = QByteArray("echo a\0b", 8);
        QCOMPARE(m_shell->exec(nul).result().error().code, ErrorCode::InvalidArgument);
        ssh::ExecRequest env;
        env.command = "env";
        env.environment = {{"1BAD", "x"}};
        QCOMPARE(m_shell->exec(env).result().error().code, ErrorCode::InvalidArgument);
        QCOMPARE(called, 0);
        QCOMPARE(m_shell->requests().size(), 2); // refused requests are recorded too
    }

    void execWithoutResponderFails()
    {
        ssh::ExecRequest req;
        req.command = "uname -a";
        const auto r = m_shell->exec(req).result();
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Unavailable);
        QVERIFY2(r.error().message.contains(QLatin1String("uname -a")), qPrintable(r.error().message));
    }

    void replyKeepsOutputWithinTheRequestCaps()
    {
        ssh::ExecRequest req;
        req.command = "yes";
        req.stdoutCap = 10;
        const ssh::ExecResult r = m_shell->reply(req, QByteArray(100, 'y') + "END");
        QVERIFY(r.stdoutData.truncated());
        QCOMPARE(r.stdoutData.totalBytes, qint64(103));
        QCOMPARE(r.stdoutData.head, QByteArray("yyyyy"));
        QCOMPARE(r.stdoutData.tail, QByteArray("yyEND"));
    }

    void resultTimesDefaultToTheClock()
    {
        m_shell->setResponder([](const ssh::ExecRequest&) -> Result<ssh::ExecResult> {
            ssh::ExecResult r;
            r.exitCode = 0;
            return r;
        });
        ssh::ExecRequest req;
        req.command = "true";
        m_clock.advance(5000);
        const auto r = m_shell->exec(req).result();
        QCOMPARE(r->startedAt, m_clock.now());
        QCOMPARE(r->finishedAt, m_clock.now());
    }

    void terminalNeverOpens()
    {
        auto pty = m_shell->openPty({});
        QVERIFY(pty);
        QSignalSpy opened(pty.get(), &ssh::PtySession::opened);
        QSignalSpy failed(pty.get(), &ssh::PtySession::failed);
        pty->write("ls\n"); // ignored
        QVERIFY(failed.wait(5000));
        QVERIFY(failed.first().at(0).toString().contains(QLatin1String("no terminal")));
        QCOMPARE(opened.size(), 0);
        QCOMPARE(m_shell->ptyRequests(), 1);
    }
};

QTEST_GUILESS_MAIN(TstMemoryShell)
#include "tst_memoryshell.moc"

// SPDX-License-Identifier: Apache-2.0
// File operations over SFTP against a real sshd (on this machine, so the test checks the files directly):
// reads with a size cap, atomic writes that keep mode and owner, exact-once edits, and path checks.

#include "SshTestEnv.h"

#include <QDir>
#include <QFile>
#include <QtTest>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace fluid;
using namespace fluid::test;

namespace {

struct stat statOf(const QString& path)
{
    struct stat st {};
    ::lstat(QFile::encodeName(path).constData(), &st);
    return st;
}

QByteArray contents(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void put(const QString& path, const QByteArray& data, mode_t mode = 0644)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        qFatal("cannot write %s", qPrintable(path));
    f.write(data);
    f.close();
    ::chmod(QFile::encodeName(path).constData(), mode);
}

} // namespace

class TstSshSftp : public QObject {
    Q_OBJECT

private:
    QString m_dir;
    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    std::unique_ptr<LoopbackSshd> m_sshd;
    std::unique_ptr<ssh::SandboxShell> m_shell;

    QStringList leftovers() const
    {
        return QDir(m_dir).entryList({QStringLiteral("*.fluid-*")},
                                     QDir::Files | QDir::Hidden | QDir::System);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_dir = makeTempDir(QStringLiteral("ssh-sftp"));
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

    void readWholeFile()
    {
        QByteArray data;
        for (int i = 0; i < 300000; ++i)
            data.append(char(i * 31));
        const QString path = m_dir + QStringLiteral("/read.bin");
        put(path, data);
        auto r = await(m_shell->readFile(path, ssh::kDefaultReadCap));
        QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().toString()));
        QCOMPARE(*r, data);

        auto empty = m_dir + QStringLiteral("/empty");
        put(empty, {});
        QCOMPARE(*await(m_shell->readFile(empty, 10)), QByteArray());
    }

    void readCapAndErrors()
    {
        const QString path = m_dir + QStringLiteral("/big.txt");
        put(path, QByteArray(2000, 'x'));
        auto capped = await(m_shell->readFile(path, 1000));
        QVERIFY(!capped.ok());
        QCOMPARE(capped.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(capped.error().message.contains(QLatin1String("2000 bytes")),
                 qPrintable(capped.error().message));
        QVERIFY(capped.error().message.contains(QLatin1String("1000-byte limit")));

        auto missing = await(m_shell->readFile(m_dir + QStringLiteral("/nope"), 100));
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        auto folder = await(m_shell->readFile(m_dir, 100));
        QCOMPARE(folder.error().code, ErrorCode::InvalidArgument);

        // Files whose size stat does not know are capped while reading.
        auto proc = await(m_shell->readFile(QStringLiteral("/proc/self/status"), 16));
        QVERIFY(!proc.ok());
        QCOMPARE(proc.error().code, ErrorCode::InvalidArgument);
    }

    void pathsAreValidatedBeforeAnythingIsSent()
    {
        for (const QString& bad :
             {QStringLiteral("relative/file"), QStringLiteral("/etc/../etc/passwd"), QString()}) {
            QCOMPARE(await(m_shell->readFile(bad, 100)).error().code, ErrorCode::InvalidArgument);
            QCOMPARE(await(m_shell->writeFile(bad, "x")).error().code, ErrorCode::InvalidArgument);
            QCOMPARE(await(m_shell->editFile(bad, "a", "b")).error().code, ErrorCode::InvalidArgument);
        }
        // Normalised paths work.
        const QString path = m_dir + QStringLiteral("/norm.txt");
        put(path, "n");
        QCOMPARE(*await(m_shell->readFile(m_dir + QStringLiteral("//./norm.txt"), 10)), QByteArray("n"));
    }

    void writeNewFile()
    {
        const QString path = m_dir + QStringLiteral("/new.conf");
        QFile::remove(path);
        auto w = await(m_shell->writeFile(path, "hello\n"));
        QVERIFY2(w.ok(), qPrintable(w.ok() ? QString() : w.error().toString()));
        QCOMPARE(contents(path), QByteArray("hello\n"));
        QCOMPARE(statOf(path).st_mode & 07777, mode_t(0644));

        const QString secret = m_dir + QStringLiteral("/secret.key");
        QFile::remove(secret);
        ssh::WriteOptions o;
        o.newFileMode = 0600;
        QVERIFY(await(m_shell->writeFile(secret, "k", o)).ok());
        QCOMPARE(statOf(secret).st_mode & 07777, mode_t(0600));
        QVERIFY(leftovers().isEmpty());
    }

    void atomicWriteKeepsModeAndOwner()
    {
        const passwd* nobody = ::getpwnam("nobody");
        const group* nogroup = ::getgrnam("nogroup");
        QVERIFY(nobody && nogroup);
        const QString path = m_dir + QStringLiteral("/owned.conf");
        put(path, "old content\n", 0640);
        QCOMPARE(::chown(QFile::encodeName(path).constData(), nobody->pw_uid, nogroup->gr_gid), 0);
        const struct stat before = statOf(path);

        QByteArray bigger;
        for (int i = 0; i < 5000; ++i)
            bigger += "line " + QByteArray::number(i) + '\n';
        auto w = await(m_shell->writeFile(path, bigger));
        QVERIFY2(w.ok(), qPrintable(w.ok() ? QString() : w.error().toString()));
        const struct stat after = statOf(path);
        QCOMPARE(contents(path), bigger);
        QCOMPARE(after.st_mode & 07777, mode_t(0640));
        QCOMPARE(after.st_uid, nobody->pw_uid);
        QCOMPARE(after.st_gid, nogroup->gr_gid);
        // A new inode: the file was replaced by rename, never rewritten in place (readers never see half).
        QVERIFY(after.st_ino != before.st_ino);
        QVERIFY(leftovers().isEmpty());

        // Set-id bits survive too (chown clears them; chmod restores).
        const QString tool = m_dir + QStringLiteral("/tool");
        put(tool, "#!/bin/sh\n", 04750);
        QVERIFY(await(m_shell->writeFile(tool, "#!/bin/sh\nexit 0\n")).ok());
        QCOMPARE(statOf(tool).st_mode & 07777, mode_t(04750));
    }

    void writeThroughSymlinkReplacesTheTarget()
    {
        const QString target = m_dir + QStringLiteral("/real.conf");
        const QString link = m_dir + QStringLiteral("/link.conf");
        put(target, "before", 0600);
        QFile::remove(link);
        QVERIFY(QFile::link(target, link));
        QVERIFY(await(m_shell->writeFile(link, "after")).ok());
        QVERIFY(QFileInfo(link).isSymLink());
        QCOMPARE(contents(target), QByteArray("after"));
        QCOMPARE(statOf(target).st_mode & 07777, mode_t(0600));
    }

    void writeErrors()
    {
        auto noFolder = await(m_shell->writeFile(m_dir + QStringLiteral("/missing-dir/f"), "x"));
        QCOMPARE(noFolder.error().code, ErrorCode::NotFound);
        QVERIFY(noFolder.error().message.contains(QLatin1String("does not exist")));
        auto onFolder = await(m_shell->writeFile(m_dir, "x"));
        QCOMPARE(onFolder.error().code, ErrorCode::InvalidArgument);
    }

    void editExactlyOnce()
    {
        const QString path = m_dir + QStringLiteral("/edit.conf");
        put(path, "port = 80\nhost = a\nhost = a\n", 0640);
        auto ok = await(m_shell->editFile(path, "port = 80", "port = 8080"));
        QVERIFY2(ok.ok(), qPrintable(ok.ok() ? QString() : ok.error().toString()));
        QCOMPARE(ok->line, 1);
        QCOMPARE(contents(path), QByteArray("port = 8080\nhost = a\nhost = a\n"));
        QCOMPARE(statOf(path).st_mode & 07777, mode_t(0640));

        auto missing = await(m_shell->editFile(path, "port = 80\n", "x"));
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QVERIFY(missing.error().message.contains(QLatin1String("not found")));

        auto ambiguous = await(m_shell->editFile(path, "host = a", "host = b"));
        QVERIFY(!ambiguous.ok());
        QCOMPARE(ambiguous.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(ambiguous.error().message.contains(QLatin1String("occurs 2 times")),
                 qPrintable(ambiguous.error().message));
        // A failed edit changes nothing.
        QCOMPARE(contents(path), QByteArray("port = 8080\nhost = a\nhost = a\n"));

        auto noFile = await(m_shell->editFile(m_dir + QStringLiteral("/absent"), "a", "b"));
        QCOMPARE(noFile.error().code, ErrorCode::NotFound);
        QVERIFY(leftovers().isEmpty());
    }

    void filesAndCommandsShareTheConnection()
    {
        const QString path = m_dir + QStringLiteral("/shared.txt");
        ssh::ExecRequest slow;
        slow.command = "sleep 1; echo done";
        auto running = m_shell->exec(slow);
        QVERIFY(await(m_shell->writeFile(path, "via sftp")).ok());
        QCOMPARE(*await(m_shell->readFile(path, 100)), QByteArray("via sftp"));
        QVERIFY(!running.isFinished()); // the file work did not wait for the command
        QCOMPARE(await(running)->stdoutData.text(), QByteArray("done\n"));
        QCOMPARE(m_shell->connectionsStarted(), 1);
    }
};

QTEST_GUILESS_MAIN(TstSshSftp)
#include "tst_ssh_sftp.moc"

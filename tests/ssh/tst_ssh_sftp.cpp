// SPDX-License-Identifier: Apache-2.0
// File operations over SFTP against a real sshd (on this machine, so the test checks the files directly):
// reads with a size cap, atomic writes that keep mode and owner, exact-once edits, and path checks. The
// contract every RemoteShell keeps is checked by RemoteShellContract, which tst_memoryshell runs against the
// in-memory double too; the rest is what only a real remote machine shows (owners, inodes, symlinks, /proc).

#include "RemoteShellContract.h"
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

std::optional<QByteArray> existingContents(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    return f.readAll();
}

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
    RemoteFilesFixture m_files;

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
        m_files.folder = m_dir;
        m_files.put = [](const QString& path, const QByteArray& content, int mode) {
            put(path, content, mode_t(mode));
        };
        m_files.contents = existingContents;
        m_files.mode = [](const QString& path) {
            struct stat st {};
            return ::lstat(QFile::encodeName(path).constData(), &st) == 0 ? int(st.st_mode & 07777) : -1;
        };
    }

    void cleanupTestCase()
    {
        m_shell.reset();
        if (m_sshd)
            m_sshd->stop();
    }

    void readWholeFile() { contract::readsWholeFiles(*m_shell, m_files); }

    void readCapAndErrors()
    {
        contract::readCapAndErrors(*m_shell, m_files);
        // Files whose size stat does not know are capped while reading.
        auto proc = await(m_shell->readFile(QStringLiteral("/proc/self/status"), 16));
        QVERIFY(!proc.ok());
        QCOMPARE(proc.error().code, ErrorCode::InvalidArgument);
    }

    void pathsAreValidatedBeforeAnythingIsSent() { contract::pathsAreValidated(*m_shell, m_files); }

    void writeNewFile()
    {
        contract::writesNewFiles(*m_shell, m_files);
        QVERIFY(leftovers().isEmpty());
    }

    void writeKeepsTheMode()
    {
        contract::writeKeepsTheMode(*m_shell, m_files);
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

    void writeErrors() { contract::writeErrors(*m_shell, m_files); }

    void editExactlyOnce()
    {
        contract::editsExactlyOnce(*m_shell, m_files);
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

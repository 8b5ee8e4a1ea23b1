// SPDX-License-Identifier: Apache-2.0
// Login keys kept in Fluid's keychain instead of files: keys OpenSSH's ssh-keygen made (Ed25519, ECDSA,
// RSA; OpenSSH and PEM formats; with and without a passphrase) are read and re-encoded unencrypted, the
// in-memory key file hands them to OpenSSH's own tools without touching a file system, and Fluid's libssh
// connection logs into a real sshd with them.

#include "services/Wiring.h"
#include "ssh/CommandAudit.h"
#include "ssh/LoginKey.h"
#include "ssh/SshConnection.h"
#include "SshTestEnv.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLocalSocket>
#include <QMutex>
#include <QTcpServer>
#include <QTcpSocket>
#include <QtTest>

#include <sys/stat.h>
#include <unistd.h>

using namespace fluid;
using namespace fluid::test;

namespace {

/// "type base64" of an OpenSSH public key line (without the comment).
QString typeAndKey(const QString& line)
{
    return line.section(QLatin1Char(' '), 0, 1).trimmed();
}

} // namespace

class TstSshLoginKey : public QObject {
    Q_OBJECT

private:
    QString m_dir;

    /// A key made by ssh-keygen: its private key file's text and its .pub line.
    struct MadeKey {
        QByteArray privateText;
        QString publicLine;
        QString fingerprint;
    };

    MadeKey makeKey(const QString& name, const QStringList& typeArgs, const QString& passphrase, bool pem)
    {
        const QString path = m_dir + QLatin1Char('/') + name;
        QFile::remove(path);
        QFile::remove(path + QStringLiteral(".pub"));
        QStringList args = typeArgs;
        args << QStringLiteral("-q") << QStringLiteral("-N") << passphrase << QStringLiteral("-C")
             << QStringLiteral("test@fluid") << QStringLiteral("-f") << path;
        if (pem)
            args << QStringLiteral("-m") << QStringLiteral("PEM");
        const ProcessResult made = runProcess(QStringLiteral("ssh-keygen"), args);
        if (made.exitCode != 0)
            qFatal("ssh-keygen failed: %s", made.err.constData());
        MadeKey key;
        QFile priv(path);
        QFile pub(path + QStringLiteral(".pub"));
        if (!priv.open(QIODevice::ReadOnly) || !pub.open(QIODevice::ReadOnly))
            qFatal("cannot read the made key");
        key.privateText = priv.readAll();
        key.publicLine = QString::fromUtf8(pub.readAll()).trimmed();
        const ProcessResult fp =
            runProcess(QStringLiteral("ssh-keygen"),
                       {QStringLiteral("-l"), QStringLiteral("-E"), QStringLiteral("sha256"),
                        QStringLiteral("-f"), path + QStringLiteral(".pub")});
        key.fingerprint = QString::fromUtf8(fp.out).section(QLatin1Char(' '), 1, 1);
        return key;
    }

    /// A loopback sshd standing for a hypervisor host that lets in `keyLines`, listed in a fresh
    /// `knownHosts` file; null when it cannot start.
    static std::unique_ptr<LoopbackSshd> startHost(const QStringList& keyLines, const QString& knownHosts)
    {
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("hypervisor");
        o.authorizedKeyLines = keyLines;
        auto sshd = std::make_unique<LoopbackSshd>(makeTestCa(), o);
        QFile::remove(knownHosts);
        if (!sshd->start().ok() ||
            !ssh::trustHostKey(knownHosts, sshd->host(), sshd->port(), sshd->hostKey().publicKey()).ok())
            return nullptr;
        return sshd;
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (QStandardPaths::findExecutable(QStringLiteral("ssh-keygen")).isEmpty())
            skipWholeTest(QStringLiteral("ssh-keygen (openssh-client) is not installed"));
        m_dir = makeTempDir(QStringLiteral("loginkey"));
    }

    void readsKeysOpenSshMade_data()
    {
        QTest::addColumn<QStringList>("typeArgs");
        QTest::addColumn<bool>("pem");
        QTest::addColumn<QString>("passphrase");
        const QStringList ed = {QStringLiteral("-t"), QStringLiteral("ed25519")};
        const QStringList ec = {QStringLiteral("-t"), QStringLiteral("ecdsa"), QStringLiteral("-b"),
                                QStringLiteral("256")};
        const QStringList rsa = {QStringLiteral("-t"), QStringLiteral("rsa"), QStringLiteral("-b"),
                                 QStringLiteral("2048")};
        QTest::newRow("ed25519") << ed << false << QString();
        QTest::newRow("ed25519 encrypted") << ed << false << QStringLiteral("correct horse");
        QTest::newRow("ecdsa") << ec << false << QString();
        QTest::newRow("ecdsa PEM encrypted") << ec << true << QStringLiteral("s3cret pass");
        QTest::newRow("rsa") << rsa << false << QString();
        QTest::newRow("rsa encrypted") << rsa << false << QStringLiteral("rsa-pass");
        QTest::newRow("rsa PEM") << rsa << true << QString();
        QTest::newRow("rsa PEM encrypted") << rsa << true << QStringLiteral("pem-pass");
    }

    void readsKeysOpenSshMade()
    {
        QFETCH(QStringList, typeArgs);
        QFETCH(bool, pem);
        QFETCH(QString, passphrase);
        const MadeKey made = makeKey(QStringLiteral("key"), typeArgs, passphrase, pem);
        QCOMPARE(ssh::isEncryptedPrivateKey(made.privateText), !passphrase.isEmpty());

        if (!passphrase.isEmpty()) {
            auto without = ssh::parseLoginKey(made.privateText);
            QVERIFY(!without);
            QCOMPARE(without.error().code, ErrorCode::Refused);
            QVERIFY(without.error().message.contains(QLatin1String("passphrase")));
            auto wrong = ssh::parseLoginKey(made.privateText, QStringLiteral("not it"));
            QVERIFY(!wrong);
            QCOMPARE(wrong.error().code, ErrorCode::Refused);
        }
        auto key = ssh::parseLoginKey(made.privateText, passphrase);
        if (QByteArray(QTest::currentDataTag()) == "rsa encrypted") {
            // libssh 0.10 reads it but cannot write it out again: a clear refusal with what to do.
            QVERIFY(!key);
            QCOMPARE(key.error().code, ErrorCode::InvalidArgument);
            QVERIFY2(key.error().message.contains(QLatin1String("ssh-agent")),
                     qPrintable(key.error().message));
            return;
        }
        QVERIFY2(key, qPrintable(key ? QString() : key.error().toString()));
        QCOMPARE(typeAndKey(key->publicKeyLine), typeAndKey(made.publicLine));
        QCOMPARE(key->type, made.publicLine.section(QLatin1Char(' '), 0, 0));
        QCOMPARE(key->fingerprint, made.fingerprint);
        QVERIFY(!ssh::isEncryptedPrivateKey(key->privateKey));
        QVERIFY(!key->privateKey.contains(passphrase.isEmpty() ? QByteArray("\x01") : passphrase.toUtf8()));

        // OpenSSH itself reads the re-encoded key from memory, with no prompt and no file on disk.
        auto file = ssh::MemoryKeyFile::create(key->privateKey);
        QVERIFY2(file, qPrintable(file ? QString() : file.error().toString()));
        const ProcessResult derived = runProcess(QStringLiteral("ssh-keygen"),
                                                 {QStringLiteral("-y"), QStringLiteral("-f"), file->path()});
        QVERIFY2(derived.exitCode == 0, derived.err.constData());
        QCOMPARE(typeAndKey(QString::fromUtf8(derived.out)), typeAndKey(made.publicLine));
    }

    void refusesWhatIsNoKey()
    {
        for (const QByteArray& text :
             {QByteArray(), QByteArray("hello"), QByteArray("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI test"),
              QByteArray("-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE "
                         "KEY-----\n")}) {
            auto key = ssh::parseLoginKey(text);
            QVERIFY(!key);
            QCOMPARE(key.error().code, ErrorCode::InvalidArgument);
        }
    }

    void generatedKeyIsEd25519ThatOpenSshReads()
    {
        auto key = ssh::generateLoginKey(QStringLiteral("fluid@workstation"));
        QVERIFY(key);
        QCOMPARE(key->type, QStringLiteral("ssh-ed25519"));
        QVERIFY(key->publicKeyLine.endsWith(QLatin1String(" fluid@workstation")));
        auto again = ssh::parseLoginKey(key->privateKey);
        QVERIFY(again);
        QCOMPARE(again->fingerprint, key->fingerprint);
        QCOMPARE(typeAndKey(again->publicKeyLine), typeAndKey(key->publicKeyLine));
        QVERIFY(key->fingerprint != must(ssh::generateLoginKey(QString())).fingerprint);
    }

    void memoryKeyFileIsPrivateAndGoesAway()
    {
        const QByteArray text = must(ssh::generateLoginKey(QString())).privateKey;
        QString path;
        {
            auto file = must(ssh::MemoryKeyFile::create(text));
            path = file.path();
            QVERIFY(path.startsWith(QStringLiteral("/proc/%1/fd/").arg(::getpid())));
            struct stat st {};
            QCOMPARE(::stat(QFile::encodeName(path).constData(), &st), 0);
            QCOMPARE(st.st_mode & 0777, mode_t(0600));
            QCOMPARE(st.st_uid, ::getuid());
            QFile read(path);
            QVERIFY(read.open(QIODevice::ReadOnly));
            QCOMPARE(read.readAll(), text);
            // Sealed: nobody can change the key ssh will read.
            QFile write(path);
            QVERIFY(!write.open(QIODevice::WriteOnly | QIODevice::Append) || write.write("x") < 0 ||
                    !write.flush());
            // Moving keeps one owner of the descriptor.
            ssh::MemoryKeyFile moved = std::move(file);
            QCOMPARE(moved.path(), path);
            QVERIFY(file.path().isEmpty());
        }
        QVERIFY(!QFileInfo::exists(path));
        QVERIFY(!ssh::MemoryKeyFile::create({}));
    }

    void libsshLogsInWithAnyKeyType()
    {
        requireLoopbackSshd();
        const MadeKey rsa = makeKey(
            QStringLiteral("rsa-login"),
            {QStringLiteral("-t"), QStringLiteral("rsa"), QStringLiteral("-b"), QStringLiteral("2048")},
            QString(), false);
        const MadeKey ecdsa = makeKey(QStringLiteral("ecdsa-login"),
                                      {QStringLiteral("-t"), QStringLiteral("ecdsa")}, QString(), true);
        const QString knownHosts = m_dir + QStringLiteral("/known_hosts");
        const auto hostSshd = startHost({rsa.publicLine, ecdsa.publicLine}, knownHosts);
        QVERIFY(hostSshd);
        LoopbackSshd& sshd = *hostSshd;

        auto login = [&](const QByteArray& key) {
            ssh::ConnectionOptions c;
            c.host = sshd.host();
            c.port = sshd.port();
            c.user = QStringLiteral("root");
            c.hostKeyCheck = ssh::HostKeyCheck::knownHosts(knownHosts);
            c.loginKey = key;
            auto connection = ssh::SshConnection::open(c);
            return await(connection->ready());
        };
        for (const MadeKey* made : {&rsa, &ecdsa}) {
            const QByteArray key = must(ssh::parseLoginKey(made->privateText, QString())).privateKey;
            auto ok = login(key);
            QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
            QTRY_VERIFY(sshd.log().contains(QStringLiteral("Accepted publickey for root")) &&
                        sshd.log().contains(made->fingerprint));
        }
        // A key the host does not list is refused, and the message names it.
        const auto stranger = must(ssh::generateLoginKey(QString()));
        auto refused = login(stranger.privateKey);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ErrorCode::Refused);
        QVERIFY2(refused.error().message.contains(stranger.fingerprint), qPrintable(refused.error().message));
        sshd.stop();
    }
    /// Root commands Fluid runs on a hypervisor host (the inspection pipeline) reach the audit log: the
    /// connection services make for a remote host hands every command to the session's audit sink.
    void hostShellCommandsAreAudited()
    {
        requireLoopbackSshd();
        const auto login = must(ssh::generateLoginKey(QStringLiteral("fluid-host-login")));
        const QString knownHosts = m_dir + QStringLiteral("/host_known_hosts");
        const auto hostSshd = startHost({login.publicKeyLine}, knownHosts);
        QVERIFY(hostSshd);
        LoopbackSshd& sshd = *hostSshd;

        QMutex mutex;
        QList<ssh::AuditRecord> records;
        const ssh::AuditSink sink = [&](const ssh::AuditRecord& r) {
            QMutexLocker lock(&mutex);
            records.append(r);
        };
        const inspect::HostConnector connect = services::hostShellConnector(
            knownHosts, [&]() -> Result<QByteArray> { return login.privateKey; }, sink);
        auto shell = connect(QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system").arg(sshd.port()));
        QVERIFY2(shell.ok(), qPrintable(shell.ok() ? QString() : shell.error().toString()));
        ssh::ExecRequest request = command("id -u");
        request.auditLabel = QStringLiteral("snapshot inspection: test step");
        auto ran = await((*shell)->exec(request));
        QVERIFY2(ran.ok(), qPrintable(ran.ok() ? QString() : ran.error().toString()));
        QCOMPARE(ran->stdoutData.head.trimmed(), QByteArray("0"));
        QMutexLocker lock(&mutex);
        QCOMPARE(records.size(), 1);
        const model::AuditEvent& e = records.first().event;
        QCOMPARE(e.kind, QStringLiteral("command.run"));
        QCOMPARE(e.summary, QStringLiteral("snapshot inspection: test step"));
        QCOMPARE(e.data.value(QStringLiteral("command")).toString(), QStringLiteral("id -u"));
        QCOMPARE(e.data.value(QStringLiteral("exit_code")).toInt(), 0);
        QVERIFY2(e.data.value(QStringLiteral("target"))
                     .toString()
                     .contains(QLatin1String("root@127.0.0.1 (hypervisor host)")),
                 qPrintable(e.data.value(QStringLiteral("target")).toString()));
        sshd.stop();
    }
    /// A remote host named only by its URI (keyfile= and known_hosts=, as `fluid egress serve` reaches it):
    /// the connection checks the host key against that file, and through it Fluid asks whether an SSH server
    /// answers on the host's side (how a sandbox on a remote host is known to be up).
    void aHostUriNamesItsKeyAndKnownHostsAndReachesTheHostsSide()
    {
        requireLoopbackSshd();
        const auto login = must(ssh::generateLoginKey(QStringLiteral("fluid-uri-login")));
        const QString knownHosts = m_dir + QStringLiteral("/uri_known_hosts");
        const auto hostSshd = startHost({login.publicKeyLine}, knownHosts);
        QVERIFY(hostSshd);
        LoopbackSshd& sshd = *hostSshd;
        const QString keyFile = m_dir + QStringLiteral("/uri_login_key");
        {
            QFile f(keyFile);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            QVERIFY(f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
            QVERIFY(f.write(login.privateKey) == login.privateKey.size());
        }
        const QString uri = QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system?keyfile=%2&known_hosts=%3")
                                .arg(sshd.port())
                                .arg(keyFile, knownHosts);
        auto host = services::connectHostShell(uri);
        QVERIFY2(host.ok(), qPrintable(host.ok() ? QString() : host.error().toString()));
        QVERIFY(services::sshBannerThrough(**host, QStringLiteral("127.0.0.1"), sshd.port(), 5000));
        QTcpServer closed;
        QVERIFY(closed.listen(QHostAddress::LocalHost));
        const quint16 closedPort = closed.serverPort();
        closed.close();
        QVERIFY(!services::sshBannerThrough(**host, QStringLiteral("127.0.0.1"), closedPort, 5000));
        (*host)->close();

        // Another known_hosts file that does not list the host: refused, naming the key it presented.
        const QString empty = m_dir + QStringLiteral("/uri_known_hosts_empty");
        QFile(empty).open(QIODevice::WriteOnly | QIODevice::Truncate);
        auto stranger = services::connectHostShell(QString(uri).replace(knownHosts, empty));
        QVERIFY(!stranger.ok());
        QVERIFY2(stranger.error().toString().contains(sshd.hostKey().publicKey().fingerprint()),
                 qPrintable(stranger.error().toString()));
        sshd.stop();
    }
    /// Remote forwarding: the server listens on its loopback, and a connection made there arrives here as
    /// a socket bridged both ways, with the peer's address as the server saw it.
    void remoteForwardBringsConnectionsBack()
    {
        requireLoopbackSshd();
        const auto login = must(ssh::generateLoginKey(QStringLiteral("fluid-forward")));
        const QString knownHosts = m_dir + QStringLiteral("/forward_known_hosts");
        const auto hostSshd = startHost({login.publicKeyLine}, knownHosts);
        QVERIFY(hostSshd);
        LoopbackSshd& sshd = *hostSshd;
        ssh::ConnectionOptions c;
        c.host = sshd.host();
        c.port = sshd.port();
        c.user = QStringLiteral("root");
        c.hostKeyCheck = ssh::HostKeyCheck::knownHosts(knownHosts);
        c.loginKey = login.privateKey;
        auto connection = ssh::SshConnection::open(c);
        QVERIFY(await(connection->ready()).ok());

        QMutex mutex;
        QList<ssh::ForwardedConnection> accepted;
        const int port = must(
            await(connection->listenForward(QStringLiteral("127.0.0.1"), 0, [&](ssh::ForwardedConnection f) {
                QMutexLocker lock(&mutex);
                accepted.append(std::move(f));
            })));
        QVERIFY(port > 0);

        // A client on the server's side (the same machine here) connects to the forwarded port.
        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, quint16(port));
        QVERIFY(client.waitForConnected(5000));
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                     QMutexLocker lock(&mutex);
                                     return !accepted.isEmpty();
                                 }()),
                                 10000);
        ssh::ForwardedConnection f;
        {
            QMutexLocker lock(&mutex);
            f = accepted.first();
        }
        QCOMPARE(f.originAddress, QStringLiteral("127.0.0.1"));
        QCOMPARE(f.originPort, int(client.localPort()));
        QLocalSocket here;
        QVERIFY(here.setSocketDescriptor(f.fd));
        const auto lineFrom = [](QIODevice& device) {
            QElapsedTimer t;
            t.start();
            while (!device.canReadLine() && t.elapsed() < 10000)
                device.waitForReadyRead(100);
            return device.readLine();
        };
        client.write("from the far side\n");
        QVERIFY(client.waitForBytesWritten(5000));
        QCOMPARE(lineFrom(here), QByteArray("from the far side\n"));
        here.write("and back\n");
        QVERIFY(here.waitForBytesWritten(5000));
        QCOMPARE(lineFrom(client), QByteArray("and back\n"));
        client.close();
        here.close();
        connection->close();
        sshd.stop();
    }
};

QTEST_GUILESS_MAIN(TstSshLoginKey)
#include "tst_ssh_loginkey.moc"

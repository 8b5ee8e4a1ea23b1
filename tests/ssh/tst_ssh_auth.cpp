// SPDX-License-Identifier: Apache-2.0
// Who may connect to whom, against real sshds: certificate login and its refusals (expired, wrong principal,
// source address), strict host verification (pinned sandbox keys, known_hosts for hypervisor hosts with the
// SHA256 fingerprint in the "unknown" error), OpenSSH's own client accepting Fluid's user and host
// certificates, ~/.ssh/config, and ProxyJump through a second sshd.

#include "SshTestEnv.h"

#include <QFile>
#include <QtTest>

using namespace fluid;
using namespace fluid::test;

class TstSshAuth : public QObject {
    Q_OBJECT

private:
    QString m_dir;
    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    std::unique_ptr<LoopbackSshd> m_sshd;

    QString writeText(const QString& name, const QByteArray& text)
    {
        const QString path = m_dir + QLatin1Char('/') + name;
        QFile f(path);
        f.open(QIODevice::WriteOnly | QIODevice::Truncate);
        f.write(text);
        return path;
    }

    /// A client key (file) and a user certificate for it from `ca` (file), as OpenSSH's client needs them.
    std::pair<QString, QString> clientFiles(const ssh::CertificateAuthority& ca, const LoopbackSshd& sshd,
                                            const QString& name)
    {
        auto key = ssh::KeyPair::generate();
        const QString keyPath = m_dir + QLatin1Char('/') + name;
        if (!ssh::writePrivateKeyFile(keyPath, *key).ok())
            qFatal("cannot write key");
        ssh::UserCertificateRequest req;
        req.key = key->publicKey();
        req.sandboxName = sshd.options().sandboxName;
        const auto cert = ca.issueUserCertificate(req);
        return {keyPath,
                writeText(name + QStringLiteral("-cert.pub"), cert->toOpenSshLine().toUtf8() + '\n')};
    }

    Result<void> connectWith(const std::shared_ptr<ssh::CertificateAuthority>& ca,
                             const ssh::SandboxEndpoint& endpoint)
    {
        ssh::SandboxShell shell(ca, endpoint);
        return await(shell.connect());
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_dir = makeTempDir(QStringLiteral("ssh-auth"));
        m_ca = makeTestCa();
        m_sshd = must(startLoopbackSshd(m_ca));
    }

    void cleanupTestCase()
    {
        if (m_sshd)
            m_sshd->stop();
    }

    void certificateLogin()
    {
        auto shell = makeShell(m_ca, *m_sshd);
        QCOMPARE(runOk(*shell, "id -un; echo \"$HOME\""),
                 QByteArray("root\n") + (m_sshd->dir() + QStringLiteral("/home\n")).toUtf8());
        QVERIFY(m_sshd->log().contains(QLatin1String("Accepted publickey for root")));
        QVERIFY(m_sshd->log().contains(QLatin1String("ID fluid sandbox=sandbox-test")));
    }

    void expiredCertificateRefused()
    {
        // A CA whose clock is an hour behind: its certificates expired 55 minutes ago by the server's clock.
        ManualClock past(QDateTime::currentDateTimeUtc().addSecs(-3600));
        auto pastCa = makeTestCa(past);
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("sandbox-expired");
        LoopbackSshd sshd(pastCa, o);
        QVERIFY(sshd.start().ok());
        auto r = connectWith(pastCa, sshd.endpoint());
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Refused);
        QVERIFY2(r.error().message.contains(QLatin1String("refused Fluid's certificate")),
                 qPrintable(r.error().message));
        QVERIFY(r.error().message.contains(QLatin1String("clock")));
        QTRY_VERIFY2(sshd.log().contains(QLatin1String("expired")), qPrintable(sshd.log()));

        // OpenSSH's client with the same kind of certificate is refused too.
        const auto [keyFile, certFile] = clientFiles(*pastCa, sshd, QStringLiteral("expired"));
        const QString knownHosts = writeText(QStringLiteral("known_hosts_expired"),
                                             pastCa->hostCaKnownHostsLine(o.sandboxName).toUtf8() + '\n');
        auto ssh = runProcess(QStringLiteral("ssh"), sshd.opensshArgs(keyFile, certFile, knownHosts)
                                                         << QStringLiteral("true"));
        QCOMPARE(ssh.exitCode, 255);
        QVERIFY2(ssh.err.contains("Permission denied"), ssh.err.constData());
    }

    void wrongPrincipalRefused()
    {
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("sandbox-a");
        o.principals = {QStringLiteral("sandbox-b")}; // root accepts only another sandbox's certificates
        LoopbackSshd sshd(m_ca, o);
        QVERIFY(sshd.start().ok());
        auto r = connectWith(m_ca, sshd.endpoint());
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Refused);
        QVERIFY(r.error().message.contains(QLatin1String("principal sandbox-a")));
    }

    void untrustedCaRefused()
    {
        auto otherCa = makeTestCa();
        auto r = connectWith(otherCa, m_sshd->endpoint());
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Refused);
    }

    void sourceAddressOption()
    {
        ssh::SandboxShellOptions far;
        far.sourceAddresses = {QStringLiteral("10.9.9.9/32")};
        ssh::SandboxShell refused(m_ca, m_sshd->endpoint(), far);
        auto r = await(refused.connect());
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Refused);

        ssh::SandboxShellOptions near;
        near.sourceAddresses = {QStringLiteral("127.0.0.1/32")};
        ssh::SandboxShell accepted(m_ca, m_sshd->endpoint(), near);
        QVERIFY(await(accepted.connect()).ok());
    }

    void wrongHostKeyRefused()
    {
        ssh::SandboxEndpoint e = m_sshd->endpoint();
        e.hostKey = ssh::KeyPair::generate()->publicKey();
        auto r = connectWith(m_ca, e);
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Tampered);
        QVERIFY(r.error().message.contains(m_sshd->hostKey().publicKey().fingerprint()));
        QVERIFY(r.error().message.contains(e.hostKey.fingerprint()));
        // Refused before authenticating: the server never saw a certificate from this attempt.
        QVERIFY(await(makeShell(m_ca, *m_sshd)->connect()).ok());
    }

    void openSshClientAcceptsFluidCertificates()
    {
        const auto [keyFile, certFile] = clientFiles(*m_ca, *m_sshd, QStringLiteral("openssh-client"));
        const QString knownHosts =
            writeText(QStringLiteral("known_hosts_ca"),
                      m_ca->hostCaKnownHostsLine(m_sshd->options().sandboxName).toUtf8() + '\n');
        auto r = runProcess(QStringLiteral("ssh"), m_sshd->opensshArgs(keyFile, certFile, knownHosts)
                                                       << QStringLiteral("echo via-openssh"));
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.out, QByteArray("via-openssh\n"));

        // The host is trusted only through its certificate: another CA in known_hosts fails strict checking.
        const QString wrongCa =
            writeText(QStringLiteral("known_hosts_other_ca"),
                      makeTestCa()->hostCaKnownHostsLine(m_sshd->options().sandboxName).toUtf8() + '\n');
        auto bad = runProcess(QStringLiteral("ssh"), m_sshd->opensshArgs(keyFile, certFile, wrongCa)
                                                         << QStringLiteral("true"));
        QCOMPARE(bad.exitCode, 255);
        QVERIFY2(bad.err.contains("Host key verification failed"), bad.err.constData());

        // Without the certificate the bare key is not authorized.
        auto noCert = runProcess(QStringLiteral("ssh"), m_sshd->opensshArgs(keyFile, QString(), knownHosts)
                                                            << QStringLiteral("-o")
                                                            << QStringLiteral("CertificateFile=/dev/null")
                                                            << QStringLiteral("true"));
        QCOMPARE(noCert.exitCode, 255);
    }

    void knownHostsForHypervisorHosts()
    {
        auto hvKey = ssh::KeyPair::generate();
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("hypervisor");
        o.authorizedKeys = {hvKey->publicKey()};
        LoopbackSshd hv(m_ca, o);
        QVERIFY(hv.start().ok());

        auto connect = [&](const QString& knownHosts) {
            ssh::ConnectionOptions c;
            c.host = hv.host();
            c.port = hv.port();
            c.user = QStringLiteral("root");
            c.hostKeyCheck = ssh::HostKeyCheck::knownHosts(knownHosts);
            c.identity = ssh::Identity{*hvKey, std::nullopt};
            auto conn = ssh::SshConnection::open(c);
            return await(conn->ready());
        };

        // Unknown: refused, and the message carries the fingerprint a person must confirm.
        const QString kh = m_dir + QStringLiteral("/known_hosts_hv");
        QFile::remove(kh);
        auto unknown = connect(kh);
        QVERIFY(!unknown.ok());
        QCOMPARE(unknown.error().code, ErrorCode::NotFound);
        const QString fingerprint = hv.hostKey().publicKey().fingerprint();
        QVERIFY2(unknown.error().message.contains(fingerprint), qPrintable(unknown.error().message));
        QVERIFY(unknown.error().message.contains(QLatin1String("SHA256:")));

        // The fingerprint a person sees before trusting matches what the server presents.
        auto fetched = ssh::SshConnection::fetchHostKey(hv.host(), hv.port(), std::chrono::seconds(10));
        QVERIFY(fetched.ok());
        QCOMPARE(fetched->fingerprint(), fingerprint);

        // Trusted after confirmation.
        QVERIFY(ssh::trustHostKey(kh, hv.host(), hv.port(), *fetched).ok());
        auto trusted = connect(kh);
        QVERIFY2(trusted.ok(), qPrintable(trusted.ok() ? QString() : trusted.error().toString()));

        // Changed: a loud Tampered error, not a prompt.
        const QString changed = m_dir + QStringLiteral("/known_hosts_changed");
        QFile::remove(changed);
        QVERIFY(ssh::trustHostKey(changed, hv.host(), hv.port(), ssh::KeyPair::generate()->publicKey()).ok());
        auto mismatch = connect(changed);
        QVERIFY(!mismatch.ok());
        QCOMPARE(mismatch.error().code, ErrorCode::Tampered);
        QVERIFY(mismatch.error().message.contains(QLatin1String("CHANGED")));
        QVERIFY(mismatch.error().message.contains(fingerprint));
    }

    void sshConfigIsHonouredForHypervisorHosts()
    {
        auto hvKey = ssh::KeyPair::generate();
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("hv-config");
        o.authorizedKeys = {hvKey->publicKey()};
        LoopbackSshd hv(m_ca, o);
        QVERIFY(hv.start().ok());
        const QString keyFile = m_dir + QStringLiteral("/hv-config-key");
        QVERIFY(ssh::writePrivateKeyFile(keyFile, *hvKey).ok());
        const QString kh = m_dir + QStringLiteral("/known_hosts_config");
        QFile::remove(kh);
        QVERIFY(ssh::trustHostKey(kh, hv.host(), hv.port(), hv.hostKey().publicKey()).ok());
        const QString config =
            writeText(QStringLiteral("ssh_config"), QStringLiteral("Host my-hypervisor\n"
                                                                   "  HostName 127.0.0.1\n"
                                                                   "  Port %1\n"
                                                                   "  User root\n"
                                                                   "  IdentityFile %2\n"
                                                                   "  UserKnownHostsFile %3\n")
                                                        .arg(hv.port())
                                                        .arg(keyFile, kh)
                                                        .toUtf8());
        ssh::ConnectionOptions c;
        c.host = QStringLiteral("my-hypervisor");
        c.useSshConfig = true;
        c.sshConfigFile = config;
        c.hostKeyCheck = ssh::HostKeyCheck::knownHosts(); // the config names the file
        auto conn = ssh::SshConnection::open(c);
        auto ready = await(conn->ready());
        QVERIFY2(ready.ok(), qPrintable(ready.ok() ? QString() : ready.error().toString()));
        QCOMPARE(conn->describe(), QStringLiteral("root@127.0.0.1:%1").arg(hv.port()));
        QCOMPARE(runOk(*conn, "id -un"), QByteArray("root\n"));
    }

    void proxyJumpThroughAHypervisorHost()
    {
        auto hvKey = ssh::KeyPair::generate();
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("jump-host");
        o.authorizedKeys = {hvKey->publicKey()};
        o.logLevel = QStringLiteral("DEBUG1"); // logs each direct-tcpip request
        LoopbackSshd jump(m_ca, o);
        QVERIFY(jump.start().ok());
        const QString kh = m_dir + QStringLiteral("/known_hosts_jump");
        QFile::remove(kh);
        QVERIFY(ssh::trustHostKey(kh, jump.host(), jump.port(), jump.hostKey().publicKey()).ok());

        ssh::ConnectionOptions c;
        c.host = jump.host();
        c.port = jump.port();
        c.user = QStringLiteral("root");
        c.hostKeyCheck = ssh::HostKeyCheck::knownHosts(kh);
        c.identity = ssh::Identity{*hvKey, std::nullopt};
        auto hvConn = ssh::SshConnection::open(c);
        QVERIFY(await(hvConn->ready()).ok());

        ssh::SandboxEndpoint e = m_sshd->endpoint();
        e.jump = hvConn;
        ssh::SandboxShell shell(m_ca, e);
        const QByteArray out = runOk(shell, "echo \"$SSH_CLIENT\"; id -un");
        QVERIFY2(out.endsWith("root\n"), out.constData());
        QTRY_VERIFY2(jump.log().contains(QStringLiteral("target 127.0.0.1 port %1").arg(m_sshd->port())),
                     qPrintable(jump.log().right(2000)));

        // The sandbox's host key is still pinned through the tunnel.
        e.hostKey = ssh::KeyPair::generate()->publicKey();
        ssh::SandboxShell wrongKey(m_ca, e);
        auto r = await(wrongKey.connect());
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Tampered);

        // A jump host that forbids forwarding gives a clear error.
        LoopbackSshd::Options closed = o;
        closed.sandboxName = QStringLiteral("closed-jump");
        closed.extraConfig = {QStringLiteral("AllowTcpForwarding no")};
        LoopbackSshd noForward(m_ca, closed);
        QVERIFY(noForward.start().ok());
        QVERIFY(
            ssh::trustHostKey(kh, noForward.host(), noForward.port(), noForward.hostKey().publicKey()).ok());
        c.port = noForward.port();
        auto closedConn = ssh::SshConnection::open(c);
        QVERIFY(await(closedConn->ready()).ok());
        e = m_sshd->endpoint();
        e.jump = closedConn;
        ssh::SandboxShell blocked(m_ca, e);
        auto refused = await(blocked.connect());
        QVERIFY(!refused.ok());
        QVERIFY2(refused.error().message.contains(QLatin1String("through")),
                 qPrintable(refused.error().message));
    }
};

QTEST_GUILESS_MAIN(TstSshAuth)
#include "tst_ssh_auth.moc"

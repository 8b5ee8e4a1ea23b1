// SPDX-License-Identifier: Apache-2.0
// A remote libvirt host's SSH key is checked by Fluid, strictly, before libvirt's own SSH transport runs:
// against a real OpenSSH sshd on 127.0.0.1 standing in for the host.
#include "LoopbackSshd.h"
#include "services/Wiring.h"
#include "ssh/HostTrust.h"
#include "ssh/LoginKey.h"
#include "ssh/SshKeys.h"
#include "SshTestEnv.h"

#include <QDir>
#include <QFile>
#include <QTest>

using namespace fluid;
using namespace fluid::test;

class TestRemoteHost : public QObject {
    Q_OBJECT

    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    std::unique_ptr<LoopbackSshd> m_sshd;
    QString m_dir;

    QString uri(const QString& query = QStringLiteral("?no_tty=1")) const
    {
        return QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system%2").arg(m_sshd->port()).arg(query);
    }

    QByteArray knownHostsContent(const QString& file) const
    {
        QFile f(file);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_dir = makeTempDir(QStringLiteral("remote-host"));
        m_ca = makeTestCa();
        m_sshd = must(startLoopbackSshd(m_ca));
    }

    void cleanupTestCase()
    {
        if (m_sshd)
            m_sshd->stop();
    }

    void unknownKeyIsAnErrorShowingItsFingerprint()
    {
        const QString knownHosts = m_dir + QStringLiteral("/unknown_known_hosts");
        auto r = services::connectHypervisor(uri(), knownHosts);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::NotFound);
        const QString fingerprint = m_sshd->hostKey().publicKey().fingerprint();
        QVERIFY2(r.error().message.contains(fingerprint), qPrintable(r.error().message));
        QVERIFY(!QFile::exists(knownHosts)); // nothing was trusted on first use
    }

    void changedKeyIsRefusedLoudly()
    {
        const QString knownHosts = m_dir + QStringLiteral("/changed_known_hosts");
        const ssh::KeyPair other = must(ssh::KeyPair::generate());
        must(ssh::trustHostKey(knownHosts, QStringLiteral("127.0.0.1"), m_sshd->port(), other.publicKey()));
        auto r = services::connectHypervisor(uri(), knownHosts);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::Tampered);
    }

    void verificationCannotBeTurnedOff()
    {
        auto r =
            services::connectHypervisor(uri(QStringLiteral("?no_verify=1")), m_dir + QStringLiteral("/kh"));
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::Refused);
    }

    void trustNeedsTheConfirmedFingerprint()
    {
        const QString knownHosts = m_dir + QStringLiteral("/trusted_known_hosts");
        const QString fingerprint = m_sshd->hostKey().publicKey().fingerprint();
        const QString wrong = must(ssh::KeyPair::generate()).publicKey().fingerprint();

        auto refused = services::trustHypervisorHost(uri(), wrong, knownHosts);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, ErrorCode::Tampered);
        QVERIFY(knownHostsContent(knownHosts).isEmpty());

        QCOMPARE(must(services::trustHypervisorHost(uri(), fingerprint, knownHosts)), fingerprint);
        QVERIFY(knownHostsContent(knownHosts)
                    .contains(QStringLiteral("[127.0.0.1]:%1").arg(m_sshd->port()).toUtf8()));

        // Fluid's check passes now; what fails next is libvirt's own connection (no libvirtd behind this
        // sshd), not the host key.
        auto r = services::connectHypervisor(uri(), knownHosts);
        QVERIFY(!r);
        QVERIFY2(r.error().code != ErrorCode::NotFound && r.error().code != ErrorCode::Tampered,
                 qPrintable(r.error().toString()));
        QVERIFY2(r.error().message.contains(QLatin1String("Cannot connect to libvirt")),
                 qPrintable(r.error().toString()));

        QCOMPARE(services::trustHypervisorHost(QStringLiteral("qemu:///system"), fingerprint, knownHosts)
                     .error()
                     .code,
                 ErrorCode::Refused);
    }

    // A login key from the keychain reaches libvirt's own ssh in memory: sshd logs the login with exactly
    // that key, and no key file appears anywhere.
    void keychainLoginKeyReachesLibvirtsSsh()
    {
        const auto key = must(ssh::generateLoginKey(QStringLiteral("fluid@test")));
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("hypervisor");
        o.authorizedKeyLines = {key.publicKeyLine};
        LoopbackSshd host(m_ca, o);
        QVERIFY(host.start().ok());
        // libvirt runs OpenSSH's ssh, which reads the user's real ~/.ssh (from the password database, not
        // $HOME) and asks the agent. The test gives it a wrapper (libvirt's `command`) that points it at
        // this test's known_hosts and offers only the keys passed with -i, so the key below is the only one.
        const QString knownHosts = m_dir + QStringLiteral("/libvirt_known_hosts");
        QFile::remove(knownHosts);
        must(ssh::trustHostKey(knownHosts, host.host(), host.port(), host.hostKey().publicKey()));
        const QString wrapper = m_dir + QStringLiteral("/ssh-wrapper");
        must(writeIsolatedSshCommand(wrapper, knownHosts));
        const QString hostUri = QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system?no_tty=1&command=%2")
                                    .arg(host.port())
                                    .arg(wrapper);

        // Without the key: ssh has nothing the host accepts.
        auto without = services::connectHypervisor(hostUri, knownHosts);
        QVERIFY(!without);
        QVERIFY2(without.error().toString().contains(QLatin1String("Permission denied")),
                 qPrintable(without.error().toString()));
        QVERIFY(!host.log().contains(QLatin1String("Accepted publickey")));

        // With it: the login succeeds. What comes next depends on this machine: with no libvirtd behind
        // this sshd the connect fails past ssh; with one (the test bed's socket is shared) it succeeds.
        auto with = services::connectHypervisor(hostUri, knownHosts, key.privateKey);
        if (with) {
            qInfo("with the key, libvirt connected (a libvirtd answers on this machine's socket)");
        } else {
            QVERIFY2(!with.error().toString().contains(QLatin1String("Permission denied")),
                     qPrintable(with.error().toString()));
            qInfo().noquote() << "with the key, libvirt got past ssh to:" << with.error().toString();
        }
        QTRY_VERIFY2(host.log().contains(QStringLiteral("Accepted publickey for root")) &&
                         host.log().contains(key.fingerprint),
                     qPrintable(host.log()));
        // The in-memory file is closed once the connection attempt is over.
        const QStringList fds =
            QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::NoDotAndDotDot | QDir::System);
        for (const QString& fd : fds)
            QVERIFY(!QFile::symLinkTarget(QStringLiteral("/proc/self/fd/") + fd)
                         .contains(QLatin1String("fluid-login-key")));
        host.stop();
    }
};

QTEST_GUILESS_MAIN(TestRemoteHost)
#include "tst_remotehost.moc"

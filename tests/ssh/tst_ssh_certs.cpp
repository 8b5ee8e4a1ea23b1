// SPDX-License-Identifier: Apache-2.0
// Fluid's own certificate and key encoders checked by OpenSSH's tools: every issued certificate parses with
// `ssh-keygen -L` (type, key id, principals, validity, critical options, extensions), and key files written
// by Fluid load in ssh-keygen with the same public key and fingerprint.

#include "SshTestEnv.h"

#include <QFile>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QtTest>

using namespace fluid;
using namespace fluid::test;

namespace {

struct KeygenListing {
    QString type;
    QString keyId;
    QString serial;
    QString signingCa;
    QString validFrom;
    QString validTo;
    QStringList principals;
    QStringList criticalOptions;
    QStringList extensions;
};

/// Parses `ssh-keygen -L` output into its sections.
KeygenListing parseListing(const QString& text)
{
    KeygenListing l;
    QStringList* section = nullptr;
    for (const QString& raw : text.split(QLatin1Char('\n'))) {
        const QString line = raw.trimmed();
        if (line.isEmpty())
            continue;
        const bool indentedDeep = raw.startsWith(QLatin1String("                "));
        if (indentedDeep && section) {
            section->append(line);
            continue;
        }
        section = nullptr;
        const QString key = line.section(QLatin1Char(':'), 0, 0);
        const QString value = line.section(QLatin1Char(':'), 1).trimmed();
        if (key == QLatin1String("Type"))
            l.type = value;
        else if (key == QLatin1String("Key ID"))
            l.keyId = value;
        else if (key == QLatin1String("Serial"))
            l.serial = value;
        else if (key == QLatin1String("Signing CA"))
            l.signingCa = value;
        else if (key == QLatin1String("Valid")) {
            static const QRegularExpression re(QStringLiteral("from (\\S+) to (\\S+)"));
            const auto m = re.match(value);
            l.validFrom = m.captured(1);
            l.validTo = m.captured(2);
        } else if (key == QLatin1String("Principals"))
            section = &l.principals;
        else if (key == QLatin1String("Critical Options"))
            section = value == QLatin1String("(none)") ? nullptr : &l.criticalOptions;
        else if (key == QLatin1String("Extensions"))
            section = value == QLatin1String("(none)") ? nullptr : &l.extensions;
    }
    return l;
}

QString keygenTime(const QDateTime& t)
{
    // ssh-keygen prints local time; the test runs it with TZ=UTC.
    return t.toUTC().toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss"));
}

} // namespace

class TstSshCerts : public QObject {
    Q_OBJECT

private:
    QString m_dir;
    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    ManualClock m_clock{QDateTime::fromSecsSinceEpoch(1'760'000'000, Qt::UTC)};

    KeygenListing list(const ssh::Certificate& cert)
    {
        const QString path = m_dir + QStringLiteral("/cert-%1-cert.pub").arg(cert.serial);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly))
            qFatal("cannot write %s", qPrintable(path));
        f.write(cert.toOpenSshLine(QStringLiteral("test")).toUtf8() + '\n');
        f.close();
        const auto r =
            runProcess(QStringLiteral("ssh-keygen"), {QStringLiteral("-L"), QStringLiteral("-f"), path});
        if (r.exitCode != 0)
            qWarning("ssh-keygen -L failed: %s", r.err.constData());
        return parseListing(QString::fromUtf8(r.out));
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (QStandardPaths::findExecutable(QStringLiteral("ssh-keygen")).isEmpty())
            skipWholeTest(QStringLiteral("ssh-keygen is not installed"));
        qputenv("TZ", "UTC");
        m_dir = makeTempDir(QStringLiteral("ssh-certs"));
        m_ca = makeTestCa(m_clock);
    }

    void userCertificateAsOpenSshSeesIt_data()
    {
        QTest::addColumn<int>("validity");
        QTest::addColumn<QStringList>("sources");
        QTest::newRow("default") << 300 << QStringList();
        QTest::newRow("one-minute") << 60 << QStringList();
        QTest::newRow("ten-minutes-source")
            << 600 << QStringList{QStringLiteral("127.0.0.1/32"), QStringLiteral("10.0.0.0/8")};
    }

    void userCertificateAsOpenSshSeesIt()
    {
        QFETCH(int, validity);
        QFETCH(QStringList, sources);
        ssh::UserCertificateRequest req;
        req.key = ssh::KeyPair::generate()->publicKey();
        req.sandboxName = QStringLiteral("sbx-cert");
        req.sessionId = QStringLiteral("sess-7");
        req.validity = std::chrono::seconds(validity);
        req.sourceAddresses = sources;
        auto cert = m_ca->issueUserCertificate(req);
        QVERIFY(cert.ok());

        const KeygenListing l = list(*cert);
        QCOMPARE(l.type, QStringLiteral("ssh-ed25519-cert-v01@openssh.com user certificate"));
        QCOMPARE(l.keyId, QStringLiteral("\"fluid sandbox=sbx-cert session=sess-7\""));
        QCOMPARE(l.serial, QString::number(cert->serial));
        QVERIFY2(l.signingCa.contains(m_ca->userCaPublicKey().fingerprint()), qPrintable(l.signingCa));
        QCOMPARE(l.principals, QStringList{QStringLiteral("sbx-cert")});
        QCOMPARE(l.validFrom, keygenTime(m_clock.now().addSecs(-30)));
        QCOMPARE(l.validTo, keygenTime(m_clock.now().addSecs(validity)));
        QCOMPARE(l.extensions, QStringList{QStringLiteral("permit-pty")});
        if (sources.isEmpty())
            QVERIFY(l.criticalOptions.isEmpty());
        else
            QCOMPARE(l.criticalOptions,
                     QStringList{QStringLiteral("source-address ") + sources.join(QLatin1Char(','))});
    }

    void hostCertificateAsOpenSshSeesIt()
    {
        ssh::HostCertificateRequest req;
        req.key = ssh::KeyPair::generate()->publicKey();
        req.sandboxName = QStringLiteral("production");
        req.principal = QStringLiteral("fluid-sbx-0b6e");
        auto cert = m_ca->issueHostCertificate(req);
        QVERIFY(cert.ok());
        KeygenListing l = list(*cert);
        QCOMPARE(l.type, QStringLiteral("ssh-ed25519-cert-v01@openssh.com host certificate"));
        // Only the sandbox's own principal, never its chosen name; valid for a sandbox's maximum lifetime
        // (7 days unless sandbox.max_lifetime_days says otherwise), not 30 days.
        QCOMPARE(l.principals, QStringList{QStringLiteral("fluid-sbx-0b6e")});
        QVERIFY(l.signingCa.contains(m_ca->hostCaPublicKey().fingerprint()));
        QVERIFY(l.criticalOptions.isEmpty());
        QVERIFY(l.extensions.isEmpty());
        QCOMPARE(l.validTo, keygenTime(m_clock.now().addDays(7)));
        req.validity = std::chrono::hours(24 * 2);
        l = list(*m_ca->issueHostCertificate(req));
        QCOMPARE(l.validTo, keygenTime(m_clock.now().addDays(2)));
    }

    void privateKeyFilesLoadInOpenSsh()
    {
        auto key = ssh::KeyPair::generate(QStringLiteral("fluid-test-key"));
        const QString path = m_dir + QStringLiteral("/id_ed25519");
        QVERIFY(ssh::writePrivateKeyFile(path, *key).ok());
        const auto perms = QFile::permissions(path);
        QVERIFY(perms.testFlags(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
        QVERIFY(!(perms & (QFileDevice::ReadGroup | QFileDevice::WriteGroup | QFileDevice::ExeGroup |
                           QFileDevice::ReadOther | QFileDevice::WriteOther | QFileDevice::ExeOther)));

        // -y derives the public key from the private key file.
        const auto pub =
            runProcess(QStringLiteral("ssh-keygen"), {QStringLiteral("-y"), QStringLiteral("-f"), path});
        QCOMPARE(pub.exitCode, 0);
        QCOMPARE(QString::fromUtf8(pub.out).trimmed().section(QLatin1Char(' '), 0, 1),
                 key->publicKey().toOpenSshLine());

        const auto fp =
            runProcess(QStringLiteral("ssh-keygen"), {QStringLiteral("-l"), QStringLiteral("-f"), path});
        QCOMPARE(fp.exitCode, 0);
        QVERIFY2(fp.out.contains(key->publicKey().fingerprint().toLatin1()), fp.out.constData());
        QVERIFY(fp.out.contains("fluid-test-key"));

        // And the other way: a key ssh-keygen made loads in Fluid.
        const QString theirs = m_dir + QStringLiteral("/theirs");
        QCOMPARE(runProcess(QStringLiteral("ssh-keygen"),
                            {QStringLiteral("-q"), QStringLiteral("-t"), QStringLiteral("ed25519"),
                             QStringLiteral("-N"), QString(), QStringLiteral("-C"),
                             QStringLiteral("made-by-openssh"), QStringLiteral("-f"), theirs})
                     .exitCode,
                 0);
        QFile f(theirs);
        QVERIFY(f.open(QIODevice::ReadOnly));
        auto loaded = ssh::KeyPair::fromOpenSshPrivateKey(f.readAll());
        QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().toString()));
        QCOMPARE(loaded->comment(), QStringLiteral("made-by-openssh"));
        QFile pubFile(theirs + QStringLiteral(".pub"));
        QVERIFY(pubFile.open(QIODevice::ReadOnly));
        QCOMPARE(*ssh::PublicKey::fromOpenSshLine(QString::fromUtf8(pubFile.readAll())), loaded->publicKey());
    }

    void certificatesSignedByOpenSshParseHere()
    {
        // ssh-keygen signs with our CA key file; our parser and verifier must agree with it.
        const QString caPath = m_dir + QStringLiteral("/ca");
        auto caKey = ssh::KeyPair::generate();
        QVERIFY(ssh::writePrivateKeyFile(caPath, *caKey).ok());
        auto user = ssh::KeyPair::generate();
        const QString userPub = m_dir + QStringLiteral("/user.pub");
        QFile f(userPub);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(user->publicKey().toOpenSshLine().toUtf8() + '\n');
        f.close();
        const auto signedByKeygen =
            runProcess(QStringLiteral("ssh-keygen"),
                       {QStringLiteral("-q"), QStringLiteral("-s"), caPath, QStringLiteral("-I"),
                        QStringLiteral("kid"), QStringLiteral("-n"), QStringLiteral("p1,p2"),
                        QStringLiteral("-V"), QStringLiteral("-5m:+5m"), QStringLiteral("-O"),
                        QStringLiteral("clear"), QStringLiteral("-O"), QStringLiteral("permit-pty"),
                        QStringLiteral("-O"), QStringLiteral("source-address=10.0.0.1"), userPub});
        QCOMPARE(signedByKeygen.exitCode, 0);
        QFile certFile(m_dir + QStringLiteral("/user-cert.pub"));
        QVERIFY(certFile.open(QIODevice::ReadOnly));
        auto cert = ssh::Certificate::fromOpenSshLine(QString::fromUtf8(certFile.readAll()));
        QVERIFY2(cert.ok(), qPrintable(cert.ok() ? QString() : cert.error().toString()));
        QVERIFY(cert->verifySignature().ok());
        QCOMPARE(cert->signatureKey, caKey->publicKey());
        QCOMPARE(cert->principals, (QStringList{QStringLiteral("p1"), QStringLiteral("p2")}));
        QCOMPARE(cert->keyId, QStringLiteral("kid"));
        QCOMPARE(cert->extensions.keys(), QStringList{QStringLiteral("permit-pty")});
        QCOMPARE(cert->criticalOptionText(QStringLiteral("source-address")), QStringLiteral("10.0.0.1"));
        // Re-encoding the parsed fields reproduces the bytes ssh-keygen signed.
        QVERIFY(cert->blob.startsWith(cert->toBeSigned()));
    }
};

QTEST_GUILESS_MAIN(TstSshCerts)
#include "tst_ssh_certs.moc"

// SPDX-License-Identifier: Apache-2.0
// Redaction, Result, Clock and version reporting.
#include "base/BuildInfo.h"
#include "base/Clock.h"
#include "base/Logging.h"
#include "base/Redact.h"
#include "base/Result.h"

#include <QTest>

using namespace fluid;

namespace {
QStringList g_captured;
void capture(QtMsgType, const QMessageLogContext&, const QString& message)
{
    g_captured << message;
}
} // namespace

class TestBase : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void redactsSecretShapes_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("secret");
        QTest::addColumn<QString>("kept");
        QTest::newRow("openai") << "key is sk-proj-AbCdEfGhIjKlMnOpQrStUv0123 ok"
                                << "AbCdEfGhIjKlMnOpQrStUv0123"
                                << "key is";
        QTest::newRow("anthropic") << "x-api-key sk-ant-api03-AAAABBBBCCCCDDDDEEEE"
                                   << "AAAABBBBCCCCDDDDEEEE"
                                   << "x-api-key";
        QTest::newRow("github") << "token ghp_abcdefghijklmnopqrstuvwxyz0123456789"
                                << "ghp_abcdefghij"
                                << "token";
        QTest::newRow("aws") << "AKIAIOSFODNN7EXAMPLE used"
                             << "AKIAIOSFODNN7EXAMPLE"
                             << "used";
        QTest::newRow("bearer") << "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"
                                << "eyJhbGciOiJIUzI1NiJ9"
                                << "Authorization: Bearer";
        QTest::newRow("url") << "postgres://fluid:hunter2secret@db.internal:5432/x"
                             << "hunter2secret"
                             << "postgres://fluid:";
        QTest::newRow("kv") << "PGPASSWORD=s3cr3t-value psql -h x"
                            << "s3cr3t-value"
                            << "psql -h x";
        QTest::newRow("json") << R"({"api_key": "abc123def456", "model": "gpt"})"
                              << "abc123def456"
                              << R"("model": "gpt")";
        QTest::newRow("yaml") << "db_password: 'correct horse'"
                              << "correct horse"
                              << "db_password:";
        QTest::newRow("cli") << "mysql --password=topsecret1 -u root"
                             << "topsecret1"
                             << "-u root";
        QTest::newRow("pem")
            << "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkAAA\n-----END OPENSSH PRIVATE "
               "KEY-----\nafter"
            << "b3BlbnNzaC1rZXkAAA"
            << "after";
        QTest::newRow("pem-truncated") << "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA"
                                       << "MIIEowIBAAKCAQEA"
                                       << "";
    }

    void redactsSecretShapes()
    {
        QFETCH(QString, input);
        QFETCH(QString, secret);
        QFETCH(QString, kept);
        const QString out = redact(input);
        QVERIFY2(!out.contains(secret), qPrintable(out));
        QVERIFY2(out.contains(QLatin1String("REDACTED")), qPrintable(out));
        QVERIFY2(out.contains(kept), qPrintable(out));
    }

    void redactedJsonStaysJson()
    {
        const QString out = redact(QStringLiteral(R"({"password":"p@ss w0rd","user":"bob"})"));
        QCOMPARE(out, QStringLiteral(R"({"password":"[REDACTED]","user":"bob"})"));
    }

    void leavesOrdinaryTextAlone()
    {
        for (const char* text :
             {"apt-get install -y nginx", "passwd alice", "the token bucket is full",
              "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA fluid", "task: set a password policy"}) {
            QCOMPARE(redact(QLatin1String(text)), QLatin1String(text));
        }
    }

    void registeredSecretsAreRemovedEverywhere()
    {
        registerSecret(QStringLiteral("zq-very-own-7731"));
        registerSecret(QStringLiteral("abc")); // too short to register
        QCOMPARE(redact(QStringLiteral("echo zq-very-own-7731 | abc")),
                 QStringLiteral("echo [REDACTED] | abc"));
    }

    void logMessagesAreRedacted()
    {
        QtMessageHandler old = qInstallMessageHandler(capture);
        installRedactingMessageHandler();
        qCWarning(lcCore) << "calling with"
                          << "sk-live-0123456789abcdefghij";
        qInstallMessageHandler(old);
        QCOMPARE(g_captured.size(), 1);
        QVERIFY2(!g_captured.first().contains(QLatin1String("0123456789abcdefghij")),
                 qPrintable(g_captured.first()));
    }

    void resultCarriesValueOrError()
    {
        Result<int> ok(5);
        QVERIFY(ok.ok());
        QCOMPARE(*ok, 5);
        Result<int> bad(
            makeError(ErrorCode::NotFound, QStringLiteral("no such sandbox"), QStringLiteral("sbx-9")));
        QVERIFY(!bad);
        QCOMPARE(bad.error().code, ErrorCode::NotFound);
        QCOMPARE(bad.error().toString(), QStringLiteral("no such sandbox (sbx-9)"));
        QCOMPARE(bad.valueOr(7), 7);
        Result<void> v;
        QVERIFY(v.ok());
        QCOMPARE(errorCodeName(ErrorCode::Tampered), QStringLiteral("tampered"));
    }

    void manualClockMovesOnlyWhenTold()
    {
        ManualClock clock;
        const QDateTime t0 = clock.now();
        clock.advance(1500);
        QCOMPARE(clock.now(), t0.addMSecs(1500));
        QVERIFY(Clock::system().now().isValid());
    }

    void reportsComponentVersions()
    {
        QStringList names;
        for (const ComponentVersion& c : componentVersions()) {
            names << c.name;
            QVERIFY2(!c.version.isEmpty() && c.version != QLatin1String("unknown"), qPrintable(c.name));
        }
        for (const char* n : {"Qt", "libvirt", "libssh", "OpenSSL", "yaml-cpp"})
            QVERIFY2(names.contains(QLatin1String(n)), n);
        QVERIFY(!fluidVersion().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestBase)
#include "tst_base.moc"

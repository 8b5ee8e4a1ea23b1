// SPDX-License-Identifier: Apache-2.0
// Without any session bus, the keychain backend must say so plainly and never put a secret on disk.
#include "NoKeychainEnvironment.h"
#include "secrets/KeychainSecretStore.h"
#include "TestSupport.h"

#include <QCoreApplication>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QtTest>
#include <QUuid>

using namespace fluid;
using namespace fluid::secrets;

namespace {
// A keychain that is not there must fail fast (measured: a few milliseconds); never near ctest's timeout.
constexpr qint64 kMaxFailureMs = 5'000;

// Files under `root` whose bytes contain any of `needles`.
QStringList filesContaining(const QString& root, const QList<QByteArray>& needles)
{
    QStringList hits;
    QDirIterator it(root, QDir::Files | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            continue;
        const QByteArray bytes = file.readAll();
        for (const QByteArray& needle : needles) {
            if (bytes.contains(needle))
                hits << path;
        }
    }
    return hits;
}
} // namespace

class TstKeychainUnavailable : public QObject {
    Q_OBJECT
public:
    explicit TstKeychainUnavailable(QString home)
        : m_home(std::move(home))
    {
    }

private slots:
    void initTestCase();
    void probeIsUnavailable();
    void readIsUnavailable();
    void writeIsUnavailableAndLeavesNoTrace();
    void removeIsUnavailable();
    void openSecretStoreIsUnavailable();
    void scannerFindsAPlantedSecret();

private:
    static void verifyUnavailable(const Error& error);
    static void verifyFast(const QElapsedTimer& timer, const char* what);

    QString m_home;
    KeychainSecretStore m_store;
    const QByteArray m_secret = "fluid-unavailable-" + QUuid::createUuid().toByteArray(QUuid::Id128);
};

void TstKeychainUnavailable::initTestCase()
{
    QVERIFY(qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"));
    QVERIFY(qEnvironmentVariableIsEmpty("DISPLAY"));
    QVERIFY(qEnvironmentVariable("XDG_RUNTIME_DIR").startsWith(m_home));
}

void TstKeychainUnavailable::verifyUnavailable(const Error& error)
{
    QCOMPARE(error.code, ErrorCode::Unavailable);
    QCOMPARE(error.message, KeychainSecretStore::unavailableMessage());
    QVERIFY2(error.message.contains(QLatin1String("No keychain is reachable")), qPrintable(error.message));
    QVERIFY(error.message.contains(QLatin1String("refuses to keep secrets in plaintext")));
    QVERIFY(error.message.contains(QLatin1String("gnome-keyring")));
    QVERIFY(error.message.contains(QLatin1String("KeePassXC")));
    QVERIFY(error.message.contains(QLatin1String("secrets.backend: encrypted-file")));
    QVERIFY(error.message.contains(QLatin1String("config.yaml")));
    // QtKeychain's own words travel in the detail.
    QVERIFY2(!error.detail.isEmpty(), qPrintable(error.toString()));
    qInfo().noquote() << "detail:" << error.detail;
}

void TstKeychainUnavailable::verifyFast(const QElapsedTimer& timer, const char* what)
{
    const qint64 ms = timer.elapsed();
    qInfo("%s failed after %lld ms", what, ms);
    QVERIFY2(ms < kMaxFailureMs, what);
}

void TstKeychainUnavailable::probeIsUnavailable()
{
    QElapsedTimer timer;
    timer.start();
    const Result<void> probed = m_store.probe();
    verifyFast(timer, "probe");
    QVERIFY(!probed.ok());
    verifyUnavailable(probed.error());
}

void TstKeychainUnavailable::readIsUnavailable()
{
    QElapsedTimer timer;
    timer.start();
    const Result<QByteArray> read = m_store.read(QStringLiteral("llm/openai/api-key"));
    verifyFast(timer, "read");
    QVERIFY(!read.ok());
    verifyUnavailable(read.error());
}

void TstKeychainUnavailable::writeIsUnavailableAndLeavesNoTrace()
{
    QElapsedTimer timer;
    timer.start();
    const Result<void> written = m_store.write(QStringLiteral("llm/openai/api-key"), m_secret);
    verifyFast(timer, "write");
    QVERIFY(!written.ok());
    verifyUnavailable(written.error());

    const QStringList hits = filesContaining(m_home, {m_secret, m_secret.toBase64()});
    QVERIFY2(hits.isEmpty(), qPrintable(hits.join(QLatin1Char(' '))));
}

void TstKeychainUnavailable::removeIsUnavailable()
{
    const Result<void> removed = m_store.remove(QStringLiteral("llm/openai/api-key"));
    QVERIFY(!removed.ok());
    verifyUnavailable(removed.error());
}

void TstKeychainUnavailable::openSecretStoreIsUnavailable()
{
    QElapsedTimer timer;
    timer.start();
    const auto opened = openSecretStore(SecretStoreOptions{});
    verifyFast(timer, "openSecretStore");
    QVERIFY(!opened.ok());
    verifyUnavailable(opened.error());
    // Everything written in this run: still nothing on disk.
    QVERIFY(filesContaining(m_home, {m_secret, m_secret.toBase64()}).isEmpty());
}

// The walk above would pass vacuously if it could not see files; show that it finds one.
void TstKeychainUnavailable::scannerFindsAPlantedSecret()
{
    const QString dir = test::makeTempDir(QStringLiteral("planted"));
    QDir().mkpath(dir + QStringLiteral("/.hidden/deep"));
    QFile planted(dir + QStringLiteral("/.hidden/deep/.file"));
    QVERIFY(planted.open(QIODevice::WriteOnly));
    planted.write("prefix " + m_secret.toBase64() + " suffix");
    planted.close();
    QCOMPARE(filesContaining(dir, {m_secret, m_secret.toBase64()}).size(), 1);
}

int main(int argc, char** argv)
{
    // Before QCoreApplication and before anything looks for a session bus.
    const QString home = fluid::test::isolateFromKeychains(QStringLiteral("keychain-unavailable"));
    QCoreApplication app(argc, argv);
    QTEST_SET_MAIN_SOURCE_PATH
    TstKeychainUnavailable test(home);
    return QTest::qExec(&test, argc, argv);
}

#include "tst_keychain_unavailable.moc"

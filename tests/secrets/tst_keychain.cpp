// SPDX-License-Identifier: Apache-2.0
// KeychainSecretStore against a real gnome-keyring in a private D-Bus session
// (tests/scripts/with-keyring.sh).
#include "base/Redact.h"
#include "secrets/KeychainSecretStore.h"
#include "TestSupport.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QProcess>
#include <QThread>
#include <QtTest>
#include <QUuid>

#include <atomic>
#include <memory>
#include <vector>

using namespace fluid;
using namespace fluid::secrets;

namespace {
// `tst_keychain --write-as-helper KEY VALUE` stores VALUE from a separate process, so the parent can read a
// value its own redactor has never seen.
constexpr char kHelperFlag[] = "--write-as-helper";

QByteArray uniqueText(const char* prefix)
{
    return QByteArray(prefix) + QUuid::createUuid().toByteArray(QUuid::Id128);
}
} // namespace

class TstKeychain : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void probeSucceeds();
    void openSecretStoreGivesKeychain();
    void roundTrip();
    void binaryValues();
    void emptyValue();
    void missingKeyIsNotFound();
    void invalidKeysAreRefused_data();
    void invalidKeysAreRefused();
    void wellKnownKeysAreValid();
    void writtenValuesAreRedacted();
    void readValuesAreRedacted();
    void worksFromManyThreads();
    void cleanupTestCase();

private:
    KeychainSecretStore m_store;
    QStringList m_written;
};

void TstKeychain::initTestCase()
{
    // Never touch the person's own keyring: only run inside the wrapper's private session and home.
    if (!QFileInfo(qEnvironmentVariable("HOME")).fileName().startsWith(QLatin1String("fluid-keyring-")))
        test::skipWholeTest(
            QStringLiteral("run through ctest (tests/scripts/with-keyring.sh), which provides "
                           "a private D-Bus session with its own gnome-keyring"));
}

void TstKeychain::probeSucceeds()
{
    QElapsedTimer timer;
    timer.start();
    const Result<void> probed = m_store.probe();
    QVERIFY2(probed.ok(), qPrintable(probed.ok() ? QString() : probed.error().toString()));
    qInfo("probe took %lld ms", timer.elapsed());
    QCOMPARE(m_store.backendName(), QStringLiteral("keychain"));
}

void TstKeychain::openSecretStoreGivesKeychain()
{
    auto opened = openSecretStore(SecretStoreOptions{});
    QVERIFY2(opened.ok(), qPrintable(opened.ok() ? QString() : opened.error().toString()));
    QCOMPARE((*opened)->backendName(), QStringLiteral("keychain"));
}

void TstKeychain::roundTrip()
{
    const QString key = QStringLiteral("test/round-trip");
    m_written << key;
    QElapsedTimer timer;
    timer.start();
    QVERIFY(m_store.write(key, "first-value-123").ok());
    Result<QByteArray> read = m_store.read(key);
    QVERIFY(read.ok());
    QCOMPARE(*read, QByteArray("first-value-123"));
    qInfo("write + read took %lld ms", timer.elapsed());

    QVERIFY(m_store.write(key, "second-value-456").ok());
    read = m_store.read(key);
    QVERIFY(read.ok());
    QCOMPARE(*read, QByteArray("second-value-456"));

    QVERIFY(m_store.remove(key).ok());
    read = m_store.read(key);
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::NotFound);
    QVERIFY(m_store.remove(key).ok()); // removing what is not there is not an error
}

void TstKeychain::binaryValues()
{
    QByteArray all;
    for (int i = 0; i < 256; ++i)
        all.append(char(i));
    const QByteArray withNuls("\0lead\0\0middle\xff\xfe trail\0", 22);
    for (const QByteArray& value : {all, withNuls, QByteArray(3, '\0')}) {
        const QString key = QStringLiteral("test/binary");
        m_written << key;
        QVERIFY(m_store.write(key, value).ok());
        const Result<QByteArray> read = m_store.read(key);
        QVERIFY(read.ok());
        QCOMPARE(read->size(), value.size());
        QCOMPARE(*read, value);
    }
}

void TstKeychain::emptyValue()
{
    const QString key = QStringLiteral("test/empty");
    m_written << key;
    QVERIFY(m_store.write(key, QByteArray()).ok());
    const Result<QByteArray> read = m_store.read(key);
    QVERIFY2(read.ok(), qPrintable(read.ok() ? QString() : read.error().toString()));
    QVERIFY(read->isEmpty());
}

void TstKeychain::missingKeyIsNotFound()
{
    const Result<QByteArray> read = m_store.read(QStringLiteral("test/never-written"));
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::NotFound);
    QVERIFY(read.error().message.contains(QLatin1String("test/never-written")));
}

void TstKeychain::invalidKeysAreRefused_data()
{
    QTest::addColumn<QString>("key");
    QTest::newRow("empty") << QString();
    QTest::newRow("upper case") << QStringLiteral("LLM/openai/api-key");
    QTest::newRow("leading dot") << QStringLiteral(".hidden");
    QTest::newRow("leading slash") << QStringLiteral("/etc/passwd");
    QTest::newRow("leading dash") << QStringLiteral("-rf");
    QTest::newRow("parent") << QStringLiteral("../x");
    QTest::newRow("inner parent") << QStringLiteral("a/../b");
    QTest::newRow("double dot") << QStringLiteral("a..b");
    QTest::newRow("space") << QStringLiteral("a b");
    QTest::newRow("non-ascii") << QStringLiteral("cl\u00e9");
    QTest::newRow("too long") << QString(129, QLatin1Char('a'));
    QTest::newRow("newline") << QStringLiteral("a\nb");
}

void TstKeychain::invalidKeysAreRefused()
{
    QFETCH(QString, key);
    const Result<QByteArray> read = m_store.read(key);
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::InvalidArgument);
    const Result<void> written = m_store.write(key, "some-value-789");
    QVERIFY(!written.ok());
    QCOMPARE(written.error().code, ErrorCode::InvalidArgument);
    const Result<void> removed = m_store.remove(key);
    QVERIFY(!removed.ok());
    QCOMPARE(removed.error().code, ErrorCode::InvalidArgument);
}

void TstKeychain::wellKnownKeysAreValid()
{
    QCOMPARE(keys::llmApiKey(QStringLiteral("OpenAI")), QStringLiteral("llm/openai/api-key"));
    QCOMPARE(keys::hostPassword(QStringLiteral("KVM-01.example.com")),
             QStringLiteral("host/kvm-01.example.com/password"));
    for (const QString& key :
         {keys::llmApiKey(QStringLiteral("anthropic")), QString::fromLatin1(keys::kSshUserCa),
          QString::fromLatin1(keys::kSshHostCa), QString::fromLatin1(keys::kStorePostgresql),
          keys::hostPassword(QStringLiteral("kvm1")), QString(128, QLatin1Char('a'))})
        QVERIFY2(SecretStore::validateKey(key).ok(), qPrintable(key));
}

void TstKeychain::writtenValuesAreRedacted()
{
    const QByteArray text = uniqueText("written-");
    const QString key = QStringLiteral("test/redact-written");
    m_written << key;
    // Not a shape the redactor knows by itself: only registration removes it.
    QVERIFY(redact(QStringLiteral("value is %1").arg(QLatin1String(text))).contains(QLatin1String(text)));
    QVERIFY(m_store.write(key, text).ok());
    QCOMPARE(redact(QStringLiteral("value is %1.").arg(QLatin1String(text))),
             QStringLiteral("value is %1.").arg(QLatin1String(kRedacted)));

    // Not UTF-8: registered in the shapes it takes in logs.
    const QByteArray binary = QByteArray("\xff\xfe\x80\x81", 4) + uniqueText("binary-");
    QVERIFY(m_store.write(key, binary).ok());
    QVERIFY(!redact(QString::fromLatin1(binary.toBase64())).contains(QLatin1String(binary.toBase64())));
    QVERIFY(!redact(QString::fromLatin1(binary.toHex())).contains(QLatin1String(binary.toHex())));
}

void TstKeychain::readValuesAreRedacted()
{
    const QByteArray text = uniqueText("read-");
    const QString key = QStringLiteral("test/redact-read");
    m_written << key;
    QProcess helper;
    helper.start(QCoreApplication::applicationFilePath(),
                 {QString::fromLatin1(kHelperFlag), key, QString::fromLatin1(text)});
    QVERIFY(helper.waitForFinished(30'000));
    QVERIFY2(helper.exitCode() == 0, helper.readAllStandardError().constData());

    QVERIFY(redact(QString::fromLatin1(text)).contains(QLatin1String(text))); // not registered here yet
    const Result<QByteArray> read = m_store.read(key);
    QVERIFY(read.ok());
    QCOMPARE(*read, text);
    QVERIFY(!redact(QStringLiteral("got %1").arg(QLatin1String(text))).contains(QLatin1String(text)));
}

// Worker threads without event loops, one after another and at once: every job must still complete.
void TstKeychain::worksFromManyThreads()
{
    std::atomic<int> failures = 0;
    std::vector<std::unique_ptr<QThread>> threads;
    for (int i = 0; i < 4; ++i) {
        const QString key = QStringLiteral("test/thread-%1").arg(i);
        m_written << key;
        threads.emplace_back(QThread::create([this, key, i, &failures] {
            for (int round = 0; round < 3; ++round) {
                const QByteArray value = QByteArray("thread-value-") + QByteArray::number(i * 10 + round);
                const Result<QByteArray> read =
                    m_store.write(key, value).ok() ? m_store.read(key) : Result<QByteArray>(Error{});
                if (!read.ok() || *read != value)
                    ++failures;
            }
        }));
    }
    for (auto& thread : threads)
        thread->start();
    for (auto& thread : threads)
        QVERIFY(thread->wait(60'000));
    QCOMPARE(failures.load(), 0);
}

void TstKeychain::cleanupTestCase()
{
    m_written.removeDuplicates();
    for (const QString& key : std::as_const(m_written))
        QVERIFY(m_store.remove(key).ok());
}

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    if (argc == 4 && qstrcmp(argv[1], kHelperFlag) == 0) {
        const Result<void> written =
            KeychainSecretStore().write(QString::fromLocal8Bit(argv[2]), QByteArray(argv[3]));
        if (!written.ok())
            qCritical().noquote() << written.error().toString();
        return written.ok() ? 0 : 1;
    }
    QTEST_SET_MAIN_SOURCE_PATH
    TstKeychain test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_keychain.moc"

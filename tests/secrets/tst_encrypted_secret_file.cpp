// SPDX-License-Identifier: Apache-2.0
#include "base/Redact.h"
#include "NoKeychainEnvironment.h"
#include "secrets/EncryptedFileSecretStore.h"
#include "secrets/KeychainSecretStore.h"
#include "TestSupport.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QtEndian>
#include <QThread>
#include <QtTest>
#include <QUuid>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <atomic>
#include <memory>
#include <vector>

using namespace fluid;
using namespace fluid::secrets;

namespace {
const QString kPassphrase = QStringLiteral("correct horse battery staple");

// Header layout (see EncryptedFileSecretStore.h).
constexpr int kNonceOffset = 38;
constexpr int kNonceSize = 12;
constexpr int kHeaderSize = 50;

QByteArray fileBytes(const QString& path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

bool writeBytes(const QString& path, const QByteArray& bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(bytes) == bytes.size();
}

QString errorText(const Error& error)
{
    return error.toString();
}

quint32 headerField(const QByteArray& file, int offset)
{
    return qFromBigEndian<quint32>(file.constData() + offset);
}

/// A version-1 file written the way an earlier Fluid wrote it (scrypt N=2^14), built here from the format
/// in EncryptedFileSecretStore.h with OpenSSL directly, not with the class under test.
QByteArray earlierFile(const QByteArray& passphrase, const QByteArray& json)
{
    const quint32 n = 1u << 14, r = 8, p = 1;
    QByteArray salt(16, '\0'), nonce(kNonceSize, '\0'), key(32, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), 16);
    RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonceSize);
    if (EVP_PBE_scrypt(passphrase.constData(), size_t(passphrase.size()),
                       reinterpret_cast<const unsigned char*>(salt.constData()), 16, n, r, p, 64u << 20,
                       reinterpret_cast<unsigned char*>(key.data()), 32) != 1)
        return {};
    QByteArray header("FLUIDSEC");
    char field[4];
    qToBigEndian<quint16>(1, field);
    header.append(field, 2);
    for (quint32 v : {n, r, p}) {
        qToBigEndian<quint32>(v, field);
        header.append(field, 4);
    }
    header += salt + nonce;
    QByteArray out(json.size(), '\0'), tag(16, '\0');
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    const bool ok =
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
        EVP_EncryptInit_ex(ctx, nullptr, nullptr, reinterpret_cast<const unsigned char*>(key.constData()),
                           reinterpret_cast<const unsigned char*>(nonce.constData())) == 1 &&
        EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(header.constData()),
                          int(header.size())) == 1 &&
        EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                          reinterpret_cast<const unsigned char*>(json.constData()), int(json.size())) == 1 &&
        EVP_EncryptFinal_ex(ctx, nullptr, &len) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag.data()) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok && header.size() == kHeaderSize ? header + out + tag : QByteArray();
}
} // namespace

class TstEncryptedSecretFile : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void roundTripAcrossInstances();
    void missingFileIsAnEmptyStore();
    void wrongPassphrase();
    void modifiedFile_data();
    void modifiedFile();
    void filePermissions();
    void noPlaintextInFile();
    void freshNonceOnEveryWrite();
    void emptyPassphraseIsRefused();
    void invalidKeysAreRefused();
    void noTemporaryFilesLeft();
    void valuesAreRedacted();
    void concurrentWriters();
    void openSecretStoreEncryptedFile();
    void weakerFileIsReencryptedWhenUnlocked();
    void openSecretStoreKeychainWithoutKeychain();

private:
    QString newPath(const QString& name) const
    {
        return test::makeTempDir(name) + QStringLiteral("/secrets.bin");
    }
    QString decryptMessage(const QString& path) const
    {
        return QStringLiteral("cannot decrypt %1: wrong passphrase, or the file was modified").arg(path);
    }

    QString m_home;
    std::unique_ptr<EncryptedFileSecretStore> m_writer;
    std::unique_ptr<EncryptedFileSecretStore> m_reader;
};

void TstEncryptedSecretFile::initTestCase()
{
    // openSecretStore(Keychain) below must not reach the person's keyring.
    m_home = test::isolateFromKeychains(QStringLiteral("encrypted-secret-home"));
}

void TstEncryptedSecretFile::roundTripAcrossInstances()
{
    const QString dir = test::makeTempDir(QStringLiteral("roundtrip"));
    const QString path = dir + QStringLiteral("/missing/parent/secrets.bin");
    const QByteArray binary("\0\x01\xff binary \0", 12);
    {
        EncryptedFileSecretStore store(path, kPassphrase);
        QCOMPARE(store.backendName(), QStringLiteral("encrypted-file"));
        QElapsedTimer timer;
        timer.start();
        QVERIFY(store.write(QStringLiteral("llm/openai/api-key"), "sk-first-value").ok());
        qInfo("first write (scrypt N=2^18 r=8 p=1 + AES-GCM + atomic save) took %lld ms", timer.elapsed());
        timer.restart();
        QVERIFY(store.write(QStringLiteral("ssh/user-ca"), binary).ok());
        qInfo("second write (key cached) took %lld ms", timer.elapsed());
        QVERIFY(store.write(QStringLiteral("store/postgresql"), QByteArray()).ok());
    }
    EncryptedFileSecretStore reopened(path, kPassphrase);
    QElapsedTimer timer;
    timer.start();
    Result<QByteArray> read = reopened.read(QStringLiteral("llm/openai/api-key"));
    qInfo("first read in a new instance (scrypt + decrypt) took %lld ms", timer.elapsed());
    QVERIFY2(read.ok(), qPrintable(read.ok() ? QString() : errorText(read.error())));
    QCOMPARE(*read, QByteArray("sk-first-value"));
    timer.restart();
    read = reopened.read(QStringLiteral("ssh/user-ca"));
    qInfo("second read (key cached) took %lld ms", timer.elapsed());
    QVERIFY(read.ok());
    QCOMPARE(*read, binary);
    read = reopened.read(QStringLiteral("store/postgresql"));
    QVERIFY(read.ok());
    QVERIFY(read->isEmpty());

    QVERIFY(reopened.write(QStringLiteral("llm/openai/api-key"), "sk-second-value").ok());
    QVERIFY(reopened.remove(QStringLiteral("ssh/user-ca")).ok());
    QVERIFY(reopened.remove(QStringLiteral("ssh/user-ca")).ok());

    EncryptedFileSecretStore third(path, kPassphrase);
    read = third.read(QStringLiteral("llm/openai/api-key"));
    QVERIFY(read.ok());
    QCOMPARE(*read, QByteArray("sk-second-value"));
    read = third.read(QStringLiteral("ssh/user-ca"));
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::NotFound);
}

void TstEncryptedSecretFile::missingFileIsAnEmptyStore()
{
    const QString path = newPath(QStringLiteral("missing"));
    EncryptedFileSecretStore store(path, kPassphrase);
    QVERIFY(store.probe().ok());
    const Result<QByteArray> read = store.read(QStringLiteral("llm/openai/api-key"));
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::NotFound);
    QVERIFY(store.remove(QStringLiteral("llm/openai/api-key")).ok());
    QVERIFY(!QFileInfo::exists(path)); // reading and removing never create the file
}

void TstEncryptedSecretFile::wrongPassphrase()
{
    const QString path = newPath(QStringLiteral("wrong"));
    QVERIFY(
        EncryptedFileSecretStore(path, kPassphrase).write(QStringLiteral("ssh/host-ca"), "ca-key-data").ok());
    const QByteArray before = fileBytes(path);

    EncryptedFileSecretStore wrong(path, QStringLiteral("correct horse battery stapler"));
    const Result<QByteArray> read = wrong.read(QStringLiteral("ssh/host-ca"));
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::Crypto);
    QCOMPARE(read.error().message, decryptMessage(path));
    const Result<void> probed = wrong.probe();
    QVERIFY(!probed.ok());
    QCOMPARE(probed.error().code, ErrorCode::Crypto);
    // Writing or removing with the wrong passphrase must not replace the file.
    const Result<void> written = wrong.write(QStringLiteral("ssh/host-ca"), "overwritten");
    QVERIFY(!written.ok());
    QCOMPARE(written.error().code, ErrorCode::Crypto);
    const Result<void> removed = wrong.remove(QStringLiteral("ssh/host-ca"));
    QVERIFY(!removed.ok());
    QCOMPARE(removed.error().code, ErrorCode::Crypto);
    QCOMPARE(fileBytes(path), before);
}

void TstEncryptedSecretFile::modifiedFile_data()
{
    QTest::addColumn<int>("offset"); // negative: from the end
    QTest::newRow("magic") << 0;
    QTest::newRow("magic end") << 7;
    QTest::newRow("version") << 9;
    QTest::newRow("scrypt N") << 12;
    QTest::newRow("scrypt r") << 17;
    QTest::newRow("scrypt p") << 21;
    QTest::newRow("salt first") << 22;
    QTest::newRow("salt last") << 37;
    QTest::newRow("nonce first") << kNonceOffset;
    QTest::newRow("nonce last") << kHeaderSize - 1;
    QTest::newRow("ciphertext first") << kHeaderSize;
    QTest::newRow("ciphertext middle") << kHeaderSize + 20;
    QTest::newRow("ciphertext last") << -17;
    QTest::newRow("tag first") << -16;
    QTest::newRow("tag last") << -1;
}

void TstEncryptedSecretFile::modifiedFile()
{
    QFETCH(int, offset);
    // One file and one reader for all rows, so scrypt only runs again when a row changes salt or parameters.
    if (!m_writer) {
        const QString path = newPath(QStringLiteral("modified"));
        m_writer = std::make_unique<EncryptedFileSecretStore>(path, kPassphrase);
        m_reader = std::make_unique<EncryptedFileSecretStore>(path, kPassphrase);
        QVERIFY(m_writer->write(QStringLiteral("host/kvm1/password"), "host-password-value").ok());
    }
    const QString path = m_writer->path();
    const QByteArray original = fileBytes(path);
    QVERIFY(original.size() > kHeaderSize + 16 + 20);

    QByteArray modified = original;
    const qsizetype at = offset >= 0 ? offset : modified.size() + offset;
    modified[at] = char(modified.at(at) ^ 0x01);
    QVERIFY(writeBytes(path, modified));
    const Result<QByteArray> read = m_reader->read(QStringLiteral("host/kvm1/password"));
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::Crypto);
    QCOMPARE(read.error().message, decryptMessage(path));
    // Nothing is written over a file that does not decrypt.
    QVERIFY(!m_writer->write(QStringLiteral("host/kvm1/password"), "other").ok());
    QCOMPARE(fileBytes(path), modified);

    QVERIFY(writeBytes(path, original));
    const Result<QByteArray> restored = m_reader->read(QStringLiteral("host/kvm1/password"));
    QVERIFY(restored.ok());
    QCOMPARE(*restored, QByteArray("host-password-value"));
}

void TstEncryptedSecretFile::filePermissions()
{
    const QString dir = test::makeTempDir(QStringLiteral("perms"));
    const QString path = dir + QStringLiteral("/new-folder/secrets.bin");
    EncryptedFileSecretStore store(path, kPassphrase);
    QVERIFY(store.write(QStringLiteral("ssh/user-ca"), "ca-data-1").ok());
    const auto owner = QFileDevice::ReadOwner | QFileDevice::WriteOwner;
    QCOMPARE(QFileInfo(path).permissions() & ~(QFileDevice::ReadUser | QFileDevice::WriteUser), owner);
    QCOMPARE(QFileInfo(dir + QStringLiteral("/new-folder")).permissions() &
                 ~(QFileDevice::ReadUser | QFileDevice::WriteUser | QFileDevice::ExeUser),
             owner | QFileDevice::ExeOwner);

    // A file someone made world-readable is back to 0600 after the next write.
    QVERIFY(QFile::setPermissions(path, owner | QFileDevice::ReadGroup | QFileDevice::ReadOther));
    QVERIFY(store.write(QStringLiteral("ssh/user-ca"), "ca-data-2").ok());
    QCOMPARE(QFileInfo(path).permissions() & ~(QFileDevice::ReadUser | QFileDevice::WriteUser), owner);
}

void TstEncryptedSecretFile::noPlaintextInFile()
{
    const QString path = newPath(QStringLiteral("plaintext"));
    const QByteArray value = "plain-secret-" + QUuid::createUuid().toByteArray(QUuid::Id128);
    const QString key = QStringLiteral("llm/anthropic/api-key");
    QVERIFY(EncryptedFileSecretStore(path, kPassphrase).write(key, value).ok());
    const QByteArray bytes = fileBytes(path);
    QVERIFY(bytes.startsWith("FLUIDSEC"));
    QVERIFY(!bytes.contains(value));
    QVERIFY(!bytes.contains(value.toBase64()));
    QVERIFY(!bytes.contains(value.toBase64(QByteArray::OmitTrailingEquals)));
    QVERIFY(!bytes.contains(value.toHex()));
    QVERIFY(!bytes.contains(key.toUtf8())); // key names are encrypted too
    QVERIFY(!bytes.contains(kPassphrase.toUtf8()));
}

void TstEncryptedSecretFile::freshNonceOnEveryWrite()
{
    const QString path = newPath(QStringLiteral("nonce"));
    EncryptedFileSecretStore store(path, kPassphrase);
    QVERIFY(store.write(QStringLiteral("store/postgresql"), "db-password").ok());
    const QByteArray first = fileBytes(path);
    QVERIFY(store.write(QStringLiteral("store/postgresql"), "db-password").ok());
    const QByteArray second = fileBytes(path);
    QCOMPARE(first.size(), second.size());
    QVERIFY(first != second);
    QVERIFY(first.mid(kNonceOffset, kNonceSize) != second.mid(kNonceOffset, kNonceSize));
    QCOMPARE(first.left(kNonceOffset), second.left(kNonceOffset)); // same salt and parameters
}

void TstEncryptedSecretFile::emptyPassphraseIsRefused()
{
    const QString path = newPath(QStringLiteral("empty-passphrase"));
    EncryptedFileSecretStore store(path, QString());
    const Result<void> written = store.write(QStringLiteral("ssh/user-ca"), "value-123");
    QVERIFY(!written.ok());
    QCOMPARE(written.error().code, ErrorCode::InvalidArgument);
    QVERIFY(written.error().message.contains(QLatin1String("passphrase")));
    const Result<QByteArray> read = store.read(QStringLiteral("ssh/user-ca"));
    QVERIFY(!read.ok());
    QCOMPARE(read.error().code, ErrorCode::InvalidArgument);
    QCOMPARE(store.remove(QStringLiteral("ssh/user-ca")).error().code, ErrorCode::InvalidArgument);
    QCOMPARE(store.probe().error().code, ErrorCode::InvalidArgument);
    QVERIFY(!QFileInfo::exists(path));
}

void TstEncryptedSecretFile::invalidKeysAreRefused()
{
    EncryptedFileSecretStore store(newPath(QStringLiteral("keys")), kPassphrase);
    for (const QString& key : {QString(), QStringLiteral("../escape"), QStringLiteral("A"),
                               QStringLiteral("a..b"), QString(129, QLatin1Char('x'))}) {
        QCOMPARE(store.write(key, "value-123").error().code, ErrorCode::InvalidArgument);
        QCOMPARE(store.read(key).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(store.remove(key).error().code, ErrorCode::InvalidArgument);
    }
}

void TstEncryptedSecretFile::noTemporaryFilesLeft()
{
    const QString dir = test::makeTempDir(QStringLiteral("tempfiles"));
    const QString path = dir + QStringLiteral("/secrets.bin");
    EncryptedFileSecretStore store(path, kPassphrase);
    for (int i = 0; i < 5; ++i)
        QVERIFY(store.write(QStringLiteral("host/h%1/password").arg(i), "pw-" + QByteArray::number(i)).ok());
    QVERIFY(store.remove(QStringLiteral("host/h0/password")).ok());
    EncryptedFileSecretStore wrong(path, QStringLiteral("not the passphrase"));
    QVERIFY(!wrong.write(QStringLiteral("host/h1/password"), "x").ok());
    QCOMPARE(QDir(dir).entryList(QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot),
             QStringList{QStringLiteral("secrets.bin")});
}

void TstEncryptedSecretFile::valuesAreRedacted()
{
    const QByteArray value = "redact-me-" + QUuid::createUuid().toByteArray(QUuid::Id128);
    EncryptedFileSecretStore store(newPath(QStringLiteral("redact")), kPassphrase);
    QVERIFY(store.write(QStringLiteral("llm/openrouter/api-key"), value).ok());
    QVERIFY(!redact(QStringLiteral("key=%1;").arg(QLatin1String(value))).contains(QLatin1String(value)));
    QVERIFY(!redact(QStringLiteral("pass: %1").arg(kPassphrase)).contains(kPassphrase));
}

// Threads sharing one instance, and two instances on one file (the lock file serializes them).
void TstEncryptedSecretFile::concurrentWriters()
{
    const QString path = newPath(QStringLiteral("concurrent"));
    EncryptedFileSecretStore first(path, kPassphrase);
    EncryptedFileSecretStore second(path, kPassphrase);
    QVERIFY(first.probe().ok());
    std::atomic<int> failures = 0;
    std::vector<std::unique_ptr<QThread>> threads;
    for (int t = 0; t < 4; ++t) {
        EncryptedFileSecretStore* store = t % 2 ? &second : &first;
        threads.emplace_back(QThread::create([store, t, &failures] {
            for (int i = 0; i < 5; ++i) {
                if (!store->write(QStringLiteral("host/t%1-%2/password").arg(t).arg(i), "v").ok())
                    ++failures;
            }
        }));
    }
    for (auto& thread : threads)
        thread->start();
    for (auto& thread : threads)
        QVERIFY(thread->wait(120'000));
    QCOMPARE(failures.load(), 0);
    EncryptedFileSecretStore reader(path, kPassphrase);
    for (int t = 0; t < 4; ++t) {
        for (int i = 0; i < 5; ++i)
            QVERIFY(reader.read(QStringLiteral("host/t%1-%2/password").arg(t).arg(i)).ok());
    }
}

void TstEncryptedSecretFile::openSecretStoreEncryptedFile()
{
    const QString path = newPath(QStringLiteral("open"));
    SecretStoreOptions options;
    options.backend = SecretStoreOptions::Backend::EncryptedFile;
    options.encryptedFilePath = path;
    options.passphrase = kPassphrase;
    {
        auto opened = openSecretStore(options); // missing file: an empty store
        QVERIFY2(opened.ok(), qPrintable(opened.ok() ? QString() : errorText(opened.error())));
        QCOMPARE((*opened)->backendName(), QStringLiteral("encrypted-file"));
        QVERIFY((*opened)->write(QStringLiteral("ssh/host-ca"), "host-ca-key").ok());
    }
    {
        auto opened = openSecretStore(options);
        QVERIFY(opened.ok());
        const Result<QByteArray> read = (*opened)->read(QStringLiteral("ssh/host-ca"));
        QVERIFY(read.ok());
        QCOMPARE(*read, QByteArray("host-ca-key"));
    }

    SecretStoreOptions wrong = options;
    wrong.passphrase = QStringLiteral("something else entirely");
    auto opened = openSecretStore(wrong);
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, ErrorCode::Crypto);
    QCOMPARE(opened.error().message, decryptMessage(path));

    SecretStoreOptions noPassphrase = options;
    noPassphrase.passphrase.clear();
    QCOMPARE(openSecretStore(noPassphrase).error().code, ErrorCode::InvalidArgument);
    SecretStoreOptions noPath = options;
    noPath.encryptedFilePath.clear();
    QCOMPARE(openSecretStore(noPath).error().code, ErrorCode::InvalidArgument);
}

void TstEncryptedSecretFile::openSecretStoreKeychainWithoutKeychain()
{
    auto opened = openSecretStore(SecretStoreOptions{});
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, ErrorCode::Unavailable);
    QCOMPARE(opened.error().message, KeychainSecretStore::unavailableMessage());
}

void TstEncryptedSecretFile::weakerFileIsReencryptedWhenUnlocked()
{
    const QString path = test::makeTempDir(QStringLiteral("weaker")) + QStringLiteral("/secrets.bin");
    const QByteArray earlier =
        earlierFile(kPassphrase.toUtf8(), QByteArray(R"({"llm/openai/api-key":")") +
                                              QByteArray("sk-earlier").toBase64() + QByteArray(R"("})"));
    QVERIFY(!earlier.isEmpty());
    QVERIFY(writeBytes(path, earlier));
    QCOMPARE(headerField(earlier, 10), 1u << 14);

    // Unlocking it (a read) is enough: the file now has today's parameters, a new salt, the same secrets.
    {
        EncryptedFileSecretStore store(path, kPassphrase);
        const Result<QByteArray> read = store.read(QStringLiteral("llm/openai/api-key"));
        QVERIFY2(read.ok(), qPrintable(read.ok() ? QString() : errorText(read.error())));
        QCOMPARE(*read, QByteArray("sk-earlier"));
    }
    const QByteArray upgraded = fileBytes(path);
    QCOMPARE(headerField(upgraded, 10), 1u << 18);
    QCOMPARE(headerField(upgraded, 14), 8u);
    QCOMPARE(headerField(upgraded, 18), 1u);
    QVERIFY(upgraded.mid(22, 16) != earlier.mid(22, 16));
    QCOMPARE(QFileInfo(path).permissions() & ~(QFileDevice::ReadUser | QFileDevice::WriteUser),
             QFileDevice::ReadOwner | QFileDevice::WriteOwner);

    // A new reader opens the re-encrypted file, and it is not rewritten again.
    EncryptedFileSecretStore again(path, kPassphrase);
    const Result<QByteArray> read = again.read(QStringLiteral("llm/openai/api-key"));
    QVERIFY(read.ok());
    QCOMPARE(*read, QByteArray("sk-earlier"));
    QCOMPARE(fileBytes(path), upgraded);
}

QTEST_GUILESS_MAIN(TstEncryptedSecretFile)

#include "tst_encrypted_secret_file.moc"

// SPDX-License-Identifier: Apache-2.0
#include "secrets/EncryptedFileSecretStore.h"

#include "base/Logging.h"
#include "base/Redact.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLockFile>
#include <QSaveFile>
#include <QtEndian>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

namespace fluid::secrets {
namespace {

constexpr char kMagic[] = "FLUIDSEC";
constexpr int kMagicSize = 8;
constexpr quint16 kFormatVersion = 1;
constexpr int kSaltSize = 16;
constexpr int kNonceSize = 12;
constexpr int kTagSize = 16;
constexpr int kKeySize = 32;
// magic | u16 version | u32 N | u32 r | u32 p | salt | nonce
constexpr int kHeaderSize = kMagicSize + 2 + 3 * 4 + kSaltSize + kNonceSize;
static_assert(kHeaderSize == 50);

// Today's parameters: 256 MiB and about 0.85 s on this project's 2-core test machine (measured 2026-12;
// N=2^15 took 0.16 s). A file written with weaker ones is re-encrypted with these when it is next unlocked.
constexpr quint32 kScryptN = 1u << 18;
constexpr quint32 kScryptR = 8;
constexpr quint32 kScryptP = 1;
// scrypt needs 128 * r * (N + p + 2) bytes; a file asking for more than this is refused before deriving.
constexpr quint64 kScryptMaxMemory = 512ull * 1024 * 1024;

constexpr int kLockTimeoutMs = 10'000;

void wipe(QByteArray& bytes)
{
    if (!bytes.isEmpty())
        OPENSSL_cleanse(bytes.data(), size_t(bytes.size()));
    bytes.clear();
}

const unsigned char* bytesOf(const QByteArray& bytes)
{
    return reinterpret_cast<const unsigned char*>(bytes.constData());
}

unsigned char* bytesOf(QByteArray& bytes)
{
    return reinterpret_cast<unsigned char*>(bytes.data());
}

quint64 scryptMemory(quint32 n, quint32 r, quint32 p)
{
    return 128ull * r * (quint64(n) + p + 2);
}

/// Weaker than today's parameters: less memory or fewer passes over it than a new file gets.
bool weakerThanToday(quint32 n, quint32 r, quint32 p)
{
    return scryptMemory(n, r, p) < scryptMemory(kScryptN, kScryptR, kScryptP) ||
           quint64(n) * r * p < quint64(kScryptN) * kScryptR * kScryptP;
}

Result<QByteArray> randomBytes(int size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    if (RAND_bytes(bytesOf(bytes), size) != 1)
        return makeError(ErrorCode::Crypto,
                         QStringLiteral("the system random number generator failed; nothing was written"));
    return bytes;
}

QByteArray makeHeader(quint32 n, quint32 r, quint32 p, const QByteArray& salt, const QByteArray& nonce)
{
    QByteArray header(kMagic, kMagicSize);
    header.reserve(kHeaderSize);
    char field[4];
    qToBigEndian<quint16>(kFormatVersion, field);
    header.append(field, 2);
    for (quint32 value : {n, r, p}) {
        qToBigEndian<quint32>(value, field);
        header.append(field, 4);
    }
    header.append(salt);
    header.append(nonce);
    return header;
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// AES-256-GCM; returns ciphertext followed by the tag, or an empty array when OpenSSL fails.
QByteArray seal(const QByteArray& key, const QByteArray& nonce, const QByteArray& aad,
                const QByteArray& plain)
{
    CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    QByteArray out(plain.size() + kTagSize, Qt::Uninitialized);
    int len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytesOf(key), bytesOf(nonce)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytesOf(aad), int(aad.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), bytesOf(out), &len, bytesOf(plain), int(plain.size())) != 1)
        return {};
    int total = len;
    if (EVP_EncryptFinal_ex(ctx.get(), bytesOf(out) + total, &len) != 1)
        return {};
    total += len;
    if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, bytesOf(out) + total) != 1)
        return {};
    out.resize(total + kTagSize);
    return out;
}

// The inverse of seal(); false when the tag does not verify (wrong key or modified bytes).
bool open(const QByteArray& key, const QByteArray& nonce, const QByteArray& aad, const QByteArray& sealed,
          QByteArray& plain)
{
    plain.clear();
    if (sealed.size() < kTagSize)
        return false;
    const int cipherSize = int(sealed.size() - kTagSize);
    QByteArray tag = sealed.right(kTagSize);
    CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    plain = QByteArray(cipherSize, Qt::Uninitialized);
    int len = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytesOf(key), bytesOf(nonce)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytesOf(aad), int(aad.size())) != 1 ||
        EVP_DecryptUpdate(ctx.get(), bytesOf(plain), &len, bytesOf(sealed), cipherSize) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, bytesOf(tag)) != 1) {
        wipe(plain);
        return false;
    }
    const int total = len;
    if (EVP_DecryptFinal_ex(ctx.get(), bytesOf(plain) + total, &len) != 1) {
        wipe(plain);
        return false;
    }
    plain.resize(total + len);
    return true;
}

Result<void> ensureParentDir(const QString& filePath)
{
    const QString dir = QFileInfo(filePath).absolutePath();
    QStringList missing;
    for (QString current = dir; !QFileInfo::exists(current);) {
        missing.prepend(current);
        const QString parent = QFileInfo(current).absolutePath();
        if (parent == current)
            break;
        current = parent;
    }
    for (const QString& folder : std::as_const(missing)) {
        if (!QDir().mkdir(folder, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner))
            return makeError(
                ErrorCode::Io,
                QStringLiteral("cannot create the folder %1 for the encrypted secrets file: check "
                               "the permissions of its parent, or choose another path")
                    .arg(folder));
    }
    return {};
}

// The lock file beside the store serializes read-modify-write cycles of several processes.
Error lockError(const QString& lockPath)
{
    return makeError(
        ErrorCode::Timeout,
        QStringLiteral("cannot update the encrypted secrets file: %1 is held by another Fluid "
                       "process. Try again, or delete the lock file if no Fluid process is running")
            .arg(lockPath));
}

} // namespace

EncryptedFileSecretStore::EncryptedFileSecretStore(QString path, const QString& passphrase)
    : m_path(std::move(path))
    , m_passphrase(passphrase.toUtf8())
{
    registerSecret(passphrase);
}

EncryptedFileSecretStore::~EncryptedFileSecretStore()
{
    QMutexLocker lock(&m_mutex);
    wipeKeyLocked();
    wipe(m_passphrase);
}

QString EncryptedFileSecretStore::backendName() const
{
    return QStringLiteral("encrypted-file");
}

Result<QByteArray> EncryptedFileSecretStore::read(const QString& key)
{
    if (Result<void> valid = validateKey(key); !valid)
        return valid.error();
    QMutexLocker lock(&m_mutex);
    if (Result<void> usable = checkPassphrase(); !usable)
        return usable.error();
    Result<Entries> entries = loadLocked();
    if (!entries)
        return entries.error();
    upgradeLocked();
    const auto found = entries->constFind(key);
    if (found == entries->constEnd())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("no secret \"%1\" is stored in %2: store it first").arg(key, m_path));
    registerValue(*found);
    return *found;
}

Result<void> EncryptedFileSecretStore::write(const QString& key, const QByteArray& value)
{
    if (Result<void> valid = validateKey(key); !valid)
        return valid.error();
    registerValue(value);
    QMutexLocker lock(&m_mutex);
    if (Result<void> usable = checkPassphrase(); !usable)
        return usable.error();
    if (Result<void> dir = ensureParentDir(m_path); !dir)
        return dir.error();
    QLockFile fileLock(m_path + QStringLiteral(".lock"));
    if (!fileLock.tryLock(kLockTimeoutMs))
        return lockError(fileLock.fileName());
    Result<Entries> entries = loadLocked();
    if (!entries)
        return entries.error();
    entries->insert(key, value);
    return saveLocked(std::move(*entries));
}

Result<void> EncryptedFileSecretStore::remove(const QString& key)
{
    if (Result<void> valid = validateKey(key); !valid)
        return valid.error();
    QMutexLocker lock(&m_mutex);
    if (Result<void> usable = checkPassphrase(); !usable)
        return usable.error();
    if (!QFileInfo::exists(m_path))
        return {};
    QLockFile fileLock(m_path + QStringLiteral(".lock"));
    if (!fileLock.tryLock(kLockTimeoutMs))
        return lockError(fileLock.fileName());
    Result<Entries> entries = loadLocked();
    if (!entries)
        return entries.error();
    if (entries->remove(key) == 0)
        return {};
    return saveLocked(std::move(*entries));
}

Result<void> EncryptedFileSecretStore::probe()
{
    QMutexLocker lock(&m_mutex);
    if (Result<void> usable = checkPassphrase(); !usable)
        return usable.error();
    Result<Entries> entries = loadLocked();
    if (!entries)
        return entries.error();
    upgradeLocked();
    return {};
}

void EncryptedFileSecretStore::upgradeLocked()
{
    if (m_key.isEmpty() || !weakerThanToday(m_params.n, m_params.r, m_params.p))
        return;
    // Reloaded under the file lock, so a writer in another process is not undone. A failure leaves the
    // file as it was (still readable) and is tried again at the next unlock.
    const KdfParams old = m_params;
    QLockFile fileLock(m_path + QStringLiteral(".lock"));
    Result<void> upgraded = lockError(fileLock.fileName());
    if (fileLock.tryLock(kLockTimeoutMs)) {
        Result<Entries> entries = loadLocked();
        upgraded = entries ? saveLocked(std::move(*entries)) : Result<void>(entries.error());
    }
    if (upgraded)
        qCInfo(lcSecrets) << "re-encrypted" << m_path << "with scrypt N" << kScryptN << "r" << kScryptR << "p"
                          << kScryptP << "(it had N" << old.n << "r" << old.r << "p" << old.p << ")";
    if (!upgraded)
        qCWarning(lcSecrets) << "could not re-encrypt" << m_path
                             << "with stronger parameters; will try again:" << upgraded.error().toString();
}

Result<void> EncryptedFileSecretStore::checkPassphrase() const
{
    if (!m_passphrase.isEmpty())
        return {};
    return makeError(
        ErrorCode::InvalidArgument,
        QStringLiteral("the passphrase for the encrypted secrets file %1 is empty: set a passphrase "
                       "(Fluid never keeps secrets unencrypted)")
            .arg(m_path));
}

Error EncryptedFileSecretStore::decryptError() const
{
    return makeError(
        ErrorCode::Crypto,
        QStringLiteral("cannot decrypt %1: wrong passphrase, or the file was modified").arg(m_path));
}

Result<EncryptedFileSecretStore::Entries> EncryptedFileSecretStore::loadLocked()
{
    QFile file(m_path);
    if (!file.exists())
        return Entries{};
    if (!file.open(QIODevice::ReadOnly))
        return makeError(
            ErrorCode::Io,
            QStringLiteral("cannot read the encrypted secrets file %1: check its permissions").arg(m_path),
            file.errorString());
    const QByteArray bytes = file.readAll();
    file.close();
    if (bytes.size() < kHeaderSize + kTagSize || !bytes.startsWith(QByteArrayView(kMagic, kMagicSize)))
        return decryptError();

    const QByteArray header = bytes.left(kHeaderSize);
    const char* field = header.constData() + kMagicSize;
    const quint16 version = qFromBigEndian<quint16>(field);
    KdfParams params;
    params.n = qFromBigEndian<quint32>(field + 2);
    params.r = qFromBigEndian<quint32>(field + 6);
    params.p = qFromBigEndian<quint32>(field + 10);
    const QByteArray salt = header.mid(kMagicSize + 14, kSaltSize);
    const QByteArray nonce = header.mid(kMagicSize + 14 + kSaltSize, kNonceSize);
    // The header is authenticated only after the key is derived, so refuse parameters no writer of this
    // format uses before letting them size scrypt's memory.
    const bool sane = version == kFormatVersion && params.n >= 1024 && (params.n & (params.n - 1)) == 0 &&
                      params.r >= 1 && params.r <= 32 && params.p >= 1 && params.p <= 16 &&
                      scryptMemory(params.n, params.r, params.p) <= kScryptMaxMemory;
    if (!sane)
        return decryptError();
    if (Result<void> derived = deriveKeyLocked(salt, params); !derived)
        return derived.error();

    QByteArray plain;
    if (!open(m_key, nonce, header, bytes.mid(kHeaderSize), plain))
        return decryptError();
    const QJsonDocument document = QJsonDocument::fromJson(plain);
    wipe(plain);
    Entries entries;
    bool wellFormed = document.isObject();
    const QJsonObject object = document.object();
    for (auto it = object.constBegin(); wellFormed && it != object.constEnd(); ++it) {
        auto decoded = QByteArray::fromBase64Encoding(it.value().toString().toLatin1(),
                                                      QByteArray::AbortOnBase64DecodingErrors);
        wellFormed = it.value().isString() && bool(decoded);
        entries.insert(it.key(), *decoded);
    }
    if (!wellFormed)
        return makeError(
            ErrorCode::Crypto,
            QStringLiteral("cannot read %1: it decrypts, but does not hold Fluid's secrets. Restore "
                           "it from a backup, or move it away to start an empty store")
                .arg(m_path));
    return entries;
}

Result<void> EncryptedFileSecretStore::saveLocked(Entries entries)
{
    // A new file, or one with weaker parameters than today's, gets a new salt and today's parameters; an
    // existing one keeps its own, so the cached key stays valid.
    QByteArray salt = m_salt;
    KdfParams params = m_params;
    if (m_key.isEmpty() || weakerThanToday(params.n, params.r, params.p)) {
        Result<QByteArray> fresh = randomBytes(kSaltSize);
        if (!fresh)
            return fresh.error();
        salt = *fresh;
        params = KdfParams{kScryptN, kScryptR, kScryptP};
    }
    if (Result<void> derived = deriveKeyLocked(salt, params); !derived)
        return derived.error();
    Result<QByteArray> nonce = randomBytes(kNonceSize);
    if (!nonce)
        return nonce.error();

    QJsonObject object;
    for (auto it = entries.constBegin(); it != entries.constEnd(); ++it)
        object.insert(it.key(), QString::fromLatin1(it.value().toBase64()));
    entries.clear();
    QByteArray plain = QJsonDocument(object).toJson(QJsonDocument::Compact);
    const QByteArray header = makeHeader(params.n, params.r, params.p, salt, *nonce);
    const QByteArray sealed = seal(m_key, *nonce, header, plain);
    wipe(plain);
    if (sealed.isEmpty())
        return makeError(
            ErrorCode::Crypto,
            QStringLiteral("cannot encrypt the secrets for %1 (OpenSSL failed); nothing was written")
                .arg(m_path));

    QSaveFile file(m_path);
    const bool written = file.open(QIODevice::WriteOnly) &&
                         file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner) &&
                         file.write(header) == header.size() && file.write(sealed) == sealed.size() &&
                         file.commit();
    if (!written) {
        const QString why = file.errorString();
        file.cancelWriting();
        return makeError(
            ErrorCode::Io,
            QStringLiteral("cannot write the encrypted secrets file %1: check free space and the "
                           "folder's permissions; the previous file is unchanged")
                .arg(m_path),
            why);
    }
    qCDebug(lcSecrets) << "wrote encrypted secrets file" << m_path;
    return {};
}

Result<void> EncryptedFileSecretStore::deriveKeyLocked(const QByteArray& salt, const KdfParams& params)
{
    if (!m_key.isEmpty() && m_salt == salt && m_params == params)
        return {};
    wipeKeyLocked();
    qCDebug(lcSecrets) << "deriving the key for" << m_path << "with scrypt N" << params.n << "r" << params.r
                       << "p" << params.p;
    QByteArray key(kKeySize, Qt::Uninitialized);
    const int ok =
        EVP_PBE_scrypt(m_passphrase.constData(), size_t(m_passphrase.size()), bytesOf(salt),
                       size_t(salt.size()), params.n, params.r, params.p,
                       scryptMemory(params.n, params.r, params.p) + 4096, bytesOf(key), size_t(key.size()));
    if (ok != 1) {
        wipe(key);
        return makeError(
            ErrorCode::Crypto,
            QStringLiteral("cannot derive the key for %1 (scrypt failed, probably out of memory)")
                .arg(m_path));
    }
    m_key = std::move(key);
    m_salt = salt;
    m_params = params;
    return {};
}

void EncryptedFileSecretStore::wipeKeyLocked()
{
    wipe(m_key);
    m_salt.clear();
    m_params = {};
}

} // namespace fluid::secrets

// SPDX-License-Identifier: Apache-2.0
#include "AuditAnchor.h"

#include "base/Logging.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLockFile>
#include <QMessageAuthenticationCode>
#include <QSaveFile>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace fluid::store {

namespace {
constexpr int kKeySize = 32;
constexpr int kLockTimeoutMs = 10'000;
constexpr qint64 kMaxFileSize = 4096;

Error tampered(const QString& message)
{
    return makeError(ErrorCode::Tampered, message);
}

/// Takes the lock file that serialises processes moving the checkpoint at `path`.
Result<void> lockFor(const QString& path, QLockFile& lock)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    if (lock.tryLock(kLockTimeoutMs))
        return {};
    return makeError(ErrorCode::Timeout,
                     QStringLiteral("the audit checkpoint %1 is locked by another process "
                                    "(lock %2)")
                         .arg(path, lock.fileName()));
}
} // namespace

AuditAnchor::AuditAnchor(QString path, AnchorKeyStore keys)
    : m_path(std::move(path))
    , m_keys(std::move(keys))
{
}

QByteArray AuditAnchor::mac(const QString& storeId, const Checkpoint& checkpoint) const
{
    const QByteArray message = QByteArrayLiteral("fluid-audit-anchor-v1\n") + storeId.toUtf8() + '\n' +
                               QByteArray::number(checkpoint.seq) + '\n' + checkpoint.hash.toLatin1();
    return QMessageAuthenticationCode::hash(message, m_key, QCryptographicHash::Sha256);
}

AuditAnchor::KeyState AuditAnchor::loadKeyLocked(const QString& storeId, Error* why)
{
    if (!m_key.isEmpty() && m_keyStoreId == storeId)
        return KeyState::Found;
    Result<QByteArray> key =
        m_keys.read
            ? m_keys.read(storeId)
            : Result<QByteArray>(makeError(ErrorCode::Unavailable, QStringLiteral("no secret store")));
    if (key && key->size() == kKeySize) {
        m_key = *key;
        m_keyStoreId = storeId;
        return KeyState::Found;
    }
    if (key) {
        *why = tampered(QStringLiteral("the audit checkpoint key for store %1 in the secret store is not a "
                                       "key Fluid made (%2 bytes)")
                            .arg(storeId)
                            .arg(key->size()));
        return KeyState::Unreachable;
    }
    *why = key.error();
    return key.error().code == ErrorCode::NotFound ? KeyState::Missing : KeyState::Unreachable;
}

Result<void> AuditAnchor::makeKeyLocked(const QString& storeId)
{
    QByteArray key(kKeySize, Qt::Uninitialized);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeySize) != 1)
        return makeError(ErrorCode::Crypto, QStringLiteral("the system random number generator failed"));
    if (!m_keys.write)
        return makeError(ErrorCode::Unavailable, QStringLiteral("no secret store"));
    if (Result<void> kept = m_keys.write(storeId, key); !kept)
        return kept.error();
    m_key = key;
    m_keyStoreId = storeId;
    return {};
}

Result<std::optional<AuditAnchor::Checkpoint>> AuditAnchor::readLocked(const QString& storeId) const
{
    QFile file(m_path);
    if (!file.exists())
        return std::optional<Checkpoint>();
    if (!file.open(QIODevice::ReadOnly))
        return makeError(
            ErrorCode::Io,
            QStringLiteral("cannot read the audit checkpoint %1: check its permissions").arg(m_path),
            file.errorString());
    const QByteArray bytes = file.read(kMaxFileSize + 1);
    const QJsonObject object = QJsonDocument::fromJson(bytes).object();
    Checkpoint checkpoint;
    checkpoint.seq = object.value(QLatin1String("seq")).toString().toLongLong();
    checkpoint.hash = object.value(QLatin1String("hash")).toString();
    const QByteArray stored = QByteArray::fromHex(object.value(QLatin1String("mac")).toString().toLatin1());
    const QByteArray expected = mac(storeId, checkpoint);
    const bool valid = bytes.size() <= kMaxFileSize && object.value(QLatin1String("version")).toInt() == 1 &&
                       object.value(QLatin1String("store")).toString() == storeId && checkpoint.seq > 0 &&
                       stored.size() == expected.size() &&
                       CRYPTO_memcmp(stored.constData(), expected.constData(), size_t(expected.size())) == 0;
    if (!valid)
        return tampered(QStringLiteral("the audit checkpoint %1 does not verify under this store's key: it "
                                       "was altered, or belongs to another store")
                            .arg(m_path));
    return std::optional<Checkpoint>(checkpoint);
}

Result<void> AuditAnchor::writeLocked(const QString& storeId, const Checkpoint& checkpoint) const
{
    QJsonObject object{{QStringLiteral("version"), 1},
                       {QStringLiteral("store"), storeId},
                       {QStringLiteral("seq"), QString::number(checkpoint.seq)},
                       {QStringLiteral("hash"), checkpoint.hash},
                       {QStringLiteral("mac"), QString::fromLatin1(mac(storeId, checkpoint).toHex())}};
    const QByteArray bytes = QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n';
    QSaveFile file(m_path);
    file.setDirectWriteFallback(false);
    const bool written = file.open(QIODevice::WriteOnly) &&
                         file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner) &&
                         file.write(bytes) == bytes.size() && file.commit();
    if (!written) {
        const QString why = file.errorString();
        file.cancelWriting();
        return makeError(ErrorCode::Io,
                         QStringLiteral("cannot write the audit checkpoint %1: check free space and the "
                                        "folder's permissions")
                             .arg(m_path),
                         why);
    }
    return {};
}

Result<void> AuditAnchor::advance(const QString& storeId, qint64 seq, const QString& hash,
                                  const HashAt& hashAt)
{
    QMutexLocker locker(&m_mutex);
    QLockFile lock(m_path + QStringLiteral(".lock"));
    if (Result<void> locked = lockFor(m_path, lock); !locked)
        return locked.error();
    Error why;
    const bool fileExists = QFileInfo::exists(m_path);
    switch (loadKeyLocked(storeId, &why)) {
    case KeyState::Found:
        break;
    case KeyState::Missing:
        if (fileExists)
            return tampered(QStringLiteral("the audit checkpoint %1 exists but its key is no longer in the "
                                           "secret store: run `fluid audit verify`, then `fluid audit "
                                           "reanchor` if the log is as you expect")
                                .arg(m_path));
        if (Result<void> made = makeKeyLocked(storeId); !made)
            return made.error();
        return writeLocked(storeId, Checkpoint{seq, hash});
    case KeyState::Unreachable:
        if (fileExists || why.code == ErrorCode::Tampered)
            return makeError(
                why.code == ErrorCode::Tampered ? ErrorCode::Tampered : ErrorCode::Unavailable,
                QStringLiteral("cannot move the audit checkpoint %1: its key cannot be read (%2)")
                    .arg(m_path, why.message));
        if (!m_warnedUnreachable) {
            m_warnedUnreachable = true;
            qCWarning(lcStore) << "the audit log is not anchored outside the database: the secret store"
                               << "cannot be reached:" << why.toString();
        }
        return {};
    }
    Result<std::optional<Checkpoint>> current = readLocked(storeId);
    if (!current)
        return current.error();
    if (!current->has_value())
        return tampered(
            QStringLiteral("the audit checkpoint %1 is missing although this store has a "
                           "checkpoint key: run `fluid audit verify`, then `fluid audit reanchor` "
                           "if the log is as you expect")
                .arg(m_path));
    const Checkpoint& at = **current;
    if (at.seq >= seq) {
        // Another process moved it past this row already; fine as long as the chain still has that row.
        Result<std::optional<QString>> still = hashAt(at.seq);
        if (!still)
            return still.error();
        if (*still != at.hash)
            return tampered(QStringLiteral("the audit log no longer has row %1 as the checkpoint %2 recorded "
                                           "it: rows were removed or rewritten; run `fluid audit verify`")
                                .arg(at.seq)
                                .arg(m_path));
        return {};
    }
    return writeLocked(storeId, Checkpoint{seq, hash});
}

Result<AnchorCheck> AuditAnchor::check(const QString& storeId, qint64 lastSeq, const HashAt& hashAt)
{
    QMutexLocker locker(&m_mutex);
    AnchorCheck result;
    Error why;
    const bool fileExists = QFileInfo::exists(m_path);
    switch (loadKeyLocked(storeId, &why)) {
    case KeyState::Found:
        break;
    case KeyState::Missing:
        if (fileExists)
            result.broken = QStringLiteral("the checkpoint %1 exists but its key is gone from the secret "
                                           "store")
                                .arg(m_path);
        else
            result.note =
                QStringLiteral("not anchored yet: the next audit event starts the checkpoint %1").arg(m_path);
        return result;
    case KeyState::Unreachable:
        if (!fileExists && why.code != ErrorCode::Tampered) {
            result.note =
                QStringLiteral("not anchored: the secret store that would keep the checkpoint's key "
                               "cannot be reached (%1)")
                    .arg(why.message);
            return result;
        }
        return makeError(why.code == ErrorCode::Tampered ? ErrorCode::Tampered : ErrorCode::Unavailable,
                         QStringLiteral("cannot check the audit checkpoint %1: its key cannot be read (%2)")
                             .arg(m_path, why.message));
    }
    Result<std::optional<Checkpoint>> current = readLocked(storeId);
    if (!current) {
        if (current.error().code != ErrorCode::Tampered)
            return current.error();
        result.broken = current.error().message;
        return result;
    }
    if (!current->has_value()) {
        result.broken =
            QStringLiteral("the checkpoint %1 is missing although this store has a checkpoint key")
                .arg(m_path);
        return result;
    }
    const Checkpoint& at = **current;
    if (at.seq > lastSeq) {
        result.broken =
            QStringLiteral("the checkpoint %1 names row %2, but the log ends at row %3: the newest "
                           "rows were removed")
                .arg(m_path)
                .arg(at.seq)
                .arg(lastSeq);
        return result;
    }
    Result<std::optional<QString>> stored = hashAt(at.seq);
    if (!stored)
        return stored.error();
    if (*stored != at.hash) {
        result.broken = QStringLiteral("row %1 is not the row the checkpoint %2 recorded: the chain was "
                                       "rewritten")
                            .arg(at.seq)
                            .arg(m_path);
        return result;
    }
    result.anchored = true;
    result.note = lastSeq > at.seq ? QStringLiteral("anchored at row %1 (%2); the %3 row(s) after it were "
                                                    "written by other machines or not yet anchored")
                                         .arg(at.seq)
                                         .arg(m_path)
                                         .arg(lastSeq - at.seq)
                                   : QStringLiteral("anchored at row %1 (%2)").arg(at.seq).arg(m_path);
    return result;
}

Result<void> AuditAnchor::reset(const QString& storeId, qint64 seq, const QString& hash)
{
    QMutexLocker locker(&m_mutex);
    QLockFile lock(m_path + QStringLiteral(".lock"));
    if (Result<void> locked = lockFor(m_path, lock); !locked)
        return locked.error();
    Error why;
    switch (loadKeyLocked(storeId, &why)) {
    case KeyState::Found:
        break;
    case KeyState::Missing:
        if (Result<void> made = makeKeyLocked(storeId); !made)
            return made.error();
        break;
    case KeyState::Unreachable:
        return makeError(why.code == ErrorCode::Tampered ? ErrorCode::Tampered : ErrorCode::Unavailable,
                         QStringLiteral("cannot anchor the audit log: the secret store cannot be used (%1)")
                             .arg(why.message));
    }
    return writeLocked(storeId, Checkpoint{seq, hash});
}

} // namespace fluid::store

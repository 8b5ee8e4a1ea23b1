// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QMutex>

#include <functional>
#include <optional>

namespace fluid::store {

/// Where an anchor's HMAC key lives (the OS keychain, given by the services layer; store does not know the
/// secret store). read: the key for a store; NotFound when none was made yet; any other error when the
/// secret store cannot be reached. write: keeps a new key.
struct AnchorKeyStore {
    std::function<Result<QByteArray>(const QString& storeId)> read;
    std::function<Result<void>(const QString& storeId, const QByteArray& key)> write;
};

/// What an anchor says about a chain that is intact inside the database.
struct AnchorCheck {
    bool anchored = false;         ///< a valid checkpoint was found and matches the chain
    std::optional<QString> broken; ///< set when the checkpoint shows rows removed or rewritten
    QString note;                  ///< for people: where the checkpoint is, or why there is none
};

/// The audit chain's head kept outside the database: a small file holding (store id, seq, hash) of the
/// newest row this installation wrote, signed with HMAC-SHA256 under a per-store key that lives in the
/// keychain. Removing the newest rows, or rewriting the chain and its hashes, leaves the checkpoint naming
/// a row the database no longer has, or has with another hash; forging a checkpoint needs the key.
///
/// The checkpoint only moves forward. A log with rows but no checkpoint yet (a store from before anchors,
/// or a machine whose secret store cannot be reached) is anchored by its next append; once a key exists
/// for a store, a missing or unreadable checkpoint file is reported, never silently replaced (reset() is
/// the explicit way, after a person has looked). On a shared PostgreSQL store each machine anchors the rows
/// it wrote: rows other machines wrote after its checkpoint are not covered by it.
///
/// File: JSON {"version":1,"store":ID,"seq":N,"hash":H,"mac":HEX}, mode 0600, replaced by rename; a lock
/// file beside it serialises processes. Thread: any; thread-safe (one mutex).
class AuditAnchor {
public:
    /// Looks up the hash of row `seq` in the chain: nullopt when there is no such row.
    using HashAt = std::function<Result<std::optional<QString>>(qint64 seq)>;

    AuditAnchor(QString path, AnchorKeyStore keys);

    QString path() const { return m_path; }

    /// After row (seq, hash) was committed: moves the checkpoint to it. Succeeds without anchoring when the
    /// store has no key and the secret store cannot be reached (logged once). Fails (Tampered) when the
    /// current checkpoint names a row the chain no longer has as it was, or is missing or forged although
    /// a key exists; fails when the key or the file cannot be read or written.
    Result<void> advance(const QString& storeId, qint64 seq, const QString& hash, const HashAt& hashAt);
    /// Checks the checkpoint against a chain that verified up to `lastSeq`.
    Result<AnchorCheck> check(const QString& storeId, qint64 lastSeq, const HashAt& hashAt);
    /// Replaces the checkpoint with (seq, hash), making a key when there is none: after a person decided
    /// that the log as it now is should be trusted.
    Result<void> reset(const QString& storeId, qint64 seq, const QString& hash);

private:
    struct Checkpoint {
        qint64 seq = 0;
        QString hash;
    };
    enum class KeyState { Found, Missing, Unreachable };

    KeyState loadKeyLocked(const QString& storeId, Error* why);
    Result<void> makeKeyLocked(const QString& storeId);
    /// nullopt when the file does not exist; Tampered when it does not verify.
    Result<std::optional<Checkpoint>> readLocked(const QString& storeId) const;
    Result<void> writeLocked(const QString& storeId, const Checkpoint& checkpoint) const;
    QByteArray mac(const QString& storeId, const Checkpoint& checkpoint) const;

    mutable QMutex m_mutex;
    const QString m_path;
    const AnchorKeyStore m_keys;
    QString m_keyStoreId;
    QByteArray m_key;
    bool m_warnedUnreachable = false;
};

} // namespace fluid::store

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "secrets/SecretStore.h"

#include <QMap>
#include <QMutex>

namespace fluid::secrets {

/// The explicit opt-in fallback for machines without a keychain (`secrets.backend: encrypted-file` in
/// config.yaml): all entries in one file, encrypted with AES-256-GCM under a key derived from a passphrase
/// with scrypt (N=2^18, r=8, p=1: 256 MiB). A file written with weaker parameters (an earlier Fluid's
/// N=2^15) is re-encrypted with today's when it is next unlocked.
///
/// File format (version 1), big-endian integers:
///   "FLUIDSEC" | u16 version | u32 scrypt N | u32 r | u32 p | 16-byte salt | 12-byte nonce   (50 bytes)
///   AES-256-GCM ciphertext of the JSON object {"<key>": "<base64 value>", ...} | 16-byte tag
/// The header is the GCM additional authenticated data, so no byte of the file can change unnoticed. Every
/// write uses a fresh random nonce; the salt stays for the life of the file. A missing file is an empty
/// store. Writes replace the file atomically (QSaveFile), mode 0600, and create a missing parent folder with
/// mode 0700; a lock file beside it serializes writers across processes.
///
/// The derived key is cached for the file's salt while the object lives (scrypt runs once) and wiped when
/// the object is destroyed. A wrong passphrase and a modified file give the same ErrorCode::Crypto error,
/// which never says which of the two it was.
///
/// Thread: any worker thread; calls block (scrypt on first use, file I/O). Thread-safe (one mutex).
class EncryptedFileSecretStore final : public SecretStore {
public:
    EncryptedFileSecretStore(QString path, const QString& passphrase);
    ~EncryptedFileSecretStore() override;
    Q_DISABLE_COPY_MOVE(EncryptedFileSecretStore)

    QString backendName() const override;
    Result<QByteArray> read(const QString& key) override;
    Result<void> write(const QString& key, const QByteArray& value) override;
    Result<void> remove(const QString& key) override;

    /// Decrypts the file when it exists, so a wrong passphrase shows up before the first real use; ok for a
    /// missing file. InvalidArgument for an empty passphrase.
    Result<void> probe();

    QString path() const { return m_path; }

private:
    using Entries = QMap<QString, QByteArray>;
    struct KdfParams {
        quint32 n = 0;
        quint32 r = 0;
        quint32 p = 0;
        bool operator==(const KdfParams&) const = default;
    };

    Result<void> checkPassphrase() const;
    Result<Entries> loadLocked();
    Result<void> saveLocked(Entries entries);
    void upgradeLocked();
    Result<void> deriveKeyLocked(const QByteArray& salt, const KdfParams& params);
    void wipeKeyLocked();
    Error decryptError() const;

    mutable QMutex m_mutex;
    const QString m_path;
    QByteArray m_passphrase;
    QByteArray m_salt;
    KdfParams m_params;
    QByteArray m_key;
};

} // namespace fluid::secrets

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "secrets/SecretStore.h"

namespace fluid::secrets {

/// QtKeychain service name under which Fluid's entries live in the OS keychain.
inline constexpr char kKeychainService[] = "dev.fluid.Fluid";

/// SecretStore over the OS keychain through QtKeychain (Secret Service on Linux: gnome-keyring, KWallet,
/// KeePassXC; Keychain on macOS), under the service kKeychainService. Values are stored as binary entries,
/// so any bytes survive (NUL included).
///
/// When no keychain is reachable every call returns ErrorCode::Unavailable saying so and what to do; this
/// class never keeps a secret in plaintext (QtKeychain's insecure fallback is not used).
///
/// Thread: call from worker threads; each call blocks until its keychain job is done. The jobs themselves
/// run one at a time on a process-wide internal thread, because QtKeychain's job queue is a singleton
/// QObject that only makes progress on the thread that first used it. Thread-safe.
class KeychainSecretStore final : public SecretStore {
public:
    explicit KeychainSecretStore(QString service = QString::fromLatin1(kKeychainService));

    QString backendName() const override;
    Result<QByteArray> read(const QString& key) override;
    Result<void> write(const QString& key, const QByteArray& value) override;
    Result<void> remove(const QString& key) override;

    /// Whether a keychain is reachable and usable: ok, or ErrorCode::Unavailable (or PermissionDenied when
    /// it refuses access) with what to do. Looks up an entry that does not exist, and when the lookup works
    /// writes and removes a probe entry, since a Secret Service without a usable default collection answers
    /// lookups but refuses writes.
    Result<void> probe();

    /// The message of the Unavailable error: no keychain is reachable, Fluid refuses plaintext, what to do.
    static QString unavailableMessage();

private:
    QString m_service;
};

} // namespace fluid::secrets

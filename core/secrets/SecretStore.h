// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QByteArray>
#include <QString>

#include <memory>

namespace fluid::secrets {

/// Well-known secret names. Keys match `^[a-z0-9][a-z0-9._/-]{0,127}$` and never contain "..".
namespace keys {
/// "llm/<provider>/api-key": the API key of an LLM provider ("openai", "anthropic", "openrouter", ...).
inline constexpr char kLlmApiKeyPattern[] = "llm/%1/api-key";
/// "ssh/user-ca": the private key of Fluid's SSH user CA (signs short-lived sandbox user certificates).
inline constexpr char kSshUserCa[] = "ssh/user-ca";
/// "ssh/host-ca": the private key of Fluid's SSH host CA (signs the host keys injected into sandboxes).
inline constexpr char kSshHostCa[] = "ssh/host-ca";
/// "store/postgresql": the password (or full connection secret) of the team PostgreSQL database.
inline constexpr char kStorePostgresql[] = "store/postgresql";
/// "host/<name>/password": the password of a hypervisor host, by its host name.
inline constexpr char kHostPasswordPattern[] = "host/%1/password";
/// "host/<name>/ssh-key": the private key Fluid logs into a hypervisor host over SSH with, by its host name
/// (hosts[].login_key: keychain).
inline constexpr char kHostLoginKeyPattern[] = "host/%1/ssh-key";
/// "audit/<store id>/anchor-key": the HMAC key that signs the audit chain's checkpoint of one store.
inline constexpr char kAuditAnchorKeyPattern[] = "audit/%1/anchor-key";

/// "llm/<provider>/api-key" with the provider name lower-cased.
QString llmApiKey(const QString& provider);
/// "host/<name>/password" with the host name lower-cased (host names are case-insensitive).
QString hostPassword(const QString& hostName);
/// "host/<name>/ssh-key" with the host name lower-cased.
QString hostLoginKey(const QString& hostName);
/// "audit/<store id>/anchor-key" with the store id lower-cased.
QString auditAnchorKey(const QString& storeId);
} // namespace keys

/// Where Fluid keeps secrets (LLM API keys, CA private keys, host and database passwords): never in the
/// config file or the database. Implementations: KeychainSecretStore (the OS keychain, the default) and
/// EncryptedFileSecretStore (an explicit opt-in for machines without a keychain).
///
/// Every value read or written is registered with fluid::registerSecret(), so the redactor removes it from
/// anything logged, stored or sent to an LLM afterwards. Keys that do not match the key rules give
/// ErrorCode::InvalidArgument; reading a key that holds nothing gives ErrorCode::NotFound; remove() of a key
/// that holds nothing succeeds.
///
/// Thread: the calls are synchronous and block the calling thread (D-Bus round trips, scrypt, file I/O), so
/// call them from a worker thread, never from the GUI thread. Implementations are thread-safe.
class SecretStore {
public:
    virtual ~SecretStore() = default;

    /// Short name of the backend for messages and logs: "keychain" or "encrypted-file".
    virtual QString backendName() const = 0;
    virtual Result<QByteArray> read(const QString& key) = 0;
    /// Creates or replaces the entry.
    virtual Result<void> write(const QString& key, const QByteArray& value) = 0;
    virtual Result<void> remove(const QString& key) = 0;

    /// InvalidArgument unless `key` follows the key rules above.
    static Result<void> validateKey(const QString& key);

protected:
    /// Registers `value` with the redactor: as text when it is valid UTF-8, else its base64 and hex forms
    /// (the shapes binary data takes in logs).
    static void registerValue(const QByteArray& value);
};

struct SecretStoreOptions {
    enum class Backend { Keychain, EncryptedFile };
    Backend backend = Backend::Keychain;
    /// EncryptedFile only: the file holding all entries, and the passphrase its key is derived from.
    QString encryptedFilePath;
    QString passphrase;
};

/// Opens the configured backend and checks that it works: for Keychain, that a keychain is reachable
/// (ErrorCode::Unavailable with what to do if not); for EncryptedFile, that path and passphrase are set and
/// that the file, when it exists, decrypts with the passphrase. Blocks (see SecretStore).
Result<std::unique_ptr<SecretStore>> openSecretStore(const SecretStoreOptions& options);

} // namespace fluid::secrets

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QByteArray>
#include <QString>

namespace fluid::ssh {

/// Key type name of the only key kind Fluid makes and pins.
inline constexpr char kEd25519[] = "ssh-ed25519";

/// An Ed25519 public key: the 32 raw bytes, with the SSH blob, OpenSSH line and SHA256 fingerprint forms.
/// Plain value type; any thread.
class PublicKey {
public:
    PublicKey() = default;
    static Result<PublicKey> fromRaw(const QByteArray& raw);
    /// The SSH wire blob: string "ssh-ed25519", string key.
    static Result<PublicKey> fromBlob(const QByteArray& blob);
    /// "ssh-ed25519 AAAA... [comment]" as in authorized_keys or a .pub file.
    static Result<PublicKey> fromOpenSshLine(const QString& line);

    bool isNull() const { return m_raw.isEmpty(); }
    QByteArray raw() const { return m_raw; }
    QByteArray blob() const;
    QString toOpenSshLine(const QString& comment = {}) const;
    /// "SHA256:<base64 without padding>", as `ssh-keygen -l` prints it.
    QString fingerprint() const;
    /// True when `signatureBlob` (string "ssh-ed25519", string 64-byte signature) signs `data` with this key.
    bool verify(const QByteArray& data, const QByteArray& signatureBlob) const;

    bool operator==(const PublicKey& other) const = default;

private:
    QByteArray m_raw;
};

/// SHA256 fingerprint of any SSH public key blob, in OpenSSH's "SHA256:..." form.
QString sha256Fingerprint(const QByteArray& blob);

/// An Ed25519 key pair generated with OpenSSL (EVP_PKEY_ED25519), stored and loaded in OpenSSH's
/// "openssh-key-v1" private key format (unencrypted), which both OpenSSH and libssh load. The private seed
/// is wiped when the last copy is destroyed. Never log toOpenSshPrivateKey(). Value type; any thread.
class KeyPair {
public:
    KeyPair() = default;
    KeyPair(const KeyPair&) = default;
    KeyPair& operator=(const KeyPair&) = default;
    KeyPair(KeyPair&&) noexcept = default;
    KeyPair& operator=(KeyPair&&) noexcept = default;
    ~KeyPair();

    static Result<KeyPair> generate(const QString& comment = {});
    /// Parses "-----BEGIN OPENSSH PRIVATE KEY-----" text; only unencrypted Ed25519 keys.
    static Result<KeyPair> fromOpenSshPrivateKey(const QByteArray& pem);

    bool isNull() const { return m_seed.isEmpty(); }
    const PublicKey& publicKey() const { return m_public; }
    QString comment() const { return m_comment; }
    /// The "openssh-key-v1" PEM text. Holds the private key: keep it out of logs and files others read.
    QByteArray toOpenSshPrivateKey() const;
    /// An SSH signature blob (string "ssh-ed25519", string signature) over `data`.
    Result<QByteArray> sign(const QByteArray& data) const;

private:
    QByteArray m_seed; ///< 32 bytes
    PublicKey m_public;
    QString m_comment;
};

/// Writes the key in OpenSSH private key format to `path` with mode 0600 (ssh refuses other modes).
Result<void> writePrivateKeyFile(const QString& path, const KeyPair& key);

} // namespace fluid::ssh

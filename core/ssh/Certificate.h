// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "SshKeys.h"

#include <QDateTime>
#include <QMap>
#include <QStringList>

namespace fluid::ssh {

inline constexpr char kEd25519Cert[] = "ssh-ed25519-cert-v01@openssh.com";

enum class CertificateType : quint32 { User = 1, Host = 2 };

/// An OpenSSH certificate of an Ed25519 key (ssh-ed25519-cert-v01@openssh.com, as in OpenSSH's
/// PROTOCOL.certkeys), signed by an Ed25519 CA. Fluid issues these itself (CertificateAuthority) and parses
/// them back to check them. Plain value type; any thread.
struct Certificate {
    CertificateType type = CertificateType::User;
    QByteArray nonce;
    PublicKey key;
    quint64 serial = 0;
    QString keyId;
    QStringList principals;
    QDateTime validAfter;  ///< UTC, whole seconds
    QDateTime validBefore; ///< UTC, whole seconds
    /// Option name -> data field, exactly as encoded (for source-address: an SSH string holding the list).
    QMap<QString, QByteArray> criticalOptions;
    /// Extension name -> data field (empty for the permit-* flags).
    QMap<QString, QByteArray> extensions;
    PublicKey signatureKey;
    QByteArray signature; ///< SSH signature blob
    QByteArray blob;      ///< the whole encoded certificate, as signed and sent

    /// Parses an encoded certificate; does not check the signature (verifySignature() does).
    static Result<Certificate> parse(const QByteArray& blob);
    /// "ssh-ed25519-cert-v01@openssh.com AAAA... [comment]", as in a -cert.pub file.
    static Result<Certificate> fromOpenSshLine(const QString& line);
    QString toOpenSshLine(const QString& comment = {}) const;

    /// Encodes every field before the signature (what the CA signs).
    QByteArray toBeSigned() const;
    /// Fills signatureKey, signature and blob by signing toBeSigned() with `ca`.
    Result<void> signWith(const KeyPair& ca);
    /// Crypto check only: the signature verifies under signatureKey.
    Result<void> verifySignature() const;
    /// What a server does before trusting the certificate: signed by `ca`, of `type`, listing `principal`,
    /// and valid at `at`. Each failure says which check failed.
    Result<void> check(const PublicKey& ca, CertificateType expectedType, const QString& principal,
                       const QDateTime& at) const;

    /// The critical option's value when it holds one SSH string (source-address, force-command).
    QString criticalOptionText(const QString& name) const;
};

} // namespace fluid::ssh

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "Certificate.h"

#include <chrono>
#include <memory>

namespace fluid::secrets {
class SecretStore;
}

namespace fluid::ssh {

/// What a sandbox user certificate is for. The principal names the sandbox (its sshd's
/// AuthorizedPrincipalsFile lists exactly that name for root), the key id names sandbox and session.
struct UserCertificateRequest {
    PublicKey key;
    QString sandboxName;
    QString sessionId;
    QString principal; ///< empty: the sandbox name
    std::chrono::seconds validity{300};
    /// Optional source-address critical option: addresses/CIDRs the certificate may be used from.
    QStringList sourceAddresses;
};

/// What a sandbox host certificate is for: it names only the sandbox's own principal
/// (model::sandboxPrincipal; the sandbox name when empty), so OpenSSH clients verify the injected host key
/// through
/// `@cert-authority fluid-sbx-*` with that principal as HostKeyAlias. Valid no longer than a sandbox may
/// live (sandbox.max_lifetime_days).
struct HostCertificateRequest {
    PublicKey key;
    QString sandboxName;
    QString principal;
    QStringList extraPrincipals;
    std::chrono::seconds validity = std::chrono::hours(24 * 7);
};

/// Fluid's SSH certificate authority: an Ed25519 user CA that signs short-lived user certificates for
/// sandbox logins, and an Ed25519 host CA that signs the host keys Fluid injects into sandboxes. The CA
/// private keys live in the SecretStore (keys::kSshUserCa / kSshHostCa) in OpenSSH private key format and
/// stay in this object's memory only. Every certificate gets a random nonce and 64-bit serial, is
/// backdated by kBackdate for clock skew, and takes its time from the injected Clock.
/// User certificates carry exactly the permit-pty extension: no agent, port or X11 forwarding, no user rc.
///
/// Immutable after construction: thread-safe; issuing never blocks (no I/O).
class CertificateAuthority {
public:
    static constexpr std::chrono::seconds kMinUserValidity{60};
    static constexpr std::chrono::seconds kMaxUserValidity{600};
    static constexpr std::chrono::seconds kDefaultUserValidity{300};
    static constexpr std::chrono::seconds kBackdate{30};

    CertificateAuthority(KeyPair userCa, KeyPair hostCa, const Clock& clock = Clock::system());

    /// Reads both CA keys from `store`, generating and storing each one that is missing. Blocks on the
    /// secret store: call it from a worker thread.
    static Result<std::shared_ptr<CertificateAuthority>> loadOrCreate(secrets::SecretStore& store,
                                                                      const Clock& clock = Clock::system());

    const PublicKey& userCaPublicKey() const { return m_userCa.publicKey(); }
    const PublicKey& hostCaPublicKey() const { return m_hostCa.publicKey(); }
    /// "ssh-ed25519 AAAA... fluid-user-ca": the line for a sandbox's TrustedUserCAKeys file.
    QString userCaOpenSshLine() const;
    /// "@cert-authority <hostPattern> ssh-ed25519 AAAA... fluid-host-ca": the line an OpenSSH client's
    /// known_hosts needs to trust every sandbox host certificate matching the pattern.
    QString hostCaKnownHostsLine(const QString& hostPattern) const;

    /// InvalidArgument when the validity is outside kMinUserValidity..kMaxUserValidity, the sandbox name or
    /// principal is empty or contains characters that break key ids or principal files (comma, space,
    /// control characters), or a source address is not an address/CIDR.
    Result<Certificate> issueUserCertificate(const UserCertificateRequest& request) const;
    Result<Certificate> issueHostCertificate(const HostCertificateRequest& request) const;

    const Clock& clock() const { return m_clock; }

private:
    Result<Certificate> issue(Certificate cert, std::chrono::seconds validity, const KeyPair& ca) const;

    KeyPair m_userCa;
    KeyPair m_hostCa;
    const Clock& m_clock;
};

} // namespace fluid::ssh

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Certificate.h"

namespace fluid::ssh {

/// How a connection decides to trust the server's host key. Never trust-on-first-use.
///  - Pinned (sandboxes): Fluid injected the host key itself, so the server's key must equal it exactly.
///  - KnownHosts (hypervisor hosts): the key must be listed for the host in a known_hosts file; an unknown
///    key fails with NotFound and its SHA256 fingerprint (a person confirms it and trustHostKey() adds
///    it); a different key fails loudly with Tampered.
/// Plain value type; any thread.
struct HostKeyCheck {
    enum class Mode { Pinned, KnownHosts };
    Mode mode = Mode::Pinned;
    PublicKey pinnedKey;
    QString knownHostsFile;       ///< empty: ~/.ssh/known_hosts
    QString globalKnownHostsFile; ///< also consulted when set (for example /etc/ssh/ssh_known_hosts)

    static HostKeyCheck pinned(const PublicKey& key);
    static HostKeyCheck knownHosts(const QString& file = {}, const QString& globalFile = {});
    /// Pins the key a host certificate certifies, after checking the certificate: signed by `hostCa`, a host
    /// certificate, naming `sandboxName`, valid at `at`. For callers that hold the sandbox's host
    /// certificate rather than its bare key.
    static Result<HostKeyCheck> pinnedByCertificate(const Certificate& hostCertificate,
                                                    const PublicKey& hostCa, const QString& sandboxName,
                                                    const QDateTime& at);
};

/// The known_hosts host field OpenSSH uses: "host" on port 22, "[host]:port" otherwise.
QString knownHostsName(const QString& host, int port);

/// Appends "<knownHostsName> ssh-ed25519 AAAA..." to `file` (created with its folder, mode 0600), after a
/// person confirmed the key's fingerprint. Blocks on file I/O.
Result<void> trustHostKey(const QString& file, const QString& host, int port, const PublicKey& key);

} // namespace fluid::ssh

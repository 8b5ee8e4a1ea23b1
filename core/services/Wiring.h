// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "config/Config.h"
#include "inspect/SnapshotInspector.h"
#include "secrets/SecretStore.h"
#include "ssh/CommandAudit.h"
#include "store/Database.h"
#include "virt/SandboxManager.h"

namespace fluid::ssh {
class CertificateAuthority;
class SshConnection;
} // namespace fluid::ssh

#include <functional>
#include <memory>

namespace fluid::services {

// The plain wiring functions Services is assembled from, also used where no Services exists yet (the set-up
// wizard trusting a host before it is saved; the CLI's settings check): settings in, ready-to-open store and
// secret store options, hypervisor connections and identity issuers out. Plain functions; thread: any
// (databaseOptions blocks on the secret store, so call it where SecretStore may be called: not on the GUI
// thread).

/// Environment variable a headless front end reads the encrypted-file passphrase from.
inline constexpr char kPassphraseEnv[] = "FLUID_SECRETS_PASSPHRASE";

/// The passphrase in kPassphraseEnv (empty when unset). The first call reads it and removes it from the
/// environment, so that no child process inherits it (ssh started by libvirt or by a ProxyCommand runs with
/// Fluid's environment; Fluid's own helpers get ProcessEnvironment::minimal() anyway); every later call
/// returns what the first one read. Front ends call it first thing in main(), before any other thread runs:
/// changing the environment is not safe while another thread reads it. Thread-safe.
QString passphraseFromEnvironment();

/// Loads config.yaml from `path`, or from fluid::paths::configFile() when path is empty.
Result<config::LoadedConfig> loadSettings(const QString& path = {});

/// The secret store the settings choose. For the encrypted-file backend, `passphrase` unlocks it.
secrets::SecretStoreOptions secretStoreOptions(const config::Settings& settings, const QString& passphrase);

/// True when opening the store needs a secret (PostgreSQL's password).
bool storeNeedsSecrets(const config::Settings& settings);

/// Options for the configured store. SQLite needs nothing else; PostgreSQL reads its password from
/// `secrets` (key store/postgresql), so secrets must be given then.
Result<store::DatabaseOptions> databaseOptions(const config::Settings& settings,
                                               secrets::SecretStore* secrets);

/// databaseOptions() with the secret store opened on demand (only for PostgreSQL). With anchorAudit, the
/// options carry the audit checkpoint (auditAnchor()).
Result<store::DatabaseOptions> resolveDatabaseOptions(const config::Settings& settings,
                                                      const QString& passphrase, bool anchorAudit = false);

/// The audit chain's checkpoint outside the database for `store`: a file beside the SQLite database, or in
/// fluid::paths::dataDir() for a PostgreSQL server (one per server, database and user); its key is the
/// secret secrets::keys::auditAnchorKey(store id) in the configured secret store, opened when first
/// needed.
std::shared_ptr<store::AuditAnchor>
auditAnchor(const config::Settings& settings, const store::DatabaseOptions& store, const QString& passphrase);

/// The configured host named `name` (the first one when empty); NotFound lists the names there are.
Result<config::HostSettings> hostSettings(const config::Settings& settings, const QString& name);

/// The store row for a configured host, created on first use (name and URI from config).
Result<model::Host> ensureHostRow(store::Database& db, const config::HostSettings& host);

/// How SandboxManager is set up from config: network, host-file folder, stop timeout. The identity issuer
/// is left to the caller (it needs the SSH CA).
virt::ManagerOptions managerOptions(const config::Settings& settings);

/// Issues each new sandbox's identity from Fluid's SSH CA: a fresh Ed25519 host key, its host certificate
/// (naming only the sandbox's principal, valid for `hostCertificateValidity`: a sandbox's maximum lifetime),
/// the user CA to trust, and the principal as the one root principal.
virt::IdentityIssuer identityIssuer(std::shared_ptr<const ssh::CertificateAuthority> ca,
                                    std::chrono::seconds hostCertificateValidity = std::chrono::hours(24 *
                                                                                                      7));

/// How a front end gets the SSH CA when it first needs it (a secret store read, which blocks).
using CaLoader = std::function<Result<std::shared_ptr<const ssh::CertificateAuthority>>()>;
/// A CaLoader that calls `loadCa` until it succeeds once and returns that CA from then on (a failed load is
/// not kept: the next call tries again, as a locked keychain may be open by then). Thread-safe; concurrent
/// first calls wait for one load.
CaLoader cachedCaLoader(CaLoader loadCa);
/// identityIssuer() over a CA that is loaded on the first issue, on the thread that issues (a sandbox
/// manager's worker, never the GUI thread), and cached for every later one. A failed load is not cached:
/// the next create tries again (a keychain that was locked may be open by then). Thread-safe; concurrent
/// first issues wait for one load.
virt::IdentityIssuer lazyIdentityIssuer(CaLoader loadCa,
                                        std::chrono::seconds hostCertificateValidity = std::chrono::hours(24 *
                                                                                                          7));

/// A CaLoader over the configured secret store (CertificateAuthority::loadOrCreate).
CaLoader secretStoreCaLoader(const config::Settings& settings, const QString& passphrase);

/// How a front end gets a host's SSH login key from the secret store when it connects (a blocking read).
using LoginKeyLoader = std::function<Result<QByteArray>()>;
/// The LoginKeyLoader a configured host needs: for login_key: keychain, a read of its key
/// (secrets::keys::hostLoginKey) from the configured secret store, where a missing key is NotFound saying
/// how to add one; otherwise none (ssh's own keys).
LoginKeyLoader loginKeyLoader(const config::Settings& settings, const config::HostSettings& host,
                              const QString& passphrase);

/// Opens the hypervisor at `uri`. For a remote host reached over SSH (qemu+ssh://user@host[:port]/system)
/// Fluid first checks the host's SSH key itself, strictly, against `knownHostsFile` (empty:
/// ~/.ssh/known_hosts; ~/.ssh/config is honoured): an unknown key fails with NotFound naming its SHA256
/// fingerprint for a person to confirm, a changed key with Tampered, and a URI that turns libvirt's own
/// check off (no_verify) is refused. Only then does libvirt open its connection. A `loginKey` (private key
/// text, for hosts whose key is in the secret store) reaches libvirt's ssh as an in-memory file
/// (ssh::MemoryKeyFile) that lives only while the connection is made; it replaces the URI's keyfile.
/// Blocks: call it off the GUI thread.
Result<std::unique_ptr<virt::Hypervisor>>
connectHypervisor(const QString& uri, const QString& knownHostsFile = {}, const QByteArray& loginKey = {});
/// connectHypervisor() with the login key `loadLoginKey` gives (none when it is unset).
Result<std::unique_ptr<virt::Hypervisor>> connectHypervisor(const QString& uri, const QString& knownHostsFile,
                                                            const LoginKeyLoader& loadLoginKey);
/// After a person confirmed `confirmedFingerprint` ("SHA256:...") with the host's administrator: fetches
/// the SSH host key of the remote libvirt host in `uri`, checks it has exactly that fingerprint (else
/// Tampered) and adds it to `knownHostsFile` (empty: ~/.ssh/known_hosts). Returns the fingerprint.
/// A local URI is Refused (nothing to trust). Blocks.
Result<QString> trustHypervisorHost(const QString& uri, const QString& confirmedFingerprint,
                                    const QString& knownHostsFile = {});
/// A root SSH connection to the hypervisor host of a remote libvirt URI, checked and authenticated as
/// libvirt's own transport would be (user and port from the URI, ~/.ssh/config and the ssh-agent or default
/// keys, the host key strictly against `knownHostsFile`, else the URI's known_hosts, else
/// ~/.ssh/known_hosts), for work libvirt cannot do, such as reading a sandbox's disk there. The key is
/// `loginKey` when given, else the URI's keyfile when it names one, else the automatic ones. A local URI is
/// InvalidArgument. Blocks until ready. Every command it runs (root commands on a hypervisor host: the
/// inspection pipeline) goes to `auditSink` as command.run / command.error, with the target "<user>@<host>
/// (hypervisor host)".
Result<std::shared_ptr<ssh::SshConnection>>
connectHostShell(const QString& uri, const QString& knownHostsFile = {}, const QByteArray& loginKey = {},
                 ssh::AuditSink auditSink = {}, ssh::AuditGate auditGate = {});
/// True when an SSH server answers on ip:port as seen from `host` (a direct-tcpip channel through it)
/// within `timeoutMs`: how Fluid knows a sandbox on a remote host is up, since only the host reaches its
/// sandbox network. Blocks.
bool sshBannerThrough(ssh::SshConnection& host, const QString& ip, int port, int timeoutMs);
/// connectHostShell() as the snapshot inspector's way to reach remote hosts; `loadLoginKey`, when set,
/// gives the login key for each connection; `auditSink` receives every command's record, and with
/// `auditGate` no command starts before its start record is stored.
inspect::HostConnector hostShellConnector(const QString& knownHostsFile = {},
                                          LoginKeyLoader loadLoginKey = {}, ssh::AuditSink auditSink = {},
                                          ssh::AuditGate auditGate = {});
/// CreateOptions defaults from config for a host (memory, vCPUs, accelerator, limits, ready timeout).
virt::CreateOptions createDefaults(const config::Settings& settings, const config::HostSettings& host,
                                   const QString& hostRowId);

} // namespace fluid::services

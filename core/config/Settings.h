// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace fluid::config {

/// Where Fluid keeps its data: an embedded SQLite file (the default) or a shared PostgreSQL server.
enum class StoreBackend { Sqlite, Postgresql };

/// How sandbox VMs are accelerated. Auto uses KVM when the host offers it and TCG (software) otherwise.
enum class Accelerator { Auto, Kvm, Tcg };

/// How the connection to a PostgreSQL store is protected (libpq's sslmode). Auto is verify-full for a
/// server on another machine and prefer for one on this machine (a loopback address or a socket folder).
enum class PgSslMode { Auto, Disable, Prefer, Require, VerifyCa, VerifyFull };

/// Which LLM API the agent talks to.
enum class AgentProvider { OpenAi, Anthropic, OpenRouter, Ollama, Vllm };

/// Where secrets live: the OS keychain, or an encrypted file as an explicit opt-in fallback.
enum class SecretsBackend { Keychain, EncryptedFile };

/// Which key Fluid and libvirt log into a host over SSH with: ssh's own (ssh-agent, ~/.ssh/config, the
/// URI's keyfile, the default key files), or the host's login key in Fluid's secret store
/// (secrets::keys::hostLoginKey), handed to ssh in memory only.
enum class HostLogin { Ssh, Keychain };

/// True when libvirt reaches `uri` over SSH (qemu+ssh://, qemu+libssh://, qemu+libssh2://).
bool isOverSsh(const QString& uri);

/// The YAML spelling of a value: "sqlite", "postgresql", "auto", "kvm", "openai", "encrypted-file", ...
// Not named toString: QTest looks up toString() by ADL in this namespace and expects char*.
QString toName(StoreBackend value);
QString toName(Accelerator value);
QString toName(AgentProvider value);
QString toName(SecretsBackend value);
QString toName(HostLogin value);
QString toName(PgSslMode value);

/// Every value of an enum above, in declaration order (for combo boxes and "must be one of" messages).
template <typename E>
QList<E> allValues();
template <>
QList<StoreBackend> allValues<StoreBackend>();
template <>
QList<Accelerator> allValues<Accelerator>();
template <>
QList<AgentProvider> allValues<AgentProvider>();
template <>
QList<SecretsBackend> allValues<SecretsBackend>();
template <>
QList<HostLogin> allValues<HostLogin>();
template <>
QList<PgSslMode> allValues<PgSslMode>();

/// The YAML spellings of every value of E, in declaration order.
template <typename E>
QStringList allNames()
{
    QStringList names;
    for (E value : allValues<E>())
        names.append(toName(value));
    return names;
}

/// The value whose YAML spelling is `text` (ASCII case-insensitive), or nullopt.
template <typename E>
std::optional<E> fromName(const QString& text)
{
    for (E value : allValues<E>()) {
        if (toName(value).compare(text, Qt::CaseInsensitive) == 0)
            return value;
    }
    return std::nullopt;
}

/// An inclusive range for an integer setting. Parsing, validate() and the settings dialog's spin boxes
/// all use the same bounds below. Plain data; thread: any.
struct IntRange {
    int min;
    int max;
    constexpr bool contains(qint64 value) const { return value >= min && value <= max; }
};

namespace bounds {
inline constexpr IntRange kPostgresqlPort{1, 65535};
inline constexpr IntRange kHostMaxMemoryMib{0, 16777216};
inline constexpr IntRange kHostMaxVcpus{0, 4096};
inline constexpr IntRange kHostMaxSandboxes{0, 10000};
inline constexpr IntRange kDefaultVcpus{1, 64};
inline constexpr IntRange kDefaultMemoryMib{128, 1048576};
inline constexpr IntRange kReadyTimeoutS{10, 3600};
inline constexpr IntRange kMaxLifetimeDays{1, 365};
inline constexpr IntRange kCertTtlMinutes{1, 10};
inline constexpr IntRange kEgressPort{1, 65535};
inline constexpr IntRange kEgressHoldSeconds{0, 300};
inline constexpr IntRange kEgressMaxConnections{1, 1024};
inline constexpr IntRange kEgressIdleTimeoutS{10, 86400};
} // namespace bounds

/// Connection to a PostgreSQL server (store.postgresql). The password comes from the keychain, never from
/// the config file. Plain data; thread: any.
struct PostgresqlSettings {
    QString host = QStringLiteral("127.0.0.1");
    int port = 5432;
    QString database = QStringLiteral("fluid");
    QString user = QStringLiteral("fluid");
    PgSslMode sslMode = PgSslMode::Auto;
    /// The CA certificate(s) that verify-ca/verify-full check the server against; empty: libpq's default
    /// (~/.postgresql/root.crt).
    QString sslRootCert;

    /// The sslmode given to libpq: Auto resolved by where host is.
    PgSslMode effectiveSslMode() const;

    bool operator==(const PostgresqlSettings&) const = default;
};

/// Which database backs Fluid (store). Plain data; thread: any.
struct StoreSettings {
    StoreBackend backend = StoreBackend::Sqlite;
    /// Empty means fluid::paths::defaultDatabaseFile(); otherwise an absolute path.
    QString sqlitePath;
    PostgresqlSettings postgresql;

    bool operator==(const StoreSettings&) const = default;
};

/// What Fluid may take from one libvirt host (hosts[].limits); 0 means no limit beyond what the host has
/// free. Plain data; thread: any.
struct HostLimits {
    int maxMemoryMib = 0;
    int maxVcpus = 0;
    int maxSandboxes = 0;

    bool operator==(const HostLimits&) const = default;
};

/// One libvirt host sandboxes can run on (an item of hosts). Plain data; thread: any.
struct HostSettings {
    /// Unique, [a-z0-9][a-z0-9-]{0,39}.
    QString name;
    /// libvirt connection URI: qemu:///system, qemu+ssh://user@host/system, test:///default, ...
    QString uri;
    /// Overrides sandbox.accelerator for this host when set.
    std::optional<Accelerator> accelerator;
    HostLimits limits;
    /// The source VM (libvirt domain name) sandboxes on this host are cloned from when none is named; empty:
    /// none chosen. Set by the set-up wizard.
    QString golden;
    /// Which key logs into a host reached over SSH (keychain: only for ssh URIs).
    HostLogin login = HostLogin::Ssh;
    /// Destinations this host's sandboxes reach through the egress gate without asking (e.g. the
    /// distribution mirror): comma-separated host:port patterns ("deb.debian.org:80, *.example.org:443").
    QString egressAllow;

    bool operator==(const HostSettings&) const = default;
};

/// Defaults for new sandboxes (sandbox). Plain data; thread: any.
struct SandboxSettings {
    int defaultVcpus = 1;
    int defaultMemoryMib = 512;
    Accelerator accelerator = Accelerator::Auto;
    int readyTimeoutS = 180;
    /// How long a sandbox may live: its SSH host certificate is valid no longer than this.
    int maxLifetimeDays = 7;

    bool operator==(const SandboxSettings&) const = default;
};

/// Sandbox SSH certificates (ssh). Plain data; thread: any.
struct SshSettings {
    int certTtlMinutes = 5;

    bool operator==(const SshSettings&) const = default;
};

/// The LLM the agent uses (agent). The API key comes from the keychain, never from the config file.
/// Plain data; thread: any.
struct AgentSettings {
    AgentProvider provider = AgentProvider::OpenAi;
    /// Free text; may stay empty until onboarding picks a model.
    QString model;
    /// Empty means the provider's default; otherwise an http:// or https:// URL.
    QString endpoint;

    bool operator==(const AgentSettings&) const = default;
};

/// The egress gate, a sandbox's only way out (egress; docs/security.md). Plain data; thread: any.
struct EgressSettings {
    /// Where the gate listens on each host's sandbox network (its gateway address).
    int port = 3128;
    /// How long a connection to a destination not yet allowed waits for a person's approval.
    int holdSeconds = 30;
    /// Destinations no sandbox ever reaches, whatever was allowed: comma-separated host:port patterns.
    QString deny;
    int maxConnectionsPerSandbox = 32;
    /// A connection with no bytes either way for this long is closed.
    int idleTimeoutS = 300;

    bool operator==(const EgressSettings&) const = default;
};

/// Where secrets are kept (secrets). Plain data; thread: any.
struct SecretsSettings {
    SecretsBackend backend = SecretsBackend::Keychain;
    /// Empty means <data dir>/secrets.enc; otherwise an absolute path.
    QString encryptedFile;

    bool operator==(const SecretsSettings&) const = default;
};

/// One host named "local" at qemu:///system.
QList<HostSettings> defaultHosts();

/// Everything config.yaml can say, with the defaults a missing file gets. Build one with loadConfig() or
/// parseConfig() (config/Config.h), check one with validate(). Plain data; thread: any.
struct Settings {
    StoreSettings store;
    QList<HostSettings> hosts = defaultHosts();
    SandboxSettings sandbox;
    SshSettings ssh;
    AgentSettings agent;
    SecretsSettings secrets;
    EgressSettings egress;

    /// The host with this name, or nullptr. The pointer is valid until hosts changes.
    const HostSettings* host(const QString& name) const;

    /// The host's own accelerator if it sets one, else sandbox.accelerator.
    Accelerator effectiveAccelerator(const HostSettings& host) const;

    bool operator==(const Settings&) const = default;
};

} // namespace fluid::config

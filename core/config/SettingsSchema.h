// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to core/config: the one description of config.yaml's keys, shared by the reader, the writer
// and the checker so the three can never disagree on a key name, a range or a format.

#include "config/Settings.h"

namespace fluid::config::detail {

/// The format a text setting must have; checkText() in SettingsChecks.h enforces it.
enum class TextRule {
    HostName,            // [a-z0-9][a-z0-9-]{0,39}
    LibvirtUri,          // qemu:///system, qemu+ssh://user@host/system, ...
    ServerHost,          // a host name, an IP address or an absolute socket folder
    ServerName,          // a PostgreSQL database or user name
    FreeText,            // anything on one line
    HttpUrlOrEmpty,      // empty, or an http:// or https:// URL
    AbsolutePathOrEmpty, // empty, or an absolute path without ".." or control characters
    DomainNameOrEmpty,   // empty, or a libvirt domain name of plain characters
    DestinationPatterns, // empty, or comma-separated host:port patterns (*, *.example.org, a name or IPv4; a
                         // port or *)
};

// A visitor V has: section(key, S&), list(key, QList<S>&), integer(key, int&, IntRange),
// text(key, QString&, TextRule), choice(key, E&), optionalChoice(key, std::optional<E>&). Keys are the YAML
// spellings, in the order toYaml() writes them.

/// Dotted keys config.yaml once had that nothing read (the agent's command and path policy, its context
/// limit). A file that still has one loads; the key is ignored with a warning that names it.
inline constexpr const char* kRetiredKeys[] = {"commands", "paths", "agent.context_limit_tokens"};

template <typename V>
void visitFields(V& v, PostgresqlSettings& s)
{
    v.text("host", s.host, TextRule::ServerHost);
    v.integer("port", s.port, bounds::kPostgresqlPort);
    v.text("database", s.database, TextRule::ServerName);
    v.text("user", s.user, TextRule::ServerName);
    v.choice("sslmode", s.sslMode);
    v.text("ssl_root_cert", s.sslRootCert, TextRule::AbsolutePathOrEmpty);
}

template <typename V>
void visitFields(V& v, StoreSettings& s)
{
    v.choice("backend", s.backend);
    v.text("sqlite_path", s.sqlitePath, TextRule::AbsolutePathOrEmpty);
    v.section("postgresql", s.postgresql);
}

template <typename V>
void visitFields(V& v, HostLimits& s)
{
    v.integer("max_memory_mib", s.maxMemoryMib, bounds::kHostMaxMemoryMib);
    v.integer("max_vcpus", s.maxVcpus, bounds::kHostMaxVcpus);
    v.integer("max_sandboxes", s.maxSandboxes, bounds::kHostMaxSandboxes);
}

template <typename V>
void visitFields(V& v, HostSettings& s)
{
    v.text("name", s.name, TextRule::HostName);
    v.text("uri", s.uri, TextRule::LibvirtUri);
    v.text("golden", s.golden, TextRule::DomainNameOrEmpty);
    v.choice("login_key", s.login);
    v.optionalChoice("accelerator", s.accelerator);
    v.section("limits", s.limits);
    v.text("egress_allow", s.egressAllow, TextRule::DestinationPatterns);
}

template <typename V>
void visitFields(V& v, EgressSettings& s)
{
    v.integer("port", s.port, bounds::kEgressPort);
    v.integer("hold_seconds", s.holdSeconds, bounds::kEgressHoldSeconds);
    v.text("deny", s.deny, TextRule::DestinationPatterns);
    v.integer("max_connections_per_sandbox", s.maxConnectionsPerSandbox, bounds::kEgressMaxConnections);
    v.integer("idle_timeout_s", s.idleTimeoutS, bounds::kEgressIdleTimeoutS);
}

template <typename V>
void visitFields(V& v, SandboxSettings& s)
{
    v.integer("default_vcpus", s.defaultVcpus, bounds::kDefaultVcpus);
    v.integer("default_memory_mib", s.defaultMemoryMib, bounds::kDefaultMemoryMib);
    v.choice("accelerator", s.accelerator);
    v.integer("ready_timeout_s", s.readyTimeoutS, bounds::kReadyTimeoutS);
    v.integer("max_lifetime_days", s.maxLifetimeDays, bounds::kMaxLifetimeDays);
}

template <typename V>
void visitFields(V& v, SshSettings& s)
{
    v.integer("cert_ttl_minutes", s.certTtlMinutes, bounds::kCertTtlMinutes);
}

template <typename V>
void visitFields(V& v, AgentSettings& s)
{
    v.choice("provider", s.provider);
    v.text("model", s.model, TextRule::FreeText);
    v.text("endpoint", s.endpoint, TextRule::HttpUrlOrEmpty);
}

template <typename V>
void visitFields(V& v, SecretsSettings& s)
{
    v.choice("backend", s.backend);
    v.text("encrypted_file", s.encryptedFile, TextRule::AbsolutePathOrEmpty);
}

template <typename V>
void visitFields(V& v, Settings& s)
{
    v.section("store", s.store);
    v.list("hosts", s.hosts);
    v.section("sandbox", s.sandbox);
    v.section("ssh", s.ssh);
    v.section("agent", s.agent);
    v.section("secrets", s.secrets);
    v.section("egress", s.egress);
}

} // namespace fluid::config::detail

// SPDX-License-Identifier: Apache-2.0
#include "config/Settings.h"

#include <QUrl>

namespace fluid::config {

bool isOverSsh(const QString& uri)
{
    const QString transport = QUrl(uri).scheme().section(QLatin1Char('+'), 1);
    return transport == QLatin1String("ssh") || transport == QLatin1String("libssh") ||
           transport == QLatin1String("libssh2");
}

QString toName(StoreBackend value)
{
    switch (value) {
    case StoreBackend::Sqlite:
        return QStringLiteral("sqlite");
    case StoreBackend::Postgresql:
        return QStringLiteral("postgresql");
    }
    return {};
}

QString toName(Accelerator value)
{
    switch (value) {
    case Accelerator::Auto:
        return QStringLiteral("auto");
    case Accelerator::Kvm:
        return QStringLiteral("kvm");
    case Accelerator::Tcg:
        return QStringLiteral("tcg");
    }
    return {};
}

QString toName(AgentProvider value)
{
    switch (value) {
    case AgentProvider::OpenAi:
        return QStringLiteral("openai");
    case AgentProvider::Anthropic:
        return QStringLiteral("anthropic");
    case AgentProvider::OpenRouter:
        return QStringLiteral("openrouter");
    case AgentProvider::Ollama:
        return QStringLiteral("ollama");
    case AgentProvider::Vllm:
        return QStringLiteral("vllm");
    }
    return {};
}

QString toName(SecretsBackend value)
{
    switch (value) {
    case SecretsBackend::Keychain:
        return QStringLiteral("keychain");
    case SecretsBackend::EncryptedFile:
        return QStringLiteral("encrypted-file");
    }
    return {};
}

QString toName(HostLogin value)
{
    switch (value) {
    case HostLogin::Ssh:
        return QStringLiteral("ssh");
    case HostLogin::Keychain:
        return QStringLiteral("keychain");
    }
    return {};
}

QString toName(PgSslMode value)
{
    switch (value) {
    case PgSslMode::Auto:
        return QStringLiteral("auto");
    case PgSslMode::Disable:
        return QStringLiteral("disable");
    case PgSslMode::Prefer:
        return QStringLiteral("prefer");
    case PgSslMode::Require:
        return QStringLiteral("require");
    case PgSslMode::VerifyCa:
        return QStringLiteral("verify-ca");
    case PgSslMode::VerifyFull:
        return QStringLiteral("verify-full");
    }
    return {};
}

template <>
QList<PgSslMode> allValues<PgSslMode>()
{
    return {PgSslMode::Auto,    PgSslMode::Disable,  PgSslMode::Prefer,
            PgSslMode::Require, PgSslMode::VerifyCa, PgSslMode::VerifyFull};
}

PgSslMode PostgresqlSettings::effectiveSslMode() const
{
    if (sslMode != PgSslMode::Auto)
        return sslMode;
    const bool local = host.startsWith(QLatin1Char('/')) || host == QLatin1String("localhost") ||
                       host == QLatin1String("::1") || host.startsWith(QLatin1String("127."));
    return local ? PgSslMode::Prefer : PgSslMode::VerifyFull;
}

template <>
QList<StoreBackend> allValues<StoreBackend>()
{
    return {StoreBackend::Sqlite, StoreBackend::Postgresql};
}

template <>
QList<Accelerator> allValues<Accelerator>()
{
    return {Accelerator::Auto, Accelerator::Kvm, Accelerator::Tcg};
}

template <>
QList<AgentProvider> allValues<AgentProvider>()
{
    return {AgentProvider::OpenAi, AgentProvider::Anthropic, AgentProvider::OpenRouter, AgentProvider::Ollama,
            AgentProvider::Vllm};
}

template <>
QList<SecretsBackend> allValues<SecretsBackend>()
{
    return {SecretsBackend::Keychain, SecretsBackend::EncryptedFile};
}

QList<HostSettings> defaultHosts()
{
    HostSettings local;
    local.name = QStringLiteral("local");
    local.uri = QStringLiteral("qemu:///system");
    return {local};
}

const HostSettings* Settings::host(const QString& name) const
{
    for (const HostSettings& candidate : hosts) {
        if (candidate.name == name)
            return &candidate;
    }
    return nullptr;
}

Accelerator Settings::effectiveAccelerator(const HostSettings& host) const
{
    return host.accelerator.value_or(sandbox.accelerator);
}

template <>
QList<HostLogin> allValues<HostLogin>()
{
    return {HostLogin::Ssh, HostLogin::Keychain};
}

} // namespace fluid::config

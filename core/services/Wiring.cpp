// SPDX-License-Identifier: Apache-2.0
#include "Wiring.h"

#include "base/Paths.h"
#include "base/Redact.h"
#include "ssh/CertificateAuthority.h"
#include "ssh/LoginKey.h"
#include "ssh/SshConnection.h"
#include "store/AuditAnchor.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "virt/LibvirtHypervisor.h"

#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QMutex>
#include <QUrl>
#include <QUrlQuery>

#include <optional>

#include <poll.h>
#include <unistd.h>

namespace fluid::services {

QString passphraseFromEnvironment()
{
    static const QString passphrase = [] {
        const QString value = qEnvironmentVariable(kPassphraseEnv);
        qunsetenv(kPassphraseEnv);
        registerSecret(value);
        return value;
    }();
    return passphrase;
}

Result<config::LoadedConfig> loadSettings(const QString& path)
{
    return config::loadConfig(path.isEmpty() ? paths::configFile() : path);
}

secrets::SecretStoreOptions secretStoreOptions(const config::Settings& settings, const QString& passphrase)
{
    secrets::SecretStoreOptions o;
    if (settings.secrets.backend == config::SecretsBackend::EncryptedFile) {
        o.backend = secrets::SecretStoreOptions::Backend::EncryptedFile;
        o.encryptedFilePath = settings.secrets.encryptedFile.isEmpty()
                                  ? paths::dataDir() + QStringLiteral("/secrets.enc")
                                  : settings.secrets.encryptedFile;
        o.passphrase = passphrase;
    }
    return o;
}

bool storeNeedsSecrets(const config::Settings& settings)
{
    return settings.store.backend == config::StoreBackend::Postgresql;
}

Result<store::DatabaseOptions> databaseOptions(const config::Settings& settings,
                                               secrets::SecretStore* secrets)
{
    store::DatabaseOptions o;
    if (settings.store.backend == config::StoreBackend::Sqlite) {
        o.backend = store::Backend::Sqlite;
        o.sqlitePath =
            settings.store.sqlitePath.isEmpty() ? paths::defaultDatabaseFile() : settings.store.sqlitePath;
        return o;
    }
    const config::PostgresqlSettings& pg = settings.store.postgresql;
    o.backend = store::Backend::Postgresql;
    o.pgHost = pg.host;
    o.pgPort = pg.port;
    o.pgDatabase = pg.database;
    o.pgUser = pg.user;
    o.pgSslMode = config::toName(pg.effectiveSslMode());
    o.pgSslRootCert = pg.sslRootCert;
    if (!secrets) {
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("The PostgreSQL store needs its password from the secret store, which "
                           "is not open"));
    }
    auto password = secrets->read(QString::fromLatin1(secrets::keys::kStorePostgresql));
    if (!password) {
        if (password.error().code == ErrorCode::NotFound) {
            return makeError(
                ErrorCode::NotFound,
                QStringLiteral("No PostgreSQL password is stored. Save it in Settings, or as the "
                               "secret %1 in the %2.")
                    .arg(QLatin1String(secrets::keys::kStorePostgresql), secrets->backendName()));
        }
        return password.error();
    }
    o.pgPassword = QString::fromUtf8(*password);
    return o;
}

Result<store::DatabaseOptions> resolveDatabaseOptions(const config::Settings& settings,
                                                      const QString& passphrase, bool anchorAudit)
{
    Result<store::DatabaseOptions> options = databaseOptions(settings, nullptr);
    if (storeNeedsSecrets(settings)) {
        auto secretStore = secrets::openSecretStore(secretStoreOptions(settings, passphrase));
        if (!secretStore)
            return secretStore.error();
        options = databaseOptions(settings, secretStore->get());
    }
    if (options && anchorAudit)
        options->auditAnchor = auditAnchor(settings, *options, passphrase);
    return options;
}

std::shared_ptr<store::AuditAnchor>
auditAnchor(const config::Settings& settings, const store::DatabaseOptions& store, const QString& passphrase)
{
    QString path;
    if (store.backend == store::Backend::Sqlite) {
        path = store.sqlitePath + QStringLiteral(".audit-anchor");
    } else {
        const QByteArray server = QStringLiteral("%1:%2/%3/%4")
                                      .arg(store.pgHost)
                                      .arg(store.pgPort)
                                      .arg(store.pgDatabase, store.pgUser)
                                      .toUtf8();
        path = paths::dataDir() + QStringLiteral("/audit-anchor-pg-") +
               QString::fromLatin1(
                   QCryptographicHash::hash(server, QCryptographicHash::Sha256).toHex().left(16));
    }
    const secrets::SecretStoreOptions secretOptions = secretStoreOptions(settings, passphrase);
    store::AnchorKeyStore keys;
    keys.read = [secretOptions](const QString& storeId) -> Result<QByteArray> {
        auto opened = secrets::openSecretStore(secretOptions);
        if (!opened)
            return Error{ErrorCode::Unavailable, opened.error().message, opened.error().detail};
        return (*opened)->read(secrets::keys::auditAnchorKey(storeId));
    };
    keys.write = [secretOptions](const QString& storeId, const QByteArray& key) -> Result<void> {
        auto opened = secrets::openSecretStore(secretOptions);
        if (!opened)
            return opened.error();
        return (*opened)->write(secrets::keys::auditAnchorKey(storeId), key);
    };
    return std::make_shared<store::AuditAnchor>(path, std::move(keys));
}

Result<config::HostSettings> hostSettings(const config::Settings& settings, const QString& name)
{
    if (settings.hosts.isEmpty())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("No libvirt host is configured (hosts: in config.yaml)"));
    if (name.isEmpty())
        return settings.hosts.first();
    if (const config::HostSettings* h = settings.host(name))
        return *h;
    QStringList names;
    for (const config::HostSettings& h : settings.hosts)
        names << h.name;
    return makeError(ErrorCode::NotFound, QStringLiteral("No host named %1 in config.yaml (there are: %2)")
                                              .arg(name, names.join(QStringLiteral(", "))));
}

Result<model::Host> ensureHostRow(store::Database& db, const config::HostSettings& host)
{
    store::HostRepository hosts(db);
    auto existing = store::hostNamed(db, host.name);
    if (!existing)
        return existing.error();
    if (*existing) {
        model::Host row = **existing;
        if (row.uri != host.uri) {
            row.uri = host.uri;
            if (auto r = hosts.update(row); !r)
                return r.error();
        }
        return row;
    }
    model::Host row{model::newId(), host.name, host.uri, {}, QDateTime::currentDateTimeUtc()};
    if (auto r = hosts.insert(row); !r)
        return r.error();
    return row;
}

virt::ManagerOptions managerOptions(const config::Settings& settings)
{
    virt::ManagerOptions o;
    o.localFileDir = paths::dataDir() + QStringLiteral("/hostfiles");
    o.stopTimeoutS = qBound(5, settings.sandbox.readyTimeoutS / 3, 120);
    o.network.gatePort = settings.egress.port;
    return o;
}

virt::IdentityIssuer identityIssuer(std::shared_ptr<const ssh::CertificateAuthority> ca,
                                    std::chrono::seconds hostCertificateValidity)
{
    return [ca, hostCertificateValidity](const QString& name,
                                         const QString& principal) -> Result<virt::SandboxIdentity> {
        auto key = ssh::KeyPair::generate(name);
        if (!key)
            return key.error();
        ssh::HostCertificateRequest request;
        request.key = key->publicKey();
        request.sandboxName = name;
        request.principal = principal;
        request.validity = hostCertificateValidity;
        auto cert = ca->issueHostCertificate(request);
        if (!cert)
            return cert.error();
        return virt::SandboxIdentity{key->toOpenSshPrivateKey(), key->publicKey().toOpenSshLine(name),
                                     cert->toOpenSshLine(name).toUtf8() + '\n',
                                     ca->userCaOpenSshLine().toUtf8() + '\n', principal};
    };
}

CaLoader cachedCaLoader(CaLoader loadCa)
{
    struct Cache {
        QMutex mutex;
        CaLoader load;
        std::shared_ptr<const ssh::CertificateAuthority> ca;
    };
    auto cache = std::make_shared<Cache>();
    cache->load = std::move(loadCa);
    return [cache]() -> Result<std::shared_ptr<const ssh::CertificateAuthority>> {
        QMutexLocker lock(&cache->mutex);
        if (!cache->ca) {
            auto loaded = cache->load();
            if (!loaded)
                return loaded.error();
            cache->ca = std::move(*loaded);
        }
        return cache->ca;
    };
}

virt::IdentityIssuer lazyIdentityIssuer(CaLoader loadCa, std::chrono::seconds hostCertificateValidity)
{
    return [load = cachedCaLoader(std::move(loadCa)), hostCertificateValidity](
               const QString& name, const QString& principal) -> Result<virt::SandboxIdentity> {
        auto ca = load();
        if (!ca)
            return ca.error();
        return identityIssuer(std::move(*ca), hostCertificateValidity)(name, principal);
    };
}

CaLoader secretStoreCaLoader(const config::Settings& settings, const QString& passphrase)
{
    const secrets::SecretStoreOptions options = secretStoreOptions(settings, passphrase);
    return [options]() -> Result<std::shared_ptr<const ssh::CertificateAuthority>> {
        auto store = secrets::openSecretStore(options);
        if (!store)
            return store.error();
        auto ca = ssh::CertificateAuthority::loadOrCreate(**store);
        if (!ca)
            return ca.error();
        return std::shared_ptr<const ssh::CertificateAuthority>(std::move(*ca));
    };
}

LoginKeyLoader loginKeyLoader(const config::Settings& settings, const config::HostSettings& host,
                              const QString& passphrase)
{
    if (host.login != config::HostLogin::Keychain)
        return {};
    const secrets::SecretStoreOptions options = secretStoreOptions(settings, passphrase);
    return [options, hostName = host.name]() -> Result<QByteArray> {
        auto store = secrets::openSecretStore(options);
        if (!store)
            return store.error();
        auto key = (*store)->read(secrets::keys::hostLoginKey(hostName));
        if (!key && key.error().code == ErrorCode::NotFound)
            return makeError(ErrorCode::NotFound,
                             QStringLiteral("Host %1 logs in with a key from Fluid's keychain, but none is "
                                            "stored. Add one with File > Set up Fluid... (Generate or Import "
                                            "on the host page), or set its login_key to ssh.")
                                 .arg(hostName));
        return key;
    };
}

virt::CreateOptions createDefaults(const config::Settings& settings, const config::HostSettings& host,
                                   const QString& hostRowId)
{
    virt::CreateOptions c;
    c.hostId = hostRowId;
    c.memoryMib = settings.sandbox.defaultMemoryMib;
    c.vcpus = settings.sandbox.defaultVcpus;
    switch (settings.effectiveAccelerator(host)) {
    case config::Accelerator::Auto:
        c.accelerator = virt::AcceleratorChoice::Auto;
        break;
    case config::Accelerator::Kvm:
        c.accelerator = virt::AcceleratorChoice::Kvm;
        break;
    case config::Accelerator::Tcg:
        c.accelerator = virt::AcceleratorChoice::Tcg;
        break;
    }
    c.limits = {host.limits.maxMemoryMib, host.limits.maxVcpus, host.limits.maxSandboxes};
    c.readyTimeoutS = settings.sandbox.readyTimeoutS;
    return c;
}

namespace {

/// How Fluid reaches a remote libvirt host's sshd: as libvirt's ssh transport does, with a strict check.
ssh::ConnectionOptions hostSshOptions(const QUrl& url, const QString& knownHostsFile)
{
    ssh::ConnectionOptions o;
    o.host = url.host();
    o.port = url.port(0);
    o.user = url.userName();
    o.useSshConfig = true;
    // The URI's known_hosts (which libvirt's libssh transports honour too) unless the caller names a file.
    const QString fromUri = QUrlQuery(url).queryItemValue(QStringLiteral("known_hosts"), QUrl::FullyDecoded);
    o.hostKeyCheck = ssh::HostKeyCheck::knownHosts(knownHostsFile.isEmpty() ? fromUri : knownHostsFile);
    return o;
}

QString userKnownHosts(const QString& file)
{
    return file.isEmpty() ? QDir::homePath() + QStringLiteral("/.ssh/known_hosts") : file;
}

} // namespace

Result<QString> trustHypervisorHost(const QString& uri, const QString& confirmedFingerprint,
                                    const QString& knownHostsFile)
{
    const QUrl url(uri);
    if (!config::isOverSsh(uri) || url.host().isEmpty())
        return makeError(
            ErrorCode::Refused,
            QStringLiteral("%1 is not reached over SSH: there is no host key to trust.").arg(uri));
    const int port = url.port(22);
    auto key = ssh::SshConnection::fetchHostKey(url.host(), port, std::chrono::seconds(15));
    if (!key)
        return key.error();
    if (key->fingerprint() != confirmedFingerprint.trimmed())
        return makeError(
            ErrorCode::Tampered,
            QStringLiteral("%1:%2 presents the key %3, not the confirmed %4. Nothing was trusted.")
                .arg(url.host())
                .arg(port)
                .arg(key->fingerprint(), confirmedFingerprint.trimmed()));
    const QString file = hostSshOptions(url, knownHostsFile).hostKeyCheck.knownHostsFile;
    if (auto r = ssh::trustHostKey(userKnownHosts(file), url.host(), port, *key); !r)
        return r.error();
    return key->fingerprint();
}

Result<std::unique_ptr<virt::Hypervisor>> connectHypervisor(const QString& uri, const QString& knownHostsFile,
                                                            const QByteArray& loginKey)
{
    QUrl url(uri);
    std::optional<ssh::MemoryKeyFile> keyFile;
    if (config::isOverSsh(uri)) {
        QUrlQuery query(url);
        if (query.hasQueryItem(QStringLiteral("no_verify")) &&
            query.queryItemValue(QStringLiteral("no_verify")) != QLatin1String("0"))
            return makeError(
                ErrorCode::Refused,
                QStringLiteral("Refusing %1: no_verify turns off the host key check. Remove it and "
                               "trust the host's key instead.")
                    .arg(uri));
        if (url.host().isEmpty())
            return makeError(ErrorCode::Config, QStringLiteral("%1 names no host.").arg(uri));
        auto key = ssh::SshConnection::checkHostKey(hostSshOptions(url, knownHostsFile));
        if (!key)
            return key.error();
        if (!loginKey.isEmpty()) {
            auto file = ssh::MemoryKeyFile::create(loginKey);
            if (!file)
                return file.error();
            keyFile.emplace(std::move(*file));
            query.removeAllQueryItems(QStringLiteral("keyfile"));
            query.addQueryItem(QStringLiteral("keyfile"), keyFile->path());
            url.setQuery(query);
        }
    }
    // libvirt's ssh has read the in-memory key once this returns; keyFile closes it then.
    auto hv = virt::LibvirtHypervisor::connect(keyFile ? url.toString() : uri);
    if (!hv) {
        Error error = hv.error();
        if (keyFile) // the in-memory file's name means nothing to a person
            error.message.replace(url.toString(),
                                  uri + QStringLiteral(" (with the login key from Fluid's keychain)"));
        return error;
    }
    return std::unique_ptr<virt::Hypervisor>(std::move(*hv));
}

Result<std::unique_ptr<virt::Hypervisor>> connectHypervisor(const QString& uri, const QString& knownHostsFile,
                                                            const LoginKeyLoader& loadLoginKey)
{
    if (!loadLoginKey)
        return connectHypervisor(uri, knownHostsFile);
    auto key = loadLoginKey();
    if (!key)
        return key.error();
    auto hv = connectHypervisor(uri, knownHostsFile, *key);
    key->fill('\0');
    return hv;
}

Result<std::shared_ptr<ssh::SshConnection>>
connectHostShell(const QString& uri, const QString& knownHostsFile, const QByteArray& loginKey,
                 ssh::AuditSink auditSink, ssh::AuditGate auditGate)
{
    const QUrl url(uri);
    if (!config::isOverSsh(uri) || url.host().isEmpty())
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("%1 is not a libvirt host reached over SSH").arg(uri));
    ssh::ConnectionOptions options = hostSshOptions(url, knownHostsFile);
    options.loginKey = loginKey;
    options.audit.target =
        QStringLiteral("%1@%2 (hypervisor host)")
            .arg(url.userName().isEmpty() ? QStringLiteral("root") : url.userName(), url.host());
    options.auditSink = std::move(auditSink);
    options.auditGate = std::move(auditGate);
    const QString keyFile = QUrlQuery(url).queryItemValue(QStringLiteral("keyfile"), QUrl::FullyDecoded);
    if (options.loginKey.isEmpty() && !keyFile.isEmpty()) {
        auto text = ssh::readPrivateKeyFile(keyFile);
        if (!text)
            return makeError(ErrorCode::Io,
                             text.error().message + QStringLiteral(" (named in %1).").arg(uri));
        options.loginKey = std::move(*text);
    }
    auto connection = ssh::SshConnection::open(std::move(options));
    auto ready = connection->ready();
    ready.waitForFinished();
    if (auto r = ready.result(); !r)
        return r.error();
    return connection;
}

bool sshBannerThrough(ssh::SshConnection& host, const QString& ip, int port, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    auto tunnel = host.openTunnel(ip, port);
    tunnel.waitForFinished(); // the host's sshd answers once its own connect succeeded or failed
    if (tunnel.resultCount() == 0)
        return false;
    const Result<int> fd = tunnel.result();
    if (!fd)
        return false;
    QByteArray banner;
    char buffer[256];
    while (!banner.contains('\n') && banner.size() < 4096) {
        const qint64 left = timeoutMs - timer.elapsed();
        pollfd p{*fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, int(left)) <= 0)
            break;
        const ssize_t n = ::read(*fd, buffer, sizeof buffer);
        if (n <= 0)
            break;
        banner.append(buffer, n);
    }
    ::close(*fd);
    return banner.startsWith("SSH-2.0");
}

inspect::HostConnector hostShellConnector(const QString& knownHostsFile, LoginKeyLoader loadLoginKey,
                                          ssh::AuditSink auditSink, ssh::AuditGate auditGate)
{
    return [knownHostsFile, loadLoginKey, auditSink,
            auditGate](const QString& uri) -> Result<std::shared_ptr<ssh::RemoteShell>> {
        QByteArray key;
        if (loadLoginKey) {
            auto loaded = loadLoginKey();
            if (!loaded)
                return loaded.error();
            key = std::move(*loaded);
        }
        auto connection = connectHostShell(uri, knownHostsFile, key, auditSink, auditGate);
        key.fill('\0');
        if (!connection)
            return connection.error();
        return std::shared_ptr<ssh::RemoteShell>(std::move(*connection));
    };
}

} // namespace fluid::services

// SPDX-License-Identifier: Apache-2.0
#include "Runtime.h"

#include "base/Paths.h"

namespace fluid::runtime {

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
                                                      const QString& passphrase)
{
    if (!storeNeedsSecrets(settings))
        return databaseOptions(settings, nullptr);
    auto secretStore = secrets::openSecretStore(secretStoreOptions(settings, passphrase));
    if (!secretStore)
        return secretStore.error();
    return databaseOptions(settings, secretStore->get());
}

} // namespace fluid::runtime

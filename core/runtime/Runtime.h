// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "config/Config.h"
#include "secrets/SecretStore.h"
#include "store/Database.h"

namespace fluid::runtime {

// Wiring shared by every front end (the desktop app, the CLI, fluid-remote): settings in, ready-to-open
// store and secret store options out. Plain functions; thread: any (databaseOptions blocks on the secret
// store, so call it where SecretStore may be called: not on the GUI thread).

/// Environment variable a headless front end reads the encrypted-file passphrase from.
inline constexpr char kPassphraseEnv[] = "FLUID_SECRETS_PASSPHRASE";

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

/// databaseOptions() with the secret store opened on demand (only for PostgreSQL).
Result<store::DatabaseOptions> resolveDatabaseOptions(const config::Settings& settings,
                                                      const QString& passphrase);

} // namespace fluid::runtime

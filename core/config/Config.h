// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "config/Settings.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace fluid::config {

/// Settings as read from config.yaml, with the warnings a person should see (unknown keys, each with
/// file, line and a "did you mean" when a known key is close; keys that are no longer settings). Plain
/// data; thread: any.
struct LoadedConfig {
    Settings settings;
    /// "<file>:<line>: <key>: unknown key ..." or "...: no longer a setting ..." lines; loading still
    /// succeeded.
    QStringList warnings;
    QString path;
    /// True when a file existed and was read (even an empty one); false when the defaults were used
    /// because there was no file.
    bool fromFile = false;
};

/// config.yaml larger than this is refused: it is hand-written settings, never data.
inline constexpr qint64 kMaxConfigFileBytes = 1024 * 1024;

// Reading, checking and writing config.yaml. Pure functions over plain data (plus file I/O in
// loadConfig/saveConfig); thread: any. yaml-cpp stays inside: nothing here throws.

/// Reads `path` (usually fluid::paths::configFile()). A missing or empty file gives the defaults. An
/// invalid file gives ErrorCode::Config whose message has one line per problem, each naming the file,
/// the 1-based line and the dotted key, what is allowed and what was found, for example
/// `/home/u/.config/fluid/config.yaml:12: sandbox.default_memory_mib: must be an integer from 128 to
/// 1048576 (found "64")`. A key that names a secret (api_key, password, token, ...) is an error: secrets
/// belong in the keychain, and their values never appear in messages. Unreadable files give
/// ErrorCode::Io.
Result<LoadedConfig> loadConfig(const QString& path);

/// The same as loadConfig() over bytes already in memory; `pathForMessages` names the source in
/// messages and becomes LoadedConfig::path. fromFile is left false.
Result<LoadedConfig> parseConfig(const QByteArray& yaml, const QString& pathForMessages);

/// config.yaml text for `settings`, every key written out; parseConfig() reads it back to equal settings.
QByteArray toYaml(const Settings& settings);

/// Validates `settings`, then writes toYaml() to `path` atomically (QSaveFile), creating the parent
/// folder. The file is rewritten: comments and unknown keys in an existing file are not kept.
Result<void> saveConfig(const QString& path, const Settings& settings);

/// The range, enum and format checks parseConfig() applies, for settings built in code (a settings
/// dialog checks before saving). The message has one "<dotted key>: must be ... (found ...)" line per
/// problem.
Result<void> validate(const Settings& settings);

/// Logs each of config.warnings through lcConfig.
void logWarnings(const LoadedConfig& config);

} // namespace fluid::config

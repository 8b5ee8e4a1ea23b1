// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

namespace fluid::paths {

/// Fluid's per-user folders (XDG on Linux, Application Support on macOS). The application name must be
/// "fluid" and the organization name empty (main() sets both). FLUID_CONFIG_DIR / FLUID_DATA_DIR override
/// them, for tests and for running several instances side by side.
QString configDir();
QString dataDir();

/// config.yaml inside configDir().
QString configFile();

/// The embedded SQLite database inside dataDir().
QString defaultDatabaseFile();

/// Window geometry and dock layout (INI, written by the UI).
QString uiStateFile();

} // namespace fluid::paths

// SPDX-License-Identifier: Apache-2.0
#include "Paths.h"

#include <QStandardPaths>

namespace fluid::paths {
namespace {
QString fromEnvOr(const char* name, QStandardPaths::StandardLocation location)
{
    const QString overridden = qEnvironmentVariable(name);
    return overridden.isEmpty() ? QStandardPaths::writableLocation(location) : overridden;
}
} // namespace

QString configDir()
{
    return fromEnvOr("FLUID_CONFIG_DIR", QStandardPaths::AppConfigLocation);
}

QString dataDir()
{
    return fromEnvOr("FLUID_DATA_DIR", QStandardPaths::AppDataLocation);
}

QString configFile()
{
    return configDir() + QStringLiteral("/config.yaml");
}

QString defaultDatabaseFile()
{
    return dataDir() + QStringLiteral("/fluid.sqlite");
}

QString uiStateFile()
{
    return configDir() + QStringLiteral("/ui-state.ini");
}

} // namespace fluid::paths

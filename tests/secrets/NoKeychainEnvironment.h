// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "TestSupport.h"

#include <QDir>
#include <QFile>
#include <QString>

namespace fluid::test {

/// Cuts this process off from every keychain and from the person's own folders: no session bus (neither
/// DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus), no X11/Wayland display to autolaunch one, no desktop
/// hints, and HOME plus the XDG folders inside a fresh directory, which is returned. Call before anything
/// touches D-Bus, best in main() before QCoreApplication exists.
inline QString isolateFromKeychains(const QString& prefix)
{
    for (const char* name :
         {"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION",
          "GNOME_DESKTOP_SESSION_ID", "KDE_FULL_SESSION", "KDE_SESSION_VERSION"})
        qunsetenv(name);
    const QString home = makeTempDir(prefix);
    const struct {
        const char* name;
        const char* folder;
    } folders[] = {{"HOME", ""},
                   {"XDG_DATA_HOME", "/data"},
                   {"XDG_CONFIG_HOME", "/config"},
                   {"XDG_CACHE_HOME", "/cache"},
                   {"XDG_STATE_HOME", "/state"},
                   {"XDG_RUNTIME_DIR", "/run"}};
    for (const auto& folder : folders) {
        const QString path = home + QLatin1String(folder.folder);
        QDir().mkpath(path);
        qputenv(folder.name, QFile::encodeName(path));
    }
    QFile::setPermissions(home + QStringLiteral("/run"),
                          QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    return home;
}

} // namespace fluid::test

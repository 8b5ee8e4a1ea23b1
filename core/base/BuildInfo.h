// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QList>
#include <QString>

namespace fluid {

struct ComponentVersion {
    QString name;
    QString version;
};

/// Fluid's own version string.
QString fluidVersion();

/// Versions of Qt, libvirt, libssh, OpenSSL, yaml-cpp, libvterm and QtKeychain this process runs with
/// (the run-time library where the library can tell, else the version built against).
QList<ComponentVersion> componentVersions();

} // namespace fluid

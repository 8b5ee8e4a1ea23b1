// SPDX-License-Identifier: Apache-2.0
#include "BuildInfo.h"

#include <libssh/libssh.h>
#include <libvirt/libvirt.h>
#include <openssl/crypto.h>

#include <QtGlobal>

namespace fluid {

QString fluidVersion()
{
    return QStringLiteral(FLUID_VERSION);
}

QList<ComponentVersion> componentVersions()
{
    QList<ComponentVersion> list;
    list.append({QStringLiteral("Qt"), QString::fromLatin1(qVersion())});

    unsigned long libvirtVersion = 0;
    if (virGetVersion(&libvirtVersion, nullptr, nullptr) == 0) {
        list.append({QStringLiteral("libvirt"), QStringLiteral("%1.%2.%3")
                                                    .arg(libvirtVersion / 1000000)
                                                    .arg((libvirtVersion / 1000) % 1000)
                                                    .arg(libvirtVersion % 1000)});
    } else {
        list.append({QStringLiteral("libvirt"), QStringLiteral("unknown")});
    }
    list.append({QStringLiteral("libssh"), QString::fromLatin1(ssh_version(0))});
    list.append({QStringLiteral("OpenSSL"), QString::fromLatin1(OpenSSL_version(OPENSSL_VERSION_STRING))});
    // yaml-cpp, libvterm and QtKeychain have no run-time version call: these are the versions built against.
    list.append({QStringLiteral("yaml-cpp"), QStringLiteral(FLUID_YAMLCPP_VERSION)});
    list.append({QStringLiteral("libvterm"), QStringLiteral(FLUID_VTERM_VERSION)});
    list.append({QStringLiteral("QtKeychain"), QStringLiteral(FLUID_QTKEYCHAIN_VERSION)});
    return list;
}

} // namespace fluid

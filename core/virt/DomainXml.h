// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "SourceDomain.h"

#include <optional>
#include <QMap>

namespace fluid::virt {

/// One fw_cfg entry for the guest: a file on the hypervisor host (keys, certificates) or a short value.
/// Values land on the qemu command line, visible to local users: never put a secret in `value`.
struct FwCfgEntry {
    QString name; ///< "opt/fluid/hostname", ...
    QString value;
    QString file;
};

/// Everything that differs between a source domain and its sandbox clone.
struct SandboxXmlSpec {
    QString domainName;
    QString sandboxId;
    QString sourceName;
    QString storeId; ///< the store making it: its ownership mark
    /// New image for each writable disk of the source, by target (vda -> overlay path). Every writable
    /// disk must have one: a clone never writes to its source's disks.
    QMap<QString, QString> overlays;
    QString overlayFormat = QStringLiteral("qcow2");
    QString macAddress;  ///< 52:54:00:xx:xx:xx
    QString networkName; ///< the isolated Fluid network
    QString
        gatewayAddress; ///< its gateway, where the egress gate listens (the NIC's filter, SandboxNetwork.h)
    int gatePort = 0;   ///< the egress gate's port
    std::optional<QString> domainType; ///< kvm | qemu; unset keeps the source's type
    int memoryMib = 0;                 ///< 0 keeps the source's
    int vcpus = 0;                     ///< 0 keeps the source's
    QString nvramPath;                 ///< the sandbox's own NVRAM copy (required when the source has one)
    QList<FwCfgEntry> fwcfg;
    QString seedIsoPath; ///< cloud-init NoCloud seed, attached read-only
};

struct DerivedXml {
    QString xml;
    QStringList
        notes; ///< what was dropped or changed that a person may want to know (passthrough devices, ...)
};

/// Makes a sandbox's domain XML from its source's: new name and MAC, no UUID, its own disks, one NIC on
/// the isolated network only, graphics on localhost only, no sound, no host passthrough or shared
/// folders, the guest agent channel, fw_cfg identity or a cloud-init seed, and Fluid's metadata. Pure
/// function; thread: any.
Result<DerivedXml> deriveSandboxXml(const QString& sourceXml, const SandboxXmlSpec& spec);

/// A random locally administered MAC in qemu's 52:54:00 range.
QString randomMac();

} // namespace fluid::virt

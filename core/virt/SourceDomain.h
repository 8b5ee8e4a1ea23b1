// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QList>
#include <QString>

namespace fluid::virt {

/// One disk of a domain, as its XML describes it.
struct DiskInfo {
    QString target;     ///< vda, sdb, ...
    QString device;     ///< disk | cdrom | floppy | lun
    QString type;       ///< file | block | network | volume | dir
    QString sourcePath; ///< file path (type file), or the volume/dev/network name
    QString format;     ///< qcow2 | raw | ... (driver type)
    bool readOnly = false;
    bool shareable = false;
};

/// What Fluid needs to know about a domain to clone it: read from its XML, no libvirt calls. Plain data.
struct SourceDomain {
    QString name;
    QString uuid;
    QString domainType; ///< kvm | qemu | test | ...
    qint64 memoryKib = 0;
    int vcpus = 0;
    QList<DiskInfo> disks;
    bool uefi = false;
    QString nvramPath; ///< the source's NVRAM file when it boots UEFI with one
    QString sandboxId; ///< set when the domain is itself a Fluid sandbox (from Fluid's metadata)
    /// How a clone receives its identity, from Fluid's metadata on golden VMs: "fwcfg" or "cloud-init";
    /// empty when the source does not say (generic cloud images: cloud-init).
    QString identity;

    /// The writable disks (what a clone must not share).
    QList<DiskInfo> writableDisks() const;
};

/// Parses domain XML into a SourceDomain; InvalidArgument when it is not domain XML.
Result<SourceDomain> parseDomainXml(const QString& xml);

/// Checks a domain can be a sandbox source: every writable disk must be a file-backed qcow2 or raw image
/// and not shareable; there must be at least one disk. The error says which disk and why.
Result<void> checkCloneable(const SourceDomain& source);

/// XML namespace of Fluid's <metadata> elements: <fluid:sandbox><fluid:id/>..</fluid:sandbox> in sandbox
/// domains, <fluid:identity>fwcfg|cloud-init</fluid:identity> in golden VMs.
inline constexpr char kMetadataNamespace[] = "https://fluid.dev/xmlns/sandbox/1";

} // namespace fluid::virt

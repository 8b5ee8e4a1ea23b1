// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QList>
#include <QString>

#include <functional>

namespace fluid::inspect {

/// What lies at an offset of a disk: the file systems Fluid can mount read-only.
enum class FsKind { Unknown, Ext, Xfs };

/// One partition (or the whole disk, for a bare file system), in bytes from the start of the disk.
struct Partition {
    int number = 0;              ///< 1-based as the kernel numbers them; 0 for a bare file system
    qint64 offset = 0;           ///< bytes
    qint64 size = 0;             ///< bytes
    QString scheme;              ///< "gpt", "mbr" or "none"
    QString type;                ///< GPT type GUID (upper case) or MBR type byte as "0x83"
    bool linuxData = false;      ///< a type that holds a Linux file system (0x83, Linux data / root GUIDs)
    bool rootType = false;       ///< GPT "Linux root" type GUID
    FsKind fs = FsKind::Unknown; ///< from the superblock at the offset
};

/// Reads `length` bytes at `offset` of a disk; a short read means past the end.
using DiskReader = std::function<QByteArray(qint64 offset, qint64 length)>;

/// Which file system a superblock area at an offset holds (ext2/3/4 magic 0xEF53, XFS "XFSB").
FsKind probeFileSystem(const DiskReader& read, qint64 offset);

/// The partitions of a disk image: GPT (protective MBR + "EFI PART" at LBA 1), MBR (with logical
/// partitions in an extended chain), or one entry for a bare file system. Pure parsing: any thread.
/// InvalidArgument when the disk has neither a known partition table nor a known file system.
Result<QList<Partition>> readPartitions(const DiskReader& read, qint64 diskSize);

/// The partitions worth trying as the root file system, best first: a known file system, the GPT root
/// type, then Linux types, then the largest.
QList<Partition> rootCandidates(const QList<Partition>& partitions);

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#include "PartitionTable.h"

#include <QtEndian>

#include <algorithm>

namespace fluid::inspect {
namespace {

constexpr qint64 kSector = 512;
const QString kLinuxDataGuid = QStringLiteral("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
const QStringList kLinuxRootGuids = {
    QStringLiteral("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"), // x86-64
    QStringLiteral("44479540-F297-41B2-9AF7-D131D5F0458A"), // x86
    QStringLiteral("B921B045-1DF0-41C3-AF44-4C6F280D3FAE"), // arm64
};

quint32 le32(const QByteArray& b, int at)
{
    return qFromLittleEndian<quint32>(b.constData() + at);
}
quint64 le64(const QByteArray& b, int at)
{
    return qFromLittleEndian<quint64>(b.constData() + at);
}

/// GPT stores the first three GUID fields little-endian.
QString guidText(const QByteArray& b, int at)
{
    const auto* p = reinterpret_cast<const uchar*>(b.constData() + at);
    return QStringLiteral("%1-%2-%3-%4-%5")
        .arg(qFromLittleEndian<quint32>(p), 8, 16, QLatin1Char('0'))
        .arg(qFromLittleEndian<quint16>(p + 4), 4, 16, QLatin1Char('0'))
        .arg(qFromLittleEndian<quint16>(p + 6), 4, 16, QLatin1Char('0'))
        .arg(QString::fromLatin1(QByteArray(b.constData() + at + 8, 2).toHex()))
        .arg(QString::fromLatin1(QByteArray(b.constData() + at + 10, 6).toHex()))
        .toUpper();
}

bool isExtended(uchar type)
{
    return type == 0x05 || type == 0x0F || type == 0x85;
}

Result<QList<Partition>> readGpt(const DiskReader& read, qint64 diskSize)
{
    for (qint64 sector : {kSector, qint64(4096)}) {
        const QByteArray header = read(sector, 92);
        if (header.size() < 92 || !header.startsWith("EFI PART"))
            continue;
        const qint64 entriesLba = qint64(le64(header, 72));
        const quint32 count = le32(header, 80);
        const quint32 entrySize = le32(header, 84);
        if (entrySize < 128 || entrySize > 4096 || count > 1024)
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("The GPT header is damaged (entry size %1, %2 entries)")
                                 .arg(entrySize)
                                 .arg(count));
        const QByteArray entries = read(entriesLba * sector, qint64(count) * entrySize);
        QList<Partition> out;
        for (quint32 i = 0; i < count && qint64(i + 1) * entrySize <= entries.size(); ++i) {
            const QByteArray e = entries.mid(int(i * entrySize), int(entrySize));
            if (e.left(16).count('\0') == 16)
                continue;
            Partition p;
            p.number = int(i) + 1;
            p.scheme = QStringLiteral("gpt");
            p.type = guidText(e, 0);
            const qint64 first = qint64(le64(e, 32));
            const qint64 last = qint64(le64(e, 40));
            if (last < first)
                continue;
            p.offset = first * sector;
            p.size = (last - first + 1) * sector;
            if (p.offset >= diskSize)
                continue;
            p.rootType = kLinuxRootGuids.contains(p.type);
            p.linuxData = p.rootType || p.type == kLinuxDataGuid;
            p.fs = probeFileSystem(read, p.offset);
            out.append(p);
        }
        return out;
    }
    return makeError(ErrorCode::InvalidArgument,
                     QStringLiteral("The disk has a protective MBR but no GPT header"));
}

QList<Partition> readMbr(const DiskReader& read, const QByteArray& mbr)
{
    QList<Partition> out;
    qint64 extendedBase = -1;
    for (int i = 0; i < 4; ++i) {
        const int at = 446 + i * 16;
        const auto type = uchar(mbr[at + 4]);
        const qint64 start = qint64(le32(mbr, at + 8)) * kSector;
        const qint64 size = qint64(le32(mbr, at + 12)) * kSector;
        if (type == 0 || size == 0)
            continue;
        if (isExtended(type)) {
            extendedBase = start;
            continue;
        }
        Partition p;
        p.number = i + 1;
        p.scheme = QStringLiteral("mbr");
        p.type = QStringLiteral("0x%1").arg(type, 2, 16, QLatin1Char('0'));
        p.offset = start;
        p.size = size;
        p.linuxData = type == 0x83;
        p.fs = probeFileSystem(read, start);
        out.append(p);
    }
    // Logical partitions: a chain of EBRs, each relative to the extended partition's start.
    qint64 ebr = extendedBase;
    for (int number = 5; ebr >= 0 && number < 5 + 128; ++number) {
        const QByteArray b = read(ebr, kSector);
        if (b.size() < kSector || uchar(b[510]) != 0x55 || uchar(b[511]) != 0xAA)
            break;
        const auto type = uchar(b[446 + 4]);
        const qint64 size = qint64(le32(b, 446 + 12)) * kSector;
        if (type != 0 && size > 0) {
            Partition p;
            p.number = number;
            p.scheme = QStringLiteral("mbr");
            p.type = QStringLiteral("0x%1").arg(type, 2, 16, QLatin1Char('0'));
            p.offset = ebr + qint64(le32(b, 446 + 8)) * kSector;
            p.size = size;
            p.linuxData = type == 0x83;
            p.fs = probeFileSystem(read, p.offset);
            out.append(p);
        }
        const qint64 next = qint64(le32(b, 462 + 8)) * kSector;
        ebr = next > 0 ? extendedBase + next : -1;
    }
    return out;
}

} // namespace

FsKind probeFileSystem(const DiskReader& read, qint64 offset)
{
    const QByteArray head = read(offset, 4);
    if (head == "XFSB")
        return FsKind::Xfs;
    const QByteArray magic = read(offset + 1024 + 0x38, 2);
    if (magic.size() == 2 && uchar(magic[0]) == 0x53 && uchar(magic[1]) == 0xEF)
        return FsKind::Ext;
    return FsKind::Unknown;
}

Result<QList<Partition>> readPartitions(const DiskReader& read, qint64 diskSize)
{
    const FsKind bare = probeFileSystem(read, 0);
    if (bare != FsKind::Unknown) {
        Partition p;
        p.scheme = QStringLiteral("none");
        p.size = diskSize;
        p.linuxData = true;
        p.fs = bare;
        return QList<Partition>{p};
    }
    const QByteArray mbr = read(0, kSector);
    if (mbr.size() < kSector || uchar(mbr[510]) != 0x55 || uchar(mbr[511]) != 0xAA)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("The disk holds neither a partition table nor a known file system"),
                         QStringLiteral("no MBR signature, no ext/XFS superblock at offset 0"));
    for (int i = 0; i < 4; ++i) {
        if (uchar(mbr[446 + i * 16 + 4]) == 0xEE)
            return readGpt(read, diskSize);
    }
    return readMbr(read, mbr);
}

QList<Partition> rootCandidates(const QList<Partition>& partitions)
{
    QList<Partition> out;
    for (const Partition& p : partitions) {
        if (p.fs != FsKind::Unknown)
            out.append(p);
    }
    std::stable_sort(out.begin(), out.end(), [](const Partition& a, const Partition& b) {
        if (a.rootType != b.rootType)
            return a.rootType;
        if (a.linuxData != b.linuxData)
            return a.linuxData;
        return a.size > b.size;
    });
    return out;
}

} // namespace fluid::inspect

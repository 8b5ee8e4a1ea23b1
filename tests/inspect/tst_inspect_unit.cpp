// SPDX-License-Identifier: Apache-2.0
// Pure parts of snapshot diffs, no root needed: partition tables built in memory (MBR with a logical
// partition, GPT), dpkg status and version order, excludes, line hunks with intra-line spans, binary
// detection, and the whole diff engine over two plain directory trees (every change kind and layer).
#include "inspect/DiffEngine.h"
#include "inspect/ImageMount.h"
#include "inspect/PartitionTable.h"
#include "inspect/Semantic.h"
#include "inspect/TextDiff.h"
#include "inspect/TreeWalker.h"
#include "InspectFixture.h"
#include "TestSupport.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QStandardPaths>
#include <QtEndian>
#include <QTest>
#include <QThread>

#include <optional>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace fluid;
using namespace fluid::inspect;
using fluid::test::byPath;
using fluid::test::hasEntry;
using fluid::test::must;

namespace {

DiskReader readerFor(const QByteArray& disk)
{
    return [disk](qint64 offset, qint64 length) {
        return disk.mid(offset, length);
    };
}

void putLe32(QByteArray& b, int at, quint32 v)
{
    qToLittleEndian(v, b.data() + at);
}
void putLe64(QByteArray& b, int at, quint64 v)
{
    qToLittleEndian(v, b.data() + at);
}
void putExtMagic(QByteArray& disk, qint64 offset)
{
    disk[offset + 1024 + 0x38] = char(0x53);
    disk[offset + 1024 + 0x39] = char(0xEF);
}
void putMbrEntry(QByteArray& b, int at, int slot, uchar type, quint32 startLba, quint32 sectors)
{
    const int e = at + 446 + slot * 16;
    b[e + 4] = char(type);
    putLe32(b, e + 8, startLba);
    putLe32(b, e + 12, sectors);
    b[at + 510] = char(0x55);
    b[at + 511] = char(0xAA);
}

} // namespace

class TstInspectUnit : public QObject {
    Q_OBJECT
private slots:
    // A guest file system is mounted so nothing on it runs, opens a device or gains set-uid, and an ext
    // error is read past; ImageMount and RemoteMount both build their mount line here.
    void mountOptionsDistrustTheGuest()
    {
        Partition ext;
        ext.fs = FsKind::Ext;
        ext.offset = 1048576;
        ext.size = 2097152;
        ext.scheme = QStringLiteral("gpt");
        const auto e = fsMountArguments(ext);
        QCOMPARE(e.type, QStringLiteral("ext4"));
        QCOMPARE(e.options,
                 QStringLiteral(
                     "ro,nosuid,nodev,noexec,noload,errors=continue,loop,offset=1048576,sizelimit=2097152"));

        Partition xfs = ext;
        xfs.fs = FsKind::Xfs;
        xfs.scheme = QStringLiteral("none");
        const auto x = fsMountArguments(xfs);
        QCOMPARE(x.type, QStringLiteral("xfs"));
        QCOMPARE(x.options, QStringLiteral("ro,nosuid,nodev,noexec,norecovery,nouuid,loop,offset=1048576"));
    }

    void bareFileSystem()
    {
        QByteArray disk(64 * 1024, '\0');
        putExtMagic(disk, 0);
        const auto parts = must(readPartitions(readerFor(disk), disk.size()));
        QCOMPARE(parts.size(), 1);
        QCOMPARE(parts[0].scheme, QStringLiteral("none"));
        QCOMPARE(parts[0].offset, 0);
        QCOMPARE(parts[0].fs, FsKind::Ext);
    }

    void mbrWithLogicalPartition()
    {
        QByteArray disk(8 * 1024 * 1024, '\0');
        putMbrEntry(disk, 0, 0, 0x83, 2048, 2048); // 1 MiB at 1 MiB, no fs
        putMbrEntry(disk, 0, 1, 0x05, 4096, 8192); // extended at 2 MiB
        // Logical partition 5: EBR at 2 MiB, data 2048 sectors after it, 4096 sectors long.
        putMbrEntry(disk, 4096 * 512, 0, 0x83, 2048, 4096);
        putExtMagic(disk, (4096 + 2048) * 512LL);
        const auto parts = must(readPartitions(readerFor(disk), disk.size()));
        QCOMPARE(parts.size(), 2);
        QCOMPARE(parts[0].number, 1);
        QCOMPARE(parts[0].fs, FsKind::Unknown);
        QCOMPARE(parts[1].number, 5);
        QCOMPARE(parts[1].offset, (4096 + 2048) * 512LL);
        QCOMPARE(parts[1].size, 4096 * 512LL);
        QVERIFY(parts[1].linuxData);
        const auto roots = rootCandidates(parts);
        QCOMPARE(roots.size(), 1);
        QCOMPARE(roots[0].number, 5);
    }

    void gptPrefersRootType()
    {
        QByteArray disk(8 * 1024 * 1024, '\0');
        putMbrEntry(disk, 0, 0, 0xEE, 1, 0xFFFFFFFF);
        QByteArray header(92, '\0');
        header.replace(0, 8, "EFI PART");
        putLe64(header, 72, 2);   // entries at LBA 2
        putLe32(header, 80, 128); // 128 entries
        putLe32(header, 84, 128); // of 128 bytes
        disk.replace(512, header.size(), header);
        auto entry = [&](int index, const QByteArray& typeGuidLe, quint64 first, quint64 last) {
            const int at = 1024 + index * 128;
            disk.replace(at, 16, typeGuidLe);
            disk[at + 16] = 1; // unique GUID, non-zero
            putLe64(disk, at + 32, first);
            putLe64(disk, at + 40, last);
        };
        // Linux data 0FC63DAF-8483-4772-8E79-3D69D8477DE4 and root x86-64
        // 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, first three fields little-endian.
        const QByteArray linuxData = QByteArray::fromHex("AF3DC60F838472478E793D69D8477DE4");
        const QByteArray rootX64 = QByteArray::fromHex("E3BC684FCDE8B14D96E7FBCAF984B709");
        entry(0, linuxData, 2048, 2048 + 8191); // larger, plain Linux data
        entry(2, rootX64, 10240, 10240 + 4095); // entry 3: the root type
        putExtMagic(disk, 2048 * 512LL);
        putExtMagic(disk, 10240 * 512LL);
        const auto parts = must(readPartitions(readerFor(disk), disk.size()));
        QCOMPARE(parts.size(), 2);
        QCOMPARE(parts[0].type, QStringLiteral("0FC63DAF-8483-4772-8E79-3D69D8477DE4"));
        QCOMPARE(parts[1].number, 3);
        QVERIFY(parts[1].rootType);
        QCOMPARE(parts[1].size, 4096 * 512LL);
        QCOMPARE(rootCandidates(parts).first().number, 3);
    }

    void unknownDiskIsAnError()
    {
        const QByteArray disk(64 * 1024, '\0');
        auto parts = readPartitions(readerFor(disk), disk.size());
        QVERIFY(!parts);
        QCOMPARE(parts.error().code, ErrorCode::InvalidArgument);
    }

    void rpmVersionsOrderAsRpmDoes()
    {
        const auto cmp = [](const char* a, const char* b) {
            return compareRpmVersions(QString::fromLatin1(a), QString::fromLatin1(b));
        };
        QVERIFY(cmp("0:1.0-1", "0:1.0.1-1") < 0);
        QVERIFY(cmp("0:1.0~rc1-1", "0:1.0-1") < 0);  // tilde sorts before the release itself
        QVERIFY(cmp("0:1.0^git1-1", "0:1.0-1") > 0); // caret sorts after it
        QVERIFY(cmp("0:1.0^git1-1", "0:1.0.1-1") < 0);
        QVERIFY(cmp("1:0.9-1", "0:9.9-1") > 0);
        QVERIFY(cmp("0:1.10-1", "0:1.9-1") > 0);
        QVERIFY(cmp("0:1.0a-1", "0:1.0-1") > 0);
        QVERIFY(cmp("0:1.a-1", "0:1.1-1") < 0); // digits beat letters
        QVERIFY(cmp("0:1.001-1", "0:1.1-1") == 0);
        QVERIFY(cmp("0:2.0-1.fc39", "0:2.0-2.fc39") < 0);
        QCOMPARE(cmp("0:2.0-1", "0:2.0-1"), 0);
        const auto list = parseRpmList("bash\tx86_64\t0:5.2.15-5.fc39\ngpg-pubkey\t(none)\t0:1-2\n");
        QCOMPARE(list.size(), 1);
        QCOMPARE(list.value(QStringLiteral("bash.x86_64")).evr, QStringLiteral("0:5.2.15-5.fc39"));
    }

    /// Real rpm databases made by rpm itself (packages built with rpmbuild, recorded with --justdb): the
    /// layer reads each side's database through a copy and reports what rpm would.
    void rpmLayerFromRealDatabases()
    {
        for (const char* tool : {"rpm", "rpmbuild"}) {
            if (QStandardPaths::findExecutable(QLatin1String(tool)).isEmpty())
                QFAIL("rpm and rpmbuild are needed (scripts/setup-deps.sh installs the rpm package)");
        }
        const QString base = test::makeTempDir(QStringLiteral("rpm"));
        const auto run = [](const QStringList& args) {
            QProcess p;
            p.setProcessChannelMode(QProcess::MergedChannels);
            p.start(args.first(), args.mid(1));
            const bool ok =
                p.waitForFinished(120000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
            if (!ok)
                qWarning().noquote() << args.join(QLatin1Char(' ')) << "\n" << p.readAll();
            return ok;
        };
        const auto build = [&](const QString& name, const QString& version) {
            const QString top = base + QStringLiteral("/build");
            QDir().mkpath(top + QStringLiteral("/SPECS"));
            const QString spec = top + QStringLiteral("/SPECS/%1.spec").arg(name);
            QFile f(spec);
            if (!f.open(QIODevice::WriteOnly))
                return QString();
            f.write(QStringLiteral("Name: %1\nVersion: %2\nRelease: 1\nSummary: test\nLicense: MIT\n"
                                   "BuildArch: noarch\n%description\ntest\n%files\n")
                        .arg(name, version)
                        .toUtf8());
            f.close();
            if (!run({QStringLiteral("rpmbuild"), QStringLiteral("--define"),
                      QStringLiteral("_topdir ") + top, QStringLiteral("-bb"), spec}))
                return QString();
            return top + QStringLiteral("/RPMS/noarch/%1-%2-1.noarch.rpm").arg(name, version);
        };
        const auto database = [&](const QString& tree, const QStringList& rpms) {
            const QString db = tree + QStringLiteral("/var/lib/rpm");
            QDir().mkpath(db);
            QDir().mkpath(tree + QStringLiteral("/etc"));
            if (!run({QStringLiteral("rpm"), QStringLiteral("--dbpath"), db, QStringLiteral("--initdb")}))
                return false;
            QStringList args{
                QStringLiteral("rpm"),         QStringLiteral("--dbpath"),     db,
                QStringLiteral("-i"),          QStringLiteral("--justdb"),     QStringLiteral("--nodeps"),
                QStringLiteral("--noscripts"), QStringLiteral("--nosignature")};
            return run(args + rpms);
        };
        const QString hello1 = build(QStringLiteral("hello"), QStringLiteral("1.0"));
        const QString hello2 = build(QStringLiteral("hello"), QStringLiteral("2.0"));
        const QString gone = build(QStringLiteral("gone"), QStringLiteral("1.0"));
        const QString keep = build(QStringLiteral("keep"), QStringLiteral("1.0"));
        const QString added = build(QStringLiteral("newpkg"), QStringLiteral("3.1"));
        for (const QString& rpm : {hello1, hello2, gone, keep, added})
            QVERIFY2(QFileInfo::exists(rpm), qPrintable(rpm));
        const QString a = base + QStringLiteral("/before");
        const QString b = base + QStringLiteral("/after");
        QVERIFY(database(a, {hello1, gone, keep}));
        QVERIFY(database(b, {hello2, keep, added}));
        const FileTree ta = must(walkTree(a));
        const FileTree tb = must(walkTree(b));
        const QJsonObject packages =
            diffTrees({a, &ta, {}, {}}, {b, &tb, {}, {}}).value(QStringLiteral("packages")).toObject();
        QVERIFY2(packages.value(QStringLiteral("notes")).toArray().isEmpty(),
                 QJsonDocument(packages).toJson().constData());
        QCOMPARE(packages.value(QStringLiteral("managers")).toArray(), QJsonArray{QStringLiteral("rpm")});
        QStringList changes;
        for (const QJsonValue& v : packages.value(QStringLiteral("changes")).toArray()) {
            const QJsonObject o = v.toObject();
            QCOMPARE(o.value(QStringLiteral("manager")).toString(), QStringLiteral("rpm"));
            changes << QStringLiteral("%1 %2 %3 -> %4")
                           .arg(o.value(QStringLiteral("name")).toString(),
                                o.value(QStringLiteral("change")).toString(),
                                o.value(QStringLiteral("before")).toString(),
                                o.value(QStringLiteral("after")).toString());
        }
        QCOMPARE(changes, (QStringList{QStringLiteral("gone removed 0:1.0-1 -> "),
                                       QStringLiteral("hello upgraded 0:1.0-1 -> 0:2.0-1"),
                                       QStringLiteral("newpkg installed  -> 0:3.1-1")}));
        QDir(base).removeRecursively();
    }

    void dpkgStatus()
    {
        const auto pkgs = parseDpkgStatus("Package: a\nStatus: install ok installed\nArchitecture: amd64\n"
                                          "Version: 1:2.3-4\nDescription: x\n more\n\n"
                                          "Package: b\nStatus: deinstall ok config-files\nArchitecture: all\n"
                                          "Version: 1.0\n");
        QCOMPARE(pkgs.size(), 2);
        QCOMPARE(pkgs.value(QStringLiteral("a:amd64")).version, QStringLiteral("1:2.3-4"));
        QVERIFY(pkgs.value(QStringLiteral("a:amd64")).installed());
        QCOMPARE(pkgs.value(QStringLiteral("b:all")).status, QStringLiteral("config-files"));
        QVERIFY(!pkgs.value(QStringLiteral("b:all")).installed());
    }

    void debianVersionOrder()
    {
        QVERIFY(compareDebianVersions(QStringLiteral("1.0-1"), QStringLiteral("1.0-2")) < 0);
        QVERIFY(compareDebianVersions(QStringLiteral("1.0~rc1"), QStringLiteral("1.0")) < 0);
        QVERIFY(compareDebianVersions(QStringLiteral("1:0.9"), QStringLiteral("2.0")) > 0);
        QVERIFY(compareDebianVersions(QStringLiteral("1.10"), QStringLiteral("1.9")) > 0);
        QVERIFY(compareDebianVersions(QStringLiteral("1.0a"), QStringLiteral("1.0+")) < 0);
        QCOMPARE(compareDebianVersions(QStringLiteral("2.0-1"), QStringLiteral("2.0-1")), 0);
    }

    void excludes()
    {
        const QStringList d = defaultExcludes();
        QVERIFY(isExcluded(QStringLiteral("/tmp/x"), d));
        QVERIFY(isExcluded(QStringLiteral("/tmp/.X11-unix/X0"), d));
        QVERIFY(!isExcluded(QStringLiteral("/tmp"), d));
        QVERIFY(isExcluded(QStringLiteral("/var/log/journal"), d));
        QVERIFY(isExcluded(QStringLiteral("/var/log/journal/abc/system.journal"), d));
        QVERIFY(isExcluded(QStringLiteral("/var/cache/apt/pkgcache.bin"), d));
        QVERIFY(!isExcluded(QStringLiteral("/var/cache/apt/archives/x.deb"), d));
        QVERIFY(!isExcluded(QStringLiteral("/var/log/syslog"), d));
        QVERIFY(isExcluded(QStringLiteral("/srv/a/b"), {QStringLiteral("/srv/a")}));
        QVERIFY(!isExcluded(QStringLiteral("/srv/ab"), {QStringLiteral("/srv/a")}));
    }

    void lineHunksAndSpans()
    {
        QByteArray a;
        QByteArray b;
        for (int i = 1; i <= 20; ++i) {
            a += "line " + QByteArray::number(i) + "\n";
            b += (i == 4 ? QByteArray("line four\n") : "line " + QByteArray::number(i) + "\n");
        }
        b += "tail";
        const QList<Hunk> hunks = diffText(a, b, 3).value();
        QCOMPARE(hunks.size(), 2);
        QCOMPARE(hunks[0].oldStart, 1);
        QCOMPARE(hunks[0].oldCount, 7);
        QCOMPARE(hunks[0].newStart, 1);
        QCOMPARE(hunks[0].newCount, 7);
        const DiffLine& removed = hunks[0].lines[3];
        const DiffLine& added = hunks[0].lines[4];
        QCOMPARE(removed.kind, '-');
        QCOMPARE(removed.oldLine, 4);
        QCOMPARE(added.kind, '+');
        QCOMPARE(added.newLine, 4);
        QCOMPARE(added.text, QStringLiteral("line four"));
        // "line 4" -> "line four": the prefix "line " is common, the rest differs.
        QCOMPARE(removed.spans.size(), 1);
        QCOMPARE(removed.spans[0].start, 5);
        QCOMPARE(removed.spans[0].length, 1);
        QVERIFY(!added.spans.isEmpty());
        QCOMPARE(added.spans.first().start, 5);
        int addedChars = 0;
        for (const Span& s : added.spans)
            addedChars += s.length;
        QCOMPARE(addedChars, 4);
        // Appended line without a final newline.
        QCOMPARE(hunks[1].newStart, 18);
        QCOMPARE(hunks[1].lines.last().kind, '+');
        QVERIFY(hunks[1].lines.last().noNewline);
        const QByteArray unified = hunksToUnified(hunks);
        QVERIFY(unified.startsWith("@@ -1,7 +1,7 @@\n"));
        QVERIFY(unified.contains("-line 4\n+line four\n"));
        QVERIFY(unified.contains("@@ -18,3 +18,4 @@\n"));
        QVERIFY(unified.endsWith("+tail\n\\ No newline at end of file\n"));
    }

    void textDiffStaysWithinItsBudget()
    {
        // Two 256 KiB texts without a line in common: a shortest edit script would take billions of steps
        // (minutes); the bounded pass gives up at once, and the diff shows "too large".
        QByteArray a, b;
        for (int i = 0; a.size() < 256 * 1024; ++i) {
            a += "a" + QByteArray::number(i) + "\n";
            b += "b" + QByteArray::number(i) + "\n";
        }
        QElapsedTimer timer;
        timer.start();
        QVERIFY(!diffText(a, b).has_value());
        qInfo("256 KiB vs 256 KiB, nothing in common: refused in %lld ms", timer.elapsed());

        // A 100,000-line text with two changed lines is still diffed line by line.
        QByteArray big, edited;
        for (int i = 0; i < 100000; ++i) {
            big += "line " + QByteArray::number(i) + "\n";
            edited +=
                (i == 500 || i == 99000 ? QByteArray("changed\n") : "line " + QByteArray::number(i) + "\n");
        }
        timer.restart();
        const std::optional<QList<Hunk>> hunks = diffText(big, edited);
        QVERIFY(hunks.has_value());
        QCOMPARE(hunks->size(), 2);
        QCOMPARE(hunks->at(0).oldStart, 498);
        qInfo("100,000 lines, 2 changed: %lld ms", timer.elapsed());

        // The budget counts intra-line work too: when it runs out, the paired lines are marked whole.
        const QByteArray oldLine = QByteArray(3000, 'x') + "\n";
        const QByteArray newLine = QByteArray(3000, 'y') + "\n";
        const std::optional<QList<Hunk>> tight = diffText(oldLine, newLine, 3, 100);
        QVERIFY(tight.has_value());
        QCOMPARE(tight->at(0).lines.at(0).spans.size(), 1);
        QCOMPARE(tight->at(0).lines.at(0).spans.at(0).length, 3000);
        // ... and a budget too small for the lines themselves gives "too large".
        QVERIFY(!diffText("a\nb\nc\n", "x\ny\nz\n", 3, 10).has_value());
    }

    void addedFileHunk()
    {
        const QList<Hunk> hunks = diffText(QByteArray(), "a\nb\n").value();
        QCOMPARE(hunks.size(), 1);
        QCOMPARE(hunks[0].oldStart, 0);
        QCOMPARE(hunks[0].oldCount, 0);
        QCOMPARE(hunks[0].newStart, 1);
        QCOMPARE(hunks[0].newCount, 2);
        QCOMPARE(hunksToUnified(hunks), QByteArray("@@ -0,0 +1,2 @@\n+a\n+b\n"));
    }

    void binaryDetection()
    {
        QVERIFY(isBinary(QByteArray("a\0b", 3)));
        QVERIFY(isBinary(QByteArray("\xff\xfe bad utf8")));
        QVERIFY(!isBinary(QByteArray("plain text \xc3\xa9\n")));
        QVERIFY(!isBinary(QByteArray()));
    }

    /// A 1 TiB sparse file: the walk does not read it (it is over the hashing cap), and the diff still
    /// notices when it changes (size or mtime).
    void hugeSparseFileDoesNotPinTheWalk()
    {
        const QString base = fluid::test::makeTempDir(QStringLiteral("inspect-sparse"));
        const QString a = base + QStringLiteral("/a");
        QVERIFY(QDir().mkpath(a));
        QFile big(a + QStringLiteral("/big.img"));
        QVERIFY(big.open(QIODevice::WriteOnly));
        QVERIFY(big.resize(1LL << 40));
        big.close();
        QFile small(a + QStringLiteral("/small"));
        QVERIFY(small.open(QIODevice::WriteOnly) && small.write("x") == 1);
        small.close();
        QElapsedTimer timer;
        timer.start();
        const FileTree ta = must(walkTree(a));
        qInfo("walked a tree with a 1 TiB sparse file in %lld ms", timer.elapsed());
        const FileEntry* e = findEntry(ta, QStringLiteral("/big.img"));
        QVERIFY(e);
        QVERIFY(e->unhashed);
        QVERIFY(e->sha256.isEmpty());
        QCOMPARE(e->size, 1LL << 40);
        QVERIFY(!findEntry(ta, QStringLiteral("/small"))->unhashed);
        QCOMPARE(findEntry(ta, QStringLiteral("/small"))->sha256.size(), 64);

        // Unchanged: no change. A new mtime (content cannot be compared): modified, content aspect.
        const FileTree same = must(walkTree(a));
        QVERIFY(diffTrees({a, &ta, {}, {}}, {a, &same, {}, {}})
                    .value(QStringLiteral("paths"))
                    .toArray()
                    .isEmpty());
        const struct timespec times[2] = {{0, UTIME_OMIT}, {1000000, 0}};
        QVERIFY(::utimensat(AT_FDCWD, QFile::encodeName(big.fileName()).constData(), times, 0) == 0);
        const FileTree touched = must(walkTree(a));
        const QJsonObject doc = diffTrees({a, &ta, {}, {}}, {a, &touched, {}, {}});
        const QJsonObject change = byPath(doc, QStringLiteral("/big.img"));
        QCOMPARE(change.value(QStringLiteral("aspects")).toArray(), QJsonArray{QStringLiteral("content")});
        QCOMPARE(change.value(QStringLiteral("content")).toString(), QStringLiteral("too-large"));
        QVERIFY(change.value(QStringLiteral("after")).toObject().value(QStringLiteral("unhashed")).toBool());

        // A dpkg status file the guest blew up is not parsed (bounded memory), and the diff says so.
        QVERIFY(QDir().mkpath(a + QStringLiteral("/var/lib/dpkg")));
        QFile status(a + QStringLiteral("/var/lib/dpkg/status"));
        QVERIFY(status.open(QIODevice::WriteOnly));
        QVERIFY(status.resize(65LL << 20));
        status.close();
        const FileTree blown = must(walkTree(a));
        const QJsonArray notes = diffTrees({a, &touched, {}, {}}, {a, &blown, {}, {}})
                                     .value(QStringLiteral("packages"))
                                     .toObject()
                                     .value(QStringLiteral("notes"))
                                     .toArray();
        QCOMPARE(notes.size(), 1);
        QVERIFY2(notes.at(0).toString().contains(QLatin1String("larger than 64 MiB")),
                 qPrintable(notes.at(0).toString()));
        QDir(base).removeRecursively();
    }

    /// Cancel is checked inside a file too: a walk hashing a 1 GiB file (several seconds here) stops within
    /// a second of the cancel.
    void cancelAnswersInsideALargeFile()
    {
        const QString base = fluid::test::makeTempDir(QStringLiteral("inspect-cancel"));
        QFile file(base + QStringLiteral("/almost-a-gib"));
        QVERIFY(file.open(QIODevice::WriteOnly));
        QVERIFY(file.resize(kMaxHashBytes - (1 << 20)));
        file.close();
        WalkOptions options;
        options.hashThreads = 1;
        std::optional<Result<FileTree>> result;
        std::thread walker([&] { result = walkTree(base, options); });
        QThread::msleep(300);
        QElapsedTimer timer;
        timer.start();
        options.cancel.cancel();
        walker.join();
        const qint64 answeredMs = timer.elapsed();
        qInfo("cancel answered in %lld ms", answeredMs);
        QVERIFY(result.has_value());
        QVERIFY(!result->ok());
        QCOMPARE(result->error().code, ErrorCode::Cancelled);
        QVERIFY2(answeredMs < 1000, qPrintable(QString::number(answeredMs)));
        QDir(base).removeRecursively();
    }

    /// The whole engine over two directories (walkTree works on any directory tree).
    void diffOfTwoTrees()
    {
        const QString base = fluid::test::makeTempDir(QStringLiteral("inspect-unit"));
        const QString a = base + QStringLiteral("/a");
        const QString b = base + QStringLiteral("/b");
        must(fluid::test::InspectFixture::writeBefore(a));
        must(fluid::test::InspectFixture::writeAfter(b));
        const FileTree ta = must(walkTree(a));
        const FileTree tb = must(walkTree(b));
        QVERIFY(findEntry(ta, QStringLiteral("/etc/hostname")));
        QVERIFY(!findEntry(tb, QStringLiteral("/tmp/scratch"))); // excluded
        QVERIFY(findEntry(tb, QStringLiteral("/tmp")));
        const QJsonObject doc = diffTrees({a, &ta, {}, {}}, {b, &tb, {}, {}});
        QStringList paths;
        for (const QJsonValue& v : doc.value(QStringLiteral("paths")).toArray())
            paths << v.toObject().value(QStringLiteral("path")).toString();
        paths.sort();
        QCOMPARE(paths, fluid::test::InspectFixture::expectedChangedPaths(::geteuid() == 0));
        QCOMPARE(byPath(doc, QStringLiteral("/etc/hostname")).value(QStringLiteral("content")).toString(),
                 QStringLiteral("text"));
        QCOMPARE(
            byPath(doc, QStringLiteral("/etc/services.list")).value(QStringLiteral("hunks")).toArray().size(),
            2);
        QCOMPARE(byPath(doc, QStringLiteral("/srv/blob.bin")).value(QStringLiteral("content")).toString(),
                 QStringLiteral("binary"));
        QCOMPARE(byPath(doc, QStringLiteral("/srv/big.txt")).value(QStringLiteral("content")).toString(),
                 QStringLiteral("too-large"));
        QCOMPARE(byPath(doc, QStringLiteral("/etc/shadow")).value(QStringLiteral("content")).toString(),
                 QStringLiteral("sensitive"));
        QCOMPARE(
            byPath(doc, QStringLiteral("/usr/local/bin/tool")).value(QStringLiteral("aspects")).toArray(),
            QJsonArray{QStringLiteral("mode")});
        QCOMPARE(byPath(doc, QStringLiteral("/srv/typechange")).value(QStringLiteral("aspects")).toArray(),
                 QJsonArray{QStringLiteral("type")});
        QCOMPARE(byPath(doc, QStringLiteral("/srv/current")).value(QStringLiteral("aspects")).toArray(),
                 QJsonArray{QStringLiteral("target")});
        const QJsonArray pkgs =
            doc.value(QStringLiteral("packages")).toObject().value(QStringLiteral("changes")).toArray();
        QCOMPARE(pkgs.size(), 3);
        QVERIFY(hasEntry(pkgs, {{QStringLiteral("name"), QStringLiteral("alpha")},
                                {QStringLiteral("change"), QStringLiteral("upgraded")}}));
        QVERIFY(hasEntry(pkgs, {{QStringLiteral("name"), QStringLiteral("beta")},
                                {QStringLiteral("change"), QStringLiteral("removed")}}));
        QVERIFY(hasEntry(pkgs, {{QStringLiteral("name"), QStringLiteral("nginx")},
                                {QStringLiteral("change"), QStringLiteral("installed")}}));
        const QByteArray shadowLeak = QJsonDocument(doc).toJson();
        QVERIFY(!shadowLeak.contains("newhashvalue"));
        QVERIFY(!shadowLeak.contains("agenthash"));
        QVERIFY(!shadowLeak.contains("BEGIN OPENSSH PRIVATE KEY"));
        QDir(base).removeRecursively();
    }
};

QTEST_GUILESS_MAIN(TstInspectUnit)
#include "tst_inspect_unit.moc"

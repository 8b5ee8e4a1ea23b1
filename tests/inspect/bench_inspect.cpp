// SPDX-License-Identifier: Apache-2.0
// Snapshot diff benchmark and cross-check against libguestfs' virt-diff.
//   bench_inspect [--files N] [--check] [--remote] [--virt-diff-timeout SECONDS]
// Builds one qcow2 with two internal snapshots whose trees differ in about N paths (a third modified, a
// third added, a third removed, among unchanged files), times Fluid's diff of the two snapshots, exports
// each snapshot to its own qcow2 (virt-diff cannot open an internal snapshot), times virt-diff --checksum
// on those, prints both, and exits 1 unless both report the same set of paths. Exits 77 (ctest Skipped)
// when root, /dev/fuse, qemu-utils or a working virt-diff are missing. With --check (the ctest test) it
// says so in one line per finding. With --remote it also times the same diff driven over SSH, as for a
// remote hypervisor host (a loopback sshd as root stands in for the host).
//
// virt-diff and Fluid see different metadata, so its output is normalised before comparing: changes only
// to st_dev, st_ino, st_nlink, st_blocks, times, or a directory's st_size are not changes to Fluid
// (re-creating a file system renumbers inodes; directories grow as entries are added). virt-diff reports a
// regular file whose mtime or ctime second differs as "=" (content changed) even when its checksum is the
// same; its line diff is then empty, and that too is a change of times only. Symlink retargets are left out
// of the generated trees: virt-diff does not compare link targets.
#include "inspect/SnapshotInspector.h"
#include "InspectFixture.h"
#include "SshTestEnv.h"
#include "TestSupport.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QStandardPaths>

#include <cstdio>

using namespace fluid;
using fluid::test::DiskLayout;
using fluid::test::ImageBuilder;

namespace {

void write(const QString& path, const QByteArray& content)
{
    QDir().mkpath(QFileInfo(path).path());
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size())
        qFatal("cannot write %s", qPrintable(path));
}

QByteArray body(int i, int version)
{
    QByteArray out;
    for (int line = 0; line < 8 + i % 24; ++line)
        out += "file " + QByteArray::number(i) + " line " + QByteArray::number(line) + " version " +
               QByteArray::number(version) + '\n';
    return out;
}

/// Base tree shared by both sides: enough of a Linux root for virt-diff's OS inspection.
void writeOsSkeleton(const QString& root)
{
    write(root + QStringLiteral("/etc/os-release"), "ID=debian\nVERSION_ID=12\nNAME=\"Debian GNU/Linux\"\n");
    write(root + QStringLiteral("/etc/fstab"), "/dev/sda / ext4 defaults 0 1\n");
    write(root + QStringLiteral("/etc/hostname"), "bench\n");
    QDir().mkpath(root + QStringLiteral("/bin"));
    QDir().mkpath(root + QStringLiteral("/usr/bin"));
}

/// Both trees; `changes` paths differ: modified (content), added, removed in equal parts.
void writeTrees(const QString& before, const QString& after, int changes)
{
    writeOsSkeleton(before);
    writeOsSkeleton(after);
    const int third = changes / 3;
    const int unchanged = changes;
    int n = 0;
    auto path = [](const QString& root, int i) {
        return root + QStringLiteral("/srv/bench/d%1/f%2.txt").arg(i / 100, 3, 10, QLatin1Char('0')).arg(i);
    };
    for (int i = 0; i < unchanged; ++i, ++n) {
        write(path(before, n), body(n, 0));
        write(path(after, n), body(n, 0));
    }
    for (int i = 0; i < third; ++i, ++n) { // modified
        write(path(before, n), body(n, 0));
        write(path(after, n), body(n, 1));
    }
    for (int i = 0; i < third; ++i, ++n) // removed
        write(path(before, n), body(n, 0));
    for (int i = 0; i < changes - 2 * third; ++i, ++n) // added (in new directories too)
        write(path(after, n), body(n, 0));
}

struct VirtDiffEntry {
    QString type;
    QString size;
    QString checksum;
    bool present = false;
};

/// The paths virt-diff reports as changed, normalised as described above.
QStringList virtDiffPaths(const QByteArray& output, QMap<QString, QStringList>* why)
{
    static const QRegularExpression line(
        QStringLiteral("^([-+=]) (\\S) (\\d+)\\s+(\\d+) (?:([0-9a-f]{64}) )?(/.*)$"));
    QMap<QString, std::pair<VirtDiffEntry, VirtDiffEntry>> entries;
    QMap<QString, QStringList> changed;
    QStringList out;
    QString last;
    QString contentChanged; // the "=" path whose line diff is being read, until "@@ End of diff @@"
    bool diffHasLines = false;
    for (const QByteArray& raw : output.split('\n')) {
        const QString text = QString::fromUtf8(raw);
        const auto m = line.match(text);
        if (!contentChanged.isEmpty()) {
            // The diff ends at its marker; an entry line instead means virt-diff's diff failed (count it).
            const bool end = text.startsWith(QLatin1String("@@ End of diff @@"));
            if (end || m.hasMatch()) {
                if (diffHasLines || !end)
                    out << contentChanged;
                contentChanged.clear();
            } else {
                diffHasLines = diffHasLines || !text.isEmpty();
            }
            if (end)
                continue;
        }
        if (text.startsWith(QLatin1String("# changed:"))) {
            changed[last] += text.mid(10).split(QLatin1Char(' '), Qt::SkipEmptyParts);
            continue;
        }
        if (!m.hasMatch())
            continue;
        last = m.captured(6);
        VirtDiffEntry e{m.captured(2), m.captured(4), m.captured(5), true};
        if (m.captured(1) == QLatin1String("=")) { // content or times changed (a line diff follows)
            contentChanged = last;
            diffHasLines = false;
            continue;
        }
        if (m.captured(1) == QLatin1String("-"))
            entries[last].first = e;
        else
            entries[last].second = e;
    }
    if (!contentChanged.isEmpty()) // output ended inside a diff
        out << contentChanged;
    for (auto it = entries.cbegin(); it != entries.cend(); ++it) {
        const auto& [a, b] = it.value();
        if (!a.present || !b.present) {
            out << it.key();
            continue;
        }
        QStringList fields = changed.value(it.key());
        const bool dir = a.type == QLatin1String("d") && b.type == QLatin1String("d");
        fields.removeIf([&](const QString& f) {
            return f == QLatin1String("st_dev") || f == QLatin1String("st_ino") ||
                   f == QLatin1String("st_nlink") || f == QLatin1String("st_blocks") ||
                   f.contains(QLatin1String("time")) || (dir && f == QLatin1String("st_size"));
        });
        if (a.type != b.type || a.checksum != b.checksum || !fields.isEmpty()) {
            out << it.key();
            (*why)[it.key()] = changed.value(it.key());
        }
    }
    out.sort();
    out.removeDuplicates();
    return out;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    int files = 5000;
    int virtDiffTimeoutS = 3600;
    bool check = false;
    bool remote = false;
    const QStringList args = app.arguments();
    for (qsizetype i = 1; i < args.size(); ++i) {
        if (args[i] == QLatin1String("--files") && i + 1 < args.size())
            files = args[++i].toInt();
        else if (args[i] == QLatin1String("--virt-diff-timeout") && i + 1 < args.size())
            virtDiffTimeoutS = args[++i].toInt();
        else if (args[i] == QLatin1String("--check"))
            check = true;
        else if (args[i] == QLatin1String("--remote"))
            remote = true;
    }
    if (const QString missing = ImageBuilder::missingTools(); !missing.isEmpty())
        fluid::test::skipWholeTest(QStringLiteral("snapshot mounts need: %1").arg(missing));
    if (QStandardPaths::findExecutable(QStringLiteral("virt-diff")).isEmpty())
        fluid::test::skipWholeTest(
            QStringLiteral("virt-diff is not installed (apt-get install libguestfs-tools)"));

    const QString base = fluid::test::makeTempDir(QStringLiteral("bench-inspect"));
    const QString before = base + QStringLiteral("/before");
    const QString after = base + QStringLiteral("/after");
    const QString image = base + QStringLiteral("/disk.qcow2");
    writeTrees(before, after, files);
    const int fsMiB = std::max(64, files / 20);
    fluid::test::must(
        ImageBuilder::createWithSnapshot(before, image, DiskLayout::Bare, QStringLiteral("before"), fsMiB));
    fluid::test::must(
        ImageBuilder::addSnapshot(after, image, DiskLayout::Bare, QStringLiteral("after"), fsMiB));
    QDir(before).removeRecursively();
    QDir(after).removeRecursively();

    inspect::InspectorOptions options;
    options.runtimeDir = base + QStringLiteral("/run");
    options.excludes = {}; // virt-diff has no excludes: compare everything
    QElapsedTimer timer;
    timer.start();
    auto doc = inspect::SnapshotInspector(options).diffDisk(image, QStringLiteral("before"),
                                                            QStringLiteral("after"));
    const qint64 fluidMs = timer.elapsed();
    if (!doc) {
        std::printf("FAIL: Fluid's diff failed: %s\n", qPrintable(doc.error().toString()));
        return 1;
    }
    QStringList fluidPaths;
    for (const QJsonValue& v : doc->value(QStringLiteral("paths")).toArray())
        fluidPaths << v.toObject().value(QStringLiteral("path")).toString();
    fluidPaths.sort();
    std::printf("snapshots differing in %d files (%lld paths changed by Fluid's count)\n", files,
                qlonglong(fluidPaths.size()));
    std::printf("fluid      %8.2f s  (mount both snapshots, walk, sha256 every file, diff, unmount)\n",
                fluidMs / 1000.0);
    std::fflush(stdout);

    if (remote) {
        // The same diff as for a remote host: the pipeline driven over SSH (a loopback sshd, root).
        auto ca = fluid::test::makeTestCa();
        fluid::test::LoopbackSshd sshd(ca);
        if (auto started = sshd.start(); !started) {
            std::printf("remote: skipped, no loopback sshd: %s\n", qPrintable(started.error().toString()));
        } else {
            std::shared_ptr<ssh::RemoteShell> host = fluid::test::makeShell(ca, sshd);
            options.remoteRuntimeDir = base + QStringLiteral("/host-run");
            timer.restart();
            auto remoteDoc = inspect::SnapshotInspector(options).diffRemoteDisk(
                host, image, QStringLiteral("before"), QStringLiteral("after"));
            if (!remoteDoc) {
                std::printf("FAIL: the diff over SSH failed: %s\n", qPrintable(remoteDoc.error().toString()));
                return 1;
            }
            std::printf("fluid/ssh  %8.2f s  (the same, run on the host over SSH: find, sha256sum, SFTP)%s\n",
                        timer.elapsed() / 1000.0,
                        remoteDoc->value(QStringLiteral("paths")) == doc->value(QStringLiteral("paths"))
                            ? ""
                            : "  FAIL: differs from the local document");
            std::fflush(stdout);
        }
    }

    timer.restart();
    for (const char* snap : {"before", "after"}) {
        fluid::test::must(ImageBuilder::run(QStringLiteral("qemu-img"),
                                            {QStringLiteral("convert"), QStringLiteral("-l"),
                                             QStringLiteral("snapshot.name=%1").arg(QLatin1String(snap)),
                                             QStringLiteral("-O"), QStringLiteral("qcow2"), image,
                                             base + QStringLiteral("/%1.qcow2").arg(QLatin1String(snap))}));
    }
    const qint64 exportMs = timer.elapsed();
    QProcess vd;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("LIBGUESTFS_BACKEND"), QStringLiteral("direct"));
    env.insert(QStringLiteral("LIBGUESTFS_BACKEND_SETTINGS"), QStringLiteral("force_tcg"));
    env.insert(QStringLiteral("LIBGUESTFS_CACHEDIR"), base);
    vd.setProcessEnvironment(env);
    timer.restart();
    vd.start(QStringLiteral("virt-diff"), {QStringLiteral("--checksum=sha256"), QStringLiteral("-a"),
                                           base + QStringLiteral("/before.qcow2"), QStringLiteral("-A"),
                                           base + QStringLiteral("/after.qcow2")});
    const bool finished = vd.waitForStarted() && vd.waitForFinished(virtDiffTimeoutS * 1000);
    const qint64 virtDiffMs = timer.elapsed();
    if (!finished || vd.exitStatus() != QProcess::NormalExit || vd.exitCode() != 0) {
        const QString err = QString::fromUtf8(vd.readAllStandardError()).trimmed().left(800);
        vd.kill();
        vd.waitForFinished(5000);
        QDir(base).removeRecursively();
        // No usable appliance (no kernel, no supermin, no qemu) is this machine's limit, not a diff bug;
        // anything else is a failure.
        static const QRegularExpression applianceTrouble(
            QStringLiteral("supermin|kernel|appliance|launch failed|qemu.*(not found|exited)"),
            QRegularExpression::CaseInsensitiveOption);
        if (!finished)
            fluid::test::skipWholeTest(
                QStringLiteral("virt-diff did not finish within %1 s (--virt-diff-timeout)")
                    .arg(virtDiffTimeoutS));
        if (applianceTrouble.match(err).hasMatch())
            fluid::test::skipWholeTest(QStringLiteral("virt-diff cannot run here: %1").arg(err));
        std::printf("FAIL: virt-diff failed: %s\n", qPrintable(err));
        return 1;
    }
    QMap<QString, QStringList> why;
    const QByteArray vdOutput = vd.readAllStandardOutput();
    const QStringList vdPaths = virtDiffPaths(vdOutput, &why);

    std::printf(
        "virt-diff  %8.2f s  (--checksum=sha256, TCG appliance) + %.2f s exporting the two snapshots\n",
        virtDiffMs / 1000.0, exportMs / 1000.0);
    const QSet<QString> f(fluidPaths.cbegin(), fluidPaths.cend());
    const QSet<QString> v(vdPaths.cbegin(), vdPaths.cend());
    int rc = 0;
    if (f != v) {
        rc = 1;
        QStringList onlyFluid(QSet<QString>(f).subtract(v).cbegin(), QSet<QString>(f).subtract(v).cend());
        QStringList onlyVd(QSet<QString>(v).subtract(f).cbegin(), QSet<QString>(v).subtract(f).cend());
        onlyFluid.sort();
        onlyVd.sort();
        std::printf("FAIL: path sets differ: %lld only in Fluid, %lld only in virt-diff\n",
                    qlonglong(onlyFluid.size()), qlonglong(onlyVd.size()));
        for (const QString& p : onlyFluid.mid(0, 20))
            std::printf("  only Fluid:     %s\n", qPrintable(p));
        for (const QString& p : onlyVd.mid(0, 20))
            std::printf("  only virt-diff: %s (%s)\n", qPrintable(p),
                        qPrintable(why.value(p).join(QLatin1Char(' '))));
        // virt-diff's own lines for those paths (and the line after each), to tell its report from ours.
        const QList<QByteArray> lines = vdOutput.split('\n');
        int shown = 0;
        for (qsizetype i = 0; i < lines.size() && shown < 40; ++i) {
            for (const QString& p : onlyFluid.mid(0, 20) + onlyVd.mid(0, 20)) {
                if (lines[i].endsWith(' ' + p.toUtf8())) {
                    std::printf("  virt-diff said: %s\n", lines[i].constData());
                    if (i + 1 < lines.size() && lines[i + 1].startsWith('#'))
                        std::printf("  virt-diff said: %s\n", lines[i + 1].constData());
                    shown += 2;
                    break;
                }
            }
        }
    } else {
        std::printf("%s: Fluid and virt-diff report the same %lld paths\n", check ? "PASS" : "same",
                    qlonglong(f.size()));
    }
    if (fluidPaths.size() < files) {
        std::printf("FAIL: expected at least %d changed paths\n", files);
        rc = 1;
    }
    QDir(base).removeRecursively();
    return rc;
}

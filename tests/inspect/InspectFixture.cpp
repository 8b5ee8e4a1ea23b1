// SPDX-License-Identifier: Apache-2.0
#include "InspectFixture.h"

#include <QJsonDocument>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QProcess>
#include <QStandardPaths>

#include <sys/stat.h>
#include <unistd.h>

namespace fluid::test {
namespace {

Result<void> put(const QString& root, const QString& path, const QByteArray& content, int mode = 0644)
{
    const QString full = root + path;
    QDir().mkpath(QFileInfo(full).path());
    QFile f(full);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(content) != content.size())
        return makeError(ErrorCode::Io, QStringLiteral("cannot write %1").arg(full));
    f.close();
    if (::chmod(full.toUtf8().constData(), mode_t(mode)) != 0)
        return makeError(ErrorCode::Io, QStringLiteral("cannot chmod %1").arg(full));
    return {};
}

Result<void> link(const QString& root, const QString& path, const QString& target)
{
    const QString full = root + path;
    QDir().mkpath(QFileInfo(full).path());
    QFile::remove(full);
    if (::symlink(target.toUtf8().constData(), full.toUtf8().constData()) != 0)
        return makeError(ErrorCode::Io, QStringLiteral("cannot symlink %1").arg(full));
    return {};
}

QByteArray numberedLines(int count, int changedA = 0, int changedB = 0)
{
    QByteArray out;
    for (int i = 1; i <= count; ++i) {
        if (i == changedA || i == changedB)
            out += "line " + QByteArray::number(i) + " changed by the agent\n";
        else
            out += "line " + QByteArray::number(i) + " of the service list\n";
    }
    return out;
}

QByteArray bigText(char fill)
{
    QByteArray out;
    for (int i = 0; i < 6000; ++i)
        out += QByteArray(50, fill) + '\n';
    return out;
}

const QByteArray kDpkgBefore =
    "Package: alpha\nStatus: install ok installed\nArchitecture: amd64\n"
    "Version: 1.0-1\nDescription: first\n a continuation line\n\n"
    "Package: beta\nStatus: install ok installed\nArchitecture: all\nVersion: 2:2.0-1\n\n"
    "Package: gamma\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
    "Version: 0.9\n";
const QByteArray kDpkgAfter = "Package: alpha\nStatus: install ok installed\nArchitecture: amd64\n"
                              "Version: 1.0-2~bpo1\nDescription: first\n a continuation line\n\n"
                              "Package: gamma\nStatus: deinstall ok config-files\nArchitecture: amd64\n"
                              "Version: 0.9\n\n"
                              "Package: nginx\nStatus: install ok installed\nArchitecture: amd64\n"
                              "Version: 1.22.1-9\n";

#define FLUID_TRY(expr)                                                                                      \
    if (auto r_ = (expr); !r_)                                                                               \
        return r_.error();

Result<void> writeCommon(const QString& d)
{
    FLUID_TRY(put(d, QStringLiteral("/etc/os-release"), "ID=debian\nVERSION_ID=12\n"));
    FLUID_TRY(put(d, QStringLiteral("/usr/bin/unchanged"), QByteArray(5000, 'u'), 0755));
    FLUID_TRY(
        put(d, QStringLiteral("/lib/systemd/system/ssh.service"), "[Service]\nExecStart=/usr/sbin/sshd\n"));
    FLUID_TRY(link(d, QStringLiteral("/etc/systemd/system/multi-user.target.wants/ssh.service"),
                   QStringLiteral("/lib/systemd/system/ssh.service")));
    QDir().mkpath(d + QStringLiteral("/tmp"));
    QDir().mkpath(d + QStringLiteral("/var/log/journal"));
    return {};
}

} // namespace

Result<void> InspectFixture::writeBefore(const QString& d)
{
    FLUID_TRY(writeCommon(d));
    FLUID_TRY(put(d, QStringLiteral("/etc/hostname"), "sandbox-template\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/motd"), "Welcome\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/services.list"), numberedLines(40)));
    FLUID_TRY(put(d, QStringLiteral("/usr/local/bin/tool"), "#!/bin/sh\necho tool\n", 0644));
    FLUID_TRY(put(d, QStringLiteral("/srv/owned"), "data\n"));
    FLUID_TRY(put(d, QStringLiteral("/srv/typechange"), "was a file\n"));
    FLUID_TRY(link(d, QStringLiteral("/srv/current"), QStringLiteral("release-1")));
    FLUID_TRY(put(d, QStringLiteral("/srv/blob.bin"),
                  QByteArray("\x7f"
                             "ELF\0\0\x01\x02",
                             8) +
                      QByteArray(100, 'a')));
    FLUID_TRY(put(d, QStringLiteral("/srv/big.txt"), bigText('a')));
    FLUID_TRY(put(d, QStringLiteral("/var/lib/dpkg/status"), kDpkgBefore));
    FLUID_TRY(put(d, QStringLiteral("/lib/systemd/system/old.service"), "[Service]\nExecStart=/bin/old\n"));
    FLUID_TRY(link(d, QStringLiteral("/etc/systemd/system/multi-user.target.wants/old.service"),
                   QStringLiteral("/lib/systemd/system/old.service")));
    FLUID_TRY(put(d, QStringLiteral("/etc/passwd"),
                  "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/group"), "root:x:0:\ndaemon:x:1:\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/shadow"),
                  "root:$6$old$oldhashvalue:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n", 0640));
    FLUID_TRY(put(d, QStringLiteral("/etc/ssh/ssh_host_ed25519_key"),
                  "-----BEGIN OPENSSH PRIVATE KEY-----\nold\n", 0600));
    FLUID_TRY(put(d, QStringLiteral("/var/spool/cron/crontabs/root"),
                  "# m h dom mon dow command\n0 1 * * * /bin/backup\n", 0600));
    return {};
}

Result<void> InspectFixture::writeAfter(const QString& d)
{
    FLUID_TRY(writeCommon(d));
    FLUID_TRY(put(d, QStringLiteral("/etc/hostname"), "agent-sandbox\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/app.conf"), "listen=8080\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/services.list"), numberedLines(40, 5, 30)));
    FLUID_TRY(put(d, QStringLiteral("/usr/local/bin/tool"), "#!/bin/sh\necho tool\n", 0755));
    FLUID_TRY(put(d, QStringLiteral("/srv/owned"), "data\n"));
    if (::geteuid() == 0 && ::chown((d + QStringLiteral("/srv/owned")).toUtf8().constData(), 1000, 1000) != 0)
        return makeError(ErrorCode::Io, QStringLiteral("cannot chown"));
    QDir().mkpath(d + QStringLiteral("/srv/typechange"));
    FLUID_TRY(link(d, QStringLiteral("/srv/current"), QStringLiteral("release-2")));
    FLUID_TRY(put(d, QStringLiteral("/srv/blob.bin"),
                  QByteArray("\x7f"
                             "ELF\0\0\x01\x03",
                             8) +
                      QByteArray(100, 'b')));
    FLUID_TRY(put(d, QStringLiteral("/srv/big.txt"), bigText('b')));
    FLUID_TRY(put(d, QStringLiteral("/tmp/scratch"), "excluded\n"));
    FLUID_TRY(put(d, QStringLiteral("/var/log/journal/system.journal"), "excluded\n"));
    FLUID_TRY(put(d, QStringLiteral("/var/lib/dpkg/status"), kDpkgAfter));
    FLUID_TRY(put(d, QStringLiteral("/etc/systemd/system/agent.service"),
                  "[Service]\nExecStart=/usr/local/bin/tool\n"));
    FLUID_TRY(link(d, QStringLiteral("/etc/systemd/system/multi-user.target.wants/agent.service"),
                   QStringLiteral("/etc/systemd/system/agent.service")));
    FLUID_TRY(link(d, QStringLiteral("/etc/systemd/system/old.service"), QStringLiteral("/dev/null")));
    FLUID_TRY(put(d, QStringLiteral("/etc/passwd"),
                  "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n"
                  "agent:x:1000:1000:Agent:/home/agent:/bin/bash\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/group"), "root:x:0:\ndaemon:x:1:\nagents:x:1000:agent\n"));
    FLUID_TRY(put(d, QStringLiteral("/etc/shadow"),
                  "root:$6$new$newhashvalue:19500:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
                  "agent:$6$salt$agenthash:19500:0:99999:7:::\n",
                  0640));
    FLUID_TRY(put(d, QStringLiteral("/etc/ssh/ssh_host_ed25519_key"),
                  "-----BEGIN OPENSSH PRIVATE KEY-----\nnew\n", 0600));
    FLUID_TRY(put(d, QStringLiteral("/var/spool/cron/crontabs/root"),
                  "# m h dom mon dow command\n0 1 * * * /bin/backup\n*/5 * * * * /usr/local/bin/tool\n",
                  0600));
    FLUID_TRY(put(d, QStringLiteral("/etc/cron.d/agent"),
                  "SHELL=/bin/sh\n15 3 * * * root /usr/local/bin/tool --nightly\n"));
    return {};
}

QStringList InspectFixture::expectedChangedPaths(bool withOwner)
{
    QStringList out{QStringLiteral("/etc/app.conf"),
                    QStringLiteral("/etc/cron.d"),
                    QStringLiteral("/etc/cron.d/agent"),
                    QStringLiteral("/etc/group"),
                    QStringLiteral("/etc/hostname"),
                    QStringLiteral("/etc/motd"),
                    QStringLiteral("/etc/passwd"),
                    QStringLiteral("/etc/services.list"),
                    QStringLiteral("/etc/shadow"),
                    QStringLiteral("/etc/ssh/ssh_host_ed25519_key"),
                    QStringLiteral("/etc/systemd/system/agent.service"),
                    QStringLiteral("/etc/systemd/system/multi-user.target.wants/agent.service"),
                    QStringLiteral("/etc/systemd/system/multi-user.target.wants/old.service"),
                    QStringLiteral("/etc/systemd/system/old.service"),
                    QStringLiteral("/lib/systemd/system/old.service"),
                    QStringLiteral("/srv/big.txt"),
                    QStringLiteral("/srv/blob.bin"),
                    QStringLiteral("/srv/current"),
                    QStringLiteral("/srv/typechange"),
                    QStringLiteral("/usr/local/bin/tool"),
                    QStringLiteral("/var/lib/dpkg/status"),
                    QStringLiteral("/var/spool/cron/crontabs/root")};
    if (withOwner)
        out << QStringLiteral("/srv/owned");
    out.sort();
    return out;
}

Result<QString> ImageBuilder::run(const QString& program, const QStringList& args, int timeoutMs)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(program, args);
    if (!p.waitForStarted(10000) || !p.waitForFinished(timeoutMs) || p.exitStatus() != QProcess::NormalExit ||
        p.exitCode() != 0) {
        if (p.state() != QProcess::NotRunning) {
            p.kill();
            p.waitForFinished(5000);
        }
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("%1 %2 failed").arg(program, args.join(QLatin1Char(' '))),
                         QString::fromUtf8(p.readAll()));
    }
    return QString::fromUtf8(p.readAll());
}

Result<void> ImageBuilder::makeRaw(const QString& tree, const QString& rawPath, DiskLayout layout, int fsMiB)
{
    QFile::remove(rawPath);
    const QString size = QStringLiteral("%1M").arg(fsMiB);
    if (layout == DiskLayout::Bare) {
        FLUID_TRY(run(QStringLiteral("mkfs.ext4"), {QStringLiteral("-q"), QStringLiteral("-F"),
                                                    QStringLiteral("-d"), tree, rawPath, size}));
        return {};
    }
    // Partition 1: a larger ext4 without /etc (like /boot or /data); partition 2: the root.
    const int firstMiB = fsMiB + 8;
    const qint64 totalMiB = 1 + firstMiB + fsMiB + 1;
    QFile raw(rawPath);
    if (!raw.open(QIODevice::WriteOnly) || !raw.resize(totalMiB * 1024 * 1024))
        return makeError(ErrorCode::Io, QStringLiteral("cannot create %1").arg(rawPath));
    raw.close();
    const QString type = layout == DiskLayout::Gpt ? QStringLiteral("0FC63DAF-8483-4772-8E79-3D69D8477DE4")
                                                   : QStringLiteral("83");
    const QString script =
        QStringLiteral("label: %1\nstart=2048, size=%2, type=%3\nstart=%4, size=%5, type=%3\n")
            .arg(layout == DiskLayout::Gpt ? QStringLiteral("gpt") : QStringLiteral("dos"))
            .arg(firstMiB * 2048)
            .arg(type)
            .arg(2048 + firstMiB * 2048)
            .arg(fsMiB * 2048);
    const QString scriptFile = rawPath + QStringLiteral(".sfdisk");
    QFile s(scriptFile);
    if (!s.open(QIODevice::WriteOnly) || s.write(script.toUtf8()) < 0)
        return makeError(ErrorCode::Io, QStringLiteral("cannot write %1").arg(scriptFile));
    s.close();
    FLUID_TRY(run(QStringLiteral("sh"),
                  {QStringLiteral("-c"), QStringLiteral("sfdisk -q \"$0\" < \"$1\""), rawPath, scriptFile}));
    const QString bootTree = rawPath + QStringLiteral(".boot");
    FLUID_TRY(put(bootTree, QStringLiteral("/vmlinuz"), "not a kernel\n"));
    FLUID_TRY(run(QStringLiteral("mkfs.ext4"),
                  {QStringLiteral("-q"), QStringLiteral("-F"), QStringLiteral("-E"),
                   QStringLiteral("offset=%1").arg(qint64(1024) * 1024), QStringLiteral("-d"), bootTree,
                   rawPath, QStringLiteral("%1M").arg(firstMiB)}));
    FLUID_TRY(
        run(QStringLiteral("mkfs.ext4"), {QStringLiteral("-q"), QStringLiteral("-F"), QStringLiteral("-E"),
                                          QStringLiteral("offset=%1").arg(qint64(1 + firstMiB) * 1024 * 1024),
                                          QStringLiteral("-d"), tree, rawPath, size}));
    QDir(bootTree).removeRecursively();
    QFile::remove(scriptFile);
    return {};
}

Result<void> ImageBuilder::createWithSnapshot(const QString& tree, const QString& qcow2, DiskLayout layout,
                                              const QString& snapshot, int fsMiB)
{
    const QString raw = qcow2 + QStringLiteral(".raw");
    FLUID_TRY(makeRaw(tree, raw, layout, fsMiB));
    QFile::remove(qcow2);
    FLUID_TRY(run(QStringLiteral("qemu-img"),
                  {QStringLiteral("convert"), QStringLiteral("-O"), QStringLiteral("qcow2"), raw, qcow2}));
    QFile::remove(raw);
    FLUID_TRY(
        run(QStringLiteral("qemu-img"), {QStringLiteral("snapshot"), QStringLiteral("-c"), snapshot, qcow2}));
    return {};
}

Result<void> ImageBuilder::addSnapshot(const QString& tree, const QString& qcow2, DiskLayout layout,
                                       const QString& snapshot, int fsMiB)
{
    const QString raw = qcow2 + QStringLiteral(".raw");
    FLUID_TRY(makeRaw(tree, raw, layout, fsMiB));
    FLUID_TRY(run(QStringLiteral("qemu-img"),
                  {QStringLiteral("convert"), QStringLiteral("-n"), QStringLiteral("-f"),
                   QStringLiteral("raw"), QStringLiteral("-O"), QStringLiteral("qcow2"), raw, qcow2}));
    QFile::remove(raw);
    FLUID_TRY(
        run(QStringLiteral("qemu-img"), {QStringLiteral("snapshot"), QStringLiteral("-c"), snapshot, qcow2}));
    return {};
}

QString ImageBuilder::missingTools()
{
    if (::geteuid() != 0)
        return QStringLiteral("needs root (loop mounts)");
    if (!QFileInfo::exists(QStringLiteral("/dev/fuse")))
        return QStringLiteral("no /dev/fuse");
    for (const char* tool : {"qemu-nbd", "qemu-storage-daemon", "qemu-img", "mkfs.ext4", "sfdisk", "mount"}) {
        if (QStandardPaths::findExecutable(QLatin1String(tool)).isEmpty() &&
            QStandardPaths::findExecutable(QLatin1String(tool),
                                           {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")})
                .isEmpty())
            return QStringLiteral("%1 is not installed").arg(QLatin1String(tool));
    }
    return {};
}

/// Mounts under `dir` or processes whose command line names it: what clean-up must leave at zero.
QStringList mountLeftoversUnder(const QString& dir)
{
    QStringList out;
    QFile mi(QStringLiteral("/proc/self/mountinfo"));
    if (mi.open(QIODevice::ReadOnly)) {
        for (const QByteArray& line : mi.readAll().split('\n')) {
            if (line.contains(dir.toUtf8()))
                out << QStringLiteral("mount: ") + QString::fromUtf8(line);
        }
    }
    for (const QString& pid : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool isPid = false;
        pid.toLongLong(&isPid);
        if (!isPid || pid.toLongLong() == ::getpid())
            continue;
        QFile cmd(QStringLiteral("/proc/%1/cmdline").arg(pid));
        if (cmd.open(QIODevice::ReadOnly)) {
            const QByteArray c = cmd.readAll();
            if (c.contains(dir.toUtf8()) && (c.startsWith("qemu") || c.contains("/qemu")))
                out << QStringLiteral("process %1: %2")
                           .arg(pid, QString::fromUtf8(c).replace(QChar(0), QChar(' ')));
        }
    }
    return out;
}

QJsonObject byPath(const QJsonObject& doc, const QString& path)
{
    for (const QJsonValue& v : doc.value(QStringLiteral("paths")).toArray()) {
        if (v.toObject().value(QStringLiteral("path")).toString() == path)
            return v.toObject();
    }
    return {};
}

bool hasEntry(const QJsonArray& items, const QJsonObject& wanted)
{
    for (const QJsonValue& v : items) {
        const QJsonObject o = v.toObject();
        bool all = true;
        for (auto it = wanted.begin(); it != wanted.end(); ++it)
            all = all && o.value(it.key()) == it.value();
        if (all)
            return true;
    }
    return false;
}

QString documentDifference(const QJsonObject& expected, const QJsonObject& actual)
{
    const auto text = [](const QString& key, const QJsonObject& doc) {
        return QString::fromUtf8(
            QJsonDocument(QJsonObject{{key, doc.value(key)}}).toJson(QJsonDocument::Compact).left(3000));
    };
    for (const QString& key : expected.keys()) {
        if (expected.value(key) != actual.value(key))
            return QStringLiteral("%1 differs:\nexpected: %2\nactual:   %3")
                .arg(key, text(key, expected), text(key, actual));
    }
    if (expected.keys() != actual.keys())
        return QStringLiteral("keys differ: %1 vs %2")
            .arg(expected.keys().join(QLatin1Char(',')), actual.keys().join(QLatin1Char(',')));
    return {};
}

QStringList changedPaths(const QJsonObject& document)
{
    QStringList out;
    for (const QJsonValue& v : document.value(QStringLiteral("paths")).toArray())
        out << v.toObject().value(QStringLiteral("path")).toString();
    out.sort();
    return out;
}

} // namespace fluid::test

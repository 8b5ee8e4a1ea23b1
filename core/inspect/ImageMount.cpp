// SPDX-License-Identifier: Apache-2.0
#include "ImageMount.h"

#include "base/Logging.h"
#include "base/Process.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <QSysInfo>
#include <QThread>
#include <QUuid>

#include <csignal>
#include <sys/types.h>
#include <unistd.h>

namespace fluid::inspect {
namespace {

constexpr int kSunPathMax = 107;

/// Mount points in this mount namespace, unescaped (mountinfo writes space as \040).
QStringList mountPoints()
{
    QFile f(QStringLiteral("/proc/self/mountinfo"));
    QStringList out;
    if (!f.open(QIODevice::ReadOnly))
        return out;
    for (const QByteArray& line : f.readAll().split('\n')) {
        const QList<QByteArray> fields = line.split(' ');
        if (fields.size() < 5)
            continue;
        QByteArray p = fields[4];
        p.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
        out.append(QString::fromUtf8(p));
    }
    return out;
}

bool isMounted(const QString& path)
{
    return !path.isEmpty() && mountPoints().contains(QFileInfo(path).absoluteFilePath());
}

bool anyMountUnder(const QString& dir)
{
    const QString prefix = QFileInfo(dir).absoluteFilePath() + QLatin1Char('/');
    for (const QString& m : mountPoints()) {
        if (m.startsWith(prefix) || m == QFileInfo(dir).absoluteFilePath())
            return true;
    }
    return false;
}

QString fileText(const QString& path, int maxBytes = 4000)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(f.read(maxBytes)).trimmed();
}

/// Runs mount or umount to its end; the error says how it ended and what it printed.
Result<void> runTool(const QString& program, const QStringList& args, int timeoutMs)
{
    ProcessSpec spec;
    spec.program = program;
    spec.arguments = args;
    spec.timeoutMs = timeoutMs;
    spec.mergeOutput = true;
    auto run = runProcess(spec);
    if (!run)
        return run.error();
    if (!run->succeeded())
        return run->toError(program);
    return {};
}

/// Unmounts, retrying a busy mount a few times before detaching it lazily.
Result<void> unmount(const QString& path, int timeoutMs)
{
    Error last;
    for (int attempt = 0; attempt < 5; ++attempt) {
        if (!isMounted(path))
            return {};
        auto r = runTool(QStringLiteral("umount"), {path}, timeoutMs);
        if (r)
            return {};
        last = r.error();
        QThread::msleep(100 * (attempt + 1));
    }
    if (!isMounted(path))
        return {};
    qCWarning(lcInspect) << "umount" << path << "failed, detaching lazily:" << last.toString();
    auto lazy = runTool(QStringLiteral("umount"), {QStringLiteral("-l"), path}, timeoutMs);
    if (lazy)
        return {};
    return makeError(ErrorCode::Io, QStringLiteral("Cannot unmount %1; unmount it by hand").arg(path),
                     last.toString() + QLatin1Char('\n') + lazy.error().toString());
}

/// The fields of /proc/PID/stat from the 3rd (state) on, so field N is at N - 3; empty when it is gone.
QList<QByteArray> processStat(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QByteArray stat = f.readAll();
    const int close = stat.lastIndexOf(')');
    if (close < 0)
        return {};
    return stat.mid(close + 2).split(' ');
}

/// The 22nd field of /proc/PID/stat (start time in clock ticks): with the PID it names one process for
/// its whole life, so a recycled PID is not mistaken for Fluid.
QString processStartTime(qint64 pid)
{
    const QList<QByteArray> fields = processStat(pid);
    return fields.size() > 19 ? QString::fromLatin1(fields[19]) : QString();
}

/// The 5th field of /proc/PID/stat: the process group; 0 when unknown.
qint64 processGroup(qint64 pid)
{
    const QList<QByteArray> fields = processStat(pid);
    return fields.size() > 2 ? fields[2].toLongLong() : 0;
}

QByteArray processCmdline(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/cmdline").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.readAll();
}

/// A zombie counts as ended: an orphaned helper waits for PID 1 to reap it, which can take a while.
bool processAlive(qint64 pid)
{
    if (pid <= 0 || ::kill(pid_t(pid), 0) != 0)
        return false;
    const QList<QByteArray> fields = processStat(pid);
    return !fields.isEmpty() && fields[0] != "Z" && fields[0] != "X";
}

/// Stops a leftover helper of a crashed run, only if its command line still names the mount's folder.
/// BackgroundProcess made it the leader of its own process group, so the group (anything it started) is
/// signalled with it.
bool killLeftover(qint64 pid, const QString& token)
{
    if (!processAlive(pid) || !processCmdline(pid).contains(token.toUtf8()))
        return false;
    const bool leader = processGroup(pid) == pid;
    const auto send = [pid, leader](int signal) {
        if (leader)
            signalProcessGroup(pid, signal);
        else
            ::kill(pid_t(pid), signal);
    };
    send(SIGTERM);
    QDeadlineTimer deadline(5000);
    while (processAlive(pid) && !deadline.hasExpired())
        QThread::msleep(50);
    if (leader || processAlive(pid))
        send(SIGKILL); // a leader that ended may leave others of its group behind
    return true;
}

/// Starts qemu-nbd or qemu-storage-daemon in the background, its output appended to `logFile`. They need
/// nothing from Fluid's environment beyond the minimal one.
Result<std::unique_ptr<BackgroundProcess>> startHelper(const QString& program, const QStringList& args,
                                                       const QString& logFile)
{
    ProcessSpec spec;
    spec.program = program;
    spec.arguments = args;
    spec.logFile = logFile;
    return BackgroundProcess::start(spec);
}

QString machineId()
{
    for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
        QFile f{QString::fromLatin1(path)};
        if (f.open(QIODevice::ReadOnly)) {
            const QString id = QString::fromLatin1(f.readAll()).trimmed();
            if (!id.isEmpty())
                return id;
        }
    }
    return QSysInfo::machineHostName();
}

} // namespace

QString escapeQemuOption(QString value)
{
    return value.replace(QLatin1Char(','), QStringLiteral(",,"));
}

QString nbdImageOptions(const QString& imagePath, const QString& format)
{
    const QString opts =
        format == QLatin1String("qcow2")
            ? QStringLiteral("driver=qcow2,file.driver=file,file.filename=%1,file.locking=off")
            : QStringLiteral("driver=raw,file.driver=file,file.filename=%1,file.locking=off");
    return opts.arg(escapeQemuOption(imagePath));
}

QString nbdSnapshotArgument(const QString& snapshotName)
{
    return QStringLiteral("--load-snapshot=snapshot.name=") + escapeQemuOption(snapshotName);
}

FsMountArguments fsMountArguments(const Partition& p)
{
    FsMountArguments a;
    a.type = p.fs == FsKind::Xfs ? QStringLiteral("xfs") : QStringLiteral("ext4");
    // The guest's file system is not trusted: nothing on it runs or opens a device (nosuid, nodev,
    // noexec), and a corrupt ext file system is read on rather than remounted or panicking the host
    // (errors=continue). XFS has no errors= option; norecovery (no log replay, read-only only) is the
    // most it offers.
    a.options =
        (p.fs == FsKind::Xfs ? QStringLiteral("ro,nosuid,nodev,noexec,norecovery,nouuid,loop,offset=%1")
                             : QStringLiteral("ro,nosuid,nodev,noexec,noload,errors=continue,loop,offset=%1"))
            .arg(p.offset);
    if (p.scheme != QLatin1String("none"))
        a.options += QStringLiteral(",sizelimit=%1").arg(p.size);
    return a;
}

Result<Partition> mountRootFileSystem(const DiskReader& read, qint64 diskSize, const QString& imageName,
                                      const RootProbe& probe)
{
    auto parts = readPartitions(read, diskSize);
    if (!parts)
        return makeError(
            parts.error().code,
            QStringLiteral("No file system found in %1: %2").arg(imageName, parts.error().message),
            parts.error().detail);
    const QList<Partition> candidates = rootCandidates(*parts);
    if (candidates.isEmpty())
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("No ext2/3/4 or XFS file system in any partition of %1").arg(imageName));
    QString errors;
    std::optional<Partition> fallback;
    // The first candidate that has /etc is the root; without one, the best-ranked that mounts.
    for (int pass = 0; pass < 2; ++pass) {
        for (const Partition& p : candidates) {
            if (pass == 1 && (!fallback || fallback->offset != p.offset))
                continue;
            auto hasEtc = probe.mount(p);
            if (!hasEtc) {
                errors += QStringLiteral("partition %1 at %2: %3 %4\n")
                              .arg(p.number)
                              .arg(p.offset)
                              .arg(hasEtc.error().message, hasEtc.error().detail);
                continue;
            }
            if (pass == 1 || *hasEtc)
                return p;
            if (!fallback)
                fallback = p;
            if (auto u = probe.unmount(); !u)
                return u.error();
        }
        if (!fallback)
            break;
    }
    return makeError(ErrorCode::Unavailable,
                     QStringLiteral("mount could not mount any file system of %1 read-only").arg(imageName),
                     errors.trimmed());
}

QString mountOwnerTag()
{
    const qint64 pid = ::getpid();
    return QStringLiteral("%1:%2:%3").arg(machineId()).arg(pid).arg(processStartTime(pid));
}

bool mountOwnerGone(const QString& tag)
{
    const QStringList parts = tag.trimmed().split(QLatin1Char(':'));
    if (parts.size() != 3 || parts[0] != machineId())
        return false;
    bool ok = false;
    const qint64 pid = parts[1].toLongLong(&ok);
    if (!ok || pid <= 0)
        return false;
    return !processAlive(pid) || processStartTime(pid) != parts[2];
}

QString defaultRuntimeDir()
{
    const QString xdg = qEnvironmentVariable("XDG_RUNTIME_DIR");
    if (!xdg.isEmpty())
        return xdg + QStringLiteral("/fluid/inspect");
    if (::geteuid() == 0)
        return QStringLiteral("/run/fluid/inspect");
    return QDir::tempPath() + QStringLiteral("/fluid-inspect-%1").arg(::geteuid());
}

Result<void> ImageMount::checkHost()
{
    if (::geteuid() != 0)
        return makeError(ErrorCode::PermissionDenied,
                         QStringLiteral("Reading a snapshot's disk needs root on the host (loop mounts)"));
    if (!QFileInfo::exists(QStringLiteral("/dev/fuse")))
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("/dev/fuse is missing; load the fuse module (modprobe fuse)"));
    for (const char* tool : {"qemu-nbd", "qemu-storage-daemon", "mount", "umount"}) {
        if (QStandardPaths::findExecutable(QLatin1String(tool)).isEmpty())
            return makeError(ErrorCode::Unavailable,
                             QStringLiteral("%1 is not installed; install qemu-utils, qemu-system-common "
                                            "and util-linux")
                                 .arg(QLatin1String(tool)));
    }
    return {};
}

ImageMount::ImageMount(MountOptions options)
    : m_options(std::move(options))
{
}

ImageMount::~ImageMount()
{
    auto r = close();
    if (!r)
        qCWarning(lcInspect) << "closing" << m_id << ":" << r.error().toString();
}

Result<std::unique_ptr<ImageMount>> ImageMount::open(const MountOptions& options)
{
    if (auto host = checkHost(); !host)
        return host.error();
    if (!QFileInfo(options.imagePath).isFile())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("The disk image %1 does not exist").arg(options.imagePath));
    if (options.format != QLatin1String("qcow2") && options.format != QLatin1String("raw"))
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Unsupported disk format %1 (qcow2 or raw)").arg(options.format));
    if (options.format == QLatin1String("raw") && !options.snapshotName.isEmpty())
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("A raw image has no internal snapshots"));
    std::unique_ptr<ImageMount> m(new ImageMount(options));
    if (m->m_options.runtimeDir.isEmpty())
        m->m_options.runtimeDir = defaultRuntimeDir();
    if (auto r = m->start(); !r) {
        auto closed = m->close();
        if (!closed)
            qCWarning(lcInspect) << "cleanup after failed mount:" << closed.error().toString();
        return r.error();
    }
    return m;
}

Result<void> ImageMount::start()
{
    const QString runtime = QFileInfo(m_options.runtimeDir).absoluteFilePath();
    m_id = QUuid::createUuid().toString(QUuid::Id128).left(12);
    m_workDir = runtime + QLatin1Char('/') + m_id;
    m_stateFile = runtime + QLatin1Char('/') + m_id + QStringLiteral(".json");
    m_socket = m_workDir + QStringLiteral("/nbd.sock");
    m_rawFile = m_workDir + QStringLiteral("/disk.raw");
    m_rootDir = m_workDir + QStringLiteral("/root");
    if (m_socket.toUtf8().size() > kSunPathMax)
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The runtime folder %1 is too long for a unix socket path").arg(runtime));
    if (!QDir().mkpath(m_rootDir))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot create %1").arg(m_rootDir));
    QFile::setPermissions(m_workDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    QFile raw(m_rawFile);
    if (!raw.open(QIODevice::WriteOnly))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot create %1").arg(m_rawFile));
    raw.close();
    if (auto r = writeState(); !r)
        return r;
    if (auto r = startNbd(); !r)
        return r;
    if (auto r = startExport(); !r)
        return r;
    return mountRoot();
}

Result<void> ImageMount::writeState() const
{
    QJsonObject o;
    o[QStringLiteral("id")] = m_id;
    o[QStringLiteral("ownerPid")] = qint64(::getpid());
    o[QStringLiteral("ownerStart")] = processStartTime(::getpid());
    o[QStringLiteral("workDir")] = m_workDir;
    o[QStringLiteral("image")] = m_options.imagePath;
    o[QStringLiteral("snapshot")] = m_options.snapshotName;
    o[QStringLiteral("mounts")] = QJsonArray{m_rootDir, m_rawFile}; // unmount in this order
    QJsonArray pids;
    for (qint64 pid : helperPids())
        pids.append(pid);
    o[QStringLiteral("pids")] = pids;
    QFile f(m_stateFile + QStringLiteral(".new"));
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(o).toJson()) < 0 || !f.flush()) {
        return makeError(ErrorCode::Io,
                         QStringLiteral("Cannot write the mount state file %1").arg(m_stateFile),
                         f.errorString());
    }
    f.close();
    QFile::remove(m_stateFile);
    if (!QFile::rename(f.fileName(), m_stateFile))
        return makeError(ErrorCode::Io,
                         QStringLiteral("Cannot write the mount state file %1").arg(m_stateFile));
    return {};
}

QList<qint64> ImageMount::helperPids() const
{
    QList<qint64> out;
    for (const BackgroundProcess* p : {m_nbd.get(), m_export.get()})
        out.append(p && p->isRunning() ? p->pid() : 0);
    return out;
}

Result<void> ImageMount::startNbd()
{
    QStringList args{QStringLiteral("--read-only"), QStringLiteral("--persistent"),
                     QStringLiteral("--socket=") + m_socket};
    if (!m_options.snapshotName.isEmpty())
        args << nbdSnapshotArgument(m_options.snapshotName);
    args << QStringLiteral("--image-opts")
         << nbdImageOptions(QFileInfo(m_options.imagePath).absoluteFilePath(), m_options.format);
    auto nbd = startHelper(QStringLiteral("qemu-nbd"), args, m_workDir + QStringLiteral("/qemu-nbd.log"));
    if (!nbd)
        return nbd.error();
    m_nbd = std::move(nbd).value();
    if (auto r = writeState(); !r)
        return r;
    QDeadlineTimer deadline(m_options.helperTimeoutMs);
    while (!QFileInfo::exists(m_socket)) {
        if (m_nbd->waitForExit(20))
            return nbdFailed();
        if (deadline.hasExpired())
            return makeError(ErrorCode::Timeout,
                             QStringLiteral("qemu-nbd did not listen on its socket within %1 ms")
                                 .arg(m_options.helperTimeoutMs),
                             fileText(m_workDir + QStringLiteral("/qemu-nbd.log")));
    }
    return {};
}

Error ImageMount::nbdFailed() const
{
    return makeError(
        ErrorCode::Unavailable,
        QStringLiteral("qemu-nbd could not open %1%2")
            .arg(m_options.imagePath, m_options.snapshotName.isEmpty()
                                          ? QString()
                                          : QStringLiteral(" at snapshot %1").arg(m_options.snapshotName)),
        fileText(m_workDir + QStringLiteral("/qemu-nbd.log")));
}

Result<void> ImageMount::startExport()
{
    const QStringList args{
        QStringLiteral("--blockdev"),
        QStringLiteral("driver=nbd,node-name=disk,server.type=unix,server.path=%1,read-only=on")
            .arg(escapeQemuOption(m_socket)),
        QStringLiteral("--export"),
        QStringLiteral("type=fuse,id=export,node-name=disk,mountpoint=%1,writable=off")
            .arg(escapeQemuOption(m_rawFile))};
    auto exporter = startHelper(QStringLiteral("qemu-storage-daemon"), args,
                                m_workDir + QStringLiteral("/qemu-storage-daemon.log"));
    if (!exporter)
        return exporter.error();
    m_export = std::move(exporter).value();
    if (auto r = writeState(); !r)
        return r;
    QDeadlineTimer deadline(m_options.helperTimeoutMs);
    while (!isMounted(m_rawFile)) {
        if (m_export->waitForExit(20)) {
            // qemu-nbd may bind its socket before it fails to open the image: then it is the culprit.
            if (m_nbd->waitForExit(200))
                return nbdFailed();
            return makeError(ErrorCode::Unavailable,
                             QStringLiteral("qemu-storage-daemon could not export the disk over FUSE"),
                             fileText(m_workDir + QStringLiteral("/qemu-storage-daemon.log")));
        }
        if (deadline.hasExpired())
            return makeError(ErrorCode::Timeout,
                             QStringLiteral("qemu-storage-daemon's FUSE export did not appear within %1 ms")
                                 .arg(m_options.helperTimeoutMs),
                             fileText(m_workDir + QStringLiteral("/qemu-storage-daemon.log")));
    }
    return {};
}

Result<void> ImageMount::mountRoot()
{
    QFile disk(m_rawFile);
    if (!disk.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot read the exported disk"), disk.errorString());
    const DiskReader read = [&disk](qint64 offset, qint64 length) -> QByteArray {
        if (offset < 0 || !disk.seek(offset))
            return {};
        return disk.read(length);
    };
    RootProbe probe;
    probe.mount = [this](const Partition& p) -> Result<bool> {
        const FsMountArguments a = fsMountArguments(p);
        if (auto r =
                runTool(QStringLiteral("mount"),
                        {QStringLiteral("-t"), a.type, QStringLiteral("-o"), a.options, m_rawFile, m_rootDir},
                        m_options.helperTimeoutMs);
            !r)
            return r.error();
        m_rootMounted = true;
        return QFileInfo(m_rootDir + QStringLiteral("/etc")).isDir();
    };
    probe.unmount = [this]() -> Result<void> {
        if (auto u = unmount(m_rootDir, m_options.helperTimeoutMs); !u)
            return u;
        m_rootMounted = false;
        return {};
    };
    auto root = mountRootFileSystem(read, disk.size(), m_options.imagePath, probe);
    disk.close();
    if (!root)
        return root.error();
    m_partition = *root;
    qCInfo(lcInspect) << "mounted" << m_options.imagePath << "snapshot" << m_options.snapshotName
                      << "partition" << m_partition.number << "offset" << m_partition.offset << "at"
                      << m_rootDir;
    return {};
}

Result<void> ImageMount::close()
{
    if (m_workDir.isEmpty())
        return {};
    QStringList failures;
    if (m_rootMounted || isMounted(m_rootDir)) {
        if (auto r = unmount(m_rootDir, m_options.helperTimeoutMs); !r)
            failures << r.error().message + QStringLiteral(": ") + r.error().detail;
        else
            m_rootMounted = false;
    }
    if (m_export)
        m_export->stop(m_options.helperTimeoutMs);
    // qemu-storage-daemon removes its FUSE mount when it exits; a killed one leaves it behind.
    if (isMounted(m_rawFile)) {
        if (auto r = unmount(m_rawFile, m_options.helperTimeoutMs); !r)
            failures << r.error().message + QStringLiteral(": ") + r.error().detail;
    }
    if (m_nbd)
        m_nbd->stop(m_options.helperTimeoutMs);
    m_export.reset();
    m_nbd.reset();
    if (!failures.isEmpty()) {
        // Keep the state file so cleanupLeftovers() can try again later.
        return makeError(ErrorCode::Io,
                         QStringLiteral("Could not fully release the mount of %1").arg(m_options.imagePath),
                         failures.join(QLatin1Char('\n')));
    }
    if (!anyMountUnder(m_workDir))
        QDir(m_workDir).removeRecursively();
    QFile::remove(m_stateFile);
    m_workDir.clear();
    return {};
}

Result<int> ImageMount::cleanupLeftovers(const QString& runtimeDir)
{
    QDir dir(runtimeDir);
    if (!dir.exists())
        return 0;
    int cleaned = 0;
    QStringList failures;
    for (const QString& name : dir.entryList({QStringLiteral("*.json")}, QDir::Files)) {
        const QString path = dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly))
            continue;
        const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
        f.close();
        const QString workDir = o.value(QStringLiteral("workDir")).toString();
        if (workDir.isEmpty() || QFileInfo(workDir).dir().absolutePath() != dir.absolutePath()) {
            qCWarning(lcInspect) << "ignoring malformed mount state file" << path;
            continue;
        }
        const qint64 owner = o.value(QStringLiteral("ownerPid")).toInteger();
        if (processAlive(owner) &&
            processStartTime(owner) == o.value(QStringLiteral("ownerStart")).toString())
            continue; // still in use by a running Fluid
        qCInfo(lcInspect) << "cleaning up leftovers of mount" << o.value(QStringLiteral("id")).toString()
                          << "of" << o.value(QStringLiteral("image")).toString();
        const QJsonArray mounts = o.value(QStringLiteral("mounts")).toArray();
        if (!mounts.isEmpty()) {
            if (auto r = unmount(mounts.at(0).toString(), 30000); !r)
                failures << r.error().message;
        }
        for (const QJsonValue pid : o.value(QStringLiteral("pids")).toArray()) {
            if (killLeftover(pid.toInteger(), workDir))
                qCInfo(lcInspect) << "stopped leftover helper" << pid.toInteger();
        }
        for (qsizetype i = 1; i < mounts.size(); ++i) {
            if (auto r = unmount(mounts.at(i).toString(), 30000); !r)
                failures << r.error().message;
        }
        if (anyMountUnder(workDir)) {
            failures << QStringLiteral("%1 still has mounts").arg(workDir);
            continue;
        }
        QDir(workDir).removeRecursively();
        QFile::remove(path);
        ++cleaned;
    }
    if (!failures.isEmpty())
        return makeError(ErrorCode::Io,
                         QStringLiteral("Some leftover snapshot mounts could not be cleaned up"),
                         failures.join(QLatin1Char('\n')));
    return cleaned;
}

} // namespace fluid::inspect

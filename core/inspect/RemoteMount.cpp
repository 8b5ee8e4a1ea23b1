// SPDX-License-Identifier: Apache-2.0
#include "RemoteMount.h"

#include "base/Logging.h"
#include "inspect/ImageMount.h"
#include "ssh/RemoteShell.h"

#include <QRegularExpression>
#include <QThread>
#include <QUuid>

#include <sys/sysmacros.h>

#include <cmath>
#include <deque>

namespace fluid::inspect {
namespace {

// Runs on the host with /bin/sh; each command sends this library followed by one call. Paths reach it
// shell-quoted; work folders are checked against a plain pattern before use.
constexpr const char* kHostLibrary = R"SH(set -eu
umask 077
fluid_fail() { printf '%s\n' "$*" >&2; exit 1; }
fluid_mounted() { cut -d' ' -f5 /proc/self/mountinfo | grep -qxF -- "$1"; }
fluid_running() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# Stops a helper only while its command line still names the work folder (a recycled PID is left alone).
fluid_stop() {
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  case $pid in ''|*[!0-9]*) return 0 ;; esac
  [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' '\n' < "/proc/$pid/cmdline" | grep -qF -- "$2" || return 0
  kill "$pid" 2>/dev/null || return 0
  i=0
  while fluid_running "$pid" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if fluid_running "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
}
fluid_check() {
  missing=
  for t in qemu-nbd qemu-storage-daemon mount umount find sha256sum base64 dd xargs stat cut grep; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
  done
  [ -c /dev/fuse ] || missing="$missing /dev/fuse"
  [ "$(id -u)" = 0 ] || missing="$missing root"
  [ -z "$missing" ] || fluid_fail "missing:$missing"
}
fluid_start() {
  work=$1; owner=$2; t=$3; opts=$4; snap=$5
  mkdir -p "$work/root"
  printf '%s\n' "$owner" > "$work/owner"
  : > "$work/disk.raw"
  set --
  if [ -n "$snap" ]; then set -- "$snap"; fi
  qemu-nbd --fork --pid-file="$work/nbd.pid" --read-only --persistent --socket="$work/nbd.sock" "$@" \
    --image-opts "$opts" > "$work/nbd.log" 2>&1 || fluid_fail "qemu-nbd could not open the disk: $(cat "$work/nbd.log")"
  qemu-storage-daemon --daemonize --pidfile "$work/qsd.pid" \
    --blockdev "driver=nbd,node-name=disk,server.type=unix,server.path=$work/nbd.sock,read-only=on" \
    --export "type=fuse,id=export,node-name=disk,mountpoint=$work/disk.raw,writable=off" \
    > "$work/qsd.log" 2>&1 || fluid_fail "qemu-storage-daemon could not export the disk over FUSE: $(cat "$work/qsd.log")"
  i=0
  until fluid_mounted "$work/disk.raw"; do
    i=$((i + 1))
    [ "$i" -le $((t * 10)) ] || fluid_fail "the FUSE export of the disk did not appear within $t s"
    sleep 0.1
  done
  stat -c %s "$work/disk.raw"
}
fluid_read() { dd if="$1/disk.raw" bs=65536 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }
fluid_mountfs() {
  if ! out=$(mount -t "$2" -o "$3" "$1/disk.raw" "$1/root" 2>&1); then printf '%s\n' "$out" >&2; exit 4; fi
  if [ -d "$1/root/etc" ]; then echo etc; else echo noetc; fi
}
fluid_umountfs() {
  fluid_mounted "$1/root" || return 0
  umount "$1/root" 2>/dev/null || { sleep 0.5; umount "$1/root" 2>/dev/null; } || umount -l "$1/root"
}
fluid_walk() { cd "$1/root" && find . -xdev -mindepth 1 -printf '%y %m %U %G %s %T@ %P\0%l\0'; }
fluid_devices() { cd "$1/root" && find . -xdev -mindepth 1 \( -type c -o -type b \) -exec stat --printf '%t %T %n\0' {} +; }
fluid_hash() { cd "$1/root" && base64 -d | xargs -0 -r sha256sum -z --; }
fluid_close() {
  work=$1
  [ -d "$work" ] || return 0
  fluid_umountfs "$work"
  fluid_stop "$work/qsd.pid" "$work"
  if fluid_mounted "$work/disk.raw"; then umount "$work/disk.raw" 2>/dev/null || umount -l "$work/disk.raw"; fi
  fluid_stop "$work/nbd.pid" "$work"
  if fluid_mounted "$work/root" || fluid_mounted "$work/disk.raw"; then fluid_fail "$work still has mounts"; fi
  rm -rf -- "$work"
}
fluid_list() {
  [ -d "$1" ] || return 0
  for d in "$1"/*/; do
    [ -d "$d" ] || continue
    printf '%s %s\n' "$(basename "$d")" "$(cat "$d/owner" 2>/dev/null || true)"
  done
}
)SH";

constexpr qint64 kListingCap = 512LL * 1024 * 1024;
constexpr int kHashBatch = 2000;

bool plainPath(const QString& path)
{
    static const QRegularExpression re(QStringLiteral("^/[A-Za-z0-9/._-]+$"));
    return re.match(path).hasMatch() && !path.contains(QStringLiteral("/../"));
}

QByteArray call(const char* function, const QStringList& args)
{
    QByteArray line(function);
    for (const QString& a : args)
        line += ' ' + ssh::shellQuote(a.toUtf8());
    return line;
}

/// Runs one call of the library on the host and waits for it; a non-zero exit is an error with the
/// call's stderr as detail.
Result<QByteArray> runOnHost(ssh::RemoteShell& host, const QByteArray& callLine, int timeoutMs,
                             const QString& what, qint64 stdoutCap = 4 * 1024 * 1024,
                             const QByteArray& input = {})
{
    ssh::ExecRequest r;
    r.command = QByteArray(kHostLibrary) + callLine;
    if (!input.isNull()) {
        // Data for the call's stdin as a here-document; base64 never contains the terminator line.
        r.command += " <<'FLUID_INPUT_END'\n" + input.toBase64() + "\nFLUID_INPUT_END";
    }
    r.command += '\n';
    r.shell = QStringLiteral("/bin/sh");
    r.timeout = std::chrono::milliseconds(timeoutMs);
    r.stdoutCap = stdoutCap;
    r.auditLabel = QStringLiteral("snapshot inspection: %1").arg(what);
    auto future = host.exec(std::move(r));
    future.waitForFinished();
    if (future.isCanceled() || future.resultCount() == 0)
        return makeError(ErrorCode::Cancelled, QStringLiteral("%1 on the host was cancelled").arg(what));
    auto result = future.result();
    if (!result)
        return makeError(result.error().code,
                         QStringLiteral("Cannot run %1 on the host: %2").arg(what, result.error().message),
                         result.error().detail);
    if (result->timedOut)
        return makeError(
            ErrorCode::Timeout,
            QStringLiteral("%1 on the host did not finish within %2 s").arg(what).arg(timeoutMs / 1000));
    if (result->stdoutData.truncated())
        return makeError(ErrorCode::Io, QStringLiteral("%1 on the host produced more output than Fluid keeps "
                                                       "(%2 bytes)")
                                            .arg(what)
                                            .arg(result->stdoutData.totalBytes));
    if (!result->succeeded())
        return makeError(ErrorCode::Unavailable, QStringLiteral("%1 failed on the host").arg(what),
                         QString::fromUtf8(result->stderrData.text()).trimmed());
    return result->stdoutData.head;
}

/// Splits the walk listing ("TYPE MODE UID GID SIZE MTIME PATH\0TARGET\0" per entry) into entries.
Result<FileTree> parseListing(const QByteArray& listing, const QStringList& excludes)
{
    FileTree tree;
    const QList<QByteArray> fields = listing.split('\0');
    // A trailing NUL leaves one empty field at the end.
    for (qsizetype i = 0; i + 1 < fields.size(); i += 2) {
        const QByteArray& head = fields[i];
        int cut = -1;
        int spaces = 0;
        for (qsizetype k = 0; k < head.size(); ++k) {
            if (head[k] == ' ' && ++spaces == 6) {
                cut = int(k);
                break;
            }
        }
        if (cut < 0)
            return makeError(ErrorCode::Io, QStringLiteral("The host's file listing is malformed"),
                             QString::fromUtf8(head.left(200)));
        const QList<QByteArray> meta = head.left(cut).split(' ');
        FileEntry e;
        e.path = QLatin1Char('/') + QString::fromUtf8(head.mid(cut + 1));
        if (isExcluded(e.path, excludes))
            continue;
        switch (meta[0].isEmpty() ? '?' : meta[0][0]) {
        case 'f':
            e.type = FileType::Regular;
            break;
        case 'd':
            e.type = FileType::Directory;
            break;
        case 'l':
            e.type = FileType::Symlink;
            break;
        case 'c':
            e.type = FileType::CharDevice;
            break;
        case 'b':
            e.type = FileType::BlockDevice;
            break;
        case 'p':
            e.type = FileType::Fifo;
            break;
        case 's':
            e.type = FileType::Socket;
            break;
        default:
            e.type = FileType::Unknown;
            break;
        }
        bool ok = true;
        e.mode = meta[1].toUInt(&ok, 8) & 07777;
        e.uid = meta[2].toUInt();
        e.gid = meta[3].toUInt();
        e.size = e.type == FileType::Directory ? 0 : meta[4].toLongLong();
        e.mtime = qint64(std::floor(meta[5].toDouble()));
        if (e.type == FileType::Symlink)
            e.linkTarget = QString::fromUtf8(fields[i + 1]);
        tree.push_back(std::move(e));
    }
    std::sort(tree.begin(), tree.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    return tree;
}

/// "./path" as the hash and device listings name a tree path.
QString treePath(const QByteArray& dotted)
{
    return QString::fromUtf8(dotted.startsWith("./") ? dotted.mid(1) : QByteArray('/' + dotted));
}

} // namespace

RemoteImageMount::RemoteImageMount(std::shared_ptr<ssh::RemoteShell> host, RemoteMountOptions options)
    : m_host(std::move(host))
    , m_options(std::move(options))
{
}

RemoteImageMount::~RemoteImageMount()
{
    if (auto r = close(); !r)
        qCWarning(lcInspect) << "closing remote mount" << m_workDir << ":" << r.error().toString();
}

Result<void> RemoteImageMount::checkHost(ssh::RemoteShell& host)
{
    auto r = runOnHost(host, call("fluid_check", {}), 30000, QStringLiteral("the tool check"));
    if (!r)
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("The host cannot mount snapshots: %1. Install qemu-utils, "
                           "qemu-system-common, fuse3 and util-linux there, and connect as root.")
                .arg(r.error().detail.isEmpty() ? r.error().message : r.error().detail));
    return {};
}

Result<std::unique_ptr<RemoteImageMount>> RemoteImageMount::open(std::shared_ptr<ssh::RemoteShell> host,
                                                                 const RemoteMountOptions& options)
{
    if (!host)
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("No connection to the host"));
    if (!options.imagePath.startsWith(QLatin1Char('/')) || options.imagePath.contains(QLatin1Char('\n')) ||
        options.imagePath.contains(QChar(0)))
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("The disk path %1 is not an absolute path").arg(options.imagePath));
    if (!plainPath(options.baseDir))
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The host's work folder %1 must be a plain absolute path").arg(options.baseDir));
    if (options.format != QLatin1String("qcow2") && options.format != QLatin1String("raw"))
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Unsupported disk format %1 (qcow2 or raw)").arg(options.format));
    if (auto r = checkHost(*host); !r)
        return r.error();
    std::unique_ptr<RemoteImageMount> m(new RemoteImageMount(std::move(host), options));
    if (auto r = m->start(); !r) {
        if (auto closed = m->close(); !closed)
            qCWarning(lcInspect) << "cleanup after failed remote mount:" << closed.error().toString();
        return r.error();
    }
    return m;
}

Result<void> RemoteImageMount::start()
{
    m_workDir = m_options.baseDir + QLatin1Char('/') + QUuid::createUuid().toString(QUuid::Id128).left(12);
    const int timeoutS = std::max(1, m_options.helperTimeoutMs / 1000);
    auto size = runOnHost(
        *m_host,
        call("fluid_start",
             {m_workDir, mountOwnerTag(), QString::number(timeoutS),
              nbdImageOptions(m_options.imagePath, m_options.format),
              m_options.snapshotName.isEmpty() ? QString() : nbdSnapshotArgument(m_options.snapshotName)}),
        m_options.helperTimeoutMs * 3, QStringLiteral("the disk export"));
    if (!size)
        return makeError(size.error().code,
                         QStringLiteral("Cannot open %1%2 on the host")
                             .arg(m_options.imagePath,
                                  m_options.snapshotName.isEmpty()
                                      ? QString()
                                      : QStringLiteral(" at snapshot %1").arg(m_options.snapshotName)),
                         size.error().detail);
    const qint64 diskSize = size->trimmed().toLongLong();
    std::optional<Error> readError;
    const DiskReader read = [&](qint64 offset, qint64 length) -> QByteArray {
        if (offset < 0 || length <= 0 || readError)
            return {};
        auto bytes = runOnHost(
            *m_host, call("fluid_read", {m_workDir, QString::number(offset), QString::number(length)}),
            m_options.helperTimeoutMs, QStringLiteral("reading the disk"), length + 1);
        if (!bytes) {
            readError = bytes.error();
            return {};
        }
        return *bytes;
    };
    RootProbe probe;
    probe.mount = [this](const Partition& p) -> Result<bool> {
        const FsMountArguments a = fsMountArguments(p);
        auto r = runOnHost(*m_host, call("fluid_mountfs", {m_workDir, a.type, a.options}),
                           m_options.helperTimeoutMs, QStringLiteral("mount"));
        if (!r)
            return r.error();
        return r->trimmed() == "etc";
    };
    probe.unmount = [this]() -> Result<void> {
        auto r = runOnHost(*m_host, call("fluid_umountfs", {m_workDir}), m_options.helperTimeoutMs,
                           QStringLiteral("umount"));
        if (!r)
            return r.error();
        return {};
    };
    auto chosen = mountRootFileSystem(read, diskSize, m_options.imagePath, probe);
    if (readError)
        return *readError;
    if (!chosen)
        return chosen.error();
    m_partition = *chosen;
    qCInfo(lcInspect) << "mounted" << m_options.imagePath << "snapshot" << m_options.snapshotName
                      << "on the host, partition" << m_partition.number << "at" << root();
    return {};
}

Result<FileTree> RemoteImageMount::walk(const WalkOptions& options) const
{
    const int timeout = std::max(m_options.helperTimeoutMs, 10 * 60 * 1000);
    auto listing = runOnHost(*m_host, call("fluid_walk", {m_workDir}), timeout,
                             QStringLiteral("the file listing"), kListingCap);
    if (!listing)
        return listing.error();
    auto tree = parseListing(*listing, options.excludes);
    if (!tree)
        return tree;
    auto devices = runOnHost(*m_host, call("fluid_devices", {m_workDir}), timeout,
                             QStringLiteral("the device listing"), kListingCap);
    if (!devices)
        return devices.error();
    for (const QByteArray& rec : devices->split('\0')) {
        const QList<QByteArray> parts = rec.split(' ');
        if (parts.size() < 3)
            continue;
        const QString path = treePath(rec.mid(parts[0].size() + parts[1].size() + 2));
        auto it = std::lower_bound(tree->begin(), tree->end(), path,
                                   [](const FileEntry& e, const QString& k) { return e.path < k; });
        if (it != tree->end() && it->path == path)
            it->rdev = makedev(parts[0].toUInt(nullptr, 16), parts[1].toUInt(nullptr, 16));
    }
    if (!options.hash)
        return tree;

    std::vector<FileEntry*> files;
    for (FileEntry& e : *tree) {
        if (e.type != FileType::Regular)
            continue;
        if (e.size > options.maxHashBytes)
            e.unhashed = true; // never handed to sha256sum: a huge or sparse file must not pin the diff
        else
            files.push_back(&e);
    }
    const qint64 total = qint64(files.size());
    if (options.hashProgress)
        options.hashProgress(0, total);
    // Batches of files, two in flight: the host hashes while the previous answer is parsed, and
    // cancellation and progress are checked between batches.
    struct Batch {
        size_t begin;
        size_t end;
        QFuture<Result<ssh::ExecResult>> future;
    };
    std::deque<Batch> inFlight;
    size_t next = 0;
    qint64 done = 0;
    const auto launch = [&]() {
        const size_t end = std::min(files.size(), next + kHashBatch);
        QByteArray list;
        for (size_t i = next; i < end; ++i)
            list += '.' + files[i]->path.toUtf8() + '\0';
        ssh::ExecRequest r;
        r.command = QByteArray(kHostLibrary) + call("fluid_hash", {m_workDir}) + " <<'FLUID_INPUT_END'\n" +
                    list.toBase64() + "\nFLUID_INPUT_END\n";
        r.shell = QStringLiteral("/bin/sh");
        r.timeout = std::chrono::milliseconds(timeout);
        r.stdoutCap = 64LL * 1024 * 1024;
        r.auditLabel = QStringLiteral("snapshot inspection: hashing");
        inFlight.push_back({next, end, m_host->exec(std::move(r))});
        next = end;
    };
    const auto cancelled = [&] {
        return options.cancel.isCancelled();
    };
    while (next < files.size() || !inFlight.empty()) {
        while (inFlight.size() < 2 && next < files.size() && !cancelled())
            launch();
        if (inFlight.empty())
            break;
        Batch batch = std::move(inFlight.front());
        inFlight.pop_front();
        if (cancelled()) {
            batch.future.cancel();
            continue;
        }
        // Waited for in slices, so that a cancel answers within a fraction of a second even while the host
        // hashes a large file.
        while (!batch.future.isFinished() && !cancelled())
            QThread::msleep(50);
        if (cancelled()) {
            batch.future.cancel();
            continue;
        }
        if (batch.future.isCanceled() || batch.future.resultCount() == 0)
            return makeError(ErrorCode::Cancelled, QStringLiteral("Hashing on the host was cancelled"));
        auto result = batch.future.result();
        if (!result)
            return makeError(result.error().code,
                             QStringLiteral("Cannot hash the snapshot's files on the host: %1")
                                 .arg(result.error().message),
                             result.error().detail);
        if (!result->succeeded() || result->stdoutData.truncated())
            return makeError(ErrorCode::Io, QStringLiteral("Hashing the snapshot's files on the host failed"),
                             QString::fromUtf8(result->stderrData.text()).trimmed());
        QHash<QString, QByteArray> hashes;
        for (const QByteArray& rec : result->stdoutData.head.split('\0')) {
            // "HEX  ./path" (sha256sum -z: names are not escaped)
            if (rec.size() > 66 && rec.at(64) == ' ' && rec.at(65) == ' ')
                hashes.insert(treePath(rec.mid(66)), rec.left(64));
        }
        for (size_t i = batch.begin; i < batch.end; ++i) {
            const QByteArray h = hashes.value(files[i]->path);
            if (h.isEmpty())
                return makeError(
                    ErrorCode::Io,
                    QStringLiteral("The host did not hash %1 of the snapshot").arg(files[i]->path));
            files[i]->sha256 = h;
        }
        done += qint64(batch.end - batch.begin);
        if (options.hashProgress)
            options.hashProgress(done, total);
    }
    if (cancelled()) {
        for (Batch& b : inFlight)
            b.future.cancel();
        return makeError(ErrorCode::Cancelled, QStringLiteral("The snapshot walk was cancelled"));
    }
    qCDebug(lcInspect) << "walked" << root() << "on the host:" << tree->size() << "entries";
    return tree;
}

QByteArray RemoteImageMount::read(const QString& path, qint64 cap) const
{
    auto future = m_host->readFile(root() + path, cap);
    future.waitForFinished();
    if (future.isCanceled() || future.resultCount() == 0)
        return {};
    auto bytes = future.result();
    if (!bytes) {
        qCWarning(lcInspect) << "cannot read" << path
                             << "of the snapshot on the host:" << bytes.error().toString();
        return {};
    }
    return *bytes;
}

Result<void> RemoteImageMount::close()
{
    if (m_workDir.isEmpty())
        return {};
    auto r = runOnHost(*m_host, call("fluid_close", {m_workDir}), m_options.helperTimeoutMs * 3,
                       QStringLiteral("releasing the mount"));
    if (!r)
        return makeError(
            r.error().code,
            QStringLiteral("Could not fully release the mount of %1 on the host; Fluid retries at "
                           "its next start")
                .arg(m_options.imagePath),
            r.error().detail);
    m_workDir.clear();
    return {};
}

Result<int> RemoteImageMount::cleanupLeftovers(ssh::RemoteShell& host, const QString& baseDir)
{
    if (!plainPath(baseDir))
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The host's work folder %1 must be a plain absolute path").arg(baseDir));
    auto list = runOnHost(host, call("fluid_list", {baseDir}), 60000, QStringLiteral("listing mounts"));
    if (!list)
        return list.error();
    static const QRegularExpression nameRe(QStringLiteral("^[0-9a-f]{12}$"));
    int cleaned = 0;
    QStringList failures;
    for (const QByteArray& line : list->split('\n')) {
        const int space = line.indexOf(' ');
        if (space < 0)
            continue;
        const QString name = QString::fromUtf8(line.left(space));
        const QString owner = QString::fromUtf8(line.mid(space + 1)).trimmed();
        if (!nameRe.match(name).hasMatch() || !mountOwnerGone(owner))
            continue;
        const QString work = baseDir + QLatin1Char('/') + name;
        qCInfo(lcInspect) << "cleaning up leftover mount" << work << "on the host";
        auto r = runOnHost(host, call("fluid_close", {work}), 120000,
                           QStringLiteral("releasing a leftover mount"));
        if (!r)
            failures << r.error().message + QStringLiteral(": ") + r.error().detail;
        else
            ++cleaned;
    }
    if (!failures.isEmpty())
        return makeError(ErrorCode::Io,
                         QStringLiteral("Some leftover snapshot mounts on the host could not be "
                                        "cleaned up"),
                         failures.join(QLatin1Char('\n')));
    return cleaned;
}

} // namespace fluid::inspect

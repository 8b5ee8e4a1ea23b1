// SPDX-License-Identifier: Apache-2.0
#include "RemoteMount.h"

#include "base/Logging.h"
#include "inspect/ImageMount.h"
#include "inspect/InspectHelper.h"
#include "ssh/RemoteShell.h"

#include <QRegularExpression>
#include <QThread>
#include <QUuid>

#include <sys/sysmacros.h>

#include <cmath>
#include <deque>

namespace fluid::inspect {
namespace {

constexpr qint64 kListingCap = 512LL * 1024 * 1024;
constexpr int kHashBatch = 2000;

bool plainPath(const QString& path)
{
    static const QRegularExpression re(QStringLiteral("^/[A-Za-z0-9/._-]+$"));
    return re.match(path).hasMatch() && !path.contains(QStringLiteral("/../"));
}

/// Runs one helper call and waits for it; a non-zero exit is an error with the call's stderr as detail.
Result<QByteArray> runHelper(InspectHelper& helper, HelperCall c)
{
    const QString what = c.what;
    const int timeoutMs = c.timeoutMs;
    const QString where = helper.where();
    auto future = helper.call(std::move(c));
    future.waitForFinished();
    if (future.isCanceled() || future.resultCount() == 0)
        return makeError(ErrorCode::Cancelled, QStringLiteral("%1 %2 was cancelled").arg(what, where));
    auto result = future.result();
    if (!result)
        return makeError(result.error().code,
                         QStringLiteral("Cannot run %1 %2: %3").arg(what, where, result.error().message),
                         result.error().detail);
    if (result->timedOut)
        return makeError(
            ErrorCode::Timeout,
            QStringLiteral("%1 %2 did not finish within %3 s").arg(what, where).arg(timeoutMs / 1000));
    if (result->stdoutData.truncated())
        return makeError(ErrorCode::Io, QStringLiteral("%1 %2 produced more output than Fluid keeps "
                                                       "(%3 bytes)")
                                            .arg(what, where)
                                            .arg(result->stdoutData.totalBytes));
    if (!result->succeeded())
        return makeError(ErrorCode::Unavailable, QStringLiteral("%1 failed %2").arg(what, where),
                         QString::fromUtf8(result->stderrData.text()).trimmed());
    return result->stdoutData.head;
}

HelperCall helperCall(const QString& verb, const QStringList& args, const QString& baseDir, int timeoutMs,
                      const QString& what, qint64 stdoutCap = 4 * 1024 * 1024)
{
    HelperCall c;
    c.verb = verb;
    c.args = args;
    c.baseDir = baseDir;
    c.timeoutMs = timeoutMs;
    c.what = what;
    c.stdoutCap = stdoutCap;
    return c;
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

RemoteImageMount::RemoteImageMount(std::shared_ptr<InspectHelper> helper, RemoteMountOptions options)
    : m_helper(std::move(helper))
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
    // A shell the caller keeps: wrapped without taking it over.
    std::shared_ptr<ssh::RemoteShell> borrowed(&host, [](ssh::RemoteShell*) {});
    return checkHost(*remoteInspectHelper(borrowed));
}

Result<void> RemoteImageMount::checkHost(InspectHelper& helper)
{
    auto r = runHelper(helper,
                       helperCall(QStringLiteral("check"), {}, {}, 30000, QStringLiteral("the tool check")));
    // Only the helper's own "missing: ..." answer means tools are missing; anything else (not allowed to run,
    // not audited, no connection) is passed on as it is.
    if (!r && !r.error().detail.startsWith(QLatin1String("missing:")))
        return r.error();
    if (!r)
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Snapshots cannot be mounted %1: %2. Install qemu-utils, qemu-system-common, "
                           "fuse3 and util-linux there, and connect as root.")
                .arg(helper.where(), r.error().detail.isEmpty() ? r.error().message : r.error().detail));
    return {};
}

Result<std::unique_ptr<RemoteImageMount>> RemoteImageMount::open(std::shared_ptr<ssh::RemoteShell> host,
                                                                 const RemoteMountOptions& options)
{
    if (!host)
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("No connection to the host"));
    return open(remoteInspectHelper(std::move(host)), options);
}

Result<std::unique_ptr<RemoteImageMount>> RemoteImageMount::open(std::shared_ptr<InspectHelper> helper,
                                                                 const RemoteMountOptions& options)
{
    if (!helper)
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("No inspection helper"));
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
    if (auto r = checkHost(*helper); !r)
        return r.error();
    std::unique_ptr<RemoteImageMount> m(new RemoteImageMount(std::move(helper), options));
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
    auto size =
        runHelper(*m_helper, helperCall(QStringLiteral("start"),
                                        {m_workDir, mountOwnerTag(), QString::number(timeoutS),
                                         m_options.format, m_options.imagePath, m_options.snapshotName},
                                        m_options.baseDir, m_options.helperTimeoutMs * 3,
                                        QStringLiteral("the disk export")));
    if (!size)
        return makeError(size.error().code,
                         QStringLiteral("Cannot open %1%2 %3")
                             .arg(m_options.imagePath,
                                  m_options.snapshotName.isEmpty()
                                      ? QString()
                                      : QStringLiteral(" at snapshot %1").arg(m_options.snapshotName),
                                  m_helper->where()),
                         size.error().detail.isEmpty() ? size.error().message : size.error().detail);
    const qint64 diskSize = size->trimmed().toLongLong();
    std::optional<Error> readError;
    const DiskReader read = [&](qint64 offset, qint64 length) -> QByteArray {
        if (offset < 0 || length <= 0 || readError)
            return {};
        auto bytes =
            runHelper(*m_helper, helperCall(QStringLiteral("read"),
                                            {m_workDir, QString::number(offset), QString::number(length)},
                                            m_options.baseDir, m_options.helperTimeoutMs,
                                            QStringLiteral("reading the disk"), length + 1));
        if (!bytes) {
            readError = bytes.error();
            return {};
        }
        return *bytes;
    };
    RootProbe probe;
    probe.mount = [this](const Partition& p) -> Result<bool> {
        const FsMountArguments a = fsMountArguments(p);
        auto r = runHelper(*m_helper,
                           helperCall(QStringLiteral("mountfs"), {m_workDir, a.type, a.options},
                                      m_options.baseDir, m_options.helperTimeoutMs, QStringLiteral("mount")));
        if (!r)
            return r.error();
        return r->trimmed() == "etc";
    };
    probe.unmount = [this]() -> Result<void> {
        auto r = runHelper(*m_helper, helperCall(QStringLiteral("umountfs"), {m_workDir}, m_options.baseDir,
                                                 m_options.helperTimeoutMs, QStringLiteral("umount")));
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
                      << m_helper->where() << ", partition" << m_partition.number << "at" << root();
    return {};
}

Result<FileTree> RemoteImageMount::walk(const WalkOptions& options) const
{
    const int timeout = std::max(m_options.helperTimeoutMs, 10 * 60 * 1000);
    auto listing = runHelper(*m_helper, helperCall(QStringLiteral("walk"), {m_workDir}, m_options.baseDir,
                                                   timeout, QStringLiteral("the file listing"), kListingCap));
    if (!listing)
        return listing.error();
    auto tree = parseListing(*listing, options.excludes);
    if (!tree)
        return tree;
    auto devices =
        runHelper(*m_helper, helperCall(QStringLiteral("devices"), {m_workDir}, m_options.baseDir, timeout,
                                        QStringLiteral("the device listing"), kListingCap));
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
        HelperCall c = helperCall(QStringLiteral("hash"), {m_workDir}, m_options.baseDir, timeout,
                                  QStringLiteral("hashing"), 64LL * 1024 * 1024);
        c.input = list;
        c.cancel = options.cancel;
        inFlight.push_back({next, end, m_helper->call(std::move(c))});
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
    // Through the helper, which reads only regular files that resolve inside the mounted tree (a guest's
    // symlink to /etc/shadow never reaches the host's).
    auto bytes =
        runHelper(*m_helper, helperCall(QStringLiteral("cat"), {m_workDir, path, QString::number(cap)},
                                        m_options.baseDir, m_options.helperTimeoutMs,
                                        QStringLiteral("reading a file"), cap + 1));
    if (!bytes) {
        qCWarning(lcInspect) << "cannot read" << path << "of the snapshot" << m_helper->where() << ":"
                             << bytes.error().toString();
        return {};
    }
    return *bytes;
}

Result<void> RemoteImageMount::close()
{
    if (m_workDir.isEmpty())
        return {};
    auto r = runHelper(*m_helper,
                       helperCall(QStringLiteral("close"), {m_workDir}, m_options.baseDir,
                                  m_options.helperTimeoutMs * 3, QStringLiteral("releasing the mount")));
    if (!r)
        return makeError(r.error().code,
                         QStringLiteral("Could not fully release the mount of %1 %2; Fluid retries at "
                                        "its next start")
                             .arg(m_options.imagePath, m_helper->where()),
                         r.error().detail);
    m_workDir.clear();
    return {};
}

Result<int> RemoteImageMount::cleanupLeftovers(ssh::RemoteShell& host, const QString& baseDir)
{
    std::shared_ptr<ssh::RemoteShell> borrowed(&host, [](ssh::RemoteShell*) {});
    return cleanupLeftovers(*remoteInspectHelper(borrowed), baseDir);
}

Result<int> RemoteImageMount::cleanupLeftovers(InspectHelper& helper, const QString& baseDir)
{
    if (!plainPath(baseDir))
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("The work folder %1 must be a plain absolute path").arg(baseDir));
    auto list = runHelper(
        helper, helperCall(QStringLiteral("list"), {}, baseDir, 60000, QStringLiteral("listing mounts")));
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
        qCInfo(lcInspect) << "cleaning up leftover mount" << work << helper.where();
        auto r = runHelper(helper, helperCall(QStringLiteral("close"), {work}, baseDir, 120000,
                                              QStringLiteral("releasing a leftover mount")));
        if (!r)
            failures << r.error().message + QStringLiteral(": ") + r.error().detail;
        else
            ++cleaned;
    }
    if (!failures.isEmpty())
        return makeError(
            ErrorCode::Io,
            QStringLiteral("Some leftover snapshot mounts %1 could not be cleaned up").arg(helper.where()),
            failures.join(QLatin1Char('\n')));
    return cleaned;
}

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#include "TreeWalker.h"

#include "base/Logging.h"

#include <QCryptographicHash>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace fluid::inspect {
namespace {

FileType typeOf(mode_t m)
{
    if (S_ISREG(m))
        return FileType::Regular;
    if (S_ISDIR(m))
        return FileType::Directory;
    if (S_ISLNK(m))
        return FileType::Symlink;
    if (S_ISCHR(m))
        return FileType::CharDevice;
    if (S_ISBLK(m))
        return FileType::BlockDevice;
    if (S_ISFIFO(m))
        return FileType::Fifo;
    if (S_ISSOCK(m))
        return FileType::Socket;
    return FileType::Unknown;
}

struct Walker {
    const WalkOptions& options;
    dev_t device = 0;
    FileTree tree;
    QString error;

    bool cancelled() const { return options.cancel.isCancelled(); }

    /// Depth-first over directory fds (openat), so path length never limits the walk.
    bool walkDir(int dirFd, const QByteArray& relPath)
    {
        DIR* d = ::fdopendir(dirFd);
        if (!d) {
            ::close(dirFd);
            error = QStringLiteral("cannot read directory %1: %2")
                        .arg(QString::fromUtf8(relPath), QString::fromLocal8Bit(std::strerror(errno)));
            return false;
        }
        std::vector<QByteArray> names;
        while (dirent* e = ::readdir(d)) {
            if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
                continue;
            names.emplace_back(e->d_name);
        }
        bool ok = true;
        for (const QByteArray& name : names) {
            if (cancelled()) {
                ok = false;
                break;
            }
            const QByteArray childRel = relPath + '/' + name;
            const QString path = QString::fromUtf8(childRel);
            if (isExcluded(path, options.excludes))
                continue;
            struct stat st {};
            if (::fstatat(::dirfd(d), name.constData(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                error = QStringLiteral("cannot stat %1: %2")
                            .arg(path, QString::fromLocal8Bit(std::strerror(errno)));
                ok = false;
                break;
            }
            FileEntry entry;
            entry.path = path;
            entry.type = typeOf(st.st_mode);
            entry.mode = st.st_mode & 07777;
            entry.uid = st.st_uid;
            entry.gid = st.st_gid;
            entry.size = entry.type == FileType::Directory ? 0 : qint64(st.st_size);
            entry.mtime = st.st_mtim.tv_sec;
            entry.rdev =
                (entry.type == FileType::CharDevice || entry.type == FileType::BlockDevice) ? st.st_rdev : 0;
            if (entry.type == FileType::Symlink) {
                QByteArray target(int(st.st_size) + 1, '\0');
                const ssize_t n = ::readlinkat(::dirfd(d), name.constData(), target.data(), target.size());
                if (n >= 0)
                    entry.linkTarget = QString::fromUtf8(target.constData(), int(n));
            }
            const bool descend = entry.type == FileType::Directory && st.st_dev == device;
            tree.push_back(std::move(entry));
            if (descend) {
                const int fd =
                    ::openat(::dirfd(d), name.constData(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                    error = QStringLiteral("cannot open directory %1: %2")
                                .arg(path, QString::fromLocal8Bit(std::strerror(errno)));
                    ok = false;
                    break;
                }
                if (!walkDir(fd, childRel)) {
                    ok = false;
                    break;
                }
            }
        }
        ::closedir(d);
        return ok;
    }
};

/// sha256 of a file, read a MiB at a time; gives up (empty, no error) as soon as `cancel` is set.
QByteArray hashFile(const QByteArray& absPath, const CancelToken& cancel, QString* error)
{
    const int fd = ::open(absPath.constData(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *error = QStringLiteral("cannot open %1: %2")
                     .arg(QString::fromUtf8(absPath), QString::fromLocal8Bit(std::strerror(errno)));
        return {};
    }
    QCryptographicHash h(QCryptographicHash::Sha256);
    static thread_local QByteArray buffer(1 << 20, Qt::Uninitialized);
    for (;;) {
        if (cancel.isCancelled()) {
            ::close(fd);
            return {};
        }
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *error = QStringLiteral("cannot read %1: %2")
                         .arg(QString::fromUtf8(absPath), QString::fromLocal8Bit(std::strerror(errno)));
            ::close(fd);
            return {};
        }
        h.addData(QByteArrayView(buffer.constData(), n));
    }
    ::close(fd);
    return h.result().toHex();
}

} // namespace

QString fileTypeName(FileType type)
{
    switch (type) {
    case FileType::Regular:
        return QStringLiteral("file");
    case FileType::Directory:
        return QStringLiteral("directory");
    case FileType::Symlink:
        return QStringLiteral("symlink");
    case FileType::CharDevice:
        return QStringLiteral("char");
    case FileType::BlockDevice:
        return QStringLiteral("block");
    case FileType::Fifo:
        return QStringLiteral("fifo");
    case FileType::Socket:
        return QStringLiteral("socket");
    case FileType::Unknown:
        break;
    }
    return QStringLiteral("unknown");
}

FileType fileTypeFromName(const QString& name)
{
    for (FileType t : {FileType::Regular, FileType::Directory, FileType::Symlink, FileType::CharDevice,
                       FileType::BlockDevice, FileType::Fifo, FileType::Socket}) {
        if (fileTypeName(t) == name)
            return t;
    }
    return FileType::Unknown;
}

QStringList defaultExcludes()
{
    return {QStringLiteral("/tmp/*"),
            QStringLiteral("/var/tmp/*"),
            QStringLiteral("/var/log/journal"),
            QStringLiteral("/var/lib/systemd/random-seed"),
            QStringLiteral("/var/lib/systemd/timers"),
            QStringLiteral("/var/log/wtmp"),
            QStringLiteral("/var/log/btmp"),
            QStringLiteral("/var/log/lastlog"),
            QStringLiteral("/var/cache/apt/*.bin"),
            QStringLiteral("/var/cache/ldconfig"),
            QStringLiteral("/var/cache/man"),
            QStringLiteral("/var/cache/debconf/*-old"),
            QStringLiteral("/run/*"),
            QStringLiteral("/lost+found")};
}

bool isExcluded(const QString& path, const QStringList& patterns)
{
    if (patterns.isEmpty())
        return false;
    const QByteArray p = path.toUtf8();
    for (const QString& pattern : patterns) {
        const QByteArray pat = pattern.toUtf8();
        // The path itself, or one of its ancestors, matches.
        qsizetype end = p.size();
        for (;;) {
            const QByteArray prefix = p.left(end);
            if (::fnmatch(pat.constData(), prefix.constData(), FNM_PATHNAME) == 0)
                return true;
            end = prefix.lastIndexOf('/');
            if (end <= 0)
                break;
        }
    }
    return false;
}

Result<FileTree> walkTree(const QString& root, const WalkOptions& options)
{
    const QByteArray rootBytes = root.toUtf8();
    struct stat st {};
    if (::lstat(rootBytes.constData(), &st) != 0 || !S_ISDIR(st.st_mode))
        return makeError(ErrorCode::NotFound, QStringLiteral("%1 is not a directory to walk").arg(root));
    Walker w{options, st.st_dev, {}, {}};
    const int fd = ::open(rootBytes.constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return makeError(ErrorCode::Io, QStringLiteral("Cannot open %1").arg(root),
                         QString::fromLocal8Bit(std::strerror(errno)));
    const bool ok = w.walkDir(fd, QByteArray());
    if (w.cancelled())
        return makeError(ErrorCode::Cancelled, QStringLiteral("The snapshot walk was cancelled"));
    if (!ok)
        return makeError(ErrorCode::Io, QStringLiteral("Cannot walk the snapshot's file system"), w.error);
    std::sort(w.tree.begin(), w.tree.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });

    if (options.hash) {
        std::vector<FileEntry*> files;
        for (FileEntry& e : w.tree) {
            if (e.type != FileType::Regular)
                continue;
            if (e.size > options.maxHashBytes)
                e.unhashed = true;
            else
                files.push_back(&e);
        }
        std::atomic<size_t> next{0};
        std::atomic<qint64> done{0};
        std::atomic<bool> failed{false};
        QString firstError;
        std::mutex errorLock;
        const qint64 total = qint64(files.size());
        auto work = [&](bool report) {
            for (;;) {
                const size_t i = next.fetch_add(1);
                if (i >= files.size() || failed || options.cancel.isCancelled())
                    return;
                QString err;
                files[i]->sha256 = hashFile(rootBytes + files[i]->path.toUtf8(), options.cancel, &err);
                if (!err.isEmpty()) {
                    std::lock_guard<std::mutex> g(errorLock);
                    if (!failed.exchange(true))
                        firstError = err;
                    return;
                }
                const qint64 n = ++done;
                if (report && options.hashProgress && n % 256 == 0)
                    options.hashProgress(n, total);
            }
        };
        const int threads = std::max(1, options.hashThreads);
        std::vector<std::thread> pool;
        for (int t = 1; t < threads; ++t)
            pool.emplace_back(work, false);
        // The calling thread hashes too and reports progress between files.
        if (options.hashProgress)
            options.hashProgress(0, total);
        work(true);
        for (auto& t : pool)
            t.join();
        if (options.hashProgress)
            options.hashProgress(done, total);
        if (options.cancel.isCancelled())
            return makeError(ErrorCode::Cancelled, QStringLiteral("The snapshot walk was cancelled"));
        if (failed)
            return makeError(ErrorCode::Io, QStringLiteral("Cannot hash a file of the snapshot"), firstError);
    }
    qCDebug(lcInspect) << "walked" << root << w.tree.size() << "entries";
    return std::move(w.tree);
}

const FileEntry* findEntry(const FileTree& tree, const QString& path)
{
    auto it = std::lower_bound(tree.begin(), tree.end(), path,
                               [](const FileEntry& e, const QString& k) { return e.path < k; });
    if (it != tree.end() && it->path == path)
        return &*it;
    return nullptr;
}

} // namespace fluid::inspect

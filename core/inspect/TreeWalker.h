// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Result.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <functional>
#include <vector>

namespace fluid::inspect {

enum class FileType { Regular, Directory, Symlink, CharDevice, BlockDevice, Fifo, Socket, Unknown };
QString fileTypeName(FileType type); ///< "file", "directory", "symlink", "char", "block", "fifo", "socket"
FileType fileTypeFromName(const QString& name);

/// One path of a file system as lstat saw it (links are never followed).
struct FileEntry {
    QString path; ///< absolute inside the file system: "/etc/hostname"
    FileType type = FileType::Unknown;
    quint32 mode = 0; ///< permission bits incl. setuid/setgid/sticky (st_mode & 07777)
    quint32 uid = 0;
    quint32 gid = 0;
    qint64 size = 0;
    qint64 mtime = 0;   ///< seconds; reported, never compared (restoring a snapshot changes it)
    quint64 rdev = 0;   ///< device number for device nodes
    QString linkTarget; ///< symlinks only
    QByteArray sha256;  ///< hex, regular files only (empty when hashing was off or the file is unhashed)
    /// A regular file larger than WalkOptions::maxHashBytes (a 16 TiB sparse file, a disk image): not read,
    /// compared by size and mtime only.
    bool unhashed = false;
};

/// A walked file system: entries sorted by path (QString order).
using FileTree = std::vector<FileEntry>;

/// The paths a diff ignores by default: noise that changes on every boot.
QStringList defaultExcludes();

/// Whether `path` matches an exclude pattern. A pattern is an absolute glob (fnmatch, `*` does not cross
/// `/`) that excludes the path it matches and everything below it: "/tmp" drops /tmp and its contents,
/// "/var/cache/apt/*.bin" drops the pkgcache files only.
bool isExcluded(const QString& path, const QStringList& patterns);

/// Regular files larger than this are not hashed (WalkOptions::maxHashBytes): 1 GiB takes a few seconds.
inline constexpr qint64 kMaxHashBytes = 1LL << 30;

/// How to walk: excludes, hashing, progress and cancel (checked between files, and every MiB inside one).
struct WalkOptions {
    QStringList excludes = defaultExcludes();
    bool hash =
        true; ///< sha256 of every regular file (correctness over speed: a root agent can forge mtimes)
    int hashThreads = 2;
    qint64 maxHashBytes = kMaxHashBytes; ///< larger regular files are marked unhashed instead

    CancelToken cancel;
    std::function<void(qint64 done, qint64 total)> hashProgress;
};

/// Walks the file system mounted at `root` (never crossing into another mount, never following links)
/// and hashes its regular files on a few threads. Blocking; run it on a worker thread.
Result<FileTree> walkTree(const QString& root, const WalkOptions& options = {});

/// The entry for `path` in a sorted tree, or nullptr.
const FileEntry* findEntry(const FileTree& tree, const QString& path);

} // namespace fluid::inspect

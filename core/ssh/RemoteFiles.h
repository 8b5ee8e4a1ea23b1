// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QByteArray>
#include <QString>

namespace fluid::ssh {

/// Default cap for reading a remote file.
inline constexpr qint64 kDefaultReadCap = 8 * 1024 * 1024;

struct WriteOptions {
    /// Mode of a file that does not exist yet; an existing file keeps its mode and owner.
    int newFileMode = 0644;
};

/// The result of a successful edit.
struct EditResult {
    qint64 oldSize = 0;
    qint64 newSize = 0;
    int line = 0; ///< 1-based line where the replaced text started
};

/// Checks a remote path and returns it normalised: it must be absolute, hold no NUL byte and no ".."
/// component; "." components, repeated and trailing slashes are removed. InvalidArgument otherwise. Never
/// touches the remote side.
Result<QString> validateRemotePath(const QString& path);

/// The folder `path` (normalised, absolute) is in; "/" for a file at the root.
QString parentFolder(const QString& path);

// The errors every RemoteShell gives for the same file problems, so implementations (and test doubles) say
// the same thing.

/// InvalidArgument: `path` is `size` bytes, more than the `cap` bytes a read may return.
Error fileTooLargeError(const QString& path, qint64 size, qint64 cap);
/// InvalidArgument: `path` is a folder, where a file was expected.
Error isFolderError(const QString& path);
/// NotFound: `path` cannot be created because its folder `folder` does not exist.
Error missingFolderError(const QString& path, const QString& folder);

/// Replaces `oldText` in `content` with `newText`, when it occurs exactly once. NotFound when it does not
/// occur, InvalidArgument when it occurs more than once (the message says how often) or is empty; `path`
/// only names the file in messages.
Result<QByteArray> replaceExactlyOnce(const QByteArray& content, const QByteArray& oldText,
                                      const QByteArray& newText, const QString& path,
                                      EditResult* info = nullptr);

} // namespace fluid::ssh

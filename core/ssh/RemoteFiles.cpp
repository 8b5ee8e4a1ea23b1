// SPDX-License-Identifier: Apache-2.0
#include "RemoteFiles.h"

#include <QStringList>

namespace fluid::ssh {

Result<QString> validateRemotePath(const QString& path)
{
    if (path.isEmpty())
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("The remote path is empty."));
    if (path.contains(QChar(0)))
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("The remote path contains a NUL byte."));
    if (!path.startsWith(QLatin1Char('/')))
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("The remote path \"%1\" is relative; give an absolute path (starting "
                                        "with /).")
                             .arg(path.left(200)));
    QStringList parts;
    for (const QString& part : path.split(QLatin1Char('/'), Qt::SkipEmptyParts)) {
        if (part == QLatin1String(".."))
            return makeError(
                ErrorCode::InvalidArgument,
                QStringLiteral("The remote path \"%1\" contains \"..\"; give the path without it.")
                    .arg(path.left(200)));
        if (part != QLatin1String("."))
            parts.append(part);
    }
    return QLatin1Char('/') + parts.join(QLatin1Char('/'));
}

QString parentFolder(const QString& path)
{
    const qsizetype slash = path.lastIndexOf(QLatin1Char('/'));
    return slash <= 0 ? QStringLiteral("/") : path.left(slash);
}

Error fileTooLargeError(const QString& path, qint64 size, qint64 cap)
{
    return makeError(
        ErrorCode::InvalidArgument,
        QStringLiteral("%1 is %2 bytes, more than the %3-byte limit for reading a file; read a part "
                       "of it with a command (head, tail, sed -n) instead.")
            .arg(path)
            .arg(size)
            .arg(cap));
}

Error isFolderError(const QString& path)
{
    return makeError(ErrorCode::InvalidArgument, QStringLiteral("%1 is a folder, not a file.").arg(path));
}

Error missingFolderError(const QString& path, const QString& folder)
{
    return makeError(ErrorCode::NotFound,
                     QStringLiteral("Cannot write %1: the folder %2 does not exist.").arg(path, folder));
}

Result<QByteArray> replaceExactlyOnce(const QByteArray& content, const QByteArray& oldText,
                                      const QByteArray& newText, const QString& path, EditResult* info)
{
    if (oldText.isEmpty())
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The text to replace in %1 is empty; give the exact text to change.").arg(path));
    const qsizetype first = content.indexOf(oldText);
    if (first < 0)
        return makeError(
            ErrorCode::NotFound,
            QStringLiteral("The text to replace was not found in %1; read the file again and copy "
                           "the exact text, including whitespace.")
                .arg(path));
    const qint64 count = content.count(oldText);
    if (count > 1)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("The text to replace occurs %1 times in %2; include more surrounding "
                                        "text so it occurs exactly once.")
                             .arg(count)
                             .arg(path));
    QByteArray out = content.left(first) + newText + content.mid(first + oldText.size());
    if (info) {
        info->oldSize = content.size();
        info->newSize = out.size();
        info->line = int(content.left(first).count('\n')) + 1;
    }
    return out;
}

} // namespace fluid::ssh

// SPDX-License-Identifier: Apache-2.0
// File work over SFTP: the operation that runs it (one blocking turn on the connection's thread) and its
// bodies: reads within a cap, atomic writes that keep mode and owner, exact-once edits.

#include "base/Logging.h"
#include "ConnectionInternals.h"

#include <QRandomGenerator>

#include <fcntl.h>
#include <sys/stat.h>

namespace fluid::ssh::detail {
namespace {

constexpr qsizetype kChunk = 32 * 1024;
constexpr qint64 kRenameTimeoutMs = 30000;

struct AttributesFree {
    void operator()(sftp_attributes a) const { sftp_attributes_free(a); }
};
using Attributes = std::unique_ptr<sftp_attributes_struct, AttributesFree>;

struct FileClose {
    void operator()(sftp_file f) const { sftp_close(f); }
};
using File = std::unique_ptr<sftp_file_struct, FileClose>;

Error sftpError(ConnectionImpl& c, sftp_session s, const QString& what, const QString& path)
{
    const int code = sftp_get_error(s);
    switch (code) {
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH:
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("%1 failed: %2 does not exist.").arg(what, path));
    case SSH_FX_PERMISSION_DENIED:
        return makeError(ErrorCode::PermissionDenied,
                         QStringLiteral("%1 failed: permission denied for %2.").arg(what, path));
    case SSH_FX_FILE_ALREADY_EXISTS:
        return makeError(ErrorCode::AlreadyExists,
                         QStringLiteral("%1 failed: %2 already exists.").arg(what, path));
    default:
        return makeError(ErrorCode::Io,
                         QStringLiteral("%1 failed for %2 (SFTP status %3).").arg(what, path).arg(code),
                         c.sessionError());
    }
}

Result<QByteArray> readAll(ConnectionImpl& c, sftp_session s, const QString& path, qint64 maxBytes)
{
    const QByteArray p = path.toUtf8();
    Attributes attrs(sftp_stat(s, p.constData()));
    if (!attrs)
        return sftpError(c, s, QStringLiteral("Reading a file"), path);
    if (attrs->type == SSH_FILEXFER_TYPE_DIRECTORY)
        return isFolderError(path);
    if ((attrs->flags & SSH_FILEXFER_ATTR_SIZE) && qint64(attrs->size) > maxBytes)
        return fileTooLargeError(path, qint64(attrs->size), maxBytes);
    File f(sftp_open(s, p.constData(), O_RDONLY, 0));
    if (!f)
        return sftpError(c, s, QStringLiteral("Opening a file"), path);
    QByteArray out;
    char buf[kChunk];
    for (;;) {
        const ssize_t n = sftp_read(f.get(), buf, sizeof buf);
        if (n < 0)
            return sftpError(c, s, QStringLiteral("Reading a file"), path);
        if (n == 0)
            break;
        if (out.size() + n > maxBytes) // files whose size stat does not know, such as /proc entries
            return fileTooLargeError(path, out.size() + n, maxBytes);
        out.append(buf, qsizetype(n));
    }
    return out;
}

/// What a write replaces: the path once a symbolic link is followed, and its attributes when it exists.
struct WriteTarget {
    QString path;
    Attributes existing;
};

Result<WriteTarget> resolveWriteTarget(ConnectionImpl& c, sftp_session s, const QString& requestedPath)
{
    WriteTarget t{requestedPath, Attributes(sftp_lstat(s, requestedPath.toUtf8().constData()))};
    if (!t.existing && sftp_get_error(s) != SSH_FX_NO_SUCH_FILE)
        return sftpError(c, s, QStringLiteral("Checking the file"), t.path);
    if (!t.existing || t.existing->type != SSH_FILEXFER_TYPE_SYMLINK)
        return t;
    // Replace what the link points to, not the link: /etc files are often symlinks into /usr or /run.
    char* real = sftp_canonicalize_path(s, t.path.toUtf8().constData());
    if (!real)
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("%1 is a symbolic link whose target does not exist.").arg(t.path));
    const QString resolved = QString::fromUtf8(real);
    ssh_string_free_char(real);
    auto valid = validateRemotePath(resolved);
    if (!valid)
        return valid.error();
    t.path = *valid;
    t.existing.reset(sftp_lstat(s, t.path.toUtf8().constData()));
    if (!t.existing && sftp_get_error(s) != SSH_FX_NO_SUCH_FILE)
        return sftpError(c, s, QStringLiteral("Checking the file"), t.path);
    return t;
}

/// Writes `content` to a new temporary file (readable by its owner only) in `path`'s folder; returns its
/// name. A partly written one is removed.
Result<QByteArray> writeTemporary(ConnectionImpl& c, sftp_session s, const QString& path,
                                  const QByteArray& content)
{
    const QString dir = parentFolder(path);
    const QString base = path.mid(path.lastIndexOf(QLatin1Char('/')) + 1);
    const QString tmp = (dir == QLatin1String("/") ? QString() : dir) + QStringLiteral("/.") + base +
                        QStringLiteral(".fluid-") +
                        QString::number(QRandomGenerator::system()->generate64(), 16) +
                        QStringLiteral(".tmp");
    const QByteArray tmpBytes = tmp.toUtf8();
    File f(sftp_open(s, tmpBytes.constData(), O_WRONLY | O_CREAT | O_EXCL, S_IRUSR | S_IWUSR));
    if (!f)
        return sftpError(c, s, QStringLiteral("Creating a temporary file"), tmp);
    for (qsizetype off = 0; off < content.size();) {
        const ssize_t n =
            sftp_write(f.get(), content.constData() + off, size_t(qMin(kChunk, content.size() - off)));
        if (n <= 0) {
            const Error e = sftpError(c, s, QStringLiteral("Writing"), tmp);
            f.reset();
            sftp_unlink(s, tmpBytes.constData());
            return e;
        }
        off += qsizetype(n);
    }
    if (sftp_extension_supported(s, "fsync@openssh.com", "1"))
        sftp_fsync(f.get());
    return tmpBytes;
}

/// Gives the temporary file the existing file's owner and mode, then renames it over the file.
Result<void> replaceExisting(ConnectionImpl& c, sftp_session s, const QByteArray& tmp, const QString& path,
                             const sftp_attributes_struct& existing)
{
    // Owner first: chown clears set-id bits, chmod then restores the exact mode.
    if (sftp_chown(s, tmp.constData(), existing.uid, existing.gid) != SSH_OK)
        return sftpError(
            c, s, QStringLiteral("Keeping the owner (%1:%2)").arg(existing.uid).arg(existing.gid), path);
    if (sftp_chmod(s, tmp.constData(), existing.permissions & 07777) != SSH_OK)
        return sftpError(c, s, QStringLiteral("Keeping the mode"), path);
    // libssh 0.10 only sends SFTP v3 RENAME, which OpenSSH refuses over an existing file, and does not
    // expose posix-rename@openssh.com; mv -f is the same rename(2) within one folder.
    QByteArray err;
    auto rc = runBlocking(c, "mv -f -- " + shellQuote(tmp) + ' ' + shellQuote(path.toUtf8()), &err);
    if (!rc || *rc != 0)
        return makeError(ErrorCode::Io, QStringLiteral("Replacing %1 failed.").arg(path),
                         rc ? QString::fromUtf8(err).trimmed() : rc.error().message);
    return {};
}

/// Gives the temporary file the new file's mode and renames it into place.
Result<void> placeNew(ConnectionImpl& c, sftp_session s, const QByteArray& tmp, const QString& path, int mode)
{
    if (sftp_chmod(s, tmp.constData(), mode_t(mode & 07777)) != SSH_OK)
        return sftpError(c, s, QStringLiteral("Setting the mode"), path);
    if (sftp_rename(s, tmp.constData(), path.toUtf8().constData()) != SSH_OK)
        return sftpError(c, s, QStringLiteral("Renaming into place"), path);
    return {};
}

class SftpOp final : public Op {
public:
    SftpOp(std::function<void(ConnectionImpl&)> body, std::function<void(const Error&)> abort)
        : m_body(std::move(body))
        , m_abort(std::move(abort))
    {
    }

    Step step(ConnectionImpl& c) override
    {
        if (!ssh_is_connected(c.session()))
            return Step::Continue;
        m_done = true;
        ssh_set_blocking(c.session(), 1);
        m_body(c);
        ssh_set_blocking(c.session(), 0);
        return Step::Done;
    }

    void abort(const Error& error) override
    {
        if (!m_done)
            m_abort(error);
        m_done = true;
    }

    // The SFTP channel itself plus a short exec channel for the final rename.
    int channels() const override { return 2; }

private:
    std::function<void(ConnectionImpl&)> m_body;
    std::function<void(const Error&)> m_abort;
    bool m_done = false;
};

} // namespace

std::unique_ptr<Op> makeSftpOp(std::function<void(ConnectionImpl&)> body,
                               std::function<void(const Error&)> abort)
{
    return std::make_unique<SftpOp>(std::move(body), std::move(abort));
}

Result<int> runBlocking(ConnectionImpl& c, const QByteArray& command, QByteArray* stderrText)
{
    ssh_channel ch = ssh_channel_new(c.session());
    if (!ch)
        return makeError(ErrorCode::Unavailable, QStringLiteral("Cannot create a channel."),
                         c.sessionError());
    auto fail = [&](const QString& what) -> Result<int> {
        const QString detail = c.sessionError();
        if (ssh_channel_is_open(ch))
            ssh_channel_close(ch);
        ssh_channel_free(ch);
        return makeError(ErrorCode::Unavailable, what, detail);
    };
    if (ssh_channel_open_session(ch) != SSH_OK)
        return fail(QStringLiteral("Cannot open a channel."));
    if (ssh_channel_request_exec(ch, command.constData()) != SSH_OK)
        return fail(QStringLiteral("Cannot run a command."));
    ssh_channel_send_eof(ch);
    const qint64 deadline = steadyMs() + kRenameTimeoutMs;
    char buf[4096];
    while (!ssh_channel_is_eof(ch) && !ssh_channel_is_closed(ch)) {
        if (steadyMs() > deadline)
            return fail(QStringLiteral("The command did not finish in time."));
        const int err = ssh_channel_read_timeout(ch, buf, sizeof buf, 1, 50);
        if (err > 0 && stderrText)
            stderrText->append(buf, err);
        const int out = ssh_channel_read_timeout(ch, buf, sizeof buf, 0, 50);
        if (err == SSH_ERROR || out == SSH_ERROR)
            break;
    }
    const int status = ssh_channel_get_exit_status(ch);
    ssh_channel_close(ch);
    ssh_channel_free(ch);
    return status;
}

Result<QByteArray> sftpReadFile(ConnectionImpl& c, const QString& path, qint64 maxBytes)
{
    auto s = c.sftp();
    if (!s)
        return s.error();
    return readAll(c, *s, path, maxBytes);
}

Result<void> sftpWriteFile(ConnectionImpl& c, const QString& requestedPath, const QByteArray& content,
                           const WriteOptions& options)
{
    auto session = c.sftp();
    if (!session)
        return session.error();
    sftp_session s = *session;
    auto target = resolveWriteTarget(c, s, requestedPath);
    if (!target)
        return target.error();
    const QString& path = target->path;
    const sftp_attributes_struct* existing = target->existing.get();
    if (existing && existing->type == SSH_FILEXFER_TYPE_DIRECTORY)
        return isFolderError(path);
    if (!existing) {
        const QString dir = parentFolder(path);
        Attributes parent(sftp_stat(s, dir.toUtf8().constData()));
        if (!parent || parent->type != SSH_FILEXFER_TYPE_DIRECTORY)
            return missingFolderError(path, dir);
    }
    const auto tmp = writeTemporary(c, s, path, content);
    if (!tmp)
        return tmp.error();
    const Result<void> placed = existing ? replaceExisting(c, s, *tmp, path, *existing)
                                         : placeNew(c, s, *tmp, path, options.newFileMode);
    if (!placed)
        sftp_unlink(s, tmp->constData());
    return placed;
}

Result<EditResult> sftpEditFile(ConnectionImpl& c, const QString& path, const QByteArray& oldText,
                                const QByteArray& newText)
{
    auto s = c.sftp();
    if (!s)
        return s.error();
    auto content = readAll(c, *s, path, kDefaultReadCap);
    if (!content)
        return content.error();
    EditResult info;
    auto edited = replaceExactlyOnce(*content, oldText, newText, path, &info);
    if (!edited)
        return edited.error();
    if (auto w = sftpWriteFile(c, path, *edited, WriteOptions{}); !w)
        return w.error();
    return info;
}

} // namespace fluid::ssh::detail

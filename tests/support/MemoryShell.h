// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "ssh/RemoteShell.h"

#include <QList>
#include <QMap>
#include <QMutex>
#include <QSet>
#include <QStringList>

#include <functional>
#include <optional>

namespace fluid::test {

/// An in-memory ssh::RemoteShell, for unit tests of code that acts on a remote machine through the seam
/// (agent tools): no sshd, no threads, every call answered before it returns.
///
/// Files are a map of path -> content and mode, plus a set of folders ("/" and every folder above a file
/// exist). readFile, writeFile and editFile keep RemoteShell's contract with the real implementation's
/// errors: paths are checked and normalised as validateRemotePath() does; a read larger than maxBytes and a
/// folder are InvalidArgument, a missing file is NotFound; a write into a missing folder is NotFound, an
/// existing file keeps its mode, a new one gets WriteOptions::newFileMode; an edit replaces text that occurs
/// exactly once (replaceExactlyOnce(): 0 matches NotFound, 2 or more InvalidArgument) and changes nothing
/// when it fails. tst_memoryshell runs the same contract checks as tst_ssh_sftp (RemoteShellContract.h).
/// Not modelled: owners, symbolic links, permissions (every file can be read and written), atomicity (there
/// is nothing to observe half-way).
///
/// exec() records every request, checks it as the real shell does (validateExecRequest()), and returns what
/// the responder gives; without a responder it fails with Unavailable. A result without times gets this
/// shell's clock's now as start and finish. There are no timeouts, no cancellation and no audit records.
///
/// openPty() returns a session that never opens: it emits failed() once the calling thread's event loop
/// runs (PtySession::openFailed()) and ignores input.
///
/// Thread: any; thread-safe. The responder runs on the calling thread without the shell's lock held, so it
/// may change the shell's files (a command that writes a file).
class MemoryShell final : public ssh::RemoteShell {
public:
    using Responder = std::function<Result<ssh::ExecResult>(const ssh::ExecRequest&)>;

    explicit MemoryShell(const Clock& clock = Clock::system());

    /// Creates or replaces the file at `path` (and every folder above it). A bad path or one that is a
    /// folder ends the test run: it is a mistake in the test.
    void setFile(const QString& path, const QByteArray& content, int mode = 0644);
    /// Creates the folder (and every folder above it).
    void addFolder(const QString& path);
    void removeFile(const QString& path);
    /// The file's content, or nothing when there is no such file.
    std::optional<QByteArray> file(const QString& path) const;
    /// The file's mode, or -1 when there is no such file.
    int mode(const QString& path) const;
    /// Every file's path, sorted.
    QStringList files() const;

    void setResponder(Responder responder);
    /// Every request exec() was given, in order, including those it refused.
    QList<ssh::ExecRequest> requests() const;
    /// A result as the real shell reports one: the output kept within the request's caps (head and tail),
    /// the exit code, and start and finish times from this shell's clock. For responders.
    ssh::ExecResult reply(const ssh::ExecRequest& request, const QByteArray& stdoutData, int exitCode = 0,
                          const QByteArray& stderrData = {}) const;
    /// How many terminals were asked for.
    int ptyRequests() const;

    QFuture<Result<ssh::ExecResult>> exec(ssh::ExecRequest request) override;
    QFuture<Result<QByteArray>> readFile(const QString& path,
                                         qint64 maxBytes = ssh::kDefaultReadCap) override;
    QFuture<Result<void>> writeFile(const QString& path, const QByteArray& content,
                                    const ssh::WriteOptions& options = {}) override;
    QFuture<Result<ssh::EditResult>> editFile(const QString& path, const QByteArray& oldText,
                                              const QByteArray& newText) override;
    std::unique_ptr<ssh::PtySession> openPty(const ssh::PtyOptions& options = {}) override;

private:
    struct Entry {
        QByteArray content;
        int mode = 0644;
    };

    // Called with m_mutex held.
    Result<QByteArray> readLocked(const QString& path, qint64 maxBytes) const;
    Result<void> writeLocked(const QString& path, const QByteArray& content, int newFileMode);
    void addFolderLocked(const QString& path);

    const Clock& m_clock;
    mutable QMutex m_mutex;
    QMap<QString, Entry> m_files;
    QSet<QString> m_folders;
    Responder m_responder;
    QList<ssh::ExecRequest> m_requests;
    int m_ptyRequests = 0;
};

} // namespace fluid::test

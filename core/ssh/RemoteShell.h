// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "Exec.h"
#include "PtySession.h"
#include "RemoteFiles.h"

#include <QFuture>

#include <memory>

namespace fluid::ssh {

/// The seam through which everything else acts on a remote machine: commands, files and terminals. The
/// real implementations are SshConnection (one libssh connection, for hypervisor hosts) and SandboxShell (a
/// sandbox, with short-lived certificates renewed underneath); tests use them against a loopback sshd.
///
/// Every call returns at once and never blocks the calling thread; results arrive through the QFuture (use
/// QFutureWatcher on the GUI thread, or result() on a worker). Cancelling an exec future kills the remote
/// command; a cancelled future carries no result. Implementations are thread-safe.
class RemoteShell {
public:
    virtual ~RemoteShell() = default;

    virtual QFuture<Result<ExecResult>> exec(ExecRequest request) = 0;
    /// The whole file; InvalidArgument when it is larger than maxBytes (the message says how large).
    virtual QFuture<Result<QByteArray>> readFile(const QString& path, qint64 maxBytes) = 0;
    /// Atomic: written to a temporary name in the same folder, then renamed over the target. An existing
    /// file keeps its mode and owner; a symlink is followed and its target replaced.
    virtual QFuture<Result<void>> writeFile(const QString& path, const QByteArray& content,
                                            const WriteOptions& options) = 0;
    /// Replaces `oldText`, which must occur exactly once, then writes atomically as writeFile() does.
    virtual QFuture<Result<EditResult>> editFile(const QString& path, const QByteArray& oldText,
                                                 const QByteArray& newText) = 0;
    /// Opens an interactive terminal; the session reports opened() or failed().
    virtual std::unique_ptr<PtySession> openPty(const PtyOptions& options) = 0;
};

} // namespace fluid::ssh

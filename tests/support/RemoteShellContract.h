// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "ssh/RemoteShell.h"

#include <functional>
#include <optional>

namespace fluid::test {

/// The files behind a RemoteShell under test, reached without the shell: how the contract checks set files
/// up and see what the shell did to them.
struct RemoteFilesFixture {
    QString folder; ///< an existing folder for the checks' files (names starting "contract-")
    std::function<void(const QString& path, const QByteArray& content, int mode)> put;
    std::function<std::optional<QByteArray>(const QString& path)> contents;
    std::function<int(const QString& path)> mode; ///< permission bits (07777), -1 when there is no file
};

/// What RemoteShell's file operations promise (RemoteShell.h, RemoteFiles.h), checked the same way against
/// every implementation: the real one over SFTP (tst_ssh_sftp) and the MemoryShell double (tst_memoryshell),
/// so the double cannot drift from the real thing. Each is a Qt Test check: a failure is recorded and the
/// check returns; call it from a test slot.
namespace contract {

/// Binary content comes back byte for byte; empty files and files of exactly maxBytes are read.
void readsWholeFiles(ssh::RemoteShell& shell, const RemoteFilesFixture& files);
/// Larger than maxBytes: InvalidArgument naming the size and the limit. Missing: NotFound. A folder:
/// InvalidArgument.
void readCapAndErrors(ssh::RemoteShell& shell, const RemoteFilesFixture& files);
/// Relative paths, "..", and empty paths fail with InvalidArgument for every operation; "//" and "." are
/// normalised away.
void pathsAreValidated(ssh::RemoteShell& shell, const RemoteFilesFixture& files);
/// A new file gets its content and WriteOptions::newFileMode (0644 by default).
void writesNewFiles(ssh::RemoteShell& shell, const RemoteFilesFixture& files);
/// Replacing a file keeps its mode, set-id bits included.
void writeKeepsTheMode(ssh::RemoteShell& shell, const RemoteFilesFixture& files);
/// A missing folder: NotFound saying it does not exist. Writing to a folder: InvalidArgument.
void writeErrors(ssh::RemoteShell& shell, const RemoteFilesFixture& files);
/// Text that occurs once is replaced (line reported, mode kept); 0 matches NotFound, 2 InvalidArgument
/// "occurs 2 times", empty text InvalidArgument, a missing file NotFound, a file beyond the read cap
/// InvalidArgument; a failed edit changes nothing.
void editsExactlyOnce(ssh::RemoteShell& shell, const RemoteFilesFixture& files);

} // namespace contract
} // namespace fluid::test

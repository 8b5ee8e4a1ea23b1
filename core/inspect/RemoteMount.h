// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "inspect/PartitionTable.h"
#include "inspect/TreeWalker.h"

#include <QString>

#include <memory>

namespace fluid::ssh {
class RemoteShell;
}

namespace fluid::inspect {

class InspectHelper;

/// The folder on a hypervisor host where remote mounts live (tmpfs, gone after a reboot).
inline constexpr const char* kRemoteInspectDir = "/run/fluid-inspect";

struct RemoteMountOptions {
    QString imagePath; ///< the disk image's path on the host
    QString format = QStringLiteral("qcow2");
    QString snapshotName; ///< empty: the image's current state
    QString baseDir = QLatin1String(kRemoteInspectDir);
    int helperTimeoutMs = 30000;
};

/// One disk state mounted read-only by Fluid's inspection helper (InspectHelper: fluid-inspect-helper, a
/// small POSIX sh program): on a remote hypervisor host over an SSH connection to it (root, as libvirt's
/// qemu+ssh usually is; the program is sent with each call), or on this machine through sudo when Fluid runs
/// as a person. The same pipeline as ImageMount — qemu-nbd, a qemu-storage-daemon FUSE export, the root file
/// system found in the partition table (parsed here, reading the disk through the helper) and loop-mounted
/// `ro,nosuid,nodev,noexec,noload`. The walk runs `find` and `sha256sum` there; only the
/// listing, the hashes and the contents of changed text files cross the connection. The host needs:
/// qemu-utils, qemu-system-common (qemu-storage-daemon), fuse3 and /dev/fuse, util-linux, findutils,
/// coreutils.
///
/// Every exit path unmounts and stops the helpers (close(), the destructor, a failure half-way); each work
/// folder records its owner (mountOwnerTag()), so cleanupLeftovers() removes what a crashed Fluid left.
/// Blocking: use it from one worker thread.
class RemoteImageMount {
public:
    static Result<std::unique_ptr<RemoteImageMount>> open(std::shared_ptr<ssh::RemoteShell> host,
                                                          const RemoteMountOptions& options);
    /// The same through any helper: on this machine, localInspectHelper() (sudo when Fluid is not root).
    static Result<std::unique_ptr<RemoteImageMount>> open(std::shared_ptr<InspectHelper> helper,
                                                          const RemoteMountOptions& options);
    ~RemoteImageMount();
    RemoteImageMount(const RemoteImageMount&) = delete;
    RemoteImageMount& operator=(const RemoteImageMount&) = delete;

    /// The mounted root file system, a path on the host.
    QString root() const { return m_workDir + QStringLiteral("/root"); }
    QString workDir() const { return m_workDir; }
    const Partition& partition() const { return m_partition; }

    /// Lists the mounted file system on the host (the same entries walkTree gives for a local mount).
    Result<FileTree> walk(const WalkOptions& options) const;
    /// A regular file of the mounted tree, at most `cap` bytes; empty when it cannot be read.
    QByteArray read(const QString& path, qint64 cap) const;

    /// Unmounts and stops the helpers now.
    Result<void> close();

    /// What the host lacks to mount images (tools, /dev/fuse, root); Unavailable naming them.
    static Result<void> checkHost(ssh::RemoteShell& host);
    static Result<void> checkHost(InspectHelper& helper);
    /// Removes the work folders under baseDir whose owner (a Fluid on this machine) has ended: unmounts
    /// them and stops their helpers (only PIDs whose command line names that folder). Returns how many.
    static Result<int> cleanupLeftovers(ssh::RemoteShell& host,
                                        const QString& baseDir = QLatin1String(kRemoteInspectDir));
    static Result<int> cleanupLeftovers(InspectHelper& helper,
                                        const QString& baseDir = QLatin1String(kRemoteInspectDir));

private:
    RemoteImageMount(std::shared_ptr<InspectHelper> helper, RemoteMountOptions options);
    Result<void> start();

    std::shared_ptr<InspectHelper> m_helper;
    RemoteMountOptions m_options;
    QString m_workDir;
    Partition m_partition;
};

} // namespace fluid::inspect

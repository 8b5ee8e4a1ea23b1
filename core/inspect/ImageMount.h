// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "inspect/PartitionTable.h"

#include <QString>

#include <functional>
#include <memory>

namespace fluid {
class BackgroundProcess;
}

namespace fluid::inspect {

/// What to mount and where Fluid keeps the helpers' sockets, mount points and crash-recovery state.
struct MountOptions {
    QString imagePath; ///< a local qcow2 or raw disk image
    QString format = QStringLiteral("qcow2");
    QString snapshotName;        ///< internal qcow2 snapshot to read; empty for the image's current state
    QString runtimeDir;          ///< one work folder and one state file per mount live here
    int helperTimeoutMs = 30000; ///< for each helper to come up, and for each to stop
};

/// One disk image (optionally at an internal snapshot) mounted read-only on the host:
///   qemu-nbd (unix socket, read-only, snapshot loaded, file locking off so a running VM's disk can be
///   read) -> qemu-storage-daemon FUSE export of the raw disk -> the root file system found in it (bare,
///   MBR or GPT) mounted `ro,nosuid,nodev,noexec,noload,errors=continue,loop,offset=N`.
/// The object owns all of it: destruction unmounts and stops the helpers in reverse order, and so does a
/// failure half-way through open(). A state file in the runtime folder names every mount and process, so
/// cleanupLeftovers() can undo what a crashed Fluid left behind. Needs root (mount) and /dev/fuse.
/// Lives on one worker thread (its helpers are BackgroundProcesses, which belong to the thread that started
/// them); blocking.
class ImageMount {
public:
    static Result<std::unique_ptr<ImageMount>> open(const MountOptions& options);
    ~ImageMount();
    ImageMount(const ImageMount&) = delete;
    ImageMount& operator=(const ImageMount&) = delete;

    /// The mounted root file system (read-only).
    QString root() const { return m_rootDir; }
    /// The raw disk as exported by qemu-storage-daemon (read-only file).
    QString rawDisk() const { return m_rawFile; }
    const Partition& partition() const { return m_partition; }
    QString stateFile() const { return m_stateFile; }
    /// PIDs of qemu-nbd and qemu-storage-daemon (0 when not running).
    QList<qint64> helperPids() const;

    /// Unmounts and stops everything now; errors are reported but every step is still attempted.
    Result<void> close();

    /// Undoes what the state files in runtimeDir name, for mounts whose owning process is gone (Fluid
    /// crashed): unmounts their mount points and kills their helpers (each with the process group it leads),
    /// but only a PID whose /proc/PID/cmdline still names that mount's work folder. Returns how many mounts
    /// were cleaned.
    static Result<int> cleanupLeftovers(const QString& runtimeDir);

    /// Whether this host can mount images: root, /dev/fuse, qemu-nbd, qemu-storage-daemon, mount. The
    /// error names what is missing.
    static Result<void> checkHost();

private:
    explicit ImageMount(MountOptions options);
    Result<void> start();
    Result<void> startNbd();
    Result<void> startExport();
    Error nbdFailed() const;
    Result<void> mountRoot();
    Result<void> writeState() const;

    MountOptions m_options;
    QString m_id;
    QString m_workDir;
    QString m_stateFile;
    QString m_socket;
    QString m_rawFile;
    QString m_rootDir;
    Partition m_partition;
    bool m_rootMounted = false;
    std::unique_ptr<BackgroundProcess> m_nbd;
    std::unique_ptr<BackgroundProcess> m_export;
};

/// qemu's --image-opts for reading `imagePath` (qcow2 or raw) read-only with file locking off, so a running
/// VM's disk can be read; commas in the path are escaped as qemu wants.
QString nbdImageOptions(const QString& imagePath, const QString& format);
/// qemu-nbd's argument that loads an internal snapshot.
QString nbdSnapshotArgument(const QString& snapshotName);
/// qemu's option-value escaping (a comma is written twice).
QString escapeQemuOption(QString value);

/// `mount -t TYPE -o OPTIONS` for one file system of a raw disk: read-only, no journal replay, no
/// set-uid, devices or execution, errors read past (ext), a loop device at the partition's offset.
struct FsMountArguments {
    QString type;
    QString options;
};
FsMountArguments fsMountArguments(const Partition& partition);

/// Finds and mounts a disk's root file system: reads its partition table through `read`, then tries the
/// root candidates best first: mount(p) mounts one and says whether it holds /etc; the first that does is
/// the root, else the best-ranked one that mounts. unmount() undoes a mount that is not kept. Returns the
/// partition left mounted. Shared by local and remote mounts.
struct RootProbe {
    std::function<Result<bool>(const Partition&)> mount; ///< error: this partition does not mount
    std::function<Result<void>()> unmount;
};
Result<Partition> mountRootFileSystem(const DiskReader& read, qint64 diskSize, const QString& imageName,
                                      const RootProbe& probe);

/// This process as the owner of mounts: "<machine id>:<pid>:<start time>", unique across PID reuse.
QString mountOwnerTag();
/// Whether the process a mountOwnerTag() names has ended. Tags of other machines are never gone (their
/// Fluid may still be working), and neither are malformed ones.
bool mountOwnerGone(const QString& tag);

/// The default runtime folder for mounts: $XDG_RUNTIME_DIR/fluid/inspect, or /run/fluid/inspect for root
/// without one.
QString defaultRuntimeDir();

} // namespace fluid::inspect

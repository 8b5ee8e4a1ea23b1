// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "inspect/DiffEngine.h"
#include "inspect/ImageMount.h"
#include "model/Model.h"

#include <functional>

namespace fluid::store {
class Database;
}

namespace fluid::inspect {

/// Stage text ("mounting from", "walking to", "hashing from", "diffing", ...) and overall fraction 0..1.
using InspectProgress = std::function<void(const QString& stage, double fraction)>;
/// Polled between files and steps; true stops the work with ErrorCode::Cancelled.
using CancelCheck = std::function<bool()>;

struct InspectorOptions {
    QString runtimeDir = defaultRuntimeDir();
    QStringList excludes = defaultExcludes();
    bool hash = true;
    int hashThreads = 2;
    DiffOptions diff;
    int helperTimeoutMs = 30000;
};

/// Reads sandbox disks on the host and diffs two states of one disk. Each diff mounts both states
/// read-only (ImageMount), walks and hashes them, computes the document (diffTrees) and releases the
/// mounts on every path out. Blocking: run it on a worker thread; one object may serve several threads
/// (it holds only options).
///
/// Local hosts only. For a remote libvirt host (qemu+ssh://) the same pipeline would have to run on that
/// host, which then needs: qemu-utils (qemu-nbd, qemu-img), qemu-system-common (qemu-storage-daemon),
/// fuse3 and /dev/fuse, util-linux (mount, losetup), root (or sudo) for loop mounts. That is not
/// implemented: remote sandboxes get ErrorCode::Unavailable.
class SnapshotInspector {
public:
    explicit SnapshotInspector(InspectorOptions options = {});

    const InspectorOptions& options() const { return m_options; }

    /// Mounts one state of a disk (an internal snapshot, or the current state for an empty name).
    Result<std::unique_ptr<ImageMount>> mount(const QString& diskPath, const QString& snapshotName,
                                              const QString& format = QStringLiteral("qcow2")) const;

    /// The diff document between two states of one disk. For a running VM pass a fresh internal snapshot
    /// (SandboxManager::snapshot) as `toSnapshot`; the current state of a running disk is not consistent.
    Result<QJsonObject> diffDisk(const QString& diskPath, const QString& fromSnapshot,
                                 const QString& toSnapshot, const QString& format = QStringLiteral("qcow2"),
                                 const InspectProgress& progress = {},
                                 const CancelCheck& cancelled = {}) const;

    /// Clears mounts and helpers a crashed Fluid left in the runtime folder; call once at start-up.
    Result<int> cleanupLeftovers() const;

private:
    InspectorOptions m_options;
};

/// Whether a libvirt URI names this machine (no host part), as LibvirtHypervisor::isLocal decides.
bool isLocalHostUri(const QString& uri);

/// The stored diff between two snapshots of a sandbox, computing and storing it on the first ask: a second
/// ask for the same (from, to) pair is served from the store without mounting anything. Both snapshots
/// must belong to the sandbox; the sandbox's disk is its overlay. Runs on the Database's thread.
Result<model::Diff> diffSnapshots(store::Database& db, const SnapshotInspector& inspector,
                                  const model::Sandbox& sandbox, const model::Snapshot& from,
                                  const model::Snapshot& to, const InspectProgress& progress = {},
                                  const CancelCheck& cancelled = {});

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Progress.h"
#include "base/Result.h"
#include "inspect/DiffEngine.h"
#include "inspect/ImageMount.h"
#include "inspect/InspectHelper.h"
#include "inspect/RemoteMount.h"
#include "model/Model.h"

#include <functional>

namespace fluid::store {
class Database;
}

namespace fluid::ssh {
class RemoteShell;
}

namespace fluid::inspect {

namespace detail {
/// One mounted disk state, here or on a remote host (SnapshotInspector.cpp).
class MountedState;
} // namespace detail

struct InspectorOptions {
    QString runtimeDir = defaultRuntimeDir();
    /// The work folder on remote hosts (a plain absolute path).
    QString remoteRuntimeDir = QLatin1String(kRemoteInspectDir);
    QStringList excludes = defaultExcludes();
    bool hash = true;
    int hashThreads = 2;
    DiffOptions diff;
    int helperTimeoutMs = 30000;
    /// How a diff on this machine gets root for its mounts. Auto: in this process (ImageMount) when Fluid
    /// runs as root, else through the installed fluid-inspect-helper (sudo -n, then pkexec). Helper: always
    /// through the helper (run directly when root); the tests use it to cover the helper as root.
    enum class LocalPrivilege { Auto, Helper };
    LocalPrivilege localPrivilege = LocalPrivilege::Auto;
    /// The installed helper that sudo runs (the path the sudoers rule names).
    QString helperPath = installedHelperPath();
    /// Where the helper's root commands on this machine are audited (LocalHelperOptions); unset: not audited.
    ssh::AuditSink auditSink;
    ssh::AuditGate auditGate;
};

/// Reads sandbox disks on the host and diffs two states of one disk. Each diff mounts both states
/// read-only, walks and hashes them, computes the document (diffTrees) and releases the mounts on every path
/// out. On this machine it uses ImageMount when Fluid runs as root, else the installed privileged helper
/// through sudo (InspectorOptions::localPrivilege, docs/inspect.md); for a remote libvirt host (qemu+ssh://)
/// the same pipeline runs on that host over an SSH connection (RemoteImageMount), which then needs
/// qemu-utils, qemu-system-common, fuse3 (/dev/fuse), util-linux, findutils and coreutils, and a root login
/// (docs/inspect.md). Blocking: run it on a worker thread; one object may serve several threads (it holds
/// only options).
class SnapshotInspector {
public:
    explicit SnapshotInspector(InspectorOptions options = {});

    const InspectorOptions& options() const { return m_options; }

    /// Mounts one state of a disk (an internal snapshot, or the current state for an empty name).
    Result<std::unique_ptr<ImageMount>> mount(const QString& diskPath, const QString& snapshotName,
                                              const QString& format = QStringLiteral("qcow2")) const;

    /// The diff document between two states of one disk. Progress stages: "mounting from", "walking to",
    /// "hashing from", "diffing", ... with the overall fraction; the cancel token is checked between files
    /// and steps (then ErrorCode::Cancelled, with the mounts released). For a running VM pass a fresh
    /// internal snapshot (SandboxManager::snapshot) as `toSnapshot`; the current state of a running disk is
    /// not consistent.
    Result<QJsonObject> diffDisk(const QString& diskPath, const QString& fromSnapshot,
                                 const QString& toSnapshot, const QString& format = QStringLiteral("qcow2"),
                                 const ProgressSink& progress = {}, const CancelToken& cancel = {}) const;

    /// The same diff for a disk on a remote hypervisor host, run there through `host` (root on it).
    Result<QJsonObject> diffRemoteDisk(std::shared_ptr<ssh::RemoteShell> host, const QString& diskPath,
                                       const QString& fromSnapshot, const QString& toSnapshot,
                                       const QString& format = QStringLiteral("qcow2"),
                                       const ProgressSink& progress = {},
                                       const CancelToken& cancel = {}) const;

    /// Clears mounts and helpers a crashed Fluid left in the runtime folder; call once at start-up.
    Result<int> cleanupLeftovers() const;

private:
    using Mounter = std::function<Result<std::unique_ptr<detail::MountedState>>(const QString& snapshot)>;
    Result<QJsonObject> diffStates(const Mounter& mount, const QString& diskPath, const QString& fromSnapshot,
                                   const QString& toSnapshot, const ProgressSink& progress,
                                   const CancelToken& cancel) const;

    Mounter helperMounter(std::shared_ptr<InspectHelper> helper, const QString& diskPath,
                          const QString& format, const QString& baseDir) const;
    bool usesLocalHelper() const;
    std::shared_ptr<InspectHelper> localHelper() const;

    InspectorOptions m_options;
};

/// Whether a libvirt URI names this machine (no host part), as LibvirtHypervisor::isLocal decides.
bool isLocalHostUri(const QString& uri);

/// Opens a root SSH connection to the hypervisor host of a libvirt URI (services::connectHostShell).
using HostConnector = std::function<Result<std::shared_ptr<ssh::RemoteShell>>(const QString& uri)>;

/// The stored diff between two snapshots of a sandbox, computing and storing it on the first ask: a second
/// ask for the same (from, to) pair is served from the store without mounting anything. Both snapshots
/// must belong to the sandbox; the sandbox's disk is its overlay. A sandbox on a remote host is read there
/// through connectHost (Unavailable without one). Runs on the Database's thread.
Result<model::Diff> diffSnapshots(store::Database& db, const SnapshotInspector& inspector,
                                  const model::Sandbox& sandbox, const model::Snapshot& from,
                                  const model::Snapshot& to, const ProgressSink& progress = {},
                                  const CancelToken& cancel = {}, const HostConnector& connectHost = {});

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Clock.h"
#include "base/Progress.h"
#include "base/Result.h"
#include "inspect/SnapshotInspector.h"
#include "model/Model.h"

namespace fluid::virt {
class SandboxManager;
}

namespace fluid::store {
class Database;
}

namespace fluid::services {

// How a sandbox is diffed by snapshot names (HostSession::diff). Plain functions; blocking (mounts, walks,
// hashes): call them on a worker thread with the manager's store.

/// The stored snapshot row of a sandbox by name; NotFound names the sandbox and the snapshot.
Result<model::Snapshot> findSnapshot(store::Database& db, const model::Sandbox& sandbox, const QString& name);

/// A fresh internal snapshot ("diff-yyyyMMdd-HHmmss", kind auto) standing for the sandbox's state now, taken
/// for `actor`: the current state of a running disk is not consistent, a snapshot of it is.
Result<model::Snapshot> takeDiffSnapshot(virt::SandboxManager& manager, const model::Sandbox& sandbox,
                                         const model::Actor& actor, const Clock& clock = Clock::system());

/// The diff of `sandbox` from snapshot `fromName` to snapshot `toName`; an empty `toName` means now (a
/// fresh snapshot is taken first, takeDiffSnapshot). Served from the store when computed before
/// (inspect::diffSnapshots). A sandbox on a remote host is read there through `connectHost`
/// (services::hostShellConnector; Unavailable without one).
Result<model::Diff> diffSandbox(virt::SandboxManager& manager, store::Database& db,
                                const inspect::SnapshotInspector& inspector, const model::Sandbox& sandbox,
                                const QString& fromName, const QString& toName, const model::Actor& actor,
                                const ProgressSink& progress = {}, const CancelToken& cancel = {},
                                const inspect::HostConnector& connectHost = {});

} // namespace fluid::services

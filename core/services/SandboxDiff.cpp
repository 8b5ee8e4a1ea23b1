// SPDX-License-Identifier: Apache-2.0
#include "SandboxDiff.h"

#include "store/Queries.h"
#include "virt/SandboxManager.h"

namespace fluid::services {

Result<model::Snapshot> findSnapshot(store::Database& db, const model::Sandbox& sandbox, const QString& name)
{
    auto row = store::snapshotNamed(db, sandbox.id, name);
    if (!row)
        return row.error();
    if (!*row)
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("%1 has no snapshot named %2").arg(sandbox.name, name));
    return **row;
}

Result<model::Snapshot> takeDiffSnapshot(virt::SandboxManager& manager, const model::Sandbox& sandbox,
                                         const model::Actor& actor, const Clock& clock)
{
    return manager.snapshot(
        sandbox.id, QStringLiteral("diff-%1").arg(clock.now().toString(QStringLiteral("yyyyMMdd-HHmmss"))),
        actor, model::SnapshotKind::Auto, QStringLiteral("taken for a diff"));
}

Result<model::Diff> diffSandbox(virt::SandboxManager& manager, store::Database& db,
                                const inspect::SnapshotInspector& inspector, const model::Sandbox& sandbox,
                                const QString& fromName, const QString& toName, const model::Actor& actor,
                                const ProgressSink& progress, const CancelToken& cancel,
                                const inspect::HostConnector& connectHost)
{
    auto from = findSnapshot(db, sandbox, fromName);
    if (!from)
        return from.error();
    auto to =
        toName.isEmpty() ? takeDiffSnapshot(manager, sandbox, actor) : findSnapshot(db, sandbox, toName);
    if (!to)
        return to.error();
    return inspect::diffSnapshots(db, inspector, sandbox, *from, *to, progress, cancel, connectHost);
}

} // namespace fluid::services

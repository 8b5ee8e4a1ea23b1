// SPDX-License-Identifier: Apache-2.0
#include "SandboxDiff.h"

#include "store/Repository.h"
#include "virt/SandboxManager.h"

namespace fluid::services {

Result<model::Snapshot> findSnapshot(store::Database& db, const model::Sandbox& sandbox, const QString& name)
{
    auto rows =
        store::SnapshotRepository(db).list(QStringLiteral("sandbox_id = ? AND name = ?"), {sandbox.id, name});
    if (!rows)
        return rows.error();
    if (rows->isEmpty())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("%1 has no snapshot named %2").arg(sandbox.name, name));
    return rows->first();
}

Result<model::Snapshot> takeDiffSnapshot(virt::SandboxManager& manager, const model::Sandbox& sandbox)
{
    return manager.snapshot(sandbox.id,
                            QStringLiteral("diff-%1").arg(
                                QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"))),
                            QStringLiteral("auto"), QStringLiteral("taken for a diff"));
}

Result<model::Diff> diffSandbox(virt::SandboxManager& manager, store::Database& db,
                                const inspect::SnapshotInspector& inspector, const model::Sandbox& sandbox,
                                const QString& fromName, const QString& toName,
                                const inspect::InspectProgress& progress,
                                const inspect::CancelCheck& cancelled,
                                const inspect::HostConnector& connectHost)
{
    auto from = findSnapshot(db, sandbox, fromName);
    if (!from)
        return from.error();
    auto to = toName.isEmpty() ? takeDiffSnapshot(manager, sandbox) : findSnapshot(db, sandbox, toName);
    if (!to)
        return to.error();
    return inspect::diffSnapshots(db, inspector, sandbox, *from, *to, progress, cancelled, connectHost);
}

} // namespace fluid::services

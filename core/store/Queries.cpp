// SPDX-License-Identifier: Apache-2.0
#include "Queries.h"

#include "Repository.h"

namespace fluid::store {
using namespace fluid::model;

namespace {

const QString kLive = QStringLiteral("host_id = ? AND state <> 'destroyed'");
const QString kNewestFirst = QStringLiteral("created_at DESC, id");

template <typename T>
Result<std::optional<T>> first(Result<QList<T>> rows)
{
    if (!rows)
        return rows.error();
    if (rows->isEmpty())
        return std::optional<T>();
    return std::optional<T>(rows->first());
}

} // namespace

Result<QString> storeId(Database& db)
{
    auto q = db.exec(QStringLiteral("SELECT id FROM store_identity"));
    if (!q)
        return q.error();
    QStringList ids;
    while (q->next())
        ids << q->value(0).toString();
    if (ids.size() != 1 || ids.first().isEmpty())
        return makeError(ErrorCode::Database,
                         QStringLiteral("The store %1 has %2 ids where it should have one; it was not "
                                        "migrated by Fluid or was edited by hand")
                             .arg(db.describe())
                             .arg(ids.size()));
    return ids.first();
}

Result<QString> acquireLease(Database& db, const QString& name, const QString& holder, qint64 nowMs,
                             qint64 expiresAtMs)
{
    QString current;
    auto done = db.transaction([&]() -> Result<void> {
        auto taken = db.exec(
            QStringLiteral(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO "
                "UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE "
                "leases.expires_at <= ? OR leases.holder = excluded.holder"),
            {name, holder, expiresAtMs, nowMs});
        if (!taken)
            return taken.error();
        auto q = db.exec(QStringLiteral("SELECT holder FROM leases WHERE name = ?"), {name});
        if (!q)
            return q.error();
        if (q->next())
            current = q->value(0).toString();
        return {};
    });
    if (!done)
        return done.error();
    return current;
}

Result<bool> renewLease(Database& db, const QString& name, const QString& holder, qint64 expiresAtMs)
{
    auto r = db.exec(QStringLiteral("UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?"),
                     {expiresAtMs, name, holder});
    if (!r)
        return r.error();
    return r->numRowsAffected() == 1;
}

Result<void> releaseLease(Database& db, const QString& name, const QString& holder)
{
    auto r = db.exec(QStringLiteral("DELETE FROM leases WHERE name = ? AND holder = ?"), {name, holder});
    if (!r)
        return r.error();
    return {};
}

Result<std::optional<Host>> hostNamed(Database& db, const QString& name)
{
    return first(HostRepository(db).select(QStringLiteral("name = ?"), {name}));
}

Result<QList<Sandbox>> liveSandboxes(Database& db, const QString& hostId)
{
    return SandboxRepository(db).select(kLive, {hostId}, kNewestFirst);
}

Result<QList<Sandbox>> allSandboxes(Database& db, const QString& hostId)
{
    return SandboxRepository(db).select(QStringLiteral("host_id = ?"), {hostId}, kNewestFirst);
}

Result<std::optional<Sandbox>> liveSandboxNamed(Database& db, const QString& hostId, const QString& name)
{
    return first(SandboxRepository(db).select(kLive + QStringLiteral(" AND name = ?"), {hostId, name}));
}

Result<std::optional<Sandbox>> liveSandboxAt(Database& db, const QString& hostId, const QString& ip)
{
    if (ip.isEmpty())
        return std::optional<Sandbox>();
    return first(SandboxRepository(db).select(kLive + QStringLiteral(" AND ip = ?"), {hostId, ip}));
}

Result<Sandbox> liveSandboxByIdOrName(Database& db, const QString& idOrName)
{
    const QString live = QStringLiteral("state <> 'destroyed'");
    auto byId = SandboxRepository(db).select(live + QStringLiteral(" AND id = ?"), {idOrName});
    if (!byId)
        return byId.error();
    if (!byId->isEmpty())
        return byId->first();
    auto byName = SandboxRepository(db).select(live + QStringLiteral(" AND name = ?"), {idOrName});
    if (!byName)
        return byName.error();
    if (byName->isEmpty())
        return makeError(ErrorCode::NotFound, QStringLiteral("No live sandbox is called %1").arg(idOrName));
    if (byName->size() > 1)
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("%1 names sandboxes on several hosts: give the sandbox's id").arg(idOrName));
    return byName->first();
}

Result<QList<Sandbox>> settledSandboxesOfDomain(Database& db, const QString& domainName)
{
    return SandboxRepository(db).select(QStringLiteral("domain_name = ? AND state IN ('running', 'stopped')"),
                                        {domainName});
}

Result<std::optional<Snapshot>> snapshotNamed(Database& db, const QString& sandboxId, const QString& name)
{
    return first(
        SnapshotRepository(db).select(QStringLiteral("sandbox_id = ? AND name = ?"), {sandboxId, name}));
}

Result<void> removeSnapshotNamed(Database& db, const QString& sandboxId, const QString& name)
{
    auto r =
        db.exec(QStringLiteral("DELETE FROM snapshots WHERE sandbox_id = ? AND name = ?"), {sandboxId, name});
    if (!r)
        return r.error();
    return {};
}

Result<std::optional<Diff>> findDiff(Database& db, const QString& fromSnapshotId, const QString& toSnapshotId)
{
    return first(DiffRepository(db).select(QStringLiteral("from_snapshot_id = ? AND to_snapshot_id = ?"),
                                           {fromSnapshotId, toSnapshotId}));
}

Result<QList<Approval>> pendingApprovals(Database& db)
{
    return ApprovalRepository(db).select(QStringLiteral("status = ?"), {enumName(ApprovalStatus::Pending)},
                                         QStringLiteral("created_at, id"));
}

Result<QList<Approval>> egressApprovals(Database& db, const QString& sandboxId)
{
    return ApprovalRepository(db).select(QStringLiteral("kind = 'egress' AND sandbox_id = ?"), {sandboxId},
                                         QStringLiteral("created_at DESC, id"));
}

Result<QList<EgressGrant>> egressGrants(Database& db, const QString& sandboxId)
{
    if (sandboxId.isEmpty())
        return EgressGrantRepository(db).select(QStringLiteral("1 = 1"), {},
                                                QStringLiteral("created_at DESC, id"));
    return EgressGrantRepository(db).select(QStringLiteral("sandbox_id = ?"), {sandboxId},
                                            QStringLiteral("created_at DESC, id"));
}

Result<bool> useEgressGrant(Database& db, const QString& grantId, const QDateTime& at)
{
    auto r = db.exec(QStringLiteral("UPDATE egress_grants SET used_at = ? WHERE id = ? AND used_at IS NULL"),
                     {at.toMSecsSinceEpoch(), grantId});
    if (!r)
        return r.error();
    return r->numRowsAffected() == 1;
}

Result<int> revokeEgressGrants(Database& db, const QString& sandboxId, const QString& destination,
                               const QDateTime& at)
{
    auto r = db.exec(QStringLiteral("UPDATE egress_grants SET revoked_at = ? WHERE sandbox_id = ? AND "
                                    "destination = ? AND revoked_at IS NULL"),
                     {at.toMSecsSinceEpoch(), sandboxId, destination});
    if (!r)
        return r.error();
    return r->numRowsAffected();
}

Result<QList<Approval>> decidedApprovals(Database& db, int limit)
{
    return ApprovalRepository(db).select(QStringLiteral("status <> ?"), {enumName(ApprovalStatus::Pending)},
                                         QStringLiteral("decided_at DESC, created_at DESC"), limit);
}

Result<QList<Approval>> approvalsWithIds(Database& db, const QStringList& ids)
{
    if (ids.isEmpty())
        return QList<Approval>();
    QStringList marks;
    marks.fill(QStringLiteral("?"), ids.size());
    QVariantList binds;
    for (const QString& id : ids)
        binds << id;
    return ApprovalRepository(db).select(QStringLiteral("id IN (%1)").arg(marks.join(QLatin1Char(','))),
                                         binds);
}

Result<QList<Message>> sessionMessages(Database& db, const QString& sessionId)
{
    return MessageRepository(db).select(QStringLiteral("session_id = ?"), {sessionId}, QStringLiteral("seq"));
}

Result<QList<PlaybookTask>> playbookTasks(Database& db, const QString& playbookId)
{
    return PlaybookTaskRepository(db).select(QStringLiteral("playbook_id = ?"), {playbookId},
                                             QStringLiteral("position"));
}

Result<void> replacePlaybookTasks(Database& db, const QString& playbookId, QList<PlaybookTask> tasks)
{
    return db.transaction([&]() -> Result<void> {
        auto removed =
            db.exec(QStringLiteral("DELETE FROM playbook_tasks WHERE playbook_id = ?"), {playbookId});
        if (!removed)
            return removed.error();
        PlaybookTaskRepository repo(db);
        for (qsizetype i = 0; i < tasks.size(); ++i) {
            PlaybookTask& t = tasks[i];
            t.playbookId = playbookId;
            t.position = int(i);
            if (t.id.isEmpty())
                t.id = newId();
            if (!t.createdAt.isValid())
                t.createdAt = QDateTime::currentDateTimeUtc();
            auto r = repo.insert(t);
            if (!r)
                return r;
        }
        return {};
    });
}

} // namespace fluid::store

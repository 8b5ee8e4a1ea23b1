// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Database.h"
#include "model/Model.h"

#include <optional>

namespace fluid::store {

// The store's named queries: every question the layers above ask of the store beyond one row by id, each
// written once, here. No SQL lives outside core/store. Each runs on the Database's thread.

// ---- the store itself ----
/// This store's id (16 hex digits), made once when the store reached schema version 6: the ownership mark
/// on what Fluid makes on a host, so two stores on one host never take each other's sandboxes.
Result<QString> storeId(Database& db);

// ---- leases (Lease.h holds and renews them) ----
/// Gives lease `name` to `holder` until `expiresAtMs` when nobody holds it, its holder's time ran out
/// before `nowMs`, or `holder` has it already; one statement, atomic across processes. Returns who holds it
/// afterwards.
Result<QString> acquireLease(Database& db, const QString& name, const QString& holder, qint64 nowMs,
                             qint64 expiresAtMs);
/// Moves `holder`'s lease on to `expiresAtMs`; false when it is no longer theirs.
Result<bool> renewLease(Database& db, const QString& name, const QString& holder, qint64 expiresAtMs);
/// Ends `holder`'s lease (one that is no longer theirs is left alone).
Result<void> releaseLease(Database& db, const QString& name, const QString& holder);

// ---- hosts ----
/// The host row with this name (names are unique).
Result<std::optional<model::Host>> hostNamed(Database& db, const QString& name);

// ---- sandboxes ----
/// The sandboxes of a host that are not destroyed, newest first: what a host "has".
Result<QList<model::Sandbox>> liveSandboxes(Database& db, const QString& hostId);
/// Every sandbox row of a host, destroyed ones too, newest first.
Result<QList<model::Sandbox>> allSandboxes(Database& db, const QString& hostId);
/// The live sandbox of a host with this name (live names are unique on a host).
Result<std::optional<model::Sandbox>> liveSandboxNamed(Database& db, const QString& hostId,
                                                       const QString& name);
/// The live sandbox of a host whose address is `ip` (the egress gate's question: who is asking).
Result<std::optional<model::Sandbox>> liveSandboxAt(Database& db, const QString& hostId, const QString& ip);
/// The live sandbox with this id or, failing that, this name on any host; NotFound when none, InvalidArgument
/// when the name is live on more than one host.
Result<model::Sandbox> liveSandboxByIdOrName(Database& db, const QString& idOrName);
/// Running or stopped sandboxes whose libvirt domain is `domainName` (what a domain event can change).
Result<QList<model::Sandbox>> settledSandboxesOfDomain(Database& db, const QString& domainName);

// ---- snapshots and diffs ----
/// The snapshot of a sandbox with this name (names are unique per sandbox).
Result<std::optional<model::Snapshot>> snapshotNamed(Database& db, const QString& sandboxId,
                                                     const QString& name);
/// Removes the row of a sandbox's snapshot by name (none: nothing happens).
Result<void> removeSnapshotNamed(Database& db, const QString& sandboxId, const QString& name);
/// The stored diff between two snapshots, if computed before.
Result<std::optional<model::Diff>> findDiff(Database& db, const QString& fromSnapshotId,
                                            const QString& toSnapshotId);

// ---- approvals ----
/// Requests still marked pending (their expiry not applied), oldest first.
Result<QList<model::Approval>> pendingApprovals(Database& db);
/// Decided and expired requests, the most recently decided first, at most `limit`.
Result<QList<model::Approval>> decidedApprovals(Database& db, int limit);
/// The requests with these ids (those that exist), in no particular order.
Result<QList<model::Approval>> approvalsWithIds(Database& db, const QStringList& ids);

/// The egress requests filed for a sandbox, newest first.
Result<QList<model::Approval>> egressApprovals(Database& db, const QString& sandboxId);

// ---- egress grants ----
/// A sandbox's grants (empty id: every sandbox's), revoked and used ones too, newest first.
Result<QList<model::EgressGrant>> egressGrants(Database& db, const QString& sandboxId);
/// Marks a `once` grant used; false when it was used already (by a concurrent connection).
Result<bool> useEgressGrant(Database& db, const QString& grantId, const QDateTime& at);
/// Revokes a sandbox's grants of `destination` that are not revoked yet; returns how many.
Result<int> revokeEgressGrants(Database& db, const QString& sandboxId, const QString& destination,
                               const QDateTime& at);

// ---- agent sessions and playbooks ----
/// A session's messages in order.
Result<QList<model::Message>> sessionMessages(Database& db, const QString& sessionId);
/// A playbook's tasks in order.
Result<QList<model::PlaybookTask>> playbookTasks(Database& db, const QString& playbookId);
/// Replaces a playbook's tasks with `tasks` (positions renumbered 0..n-1) in one transaction.
Result<void> replacePlaybookTasks(Database& db, const QString& playbookId, QList<model::PlaybookTask> tasks);

} // namespace fluid::store

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Database.h"
#include "model/Model.h"

#include <optional>

namespace fluid::store {

/// Create, read, update and delete for one model type over one Database. Each type maps to its table through
/// one column table (Repositories.cpp: column name, member, whether it is stored verbatim); rows are read by
/// column name. Text written through a repository is redacted (secrets never reach the store) except the
/// table's verbatim columns. Lives on the Database's thread.
template <typename T>
class Repository {
public:
    explicit Repository(Database& db)
        : m_db(db)
    {
    }

    Result<void> insert(const T& row);
    /// Updates the row with the same primary key; NotFound when there is none.
    Result<void> update(const T& row);
    Result<T> get(const QString& id);
    /// Every row, by primary key.
    Result<QList<T>> list();
    Result<qint64> count();
    /// Deletes the row; NotFound when there is none.
    Result<void> remove(const QString& id);

    /// For the store's own named queries (Queries.h), never for callers outside core/store: rows matching
    /// `where` (SQL from code, values as ? bindings) ordered by `orderBy` (the primary key when empty).
    Result<QList<T>> select(const QString& where, const QVariantList& binds = {}, const QString& orderBy = {},
                            int limit = -1);
    Result<qint64> countWhere(const QString& where, const QVariantList& binds = {});

private:
    Database& m_db;
};

using HostRepository = Repository<model::Host>;
using SourceVmRepository = Repository<model::SourceVm>;
using SandboxRepository = Repository<model::Sandbox>;
using SnapshotRepository = Repository<model::Snapshot>;
using DiffRepository = Repository<model::Diff>;
using CommandRepository = Repository<model::Command>;
using AgentSessionRepository = Repository<model::AgentSession>;
using MessageRepository = Repository<model::Message>;
using ToolCallRepository = Repository<model::ToolCall>;
using ApprovalRepository = Repository<model::Approval>;
using PlaybookRepository = Repository<model::Playbook>;
using PlaybookTaskRepository = Repository<model::PlaybookTask>;
using EgressGrantRepository = Repository<model::EgressGrant>;

} // namespace fluid::store

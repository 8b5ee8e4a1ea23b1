// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Database.h"
#include "model/Model.h"

#include <QSet>
#include <QSqlRecord>

namespace fluid::store {

/// How one model type maps to one table: the table name, its columns (the first is the primary key),
/// the columns stored verbatim (everything else is redacted on write), and the two conversions.
/// Specialised for each model type in Repositories.cpp.
struct TableDef {
    QString name;
    QStringList columns;
    QSet<QString> verbatim;
};

template <typename T>
struct Table {
    static const TableDef& def();
    static QVariantList values(const T& row);
    static T fromRecord(const QSqlRecord& record);
};

/// Create, read, update, delete and query for one model type over one Database. Text written through a
/// repository is redacted (secrets never reach the store) except the table's verbatim columns. Lives on
/// the Database's thread.
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
    /// Rows matching `where` (SQL from code, values as ? bindings), ordered by `orderBy`.
    Result<QList<T>> list(const QString& where = {}, const QVariantList& binds = {},
                          const QString& orderBy = {}, int limit = -1);
    Result<qint64> count(const QString& where = {}, const QVariantList& binds = {});
    /// Deletes the row; NotFound when there is none.
    Result<void> remove(const QString& id);

private:
    QVariantList redactedValues(const T& row) const;

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

/// A playbook's tasks in order.
Result<QList<model::PlaybookTask>> playbookTasks(Database& db, const QString& playbookId);
/// Replaces a playbook's tasks with `tasks` (positions renumbered 0..n-1) in one transaction.
Result<void> replacePlaybookTasks(Database& db, const QString& playbookId, QList<model::PlaybookTask> tasks);
/// A session's messages in order.
Result<QList<model::Message>> sessionMessages(Database& db, const QString& sessionId);
/// The stored diff between two snapshots, if computed before.
Result<std::optional<model::Diff>> findDiff(Database& db, const QString& fromSnapshotId,
                                            const QString& toSnapshotId);

} // namespace fluid::store

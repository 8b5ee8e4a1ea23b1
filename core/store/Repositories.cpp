// SPDX-License-Identifier: Apache-2.0
#include "Repository.h"

#include "base/Redact.h"

#include <QJsonDocument>
#include <QSqlRecord>
#include <QStringDecoder>

#include <functional>
#include <type_traits>

namespace fluid::store {
using namespace fluid::model;

namespace {

// ---- values to and from the database
// -----------------------------------------------------------------------

QVariant toDb(const QString& s, bool nullIfEmpty)
{
    return nullIfEmpty && s.isEmpty() ? QVariant(QMetaType(QMetaType::QString)) : QVariant(s);
}
QVariant toDb(int v, bool)
{
    return v;
}
QVariant toDb(qint64 v, bool)
{
    return v;
}
QVariant toDb(bool v, bool)
{
    return int(v);
}
QVariant toDb(const QDateTime& t, bool)
{
    return t.isValid() ? QVariant(t.toMSecsSinceEpoch()) : QVariant(QMetaType(QMetaType::LongLong));
}
QVariant toDb(const QJsonObject& o, bool)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}
QVariant toDb(const QByteArray& b, bool)
{
    // An empty QByteArray binds as NULL in some drivers; keep "no output" and "empty output" the same.
    return b.isNull() ? QVariant(QMetaType(QMetaType::QByteArray)) : QVariant(b);
}
QVariant toDb(const std::optional<int>& v, bool)
{
    return v ? QVariant(*v) : QVariant(QMetaType(QMetaType::Int));
}
QVariant toDb(const QList<ContentPart>& parts, bool)
{
    return QString::fromUtf8(QJsonDocument(contentToJson(parts)).toJson(QJsonDocument::Compact));
}
template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
QVariant toDb(E e, bool)
{
    return enumName(e);
}

void fromDb(const QVariant& v, QString& out)
{
    out = v.toString();
}
void fromDb(const QVariant& v, int& out)
{
    out = v.toInt();
}
void fromDb(const QVariant& v, qint64& out)
{
    out = v.toLongLong();
}
void fromDb(const QVariant& v, bool& out)
{
    out = v.toInt() != 0;
}
void fromDb(const QVariant& v, QDateTime& out)
{
    out = v.isNull() ? QDateTime() : QDateTime::fromMSecsSinceEpoch(v.toLongLong(), Qt::UTC);
}
void fromDb(const QVariant& v, QJsonObject& out)
{
    out = QJsonDocument::fromJson(v.toByteArray()).object();
}
void fromDb(const QVariant& v, QByteArray& out)
{
    out = v.toByteArray();
}
void fromDb(const QVariant& v, std::optional<int>& out)
{
    out = v.isNull() ? std::nullopt : std::optional<int>(v.toInt());
}
void fromDb(const QVariant& v, QList<ContentPart>& out)
{
    out = contentFromJson(QJsonDocument::fromJson(v.toByteArray()).array());
}

QVariant redactValue(const QVariant& v)
{
    if (v.isNull())
        return v;
    if (v.typeId() == QMetaType::QString)
        return redact(v.toString());
    if (v.typeId() == QMetaType::QByteArray) {
        const QByteArray bytes = v.toByteArray();
        QStringDecoder decoder(QStringDecoder::Utf8);
        const QString text = decoder.decode(bytes);
        // Binary output is searched through a byte-for-byte Latin-1 view, so it stays unchanged unless a
        // secret (all of whose known shapes are ASCII) is found in it.
        const bool binary = decoder.hasError();
        const QString view = binary ? QString::fromLatin1(bytes) : text;
        const QString redacted = redact(view);
        if (redacted == view)
            return v;
        return QVariant(binary ? redacted.toLatin1() : redacted.toUtf8());
    }
    return v;
}

// ---- the column tables
// -------------------------------------------------------------------------------------

/// One column of a table: its name, how it is read from and written to a row, and whether it is stored
/// verbatim (ids, hashes, keys) instead of redacted.
template <typename T>
struct Column {
    QString name;
    bool verbatim = false;
    std::function<QVariant(const T&)> get;
    std::function<void(T&, const QVariant&)> set;
};

enum ColumnFlag { Plain = 0, Verbatim = 1, NullIfEmpty = 2 };

template <typename T, typename M>
Column<T> col(const char* name, M T::*member, int flags = Plain)
{
    const bool nullIfEmpty = flags & NullIfEmpty;
    return {QString::fromLatin1(name), bool(flags & Verbatim),
            [member, nullIfEmpty](const T& row) { return toDb(row.*member, nullIfEmpty); },
            [member](T& row, const QVariant& v) {
                fromDb(v, row.*member);
            }};
}

/// An enum column; a name this Fluid does not know reads as `unknown`.
template <typename T, typename E>
Column<T> enumCol(const char* name, E T::*member, E unknown)
{
    return {QString::fromLatin1(name), false, [member](const T& row) { return toDb(row.*member, false); },
            [member, unknown](T& row, const QVariant& v) {
                row.*member = enumFromName<E>(v.toString()).value_or(unknown);
            }};
}

/// A table: its name and its columns, the primary key first.
template <typename T>
struct TableDef {
    QString name;
    QList<Column<T>> columns;
    QString columnList() const
    {
        QStringList names;
        for (const Column<T>& c : columns)
            names << c.name;
        return names.join(QLatin1Char(','));
    }
};

template <typename T>
const TableDef<T>& table();

template <>
const TableDef<Host>& table()
{
    static const TableDef<Host> d{QStringLiteral("hosts"),
                                  {col("id", &Host::id, Verbatim), col("name", &Host::name),
                                   col("uri", &Host::uri),
                                   col("host_key_fingerprint", &Host::hostKeyFingerprint, Verbatim),
                                   col("created_at", &Host::createdAt)}};
    return d;
}

template <>
const TableDef<SourceVm>& table()
{
    static const TableDef<SourceVm> d{
        QStringLiteral("source_vms"),
        {col("id", &SourceVm::id, Verbatim), col("host_id", &SourceVm::hostId, Verbatim),
         col("domain_name", &SourceVm::domainName), col("domain_uuid", &SourceVm::domainUuid, Verbatim),
         col("disk_path", &SourceVm::diskPath), col("disk_format", &SourceVm::diskFormat),
         col("memory_mib", &SourceVm::memoryMib), col("vcpus", &SourceVm::vcpus),
         col("golden", &SourceVm::golden), col("created_at", &SourceVm::createdAt)}};
    return d;
}

template <>
const TableDef<Sandbox>& table()
{
    static const TableDef<Sandbox> d{
        QStringLiteral("sandboxes"),
        {col("id", &Sandbox::id, Verbatim), col("name", &Sandbox::name),
         col("host_id", &Sandbox::hostId, Verbatim),
         col("source_vm_id", &Sandbox::sourceVmId, Verbatim | NullIfEmpty),
         col("domain_name", &Sandbox::domainName), enumCol("state", &Sandbox::state, SandboxState::Error),
         col("ip", &Sandbox::ip), col("memory_mib", &Sandbox::memoryMib), col("vcpus", &Sandbox::vcpus),
         col("accelerator", &Sandbox::accelerator), col("overlay_path", &Sandbox::overlayPath),
         col("host_public_key", &Sandbox::hostPublicKey, Verbatim),
         col("principal", &Sandbox::principal, Verbatim), col("error", &Sandbox::error),
         col("created_at", &Sandbox::createdAt), col("updated_at", &Sandbox::updatedAt)}};
    return d;
}

template <>
const TableDef<Snapshot>& table()
{
    static const TableDef<Snapshot> d{
        QStringLiteral("snapshots"),
        {col("id", &Snapshot::id, Verbatim), col("sandbox_id", &Snapshot::sandboxId, Verbatim),
         col("name", &Snapshot::name), enumCol("kind", &Snapshot::kind, SnapshotKind::Manual),
         col("description", &Snapshot::description), col("created_at", &Snapshot::createdAt)}};
    return d;
}

template <>
const TableDef<Diff>& table()
{
    static const TableDef<Diff> d{
        QStringLiteral("diffs"),
        {col("id", &Diff::id, Verbatim), col("sandbox_id", &Diff::sandboxId, Verbatim),
         col("from_snapshot_id", &Diff::fromSnapshotId, Verbatim),
         col("to_snapshot_id", &Diff::toSnapshotId, Verbatim), col("summary", &Diff::summary),
         col("content", &Diff::content), col("created_at", &Diff::createdAt)}};
    return d;
}

template <>
const TableDef<Command>& table()
{
    static const TableDef<Command> d{
        QStringLiteral("commands"),
        {col("id", &Command::id, Verbatim), col("sandbox_id", &Command::sandboxId, Verbatim),
         col("session_id", &Command::sessionId, Verbatim), col("command", &Command::command),
         col("stdout", &Command::stdoutData), col("stderr", &Command::stderrData),
         col("exit_code", &Command::exitCode), col("signal", &Command::signal),
         col("timed_out", &Command::timedOut), col("stdout_truncated", &Command::stdoutTruncated),
         col("stderr_truncated", &Command::stderrTruncated), col("stdout_bytes", &Command::stdoutBytes),
         col("stderr_bytes", &Command::stderrBytes), col("started_at", &Command::startedAt),
         col("finished_at", &Command::finishedAt)}};
    return d;
}

template <>
const TableDef<AgentSession>& table()
{
    static const TableDef<AgentSession> d{
        QStringLiteral("agent_sessions"),
        {col("id", &AgentSession::id, Verbatim),
         col("sandbox_id", &AgentSession::sandboxId, Verbatim | NullIfEmpty),
         col("task", &AgentSession::task), enumCol("mode", &AgentSession::mode, AgentMode::ReadOnly),
         col("provider", &AgentSession::provider), col("model", &AgentSession::model),
         enumCol("state", &AgentSession::state, AgentSessionState::Failed),
         col("created_at", &AgentSession::createdAt), col("ended_at", &AgentSession::endedAt)}};
    return d;
}

template <>
const TableDef<Message>& table()
{
    static const TableDef<Message> d{
        QStringLiteral("messages"),
        {col("id", &Message::id, Verbatim), col("session_id", &Message::sessionId, Verbatim),
         col("seq", &Message::seq), enumCol("role", &Message::role, MessageRole::User),
         col("content", &Message::content), col("tokens", &Message::tokens),
         col("created_at", &Message::createdAt)}};
    return d;
}

template <>
const TableDef<ToolCall>& table()
{
    static const TableDef<ToolCall> d{
        QStringLiteral("tool_calls"),
        {col("id", &ToolCall::id, Verbatim), col("session_id", &ToolCall::sessionId, Verbatim),
         col("message_id", &ToolCall::messageId, Verbatim), col("name", &ToolCall::name),
         col("arguments", &ToolCall::arguments), col("result", &ToolCall::result),
         enumCol("status", &ToolCall::status, ToolCallStatus::Error), col("started_at", &ToolCall::startedAt),
         col("finished_at", &ToolCall::finishedAt)}};
    return d;
}

template <>
const TableDef<Approval>& table()
{
    // content_hash binds the decision to exact content: never altered. requested_by and decided_by are
    // actors (Actor::toString()), kept as written: the broker compares them, and "token:<id>" would
    // otherwise read as a secret and be redacted.
    static const TableDef<Approval> d{
        QStringLiteral("approvals"),
        {col("id", &Approval::id, Verbatim), col("kind", &Approval::kind),
         col("sandbox_id", &Approval::sandboxId, Verbatim), col("session_id", &Approval::sessionId, Verbatim),
         col("request", &Approval::request), col("context", &Approval::context),
         col("content_hash", &Approval::contentHash, Verbatim),
         enumCol("status", &Approval::status, ApprovalStatus::Expired),
         col("requested_by", &Approval::requestedBy, Verbatim),
         col("decided_by", &Approval::decidedBy, Verbatim), col("comment", &Approval::comment),
         col("created_at", &Approval::createdAt), col("expires_at", &Approval::expiresAt),
         col("decided_at", &Approval::decidedAt)}};
    return d;
}

template <>
const TableDef<Playbook>& table()
{
    static const TableDef<Playbook> d{
        QStringLiteral("playbooks"),
        {col("id", &Playbook::id, Verbatim), col("sandbox_id", &Playbook::sandboxId, Verbatim),
         col("session_id", &Playbook::sessionId, Verbatim), col("name", &Playbook::name),
         col("hosts", &Playbook::hosts), col("created_at", &Playbook::createdAt),
         col("updated_at", &Playbook::updatedAt)}};
    return d;
}

template <>
const TableDef<PlaybookTask>& table()
{
    // Task arguments are what a person approves by hash and what runs on production: redacting them would
    // change the approved content, so they are stored as written (secrets belong in vault references).
    static const TableDef<PlaybookTask> d{
        QStringLiteral("playbook_tasks"),
        {col("id", &PlaybookTask::id, Verbatim), col("playbook_id", &PlaybookTask::playbookId, Verbatim),
         col("position", &PlaybookTask::position), col("name", &PlaybookTask::name),
         col("module", &PlaybookTask::module, Verbatim), col("args", &PlaybookTask::args, Verbatim),
         col("created_at", &PlaybookTask::createdAt)}};
    return d;
}

template <>
const TableDef<EgressGrant>& table()
{
    static const TableDef<EgressGrant> d{
        QStringLiteral("egress_grants"),
        {col("id", &EgressGrant::id, Verbatim), col("sandbox_id", &EgressGrant::sandboxId, Verbatim),
         col("destination", &EgressGrant::destination, Verbatim),
         enumCol("scope", &EgressGrant::scope, EgressScope::Once), col("expires_at", &EgressGrant::expiresAt),
         col("granted_by", &EgressGrant::grantedBy, Verbatim),
         col("approval_id", &EgressGrant::approvalId, Verbatim), col("created_at", &EgressGrant::createdAt),
         col("used_at", &EgressGrant::usedAt), col("revoked_at", &EgressGrant::revokedAt)}};
    return d;
}

template <typename T>
QVariantList redactedValues(const T& row)
{
    QVariantList values;
    for (const Column<T>& c : table<T>().columns) {
        const QVariant v = c.get(row);
        values << (c.verbatim ? v : redactValue(v));
    }
    return values;
}

template <typename T>
T fromRecord(const QSqlRecord& record)
{
    T row;
    for (const Column<T>& c : table<T>().columns)
        c.set(row, record.value(c.name));
    return row;
}

} // namespace

// ---- generic repository
// -------------------------------------------------------------------------------------

template <typename T>
Result<void> Repository<T>::insert(const T& row)
{
    const TableDef<T>& d = table<T>();
    QStringList marks;
    marks.fill(QStringLiteral("?"), d.columns.size());
    auto r = m_db.exec(QStringLiteral("INSERT INTO %1 (%2) VALUES (%3)")
                           .arg(d.name, d.columnList(), marks.join(QLatin1Char(','))),
                       redactedValues(row));
    if (!r)
        return r.error();
    return {};
}

template <typename T>
Result<void> Repository<T>::update(const T& row)
{
    const TableDef<T>& d = table<T>();
    QStringList sets;
    for (qsizetype i = 1; i < d.columns.size(); ++i)
        sets.append(d.columns.at(i).name + QStringLiteral(" = ?"));
    QVariantList values = redactedValues(row);
    const QVariant key = values.takeFirst();
    values.append(key);
    auto r = m_db.exec(QStringLiteral("UPDATE %1 SET %2 WHERE %3 = ?")
                           .arg(d.name, sets.join(QStringLiteral(", ")), d.columns.first().name),
                       values);
    if (!r)
        return r.error();
    if (r->numRowsAffected() == 0)
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("No %1 row with id %2").arg(d.name, key.toString()));
    return {};
}

template <typename T>
Result<QList<T>> Repository<T>::select(const QString& where, const QVariantList& binds,
                                       const QString& orderBy, int limit)
{
    const TableDef<T>& d = table<T>();
    QString sql = QStringLiteral("SELECT %1 FROM %2").arg(d.columnList(), d.name);
    if (!where.isEmpty())
        sql += QStringLiteral(" WHERE ") + where;
    sql += QStringLiteral(" ORDER BY ") + (orderBy.isEmpty() ? d.columns.first().name : orderBy);
    if (limit >= 0)
        sql += QStringLiteral(" LIMIT %1").arg(limit);
    auto q = m_db.exec(sql, binds);
    if (!q)
        return q.error();
    QList<T> rows;
    while (q->next())
        rows.append(fromRecord<T>(q->record()));
    return rows;
}

template <typename T>
Result<QList<T>> Repository<T>::list()
{
    return select({});
}

template <typename T>
Result<T> Repository<T>::get(const QString& id)
{
    const TableDef<T>& d = table<T>();
    auto rows = select(d.columns.first().name + QStringLiteral(" = ?"), {id});
    if (!rows)
        return rows.error();
    if (rows->isEmpty())
        return makeError(ErrorCode::NotFound, QStringLiteral("No %1 row with id %2").arg(d.name, id));
    return rows->first();
}

template <typename T>
Result<qint64> Repository<T>::countWhere(const QString& where, const QVariantList& binds)
{
    QString sql = QStringLiteral("SELECT COUNT(*) FROM %1").arg(table<T>().name);
    if (!where.isEmpty())
        sql += QStringLiteral(" WHERE ") + where;
    auto q = m_db.exec(sql, binds);
    if (!q)
        return q.error();
    return q->next() ? q->value(0).toLongLong() : 0;
}

template <typename T>
Result<qint64> Repository<T>::count()
{
    return countWhere({});
}

template <typename T>
Result<void> Repository<T>::remove(const QString& id)
{
    const TableDef<T>& d = table<T>();
    auto r =
        m_db.exec(QStringLiteral("DELETE FROM %1 WHERE %2 = ?").arg(d.name, d.columns.first().name), {id});
    if (!r)
        return r.error();
    if (r->numRowsAffected() == 0)
        return makeError(ErrorCode::NotFound, QStringLiteral("No %1 row with id %2").arg(d.name, id));
    return {};
}

template class Repository<Host>;
template class Repository<SourceVm>;
template class Repository<Sandbox>;
template class Repository<Snapshot>;
template class Repository<Diff>;
template class Repository<Command>;
template class Repository<AgentSession>;
template class Repository<Message>;
template class Repository<ToolCall>;
template class Repository<Approval>;
template class Repository<Playbook>;
template class Repository<PlaybookTask>;
template class Repository<EgressGrant>;

} // namespace fluid::store

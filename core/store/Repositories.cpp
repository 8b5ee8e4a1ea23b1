// SPDX-License-Identifier: Apache-2.0
#include "Repository.h"

#include "base/Redact.h"

#include <QJsonDocument>
#include <QStringDecoder>

namespace fluid::store {
using namespace fluid::model;

namespace {

QVariant timeToDb(const QDateTime& t)
{
    return t.isValid() ? QVariant(t.toMSecsSinceEpoch()) : QVariant(QMetaType(QMetaType::LongLong));
}

QDateTime timeFromDb(const QVariant& v)
{
    return v.isNull() ? QDateTime() : QDateTime::fromMSecsSinceEpoch(v.toLongLong(), Qt::UTC);
}

QString jsonToDb(const QJsonObject& o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QJsonObject jsonFromDb(const QVariant& v)
{
    return QJsonDocument::fromJson(v.toByteArray()).object();
}

QVariant nullText(const QString& s)
{
    return s.isEmpty() ? QVariant(QMetaType(QMetaType::QString)) : QVariant(s);
}

QVariant blob(const QByteArray& b)
{
    // An empty QByteArray binds as NULL in some drivers; keep "no output" and "empty output" the same.
    return b.isNull() ? QVariant(QMetaType(QMetaType::QByteArray)) : QVariant(b);
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

QSet<QString> ids(std::initializer_list<const char*> extra = {})
{
    QSet<QString> set = {QStringLiteral("id")};
    for (const char* c : extra)
        set.insert(QString::fromLatin1(c));
    return set;
}

QStringList cols(const char* text)
{
    return QString::fromLatin1(text).split(QLatin1Char(','), Qt::SkipEmptyParts);
}

} // namespace

// ---- table definitions --------------------------------------------------------------------------------

template <>
const TableDef& Table<Host>::def()
{
    static const TableDef d{QStringLiteral("hosts"), cols("id,name,uri,host_key_fingerprint,created_at"),
                            ids({"host_key_fingerprint"})};
    return d;
}
template <>
QVariantList Table<Host>::values(const Host& r)
{
    return {r.id, r.name, r.uri, r.hostKeyFingerprint, timeToDb(r.createdAt)};
}
template <>
Host Table<Host>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(), r.value(1).toString(), r.value(2).toString(), r.value(3).toString(),
            timeFromDb(r.value(4))};
}

template <>
const TableDef& Table<SourceVm>::def()
{
    static const TableDef d{
        QStringLiteral("source_vms"),
        cols("id,host_id,domain_name,domain_uuid,disk_path,disk_format,memory_mib,vcpus,golden,created_at"),
        ids({"host_id", "domain_uuid"})};
    return d;
}
template <>
QVariantList Table<SourceVm>::values(const SourceVm& r)
{
    return {r.id,         r.hostId,    r.domainName, r.domainUuid,  r.diskPath,
            r.diskFormat, r.memoryMib, r.vcpus,      int(r.golden), timeToDb(r.createdAt)};
}
template <>
SourceVm Table<SourceVm>::fromRecord(const QSqlRecord& r)
{
    SourceVm v;
    v.id = r.value(0).toString();
    v.hostId = r.value(1).toString();
    v.domainName = r.value(2).toString();
    v.domainUuid = r.value(3).toString();
    v.diskPath = r.value(4).toString();
    v.diskFormat = r.value(5).toString();
    v.memoryMib = r.value(6).toInt();
    v.vcpus = r.value(7).toInt();
    v.golden = r.value(8).toInt() != 0;
    v.createdAt = timeFromDb(r.value(9));
    return v;
}

template <>
const TableDef& Table<Sandbox>::def()
{
    static const TableDef d{
        QStringLiteral("sandboxes"),
        cols("id,name,host_id,source_vm_id,domain_name,state,ip,memory_mib,vcpus,accelerator,"
             "overlay_path,host_public_key,error,created_at,updated_at"),
        ids({"host_id", "source_vm_id", "host_public_key"})};
    return d;
}
template <>
QVariantList Table<Sandbox>::values(const Sandbox& r)
{
    return {r.id,
            r.name,
            r.hostId,
            nullText(r.sourceVmId),
            r.domainName,
            sandboxStateName(r.state),
            r.ip,
            r.memoryMib,
            r.vcpus,
            r.accelerator,
            r.overlayPath,
            r.hostPublicKey,
            r.error,
            timeToDb(r.createdAt),
            timeToDb(r.updatedAt)};
}
template <>
Sandbox Table<Sandbox>::fromRecord(const QSqlRecord& r)
{
    Sandbox v;
    v.id = r.value(0).toString();
    v.name = r.value(1).toString();
    v.hostId = r.value(2).toString();
    v.sourceVmId = r.value(3).toString();
    v.domainName = r.value(4).toString();
    v.state = sandboxStateFromString(r.value(5).toString()).value_or(SandboxState::Error);
    v.ip = r.value(6).toString();
    v.memoryMib = r.value(7).toInt();
    v.vcpus = r.value(8).toInt();
    v.accelerator = r.value(9).toString();
    v.overlayPath = r.value(10).toString();
    v.hostPublicKey = r.value(11).toString();
    v.error = r.value(12).toString();
    v.createdAt = timeFromDb(r.value(13));
    v.updatedAt = timeFromDb(r.value(14));
    return v;
}

template <>
const TableDef& Table<Snapshot>::def()
{
    static const TableDef d{QStringLiteral("snapshots"),
                            cols("id,sandbox_id,name,kind,description,created_at"), ids({"sandbox_id"})};
    return d;
}
template <>
QVariantList Table<Snapshot>::values(const Snapshot& r)
{
    return {r.id, r.sandboxId, r.name, r.kind, r.description, timeToDb(r.createdAt)};
}
template <>
Snapshot Table<Snapshot>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(), r.value(1).toString(), r.value(2).toString(),
            r.value(3).toString(), r.value(4).toString(), timeFromDb(r.value(5))};
}

template <>
const TableDef& Table<Diff>::def()
{
    static const TableDef d{QStringLiteral("diffs"),
                            cols("id,sandbox_id,from_snapshot_id,to_snapshot_id,summary,content,created_at"),
                            ids({"sandbox_id", "from_snapshot_id", "to_snapshot_id"})};
    return d;
}
template <>
QVariantList Table<Diff>::values(const Diff& r)
{
    return {r.id,
            r.sandboxId,
            r.fromSnapshotId,
            r.toSnapshotId,
            jsonToDb(r.summary),
            blob(r.content),
            timeToDb(r.createdAt)};
}
template <>
Diff Table<Diff>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(),  r.value(1).toString(),    r.value(2).toString(), r.value(3).toString(),
            jsonFromDb(r.value(4)), r.value(5).toByteArray(), timeFromDb(r.value(6))};
}

template <>
const TableDef& Table<Command>::def()
{
    static const TableDef d{
        QStringLiteral("commands"),
        cols("id,sandbox_id,session_id,command,stdout,stderr,exit_code,signal,timed_out,"
             "stdout_truncated,stderr_truncated,stdout_bytes,stderr_bytes,started_at,finished_at"),
        ids({"sandbox_id", "session_id"})};
    return d;
}
template <>
QVariantList Table<Command>::values(const Command& r)
{
    return {r.id,
            r.sandboxId,
            r.sessionId,
            r.command,
            blob(r.stdoutData),
            blob(r.stderrData),
            r.exitCode ? QVariant(*r.exitCode) : QVariant(QMetaType(QMetaType::Int)),
            r.signal,
            int(r.timedOut),
            int(r.stdoutTruncated),
            int(r.stderrTruncated),
            r.stdoutBytes,
            r.stderrBytes,
            timeToDb(r.startedAt),
            timeToDb(r.finishedAt)};
}
template <>
Command Table<Command>::fromRecord(const QSqlRecord& r)
{
    Command v;
    v.id = r.value(0).toString();
    v.sandboxId = r.value(1).toString();
    v.sessionId = r.value(2).toString();
    v.command = r.value(3).toString();
    v.stdoutData = r.value(4).toByteArray();
    v.stderrData = r.value(5).toByteArray();
    if (!r.value(6).isNull())
        v.exitCode = r.value(6).toInt();
    v.signal = r.value(7).toString();
    v.timedOut = r.value(8).toInt() != 0;
    v.stdoutTruncated = r.value(9).toInt() != 0;
    v.stderrTruncated = r.value(10).toInt() != 0;
    v.stdoutBytes = r.value(11).toLongLong();
    v.stderrBytes = r.value(12).toLongLong();
    v.startedAt = timeFromDb(r.value(13));
    v.finishedAt = timeFromDb(r.value(14));
    return v;
}

template <>
const TableDef& Table<AgentSession>::def()
{
    static const TableDef d{QStringLiteral("agent_sessions"),
                            cols("id,sandbox_id,task,mode,provider,model,state,created_at,ended_at"),
                            ids({"sandbox_id"})};
    return d;
}
template <>
QVariantList Table<AgentSession>::values(const AgentSession& r)
{
    return {r.id,
            nullText(r.sandboxId),
            r.task,
            r.mode,
            r.provider,
            r.model,
            r.state,
            timeToDb(r.createdAt),
            timeToDb(r.endedAt)};
}
template <>
AgentSession Table<AgentSession>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(), r.value(1).toString(),  r.value(2).toString(),
            r.value(3).toString(), r.value(4).toString(),  r.value(5).toString(),
            r.value(6).toString(), timeFromDb(r.value(7)), timeFromDb(r.value(8))};
}

template <>
const TableDef& Table<Message>::def()
{
    static const TableDef d{QStringLiteral("messages"),
                            cols("id,session_id,seq,role,content,tokens,created_at"), ids({"session_id"})};
    return d;
}
template <>
QVariantList Table<Message>::values(const Message& r)
{
    return {r.id, r.sessionId, r.seq, r.role, r.content, r.tokens, timeToDb(r.createdAt)};
}
template <>
Message Table<Message>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(), r.value(1).toString(), r.value(2).toInt(),    r.value(3).toString(),
            r.value(4).toString(), r.value(5).toInt(),    timeFromDb(r.value(6))};
}

template <>
const TableDef& Table<ToolCall>::def()
{
    static const TableDef d{
        QStringLiteral("tool_calls"),
        cols("id,session_id,message_id,name,arguments,result,status,started_at,finished_at"),
        ids({"session_id", "message_id"})};
    return d;
}
template <>
QVariantList Table<ToolCall>::values(const ToolCall& r)
{
    return {r.id,     r.sessionId,           r.messageId,           r.name, jsonToDb(r.arguments), r.result,
            r.status, timeToDb(r.startedAt), timeToDb(r.finishedAt)};
}
template <>
ToolCall Table<ToolCall>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(), r.value(1).toString(),  r.value(2).toString(),
            r.value(3).toString(), jsonFromDb(r.value(4)), r.value(5).toString(),
            r.value(6).toString(), timeFromDb(r.value(7)), timeFromDb(r.value(8))};
}

template <>
const TableDef& Table<Approval>::def()
{
    // content_hash binds the decision to exact content: never altered.
    static const TableDef d{
        QStringLiteral("approvals"),
        cols("id,kind,sandbox_id,session_id,request,context,content_hash,status,requested_by,"
             "decided_by,comment,created_at,expires_at,decided_at"),
        ids({"sandbox_id", "session_id", "content_hash"})};
    return d;
}
template <>
QVariantList Table<Approval>::values(const Approval& r)
{
    return {r.id,
            r.kind,
            r.sandboxId,
            r.sessionId,
            r.request,
            jsonToDb(r.context),
            r.contentHash,
            approvalStatusName(r.status),
            r.requestedBy,
            r.decidedBy,
            r.comment,
            timeToDb(r.createdAt),
            timeToDb(r.expiresAt),
            timeToDb(r.decidedAt)};
}
template <>
Approval Table<Approval>::fromRecord(const QSqlRecord& r)
{
    Approval v;
    v.id = r.value(0).toString();
    v.kind = r.value(1).toString();
    v.sandboxId = r.value(2).toString();
    v.sessionId = r.value(3).toString();
    v.request = r.value(4).toString();
    v.context = jsonFromDb(r.value(5));
    v.contentHash = r.value(6).toString();
    v.status = approvalStatusFromString(r.value(7).toString()).value_or(ApprovalStatus::Expired);
    v.requestedBy = r.value(8).toString();
    v.decidedBy = r.value(9).toString();
    v.comment = r.value(10).toString();
    v.createdAt = timeFromDb(r.value(11));
    v.expiresAt = timeFromDb(r.value(12));
    v.decidedAt = timeFromDb(r.value(13));
    return v;
}

template <>
const TableDef& Table<Playbook>::def()
{
    static const TableDef d{QStringLiteral("playbooks"),
                            cols("id,sandbox_id,session_id,name,hosts,created_at,updated_at"),
                            ids({"sandbox_id", "session_id"})};
    return d;
}
template <>
QVariantList Table<Playbook>::values(const Playbook& r)
{
    return {r.id, r.sandboxId, r.sessionId, r.name, r.hosts, timeToDb(r.createdAt), timeToDb(r.updatedAt)};
}
template <>
Playbook Table<Playbook>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(), r.value(1).toString(),  r.value(2).toString(), r.value(3).toString(),
            r.value(4).toString(), timeFromDb(r.value(5)), timeFromDb(r.value(6))};
}

template <>
const TableDef& Table<PlaybookTask>::def()
{
    // Task arguments are what a person approves by hash and what runs on production: redacting them would
    // change the approved content, so they are stored as written (secrets belong in vault references).
    static const TableDef d{QStringLiteral("playbook_tasks"),
                            cols("id,playbook_id,position,name,module,args,created_at"),
                            ids({"playbook_id", "module", "args"})};
    return d;
}
template <>
QVariantList Table<PlaybookTask>::values(const PlaybookTask& r)
{
    return {r.id, r.playbookId, r.position, r.name, r.module, jsonToDb(r.args), timeToDb(r.createdAt)};
}
template <>
PlaybookTask Table<PlaybookTask>::fromRecord(const QSqlRecord& r)
{
    return {r.value(0).toString(), r.value(1).toString(),  r.value(2).toInt(),    r.value(3).toString(),
            r.value(4).toString(), jsonFromDb(r.value(5)), timeFromDb(r.value(6))};
}

// ---- generic repository ---------------------------------------------------------------------------------

template <typename T>
QVariantList Repository<T>::redactedValues(const T& row) const
{
    const TableDef& d = Table<T>::def();
    QVariantList values = Table<T>::values(row);
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (!d.verbatim.contains(d.columns.at(i)))
            values[i] = redactValue(values.at(i));
    }
    return values;
}

template <typename T>
Result<void> Repository<T>::insert(const T& row)
{
    const TableDef& d = Table<T>::def();
    QStringList marks;
    marks.fill(QStringLiteral("?"), d.columns.size());
    auto r = m_db.exec(QStringLiteral("INSERT INTO %1 (%2) VALUES (%3)")
                           .arg(d.name, d.columns.join(QLatin1Char(',')), marks.join(QLatin1Char(','))),
                       redactedValues(row));
    if (!r)
        return r.error();
    return {};
}

template <typename T>
Result<void> Repository<T>::update(const T& row)
{
    const TableDef& d = Table<T>::def();
    QStringList sets;
    for (qsizetype i = 1; i < d.columns.size(); ++i)
        sets.append(d.columns.at(i) + QStringLiteral(" = ?"));
    QVariantList values = redactedValues(row);
    const QVariant key = values.takeFirst();
    values.append(key);
    auto r = m_db.exec(QStringLiteral("UPDATE %1 SET %2 WHERE %3 = ?")
                           .arg(d.name, sets.join(QStringLiteral(", ")), d.columns.first()),
                       values);
    if (!r)
        return r.error();
    if (r->numRowsAffected() == 0)
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("No %1 row with id %2").arg(d.name, key.toString()));
    return {};
}

template <typename T>
Result<QList<T>> Repository<T>::list(const QString& where, const QVariantList& binds, const QString& orderBy,
                                     int limit)
{
    const TableDef& d = Table<T>::def();
    QString sql = QStringLiteral("SELECT %1 FROM %2").arg(d.columns.join(QLatin1Char(',')), d.name);
    if (!where.isEmpty())
        sql += QStringLiteral(" WHERE ") + where;
    sql += QStringLiteral(" ORDER BY ") + (orderBy.isEmpty() ? d.columns.first() : orderBy);
    if (limit >= 0)
        sql += QStringLiteral(" LIMIT %1").arg(limit);
    auto q = m_db.exec(sql, binds);
    if (!q)
        return q.error();
    QList<T> rows;
    while (q->next())
        rows.append(Table<T>::fromRecord(q->record()));
    return rows;
}

template <typename T>
Result<T> Repository<T>::get(const QString& id)
{
    const TableDef& d = Table<T>::def();
    auto rows = list(d.columns.first() + QStringLiteral(" = ?"), {id});
    if (!rows)
        return rows.error();
    if (rows->isEmpty())
        return makeError(ErrorCode::NotFound, QStringLiteral("No %1 row with id %2").arg(d.name, id));
    return rows->first();
}

template <typename T>
Result<qint64> Repository<T>::count(const QString& where, const QVariantList& binds)
{
    QString sql = QStringLiteral("SELECT COUNT(*) FROM %1").arg(Table<T>::def().name);
    if (!where.isEmpty())
        sql += QStringLiteral(" WHERE ") + where;
    auto q = m_db.exec(sql, binds);
    if (!q)
        return q.error();
    return q->next() ? q->value(0).toLongLong() : 0;
}

template <typename T>
Result<void> Repository<T>::remove(const QString& id)
{
    const TableDef& d = Table<T>::def();
    auto r = m_db.exec(QStringLiteral("DELETE FROM %1 WHERE %2 = ?").arg(d.name, d.columns.first()), {id});
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

// ---- queries beyond the generic ones ---------------------------------------------------------------------

Result<QList<PlaybookTask>> playbookTasks(Database& db, const QString& playbookId)
{
    return PlaybookTaskRepository(db).list(QStringLiteral("playbook_id = ?"), {playbookId},
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

Result<QList<Message>> sessionMessages(Database& db, const QString& sessionId)
{
    return MessageRepository(db).list(QStringLiteral("session_id = ?"), {sessionId}, QStringLiteral("seq"));
}

Result<std::optional<Diff>> findDiff(Database& db, const QString& fromSnapshotId, const QString& toSnapshotId)
{
    auto rows = DiffRepository(db).list(QStringLiteral("from_snapshot_id = ? AND to_snapshot_id = ?"),
                                        {fromSnapshotId, toSnapshotId});
    if (!rows)
        return rows.error();
    if (rows->isEmpty())
        return std::optional<Diff>();
    return std::optional<Diff>(rows->first());
}

} // namespace fluid::store

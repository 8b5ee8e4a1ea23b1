// SPDX-License-Identifier: Apache-2.0
#include "AuditLog.h"

#include "AuditAnchor.h"
#include "base/Redact.h"
#include "Queries.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>

namespace fluid::store {
using model::AuditEvent;

namespace {
const QString kColumns =
    QStringLiteral("seq,time,actor,kind,sandbox_id,session_id,summary,data,prev_hash,hash");

AuditEvent fromQuery(const QSqlQuery& q, QString* dataText)
{
    AuditEvent e;
    e.seq = q.value(0).toLongLong();
    e.time = QDateTime::fromMSecsSinceEpoch(q.value(1).toLongLong(), Qt::UTC);
    e.actor = q.value(2).toString();
    e.kind = q.value(3).toString();
    e.sandboxId = q.value(4).toString();
    e.sessionId = q.value(5).toString();
    e.summary = q.value(6).toString();
    const QString text = q.value(7).toString();
    e.data = QJsonDocument::fromJson(text.toUtf8()).object();
    e.prevHash = q.value(8).toString();
    e.hash = q.value(9).toString();
    if (dataText)
        *dataText = text;
    return e;
}
} // namespace

AuditLog::AuditLog(Database& db, const Clock& clock)
    : m_db(db)
    , m_clock(clock)
{
}

QString AuditLog::genesisHash()
{
    return QString(64, QLatin1Char('0'));
}

QByteArray AuditLog::canonical(const AuditEvent& e, const QString& dataText)
{
    // Strings only: numbers in JSON could be re-rendered differently by another reader.
    const QJsonArray fields = {QString::number(e.seq),
                               QString::number(e.time.toMSecsSinceEpoch()),
                               e.actor,
                               e.kind,
                               e.sandboxId,
                               e.sessionId,
                               e.summary,
                               dataText};
    return QJsonDocument(fields).toJson(QJsonDocument::Compact);
}

QString AuditLog::chainHash(const QString& prevHash, const QByteArray& canonicalEvent)
{
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(prevHash.toLatin1());
    h.addData(canonicalEvent);
    return QString::fromLatin1(h.result().toHex());
}

Result<AuditEvent> AuditLog::append(AuditEvent event)
{
    event.summary = redact(event.summary);
    const QString dataText =
        redact(QString::fromUtf8(QJsonDocument(event.data).toJson(QJsonDocument::Compact)));
    event.data = QJsonDocument::fromJson(dataText.toUtf8()).object();

    auto done = m_db.transaction([&]() -> Result<void> {
        if (m_db.backend() == Backend::Postgresql) {
            // Serialise appends across connections; readers are not blocked.
            auto locked = m_db.exec(QStringLiteral("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE"));
            if (!locked)
                return locked.error();
        }
        auto last = m_db.exec(QStringLiteral("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"));
        if (!last)
            return last.error();
        if (last->next()) {
            event.seq = last->value(0).toLongLong() + 1;
            event.prevHash = last->value(1).toString();
        } else {
            event.seq = 1;
            event.prevHash = genesisHash();
        }
        // Millisecond precision is what is stored, so hash exactly that.
        event.time = QDateTime::fromMSecsSinceEpoch(m_clock.nowMs(), Qt::UTC);
        event.hash = chainHash(event.prevHash, canonical(event, dataText));
        auto inserted = m_db.exec(
            QStringLiteral("INSERT INTO audit_events (%1) VALUES (?,?,?,?,?,?,?,?,?,?)").arg(kColumns),
            {event.seq, event.time.toMSecsSinceEpoch(), event.actor, event.kind, event.sandboxId,
             event.sessionId, event.summary, dataText, event.prevHash, event.hash});
        if (!inserted)
            return inserted.error();
        return {};
    });
    if (!done)
        return done.error();
    if (Result<void> anchored = advanceAnchor(event); !anchored)
        return Error{anchored.error().code,
                     QStringLiteral("the audit event %1 was stored, but the checkpoint outside the database "
                                    "could not follow it: %2")
                         .arg(event.seq)
                         .arg(anchored.error().message),
                     anchored.error().detail};
    return event;
}

Result<std::optional<QString>> AuditLog::hashAt(qint64 seq)
{
    auto q = m_db.exec(QStringLiteral("SELECT hash FROM audit_events WHERE seq = ?"), {seq});
    if (!q)
        return q.error();
    if (!q->next())
        return std::optional<QString>();
    return std::optional<QString>(q->value(0).toString());
}

Result<void> AuditLog::advanceAnchor(const AuditEvent& stored)
{
    const std::shared_ptr<AuditAnchor> anchor = m_db.options().auditAnchor;
    if (!anchor)
        return {};
    Result<QString> id = storeId(m_db);
    if (!id)
        return id.error();
    return anchor->advance(*id, stored.seq, stored.hash, [this](qint64 seq) { return hashAt(seq); });
}

Result<AuditEvent> AuditLog::append(const QString& actor, const QString& kind, const QString& summary,
                                    const QJsonObject& data, const QString& sandboxId,
                                    const QString& sessionId)
{
    AuditEvent e;
    e.actor = actor;
    e.kind = kind;
    e.summary = summary;
    e.data = data;
    e.sandboxId = sandboxId;
    e.sessionId = sessionId;
    return append(std::move(e));
}

Result<QList<AuditEvent>> AuditLog::list(const AuditFilter& filter)
{
    QStringList where;
    QVariantList binds;
    if (!filter.sandboxId.isEmpty()) {
        where << QStringLiteral("sandbox_id = ?");
        binds << filter.sandboxId;
    }
    if (!filter.kindPrefix.isEmpty()) {
        where << QStringLiteral("kind LIKE ? ESCAPE '\\'");
        QString escaped = filter.kindPrefix;
        escaped.replace(QLatin1String("\\"), QLatin1String("\\\\"))
            .replace(QLatin1String("%"), QLatin1String("\\%"))
            .replace(QLatin1String("_"), QLatin1String("\\_"));
        binds << escaped + QLatin1Char('%');
    }
    if (filter.from.isValid()) {
        where << QStringLiteral("time >= ?");
        binds << filter.from.toMSecsSinceEpoch();
    }
    if (filter.to.isValid()) {
        where << QStringLiteral("time <= ?");
        binds << filter.to.toMSecsSinceEpoch();
    }
    QString sql = QStringLiteral("SELECT %1 FROM audit_events").arg(kColumns);
    if (!where.isEmpty())
        sql += QStringLiteral(" WHERE ") + where.join(QStringLiteral(" AND "));
    sql += QStringLiteral(" ORDER BY seq DESC LIMIT %1").arg(qMax(0, filter.limit));
    auto q = m_db.exec(sql, binds);
    if (!q)
        return q.error();
    QList<AuditEvent> events;
    while (q->next())
        events.append(fromQuery(*q, nullptr));
    return events;
}

Result<qint64> AuditLog::latestSeq()
{
    auto q = m_db.exec(QStringLiteral("SELECT MAX(seq) FROM audit_events"));
    if (!q)
        return q.error();
    return q->next() ? q->value(0).toLongLong() : 0;
}

Result<AuditVerifyReport> AuditLog::verify()
{
    auto q = m_db.exec(QStringLiteral("SELECT %1 FROM audit_events ORDER BY seq").arg(kColumns));
    if (!q)
        return q.error();
    AuditVerifyReport report;
    QString expectedPrev = genesisHash();
    qint64 expectedSeq = 1;
    while (q->next()) {
        QString dataText;
        const AuditEvent e = fromQuery(*q, &dataText);
        ++report.rowsChecked;
        auto broken = [&](const QString& why) {
            report.firstBrokenSeq = e.seq;
            report.reason = why;
        };
        if (e.seq != expectedSeq) {
            broken(QStringLiteral("row %1 follows row %2: rows before it were removed")
                       .arg(e.seq)
                       .arg(expectedSeq - 1));
        } else if (e.prevHash != expectedPrev) {
            broken(QStringLiteral("row %1 does not link to the row before it: rows were removed, inserted or "
                                  "reordered")
                       .arg(e.seq));
        } else if (chainHash(e.prevHash, canonical(e, dataText)) != e.hash) {
            broken(
                QStringLiteral("row %1 was changed after it was written: its content does not match its hash")
                    .arg(e.seq));
        }
        if (!report.intact())
            return report;
        expectedPrev = e.hash;
        ++expectedSeq;
    }
    const std::shared_ptr<AuditAnchor> anchor = m_db.options().auditAnchor;
    if (!anchor) {
        report.anchorNote = QStringLiteral("no checkpoint outside the database is configured for this store");
        return report;
    }
    Result<QString> id = storeId(m_db);
    if (!id)
        return id.error();
    Result<AnchorCheck> checked =
        anchor->check(*id, expectedSeq - 1, [this](qint64 seq) { return hashAt(seq); });
    if (!checked)
        return checked.error();
    report.anchorBroken = checked->broken;
    report.anchorNote = checked->note;
    return report;
}

Result<AuditVerifyReport> AuditLog::reanchor()
{
    const std::shared_ptr<AuditAnchor> anchor = m_db.options().auditAnchor;
    if (!anchor)
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("no checkpoint outside the database is configured for this store"));
    Result<AuditVerifyReport> report = verify();
    if (!report)
        return report.error();
    if (report->firstBrokenSeq)
        return *report; // the rows themselves do not verify: nothing to anchor
    Result<QString> id = storeId(m_db);
    if (!id)
        return id.error();
    auto q = m_db.exec(QStringLiteral("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"));
    if (!q)
        return q.error();
    if (!q->next()) {
        report->anchorNote = QStringLiteral("the log is empty: its first event starts the checkpoint");
        report->anchorBroken.reset();
        return *report;
    }
    const qint64 seq = q->value(0).toLongLong();
    if (Result<void> reset = anchor->reset(*id, seq, q->value(1).toString()); !reset)
        return reset.error();
    report->anchorBroken.reset();
    report->anchorNote = QStringLiteral("anchored anew at row %1 (%2)").arg(seq).arg(anchor->path());
    return *report;
}

} // namespace fluid::store

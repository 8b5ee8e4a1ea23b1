// SPDX-License-Identifier: Apache-2.0
#include "ApprovalBroker.h"

#include "store/AuditLog.h"
#include "store/Repository.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QThread>

namespace fluid::approval {
using model::Approval;
using model::ApprovalStatus;

QString contentHash(const QString& kind, const QString& request, const QJsonObject& context)
{
    const QJsonArray canonical = {kind, request, context};
    return QString::fromLatin1(
        QCryptographicHash::hash(QJsonDocument(canonical).toJson(QJsonDocument::Compact),
                                 QCryptographicHash::Sha256)
            .toHex());
}

ApprovalBroker::ApprovalBroker(store::Database& db, const Clock& clock)
    : m_db(db)
    , m_clock(clock)
{
}

Result<Approval> ApprovalBroker::request(Approval a, qint64 ttlMs)
{
    if (a.id.isEmpty())
        a.id = model::newId();
    a.status = ApprovalStatus::Pending;
    a.createdAt = m_clock.now();
    a.expiresAt = a.createdAt.addMSecs(ttlMs);
    a.contentHash = contentHash(a.kind, a.request, a.context);
    auto inserted = store::ApprovalRepository(m_db).insert(a);
    if (!inserted)
        return inserted.error();
    // The stored row is what was asked (redacted on write): bind the hash to that.
    auto stored = store::ApprovalRepository(m_db).get(a.id);
    if (!stored)
        return stored.error();
    if (const QString storedHash = contentHash(stored->kind, stored->request, stored->context);
        storedHash != stored->contentHash) {
        stored->contentHash = storedHash;
        if (auto updated = store::ApprovalRepository(m_db).update(*stored); !updated)
            return updated.error();
        a.contentHash = storedHash;
    }
    auto audited =
        store::AuditLog(m_db, m_clock)
            .append(a.requestedBy.isEmpty() ? QStringLiteral("system") : a.requestedBy,
                    QStringLiteral("approval.request"), a.request,
                    QJsonObject{{QStringLiteral("approval"), a.id}, {QStringLiteral("hash"), a.contentHash}},
                    a.sandboxId, a.sessionId);
    if (!audited)
        return audited.error();
    return *stored;
}

Result<Approval> ApprovalBroker::expireIfDue(Approval a)
{
    if (a.status != ApprovalStatus::Pending || !a.expiresAt.isValid() || m_clock.now() < a.expiresAt)
        return a;
    a.status = ApprovalStatus::Expired;
    a.decidedAt = a.expiresAt; // when its time was up, not when someone happened to look
    a.decidedBy = QStringLiteral("system");
    auto updated = store::ApprovalRepository(m_db).update(a);
    if (!updated)
        return updated.error();
    auto audited = store::AuditLog(m_db, m_clock)
                       .append(QStringLiteral("system"), QStringLiteral("approval.expire"),
                               QStringLiteral("Expired: %1").arg(a.request),
                               QJsonObject{{QStringLiteral("approval"), a.id}}, a.sandboxId, a.sessionId);
    if (!audited)
        return audited.error();
    return a;
}

Result<Approval> ApprovalBroker::load(const QString& id)
{
    auto a = store::ApprovalRepository(m_db).get(id);
    if (!a)
        return a.error();
    return expireIfDue(*a);
}

Result<ApprovalStatus> ApprovalBroker::wait(const QString& id, const std::atomic<bool>* cancel)
{
    for (;;) {
        auto current = load(id);
        if (!current)
            return current.error();
        if (current->status != ApprovalStatus::Pending)
            return current->status;
        if (cancel && cancel->load())
            return makeError(ErrorCode::Cancelled, QStringLiteral("Stopped waiting for approval %1").arg(id));
        QThread::msleep(500);
    }
}

Result<Approval> ApprovalBroker::decide(const QString& id, bool approve, const QString& who,
                                        const QString& comment, const QString& expectedHash)
{
    Result<Approval> decided = makeError(ErrorCode::Unknown, QString());
    auto done = m_db.transaction([&]() -> Result<void> {
        auto current = load(id);
        if (!current)
            return current.error();
        if (current->status != ApprovalStatus::Pending) {
            return makeError(ErrorCode::Refused, QStringLiteral("Approval %1 is already %2")
                                                     .arg(id, model::approvalStatusName(current->status)));
        }
        if (!expectedHash.isEmpty() && expectedHash != current->contentHash) {
            return makeError(
                ErrorCode::Refused,
                QStringLiteral("Approval %1 asks for something else than what was reviewed (content "
                               "hash differs): review it again")
                    .arg(id));
        }
        if (approve &&
            contentHash(current->kind, current->request, current->context) != current->contentHash) {
            return makeError(ErrorCode::Tampered,
                             QStringLiteral("Approval %1 was changed in the store after it was filed (its "
                                            "content no longer matches its hash %2), so it cannot be "
                                            "approved: reject it and have it asked again")
                                 .arg(id, current->contentHash));
        }
        current->status = approve ? ApprovalStatus::Approved : ApprovalStatus::Rejected;
        current->decidedBy = who;
        current->comment = comment;
        current->decidedAt = m_clock.now();
        auto updated = store::ApprovalRepository(m_db).update(*current);
        if (!updated)
            return updated;
        auto audited =
            store::AuditLog(m_db, m_clock)
                .append(who, approve ? QStringLiteral("approval.approve") : QStringLiteral("approval.reject"),
                        QStringLiteral("%1: %2").arg(approve ? QStringLiteral("Approved")
                                                             : QStringLiteral("Rejected"),
                                                     current->request),
                        QJsonObject{{QStringLiteral("approval"), id},
                                    {QStringLiteral("hash"), current->contentHash},
                                    {QStringLiteral("comment"), comment}},
                        current->sandboxId, current->sessionId);
        if (!audited)
            return audited.error();
        decided = *current;
        return {};
    });
    if (!done)
        return done.error();
    return decided;
}

Result<QList<Approval>> ApprovalBroker::pending()
{
    auto waiting = store::ApprovalRepository(m_db).list(
        QStringLiteral("status = ?"), {QStringLiteral("pending")}, QStringLiteral("created_at"));
    if (!waiting)
        return waiting.error();
    QList<Approval> out;
    out.reserve(waiting->size());
    for (Approval& a : *waiting) {
        auto current = expireIfDue(std::move(a));
        if (!current)
            return current.error();
        if (current->status == ApprovalStatus::Pending)
            out.append(std::move(*current));
    }
    return out;
}

Result<QList<Approval>> ApprovalBroker::history(int limit)
{
    return store::ApprovalRepository(m_db).list(QStringLiteral("status <> ?"), {QStringLiteral("pending")},
                                                QStringLiteral("decided_at DESC, created_at DESC"), limit);
}

} // namespace fluid::approval

// SPDX-License-Identifier: Apache-2.0
#include "ApprovalBroker.h"

#include "base/Logging.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPromise>

namespace fluid::approval {
using model::Approval;
using model::ApprovalStatus;

namespace {

/// The request, marked Expired (and audited) first when its time is up.
Result<Approval> expireIfDue(store::Database& db, const Clock& clock, Approval a)
{
    if (a.status != ApprovalStatus::Pending || !a.expiresAt.isValid() || clock.now() < a.expiresAt)
        return a;
    a.status = ApprovalStatus::Expired;
    a.decidedAt = a.expiresAt; // when its time was up, not when someone happened to look
    a.decidedBy = model::Actor::system().toString();
    auto updated = store::ApprovalRepository(db).update(a);
    if (!updated)
        return updated.error();
    auto audited = store::AuditLog(db, clock).append(
        model::Actor::system().toString(), QStringLiteral("approval.expire"),
        QStringLiteral("Expired: %1").arg(a.request), QJsonObject{{QStringLiteral("approval"), a.id}},
        a.sandboxId, a.sessionId);
    if (!audited)
        return audited.error();
    return a;
}

/// True when `who` is the agent session or API token that filed the request (`requestedBy`). A person may
/// approve what they asked for themselves (the admission of their own create); an agent or a token
/// approving its own request would make the approval mean nothing.
bool approvesItself(const model::Actor& who, const QString& requestedBy)
{
    if (who.kind() != model::Actor::Kind::Agent && who.kind() != model::Actor::Kind::ApiToken)
        return false;
    const std::optional<model::Actor> requester = model::Actor::fromString(requestedBy);
    return requester && *requester == who;
}

} // namespace

QString contentHash(const QString& kind, const QString& request, const QJsonObject& context)
{
    const QJsonArray canonical = {kind, request, context};
    return QString::fromLatin1(
        QCryptographicHash::hash(QJsonDocument(canonical).toJson(QJsonDocument::Compact),
                                 QCryptographicHash::Sha256)
            .toHex());
}

struct ApprovalBroker::Waiter {
    QPromise<Result<Approval>> promise;
    CancelToken cancel;
    quint64 callback = 0;
};

ApprovalBroker::ApprovalBroker(const Clock& clock, int pollIntervalMs)
    : m_clock(clock)
    , m_pollIntervalMs(pollIntervalMs)
{
    m_poller.setMaxThreadCount(1);
}

ApprovalBroker::ApprovalBroker(const store::DatabaseOptions& store, const Clock& clock, int pollIntervalMs)
    : ApprovalBroker(clock, pollIntervalMs)
{
    m_store = store;
}

void ApprovalBroker::setStore(const store::DatabaseOptions& store)
{
    {
        QMutexLocker lock(&m_mutex);
        m_store = store;
    }
    startPolling();
}

ApprovalBroker::~ApprovalBroker()
{
    {
        QMutexLocker lock(&m_mutex);
        m_stopping = true;
        m_wake.wakeAll();
    }
    m_poller.waitForDone();
    QList<QString> ids;
    {
        QMutexLocker lock(&m_mutex);
        ids = m_waiters.uniqueKeys();
    }
    for (const QString& id : std::as_const(ids))
        resolve(id, makeError(ErrorCode::Cancelled,
                              QStringLiteral("Stopped waiting for approval %1: Fluid is closing").arg(id)));
}

Result<Approval> ApprovalBroker::request(store::Database& db, Approval a, const model::Actor& by,
                                         qint64 ttlMs)
{
    if (a.id.isEmpty())
        a.id = model::newId();
    a.status = ApprovalStatus::Pending;
    a.requestedBy = by.toString();
    a.createdAt = m_clock.now();
    a.expiresAt = a.createdAt.addMSecs(ttlMs);
    a.contentHash = contentHash(a.kind, a.request, a.context);
    Result<Approval> stored = makeError(ErrorCode::Unknown, QString());
    auto done = db.transaction([&]() -> Result<void> {
        if (auto inserted = store::ApprovalRepository(db).insert(a); !inserted)
            return inserted;
        // The stored row is what was asked (redacted on write): bind the hash to that.
        stored = store::ApprovalRepository(db).get(a.id);
        if (!stored)
            return stored.error();
        if (const QString storedHash = contentHash(stored->kind, stored->request, stored->context);
            storedHash != stored->contentHash) {
            stored->contentHash = storedHash;
            if (auto updated = store::ApprovalRepository(db).update(*stored); !updated)
                return updated;
        }
        auto audited = store::AuditLog(db, m_clock)
                           .append(a.requestedBy, QStringLiteral("approval.request"), a.request,
                                   QJsonObject{{QStringLiteral("approval"), a.id},
                                               {QStringLiteral("hash"), stored->contentHash}},
                                   a.sandboxId, a.sessionId);
        if (!audited)
            return audited.error();
        return {};
    });
    if (!done)
        return done.error();
    return stored;
}

Result<Approval> ApprovalBroker::decide(store::Database& db, const QString& id, bool approve,
                                        const model::Actor& who, const QString& comment,
                                        const QString& expectedHash)
{
    Result<Approval> decided = makeError(ErrorCode::Unknown, QString());
    std::optional<Error> refused;
    auto done = db.transaction([&]() -> Result<void> {
        auto stored = store::ApprovalRepository(db).get(id);
        if (!stored)
            return stored.error();
        auto current = expireIfDue(db, m_clock, *stored);
        if (!current)
            return current.error();
        if (current->status != ApprovalStatus::Pending) {
            // Committed all the same: an expiry just recorded stays recorded and reaches the waiters.
            decided = *current;
            refused = makeError(
                ErrorCode::Refused,
                QStringLiteral("Approval %1 is already %2").arg(id, model::enumName(current->status)));
            return {};
        }
        if (approve && approvesItself(who, current->requestedBy)) {
            return makeError(ErrorCode::PermissionDenied,
                             QStringLiteral("%1 filed approval %2 and cannot approve it itself: a person "
                                            "has to decide it")
                                 .arg(who.toString(), id));
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
        current->decidedBy = who.toString();
        current->comment = comment;
        current->decidedAt = m_clock.now();
        if (auto updated = store::ApprovalRepository(db).update(*current); !updated)
            return updated;
        auto audited =
            store::AuditLog(db, m_clock)
                .append(current->decidedBy,
                        approve ? QStringLiteral("approval.approve") : QStringLiteral("approval.reject"),
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
    notify(*decided);
    if (refused)
        return *refused;
    return decided;
}

Result<QList<Approval>> ApprovalBroker::pending(store::Database& db)
{
    auto waiting = store::pendingApprovals(db);
    if (!waiting)
        return waiting.error();
    QList<Approval> out;
    out.reserve(waiting->size());
    for (Approval& a : *waiting) {
        auto current = expireIfDue(db, m_clock, std::move(a));
        if (!current)
            return current.error();
        if (current->status == ApprovalStatus::Pending)
            out.append(std::move(*current));
        else
            notify(*current);
    }
    return out;
}

Result<QList<Approval>> ApprovalBroker::history(store::Database& db, int limit)
{
    return store::decidedApprovals(db, limit);
}

QFuture<Result<Approval>> ApprovalBroker::decision(const QString& id, const CancelToken& cancel)
{
    auto waiter = std::make_shared<Waiter>();
    waiter->cancel = cancel;
    waiter->promise.start();
    QFuture<Result<Approval>> future = waiter->promise.future();
    {
        QMutexLocker lock(&m_mutex);
        if (m_stopping) {
            lock.unlock();
            waiter->promise.addResult(makeError(ErrorCode::Cancelled, QStringLiteral("Fluid is closing")));
            waiter->promise.finish();
            return future;
        }
        m_waiters.insert(id, waiter);
    }
    // The first look is at once: the request may have been decided (or have expired) already.
    startPolling();
    const std::weak_ptr<Waiter> weak = waiter;
    waiter->callback = cancel.onCancel([this, id, weak]() {
        std::shared_ptr<Waiter> w;
        {
            QMutexLocker lock(&m_mutex);
            w = weak.lock();
            if (!w || !m_waiters.remove(id, w))
                return;
        }
        w->promise.addResult(
            makeError(ErrorCode::Cancelled, QStringLiteral("Stopped waiting for approval %1").arg(id)));
        w->promise.finish();
    });
    return future;
}

int ApprovalBroker::waiting() const
{
    QMutexLocker lock(&m_mutex);
    return int(m_waiters.size());
}

void ApprovalBroker::notify(const Approval& approval)
{
    resolve(approval.id, approval);
}

void ApprovalBroker::resolve(const QString& id, const Result<Approval>& outcome)
{
    QList<std::shared_ptr<Waiter>> done;
    {
        QMutexLocker lock(&m_mutex);
        done = m_waiters.values(id);
        m_waiters.remove(id);
    }
    // Outside the lock: a cancel callback running now takes the broker's lock after the token's.
    for (const std::shared_ptr<Waiter>& w : std::as_const(done)) {
        w->cancel.removeCallback(w->callback);
        w->promise.addResult(outcome);
        w->promise.finish();
    }
}

void ApprovalBroker::startPolling()
{
    QMutexLocker lock(&m_mutex);
    if (m_waiters.isEmpty() || !m_store)
        return;
    m_lookAgain = true; // a wait that began after the running look took its ids
    if (m_polling) {
        m_wake.wakeAll();
        return;
    }
    m_polling = true;
    m_poller.start([this]() { pollLoop(); });
}

void ApprovalBroker::pollLoop()
{
    for (;;) {
        {
            QMutexLocker lock(&m_mutex);
            m_lookAgain = false;
        }
        pollOnce();
        QMutexLocker lock(&m_mutex);
        const QDeadlineTimer next(m_pollIntervalMs);
        while (!m_stopping && !m_lookAgain && !m_waiters.isEmpty() && !next.hasExpired())
            m_wake.wait(&m_mutex, next);
        if (m_stopping || m_waiters.isEmpty()) {
            m_polling = false;
            return;
        }
    }
}

void ApprovalBroker::pollOnce()
{
    QStringList ids;
    store::DatabaseOptions options;
    {
        QMutexLocker lock(&m_mutex);
        ids = m_waiters.uniqueKeys();
        if (!m_store)
            return;
        options = *m_store;
    }
    if (ids.isEmpty())
        return;
    auto db = store::threadConnection(options);
    if (!db) {
        qCWarning(lcApproval) << "cannot look for approval decisions:" << db.error().toString();
        return;
    }
    auto rows = store::approvalsWithIds(**db, ids);
    if (!rows) {
        qCWarning(lcApproval) << "cannot look for approval decisions:" << rows.error().toString();
        return;
    }
    QSet<QString> found;
    for (const Approval& row : std::as_const(*rows)) {
        found.insert(row.id);
        auto current = expireIfDue(**db, m_clock, row);
        if (!current) {
            qCWarning(lcApproval) << "cannot expire approval" << row.id << ":" << current.error().toString();
            continue;
        }
        if (current->status != ApprovalStatus::Pending)
            notify(*current);
    }
    for (const QString& id : std::as_const(ids)) {
        if (!found.contains(id))
            resolve(id, makeError(ErrorCode::NotFound,
                                  QStringLiteral("There is no approval request %1").arg(id)));
    }
}

} // namespace fluid::approval

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Clock.h"
#include "model/Model.h"
#include "store/Database.h"

#include <QFuture>
#include <QHash>
#include <QMutex>
#include <QThreadPool>
#include <QWaitCondition>

#include <memory>
#include <optional>

namespace fluid::approval {

/// sha256 (hex) of an approval's kind, request and context: what a decision binds to. A person approves
/// exactly this content; if anything in it changes, the approval no longer applies.
QString contentHash(const QString& kind, const QString& request, const QJsonObject& context);

/// Files approval requests, records decisions and tells whoever waits for one. Requests live in the store, so
/// a decision can come from any front end or process (the desktop inbox, `fluid approval approve`, the REST
/// API). Decisions bind to the content hash; a request that is not decided before it expires becomes
/// Expired.
///
/// Waiting is a future (decision()), never a parked thread: a decision recorded through this broker reaches
/// the waiters of this process at once, and decisions other processes record are noticed by one poll of the
/// store for every waited request together, every pollIntervalMs and only while somebody waits (the poll
/// also marks expired requests). One broker per process (services::Services owns it).
///
/// Thread: any. request(), decide(), pending() and history() block on the Database they are given, on that
/// Database's thread; the poll has a thread and a store connection of its own, to the store setStore()
/// names.
class ApprovalBroker {
public:
    explicit ApprovalBroker(const Clock& clock = Clock::system(), int pollIntervalMs = 1000);
    /// A broker whose poll looks at the store `store` names.
    explicit ApprovalBroker(const store::DatabaseOptions& store, const Clock& clock = Clock::system(),
                            int pollIntervalMs = 1000);
    ~ApprovalBroker();
    ApprovalBroker(const ApprovalBroker&) = delete;
    ApprovalBroker& operator=(const ApprovalBroker&) = delete;

    /// The store the poll looks at (known once a front end has opened it). Waits start polling from then.
    void setStore(const store::DatabaseOptions& store);

    /// Stores a pending request asked by `by` (id, hash, times filled in) and audits it.
    Result<model::Approval> request(store::Database& db, model::Approval approval, const model::Actor& by,
                                    qint64 ttlMs);
    /// Records `who`'s decision and tells this process's waiters at once. Refused when the request is not
    /// pending, has expired, or when expectedHash is given and differs from the stored content hash.
    /// Approving is also refused (Tampered) when the stored request no longer matches its own hash (edited in
    /// the store after it was filed); rejecting it is not. An agent session or API token can never approve a
    /// request it filed itself (PermissionDenied); it may still reject (withdraw) it. A person may approve
    /// their own.
    Result<model::Approval> decide(store::Database& db, const QString& id, bool approve,
                                   const model::Actor& who, const QString& comment,
                                   const QString& expectedHash = {});
    /// The requests still waiting, oldest first. Requests whose time is up are marked Expired first, so a
    /// front end never offers one that can no longer be decided.
    Result<QList<model::Approval>> pending(store::Database& db);
    /// Decided and expired requests, the most recently decided first, at most `limit`.
    Result<QList<model::Approval>> history(store::Database& db, int limit = 100);

    /// Finishes with the request once it is decided or has expired (then marked Expired), as stored then;
    /// with Cancelled when `cancel` fires first, NotFound when there is no such request. Never blocks.
    QFuture<Result<model::Approval>> decision(const QString& id, const CancelToken& cancel = {});
    /// How many decision() futures are still open (for tests and diagnostics).
    int waiting() const;

private:
    struct Waiter;
    /// Resolves every open waiter of `approval.id` when it is no longer pending.
    void notify(const model::Approval& approval);
    void resolve(const QString& id, const Result<model::Approval>& outcome);
    void startPolling();
    void pollLoop();
    /// One look at the store for every waited request: decided or expired ones resolve their waiters.
    void pollOnce();

    const Clock& m_clock;
    const int m_pollIntervalMs;
    mutable QMutex m_mutex; // guards the members below
    std::optional<store::DatabaseOptions> m_store;
    QWaitCondition m_wake;
    QMultiHash<QString, std::shared_ptr<Waiter>> m_waiters;
    bool m_polling = false;
    bool m_lookAgain = false; ///< a new wait came after the running look took its ids
    bool m_stopping = false;
    QThreadPool m_poller;
};

} // namespace fluid::approval

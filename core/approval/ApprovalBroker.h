// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "model/Model.h"
#include "store/Database.h"

#include <atomic>
#include <optional>

namespace fluid::approval {

/// sha256 (hex) of an approval's kind, request and context: what a decision binds to. A person approves
/// exactly this content; if anything in it changes, the approval no longer applies.
QString contentHash(const QString& kind, const QString& request, const QJsonObject& context);

/// Files approval requests and waits for a person's decision. Requests live in the store, so a decision can
/// come from any front end or process (the desktop inbox, `fluid approval approve`, the REST API); the
/// waiting side checks the store twice a second. Decisions bind to the content hash; a request that is not
/// decided before it expires becomes Expired. Thread: each call uses the Database it was given, on that
/// Database's thread; wait() blocks its caller.
class ApprovalBroker {
public:
    explicit ApprovalBroker(store::Database& db, const Clock& clock = Clock::system());

    /// Stores a pending request (id, hash, times filled in) and audits it.
    Result<model::Approval> request(model::Approval approval, qint64 ttlMs);
    /// Blocks until the request is decided or expires (then marks it Expired), or *cancel becomes true.
    Result<model::ApprovalStatus> wait(const QString& id, const std::atomic<bool>* cancel = nullptr);
    /// Records a decision. Refused when the request is not pending, has expired, or when expectedHash is
    /// given and differs from the stored content hash. Approving is also refused (Tampered) when the stored
    /// request no longer matches its own hash (edited in the store after it was filed); rejecting it is not.
    Result<model::Approval> decide(const QString& id, bool approve, const QString& who,
                                   const QString& comment, const QString& expectedHash = {});
    /// The requests still waiting, oldest first. Requests whose time is up are marked Expired first, so a
    /// front end never offers one that can no longer be decided.
    Result<QList<model::Approval>> pending();
    /// Decided and expired requests, the most recently decided first, at most `limit`.
    Result<QList<model::Approval>> history(int limit = 100);

private:
    Result<model::Approval> expireIfDue(model::Approval a);
    /// The stored request, marked Expired first when its time is up.
    Result<model::Approval> load(const QString& id);

    store::Database& m_db;
    const Clock& m_clock;
};

} // namespace fluid::approval

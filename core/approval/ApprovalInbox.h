// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "model/Model.h"

#include <QList>
#include <QSet>

#include <optional>

namespace fluid::store {
class Database;
}

namespace fluid::approval {

class ApprovalBroker;

/// What one read of the approval inbox returns: the pending requests (due ones marked expired first) and,
/// when it was read, the newest history.
struct Inbox {
    QList<model::Approval> pending;
    std::optional<QList<model::Approval>> history;
};

/// How many decided and expired requests an inbox read returns at most.
inline constexpr int kInboxHistoryLimit = 200;
/// A front end polling the inbox forces the history every this many polls even when nothing seems to have
/// left the pending list: a request filed and decided elsewhere between two polls never shows up as pending.
inline constexpr int kInboxHistoryEvery = 10;

/// Reads the inbox through `broker` over `db`: the pending requests and, only when `forceHistory`
/// or when a request of `knownPending` is no longer pending, the history (the costly part: sorted by
/// decision time), since only then can it have changed. Runs on the Database's thread (for the desktop
/// inbox, the StoreWorker's).
Result<Inbox> readInbox(store::Database& db, ApprovalBroker& broker, const QSet<QString>& knownPending,
                        bool forceHistory, int historyLimit = kInboxHistoryLimit);

} // namespace fluid::approval

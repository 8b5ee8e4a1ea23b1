// SPDX-License-Identifier: Apache-2.0
#include "ApprovalInbox.h"

#include "ApprovalBroker.h"

namespace fluid::approval {

Result<Inbox> readInbox(store::Database& db, ApprovalBroker& broker, const QSet<QString>& knownPending,
                        bool forceHistory, int historyLimit)
{
    auto pending = broker.pending(db);
    if (!pending)
        return pending.error();
    Inbox inbox{std::move(*pending), std::nullopt};
    bool readHistory = forceHistory;
    if (!readHistory) {
        QSet<QString> still;
        for (const model::Approval& a : std::as_const(inbox.pending))
            still.insert(a.id);
        readHistory = !still.contains(knownPending);
    }
    if (readHistory) {
        auto history = broker.history(db, historyLimit);
        if (!history)
            return history.error();
        inbox.history = std::move(*history);
    }
    return inbox;
}

} // namespace fluid::approval

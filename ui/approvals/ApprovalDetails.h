// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "model/Model.h"

#include <QCoreApplication>
#include <QString>

class QPalette;

namespace fluid {
class Clock;
}

namespace fluid::ui {

/// Turns one approval request into the HTML the inbox's details pane shows: the facts (status, kind,
/// sandbox, host, who asked and who decided, when), why it needs a decision, the resources asked, the rest
/// of its context, a diff with its lines marked, and the content hash with whether the stored request still
/// matches it. Text from the request is escaped, never markup. Diff colours derive from the palette given,
/// so they suit dark and light themes; the status is read at the clock's now. GUI thread.
class ApprovalDetails {
    Q_DECLARE_TR_FUNCTIONS(ApprovalDetails)
public:
    explicit ApprovalDetails(const Clock& clock);

    QString html(const model::Approval& approval, const QPalette& palette) const;

    /// What the pane does when the request it shows is read again from the store.
    enum class Follow {
        Keep,   ///< nothing the pane shows has changed
        Warn,   ///< a pending request's content changed: the person keeps reading what they saw, and is told
        Reshow, ///< it was decided, or a decided request changed: the pane shows it as it is now
    };
    static Follow follow(const model::Approval& shown, const model::Approval& current);

private:
    QString facts(const model::Approval& a) const;
    static QString why(const model::Approval& a);
    static QString resources(const model::Approval& a);
    static QString otherContext(const model::Approval& a);
    static QString diff(const model::Approval& a, const QPalette& palette);
    static QString hash(const model::Approval& a);

    const Clock& m_clock;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "model/Model.h"

#include <QAbstractTableModel>

namespace fluid {
class Clock;
}

namespace fluid::ui {

/// Approval requests as a table: what kind, for which sandbox, who asked, what, how old, when it expires,
/// its status and (for decided ones) who decided, when and why. The rows are set from outside (the inbox
/// dock's store poll); a new list is merged row by row so selections survive a refresh. Times are shown
/// relative to an injectable clock. GUI thread.
class ApprovalModel : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ApprovalModel)
public:
    enum Column {
        Kind,
        Sandbox,
        RequestedBy,
        What,
        Age,
        Expires,
        Status,
        DecidedBy,
        Decided,
        Comment,
        ColumnCount
    };
    enum Role {
        IdRole = Qt::UserRole + 1, ///< the approval's id
        HashRole,                  ///< its content hash
        /// True for a pending request whose time is up (the store marks it Expired on its next poll).
        OverdueRole,
    };

    explicit ApprovalModel(const Clock* clock = nullptr, QObject* parent = nullptr);

    /// Replaces the rows with `approvals` (in that order), keeping rows whose id stays.
    void setApprovals(const QList<model::Approval>& approvals);
    const QList<model::Approval>& approvals() const { return m_rows; }
    const model::Approval& approvalAt(int row) const { return m_rows.at(row); }
    /// The row of the approval with this id, or -1.
    int rowOf(const QString& id) const;
    /// Re-reads the clock: the age, expiry and status cells change.
    void tick();

    /// The sandbox a request is about: its id, else the name in its context (a sandbox not created yet).
    static QString sandboxOf(const model::Approval& approval);
    /// "45 s", "12 min", "3 h", "2 d": how long, for age and expiry cells.
    static QString shortDuration(qint64 ms);
    /// The status word as shown: approval status, or "expired" for an overdue pending request.
    QString statusText(const model::Approval& approval) const;
    bool isOverdue(const model::Approval& approval) const;
    /// statusText() and isOverdue() at `now` instead of the model's clock.
    static QString statusTextAt(const model::Approval& approval, const QDateTime& now);
    static bool isOverdueAt(const model::Approval& approval, const QDateTime& now);
    /// "2024-05-01 14:03:22" in local time, or empty for an invalid time: how request times are written.
    static QString localTime(const QDateTime& t);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    const Clock& m_clock;
    QList<model::Approval> m_rows;
};

} // namespace fluid::ui

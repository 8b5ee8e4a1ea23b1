// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "model/Model.h"

#include <QAbstractTableModel>

namespace fluid::ui {

/// Audit events as a table (newest first). Plain data set from outside; GUI thread.
class AuditLogModel : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AuditLogModel)
public:
    enum Column { Seq, Time, Actor, Kind, Sandbox, Summary, ColumnCount };

    explicit AuditLogModel(QObject* parent = nullptr);

    void setEvents(QList<model::AuditEvent> events);
    /// Marks the row with this seq as where the chain breaks (shown in the highlight colour).
    void setBrokenSeq(std::optional<qint64> seq);
    const model::AuditEvent& eventAt(int row) const { return m_events.at(row); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QList<model::AuditEvent> m_events;
    std::optional<qint64> m_brokenSeq;
};

} // namespace fluid::ui

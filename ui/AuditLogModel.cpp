// SPDX-License-Identifier: Apache-2.0
#include "AuditLogModel.h"

#include <QApplication>
#include <QJsonDocument>
#include <QPalette>

namespace fluid::ui {

AuditLogModel::AuditLogModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void AuditLogModel::setEvents(QList<model::AuditEvent> events)
{
    beginResetModel();
    m_events = std::move(events);
    endResetModel();
}

void AuditLogModel::setBrokenSeq(std::optional<qint64> seq)
{
    m_brokenSeq = seq;
    if (!m_events.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
}

int AuditLogModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_events.size());
}

int AuditLogModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant AuditLogModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= m_events.size())
        return {};
    const model::AuditEvent& e = m_events.at(index.row());
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Seq:
            return e.seq;
        case Time:
            return e.time.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
        case Actor:
            return e.actor;
        case Kind:
            return e.kind;
        case Sandbox:
            return e.sandboxId;
        case Summary:
            return e.summary;
        }
    } else if (role == Qt::ToolTipRole) {
        return tr("#%1 by %2 at %3\n%4\n\n%5\n\nhash %6")
            .arg(e.seq)
            .arg(e.actor, e.time.toLocalTime().toString(Qt::ISODateWithMs), e.summary,
                 QString::fromUtf8(QJsonDocument(e.data).toJson(QJsonDocument::Indented)), e.hash);
    } else if (role == Qt::ForegroundRole && m_brokenSeq && e.seq == *m_brokenSeq) {
        return QApplication::palette().color(QPalette::HighlightedText);
    } else if (role == Qt::BackgroundRole && m_brokenSeq && e.seq == *m_brokenSeq) {
        return QApplication::palette().color(QPalette::Highlight);
    } else if (role == Qt::TextAlignmentRole && index.column() == Seq) {
        return int(Qt::AlignRight | Qt::AlignVCenter);
    }
    return {};
}

QVariant AuditLogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Seq:
        return tr("#");
    case Time:
        return tr("Time");
    case Actor:
        return tr("Actor");
    case Kind:
        return tr("Kind");
    case Sandbox:
        return tr("Sandbox");
    case Summary:
        return tr("Summary");
    }
    return {};
}

} // namespace fluid::ui

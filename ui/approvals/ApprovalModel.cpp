// SPDX-License-Identifier: Apache-2.0
#include "ApprovalModel.h"

#include "base/Clock.h"

#include <QApplication>
#include <QFont>
#include <QPalette>
#include <QSet>

namespace fluid::ui {
using model::Approval;
using model::ApprovalStatus;

namespace {

bool sameRow(const Approval& a, const Approval& b)
{
    return a.id == b.id && a.kind == b.kind && a.sandboxId == b.sandboxId && a.sessionId == b.sessionId &&
           a.request == b.request && a.context == b.context && a.contentHash == b.contentHash &&
           a.status == b.status && a.requestedBy == b.requestedBy && a.decidedBy == b.decidedBy &&
           a.comment == b.comment && a.createdAt == b.createdAt && a.expiresAt == b.expiresAt &&
           a.decidedAt == b.decidedAt;
}

} // namespace

ApprovalModel::ApprovalModel(const Clock* clock, QObject* parent)
    : QAbstractTableModel(parent)
    , m_clock(clock ? *clock : Clock::system())
{
}

void ApprovalModel::setApprovals(const QList<Approval>& approvals)
{
    QSet<QString> incoming;
    for (const Approval& a : approvals)
        incoming.insert(a.id);
    for (int r = int(m_rows.size()) - 1; r >= 0; --r) {
        if (!incoming.contains(m_rows.at(r).id)) {
            beginRemoveRows({}, r, r);
            m_rows.removeAt(r);
            endRemoveRows();
        }
    }
    // What stays must keep its relative order for a row-by-row merge; both lists the inbox shows are
    // ordered by times that do not change, so a reset is only a fallback.
    QStringList kept;
    for (const Approval& a : approvals)
        if (rowOf(a.id) >= 0)
            kept << a.id;
    QStringList current;
    for (const Approval& a : std::as_const(m_rows))
        current << a.id;
    if (kept != current) {
        beginResetModel();
        m_rows = approvals;
        endResetModel();
        return;
    }
    for (int i = 0; i < approvals.size(); ++i) {
        const Approval& a = approvals.at(i);
        if (i < m_rows.size() && m_rows.at(i).id == a.id) {
            if (!sameRow(m_rows.at(i), a)) {
                m_rows[i] = a;
                Q_EMIT dataChanged(index(i, 0), index(i, ColumnCount - 1));
            }
            continue;
        }
        beginInsertRows({}, i, i);
        m_rows.insert(i, a);
        endInsertRows();
    }
}

int ApprovalModel::rowOf(const QString& id) const
{
    for (int r = 0; r < m_rows.size(); ++r)
        if (m_rows.at(r).id == id)
            return r;
    return -1;
}

void ApprovalModel::tick()
{
    if (m_rows.isEmpty())
        return;
    Q_EMIT dataChanged(index(0, Age), index(rowCount() - 1, Status));
}

QString ApprovalModel::sandboxOf(const Approval& approval)
{
    if (!approval.sandboxId.isEmpty())
        return approval.sandboxId;
    return approval.context.value(QStringLiteral("sandbox")).toString();
}

QString ApprovalModel::shortDuration(qint64 ms)
{
    const qint64 s = qMax<qint64>(0, ms) / 1000;
    if (s < 60)
        return tr("%1 s").arg(s);
    if (s < 3600)
        return tr("%1 min").arg(s / 60);
    if (s < 86400)
        return tr("%1 h").arg(s / 3600);
    return tr("%1 d").arg(s / 86400);
}

bool ApprovalModel::isOverdue(const Approval& approval) const
{
    return isOverdueAt(approval, m_clock.now());
}

QString ApprovalModel::statusText(const Approval& approval) const
{
    return statusTextAt(approval, m_clock.now());
}

bool ApprovalModel::isOverdueAt(const Approval& approval, const QDateTime& now)
{
    return approval.status == ApprovalStatus::Pending && approval.expiresAt.isValid() &&
           now >= approval.expiresAt;
}

QString ApprovalModel::statusTextAt(const Approval& approval, const QDateTime& now)
{
    return isOverdueAt(approval, now) ? model::enumName(ApprovalStatus::Expired)
                                      : model::enumName(approval.status);
}

QString ApprovalModel::localTime(const QDateTime& t)
{
    return t.isValid() ? t.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : QString();
}

int ApprovalModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ApprovalModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ApprovalModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const Approval& a = m_rows.at(index.row());
    const QDateTime now = m_clock.now();
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case Kind:
            return a.kind;
        case Sandbox:
            return sandboxOf(a);
        case RequestedBy:
            return a.requestedBy;
        case What:
            return a.request;
        case Age:
            return a.createdAt.isValid() ? tr("%1 ago").arg(shortDuration(a.createdAt.msecsTo(now)))
                                         : QString();
        case Expires:
            if (a.status != ApprovalStatus::Pending || !a.expiresAt.isValid())
                return QString();
            return isOverdue(a) ? tr("expired") : tr("in %1").arg(shortDuration(now.msecsTo(a.expiresAt)));
        case Status:
            return statusText(a);
        case DecidedBy:
            return a.decidedBy;
        case Decided:
            return localTime(a.decidedAt);
        case Comment:
            return a.comment;
        }
        break;
    case Qt::ToolTipRole:
        switch (index.column()) {
        case Age:
            return tr("Asked at %1").arg(localTime(a.createdAt));
        case Expires:
            return a.expiresAt.isValid() ? tr("Expires at %1").arg(localTime(a.expiresAt)) : QVariant();
        case Decided:
            return a.decidedAt.isValid() ? tr("%1 ago").arg(shortDuration(a.decidedAt.msecsTo(now)))
                                         : QVariant();
        default:
            return a.request;
        }
    case Qt::ForegroundRole:
        // Requests that can no longer be decided are greyed with the palette's own disabled colour.
        if (a.status == ApprovalStatus::Expired || isOverdue(a))
            return QApplication::palette().brush(QPalette::Disabled, QPalette::Text);
        break;
    case Qt::FontRole:
        if (index.column() == Status && a.status == ApprovalStatus::Pending && !isOverdue(a)) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        break;
    case IdRole:
        return a.id;
    case HashRole:
        return a.contentHash;
    case OverdueRole:
        return isOverdue(a);
    default:
        break;
    }
    return {};
}

QVariant ApprovalModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Kind:
        return tr("Kind");
    case Sandbox:
        return tr("Sandbox");
    case RequestedBy:
        return tr("Requested by");
    case What:
        return tr("What");
    case Age:
        return tr("Age");
    case Expires:
        return tr("Expires");
    case Status:
        return tr("Status");
    case DecidedBy:
        return tr("Decided by");
    case Decided:
        return tr("Decided at");
    case Comment:
        return tr("Comment");
    }
    return {};
}

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#include "OperationListModel.h"

#include <QApplication>
#include <QStyle>

namespace fluid::ui {
namespace {
constexpr int kStatusTimeoutMs = 8000;
} // namespace

OperationListModel::OperationListModel(QObject* parent)
    : QAbstractListModel(parent)
{
}

void OperationListModel::setRegistry(services::OperationRegistry* registry)
{
    if (m_registry == registry)
        return;
    if (m_registry)
        disconnect(m_registry, nullptr, this, nullptr);
    beginResetModel();
    m_registry = registry;
    m_running.clear();
    m_failures.clear();
    m_forgotten.clear();
    if (m_registry) {
        const QList<services::OperationInfo> running = m_registry->running();
        for (auto it = running.crbegin(); it != running.crend(); ++it)
            if (isShown(*it))
                m_running.append(Row{*it, {}, {}});
    }
    endResetModel();
    if (!m_registry)
        return;
    connect(m_registry, &services::OperationRegistry::started, this, &OperationListModel::onStarted);
    connect(m_registry, &services::OperationRegistry::changed, this, &OperationListModel::onChanged);
    connect(m_registry, &services::OperationRegistry::finished, this, &OperationListModel::onFinished);
}

bool OperationListModel::isShown(const services::OperationInfo& info) const
{
    return !info.host.isEmpty() && !m_forgotten.contains(info.id);
}

int OperationListModel::rowOf(quint64 id) const
{
    for (int r = 0; r < m_running.size(); ++r)
        if (m_running[r].info.id == id)
            return r;
    return -1;
}

void OperationListModel::onStarted(const services::OperationInfo& info)
{
    if (!isShown(info) || rowOf(info.id) >= 0)
        return;
    // A quick operation may have ended before its start is delivered (signals from workers are queued).
    if (m_registry) {
        if (auto now = m_registry->find(info.id); now && !now->running())
            return;
    }
    beginInsertRows({}, 0, 0);
    m_running.prepend(Row{info, {}, {}});
    endInsertRows();
    Q_EMIT statusMessage(tr("%1…").arg(info.description), 0);
}

void OperationListModel::onChanged(const services::OperationInfo& info)
{
    const int r = rowOf(info.id);
    if (r < 0)
        return;
    m_running[r].info = info;
    Q_EMIT dataChanged(index(r), index(r));
    const QString text = info.cancelRequested
                             ? tr("%1: cancelling…").arg(info.description)
                             : QStringLiteral("%1: %2").arg(info.description, info.progress.text());
    Q_EMIT statusMessage(text, 0);
}

void OperationListModel::onFinished(const services::OperationInfo& info)
{
    if (m_forgotten.remove(info.id) || info.host.isEmpty())
        return;
    if (const int r = rowOf(info.id); r >= 0) {
        beginRemoveRows({}, r, r);
        m_running.removeAt(r);
        endRemoveRows();
    }
    if (info.state == services::OperationState::Succeeded) {
        Q_EMIT statusMessage(QStringLiteral("%1: %2").arg(info.description, info.outcome), kStatusTimeoutMs);
    } else {
        addFailureRow(Row{info, tr("%1 failed").arg(info.description), info.outcome});
    }
    Q_EMIT operationFinished(info);
}

void OperationListModel::addNote(const QString& text, const QString& detail)
{
    addFailureRow(Row{{}, text, detail});
}

void OperationListModel::addFailureRow(Row row)
{
    const int first = int(m_running.size());
    beginInsertRows({}, first, first);
    m_failures.prepend(row);
    endInsertRows();
    if (m_failures.size() > kMaxFailures) {
        const int last = first + int(m_failures.size()) - 1;
        beginRemoveRows({}, last, last); // the oldest beyond the limit
        m_failures.removeLast();
        endRemoveRows();
    }
    Q_EMIT statusMessage(QStringLiteral("%1: %2").arg(row.note, row.detail), 0);
}

int OperationListModel::forgetHost(const QString& host)
{
    int running = 0;
    for (int r = int(m_running.size()) - 1; r >= 0; --r) {
        if (m_running[r].info.host != host)
            continue;
        m_forgotten.insert(m_running[r].info.id);
        beginRemoveRows({}, r, r);
        m_running.removeAt(r);
        endRemoveRows();
        ++running;
    }
    return running;
}

void OperationListModel::dismissFinished()
{
    if (m_failures.isEmpty())
        return;
    const int first = int(m_running.size());
    beginRemoveRows({}, first, first + int(m_failures.size()) - 1);
    m_failures.clear();
    endRemoveRows();
}

int OperationListModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_running.size() + m_failures.size());
}

QVariant OperationListModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const bool running = index.row() < m_running.size();
    const Row& row = running ? m_running[index.row()] : m_failures[index.row() - m_running.size()];
    const services::OperationInfo& info = row.info;
    switch (role) {
    case Qt::DisplayRole:
        if (!running)
            return QStringLiteral("%1: %2").arg(row.note, row.detail);
        if (info.cancelRequested)
            return tr("%1: cancelling…").arg(info.description);
        if (info.progress.text().isEmpty())
            return info.description + QStringLiteral("…");
        return QStringLiteral("%1: %2").arg(info.description, info.progress.text());
    case Qt::ToolTipRole:
        return running ? info.progress.text() : row.detail;
    case Qt::DecorationRole:
        return QApplication::style()->standardIcon(running ? QStyle::SP_BrowserReload
                                                           : QStyle::SP_MessageBoxCritical);
    case OperationIdRole:
        return QVariant::fromValue(info.id);
    case RunningRole:
        return running;
    case CancellableRole:
        return running && info.cancellable && !info.cancelRequested;
    case HostRole:
        return info.host;
    case DescriptionRole:
        return info.description;
    default:
        return {};
    }
}

} // namespace fluid::ui

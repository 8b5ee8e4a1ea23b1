// SPDX-License-Identifier: Apache-2.0
#include "HostTreeModel.h"

#include "base/Clock.h"

#include <QApplication>
#include <QPalette>
#include <QSet>
#include <QStyle>

#include <algorithm>
#include <limits>

namespace fluid::ui {

namespace {

QStandardItem* rowParent(QStandardItem* item)
{
    return item->parent() ? item->parent() : item->model()->invisibleRootItem();
}

QStandardItem* cell(QStandardItem* first, int column)
{
    return rowParent(first)->child(first->row(), column);
}

void setRowToolTip(QStandardItem* first, const QString& tip)
{
    for (int c = 0; c < HostTreeModel::ColumnCount; ++c)
        if (QStandardItem* it = cell(first, c); it->toolTip() != tip)
            it->setToolTip(tip);
}

QString mib(qint64 value)
{
    return value > 0 ? QStringLiteral("%1 MiB").arg(value) : QString();
}

QString count(int value)
{
    return value > 0 ? QString::number(value) : QString();
}

} // namespace

HostTreeModel::HostTreeModel(QObject* parent, const Clock* clock)
    : QStandardItemModel(0, ColumnCount, parent)
    , m_clock(clock ? clock : &Clock::system())
{
    setHorizontalHeaderLabels(
        {tr("Name"), tr("State"), tr("IP"), tr("Memory"), tr("vCPUs"), tr("Age"), tr("Accelerator")});
}

QModelIndex HostTreeModel::addHost(const QString& host, const QString& uri, int order)
{
    if (QStandardItem* existing = hostItem(host))
        return existing->index();
    const auto rank = [](int o) {
        return o < 0 ? std::numeric_limits<int>::max() : o;
    };
    int position = rowCount();
    for (int r = 0; r < rowCount(); ++r) {
        if (rank(invisibleRootItem()->child(r)->data(OrderRole).toInt()) > rank(order)) {
            position = r;
            break;
        }
    }
    QStandardItem* item = ensureRow(invisibleRootItem(), Kind::Host, host, position);
    item->setData(order, OrderRole);
    item->setData(false, ConnectedRole);
    item->setData(uri, Qt::StatusTipRole);
    setCells(item, {host, tr("connecting…")});
    setRowToolTip(item, uri);
    QStandardItem* sources = ensureRow(item, Kind::SourceGroup, QStringLiteral("sources"), 0);
    setCells(sources, {tr("Source VMs")});
    QStandardItem* sandboxes = ensureRow(item, Kind::SandboxGroup, QStringLiteral("sandboxes"), 1);
    setCells(sandboxes, {tr("Sandboxes")});
    return item->index();
}

void HostTreeModel::removeHost(const QString& host)
{
    if (QStandardItem* item = hostItem(host))
        removeRow(item->row());
}

void HostTreeModel::setHostState(const QString& host, bool connected, const QString& state,
                                 const QString& detail)
{
    QStandardItem* item = hostItem(host);
    if (!item)
        return;
    item->setData(connected, ConnectedRole);
    item->setData(detail, Qt::StatusTipRole);
    setCells(item, {host, state});
    const QString info = item->data(Qt::WhatsThisRole).toString();
    setRowToolTip(item, info.isEmpty() ? detail : detail + QLatin1Char('\n') + info);
    item->setIcon(connected ? QIcon() : QApplication::style()->standardIcon(QStyle::SP_MessageBoxWarning));
}

void HostTreeModel::setHostInfo(const QString& host, const QString& summary)
{
    QStandardItem* item = hostItem(host);
    if (!item)
        return;
    item->setData(summary, Qt::WhatsThisRole);
    const QString detail = item->data(Qt::StatusTipRole).toString();
    setRowToolTip(item, detail.isEmpty() ? summary : detail + QLatin1Char('\n') + summary);
}

void HostTreeModel::setSources(const QString& host, const QList<services::HostSession::Source>& sources)
{
    QStandardItem* parent = group(host, Kind::SourceGroup);
    if (!parent)
        return;
    QSet<QString> keep;
    for (int i = 0; i < sources.size(); ++i) {
        const services::HostSession::Source& s = sources.at(i);
        keep.insert(s.name);
        QStandardItem* item = ensureRow(parent, Kind::Source, s.name, i);
        const bool cloneable = s.refusal.isEmpty();
        item->setData(cloneable, CloneableRole);
        setCells(item, {s.name, s.state, QString(), mib(s.memoryMib), count(s.vcpus)});
        QStringList tip;
        if (!cloneable)
            tip << tr("Cannot be cloned: %1").arg(s.refusal);
        if (!s.warning.isEmpty())
            tip << tr("Warning: %1").arg(s.warning);
        if (!s.disk.isEmpty())
            tip << tr("Disk: %1").arg(s.disk);
        if (s.golden)
            tip.prepend(tr("This host's golden VM: Create sandbox on the host clones it."));
        QFont font = item->font();
        font.setBold(s.golden);
        item->setFont(font);
        setRowToolTip(item, tip.join(QLatin1Char('\n')));
        item->setIcon(s.warning.isEmpty()
                          ? QIcon()
                          : QApplication::style()->standardIcon(QStyle::SP_MessageBoxWarning));
    }
    removeOthers(parent, keep);
}

void HostTreeModel::setSandboxes(const QString& host, const QList<model::Sandbox>& sandboxes)
{
    QStandardItem* parent = group(host, Kind::SandboxGroup);
    if (!parent)
        return;
    QSet<QString> keep;
    for (int i = 0; i < sandboxes.size(); ++i) {
        const model::Sandbox& s = sandboxes.at(i);
        keep.insert(s.id);
        const bool isNew = childByKey(parent, s.id) == nullptr;
        QStandardItem* item = ensureRow(parent, Kind::Sandbox, s.id, i);
        if (isNew) {
            item->setData(s.id, SandboxIdRole);
            // Something to expand: snapshots load when the person opens the row.
            QStandardItem* placeholder = ensureRow(item, Kind::Placeholder, QString(), 0);
            setCells(placeholder, {tr("Snapshots load when expanded")});
        }
        item->setData(int(s.state), SandboxStateRole);
        item->setData(s.createdAt, CreatedRole);
        setCells(item, {s.name, model::enumName(s.state), s.ip, mib(s.memoryMib), count(s.vcpus), QString(),
                        s.accelerator});
        QString tip = tr("Domain %1").arg(s.domainName);
        if (!s.error.isEmpty())
            tip += QLatin1Char('\n') + tr("Error: %1").arg(s.error);
        setRowToolTip(item, tip);
        item->setIcon(s.state == model::SandboxState::Error
                          ? QApplication::style()->standardIcon(QStyle::SP_MessageBoxCritical)
                          : QIcon());
    }
    removeOthers(parent, keep);
}

void HostTreeModel::setSnapshots(const QString& host, const QString& sandboxId,
                                 const QList<virt::SnapshotInfo>& snapshots)
{
    const QModelIndex sandbox = sandboxIndex(host, sandboxId);
    if (!sandbox.isValid())
        return;
    QStandardItem* parent = itemFromIndex(sandbox);
    QSet<QString> keep;
    for (int i = 0; i < snapshots.size(); ++i) {
        const virt::SnapshotInfo& s = snapshots.at(i);
        keep.insert(s.name);
        QStandardItem* item = ensureRow(parent, Kind::Snapshot, s.name, i);
        item->setData(sandboxId, SandboxIdRole);
        item->setData(s.createdAt, CreatedRole);
        setCells(item, {s.name, s.current ? tr("%1 (current)").arg(virt::domainStateName(s.state))
                                          : virt::domainStateName(s.state)});
        setRowToolTip(item, s.description);
    }
    removeOthers(parent, keep);
}

QModelIndex HostTreeModel::hostIndex(const QString& host) const
{
    QStandardItem* item = hostItem(host);
    return item ? item->index() : QModelIndex();
}

QModelIndex HostTreeModel::sandboxIndex(const QString& host, const QString& sandboxId) const
{
    QStandardItem* parent = group(host, Kind::SandboxGroup);
    QStandardItem* item = parent ? childByKey(parent, sandboxId) : nullptr;
    return item ? item->index() : QModelIndex();
}

QModelIndex HostTreeModel::sourceIndex(const QString& host, const QString& name) const
{
    QStandardItem* parent = group(host, Kind::SourceGroup);
    QStandardItem* item = parent ? childByKey(parent, name) : nullptr;
    return item ? item->index() : QModelIndex();
}

QModelIndex HostTreeModel::snapshotIndex(const QString& host, const QString& sandboxId,
                                         const QString& name) const
{
    const QModelIndex sandbox = sandboxIndex(host, sandboxId);
    QStandardItem* item = sandbox.isValid() ? childByKey(itemFromIndex(sandbox), name) : nullptr;
    return item && kindOf(item->index()) == Kind::Snapshot ? item->index() : QModelIndex();
}

HostTreeModel::Kind HostTreeModel::kindOf(const QModelIndex& index)
{
    return Kind(index.siblingAtColumn(0).data(KindRole).toInt());
}

QString HostTreeModel::ageText(const QDateTime& from, const QDateTime& now)
{
    const qint64 s = std::max<qint64>(0, from.secsTo(now));
    if (s < 60)
        return tr("just now");
    if (s < 3600)
        return tr("%1 min").arg(s / 60);
    if (s < 86400)
        return tr("%1 h").arg(s / 3600);
    return tr("%1 d").arg(s / 86400);
}

QVariant HostTreeModel::data(const QModelIndex& index, int role) const
{
    if (role == Qt::DisplayRole && index.column() == Age) {
        const QDateTime created = index.siblingAtColumn(0).data(CreatedRole).toDateTime();
        return created.isValid() ? ageText(created, m_clock->now()) : QVariant();
    }
    if (role == Qt::ForegroundRole && kindOf(index) == Kind::Source &&
        !index.siblingAtColumn(0).data(CloneableRole).toBool())
        return QApplication::palette().brush(QPalette::Disabled, QPalette::Text);
    if (role == Qt::ForegroundRole && kindOf(index) == Kind::Placeholder)
        return QApplication::palette().brush(QPalette::Disabled, QPalette::Text);
    return QStandardItemModel::data(index, role);
}

void HostTreeModel::touchAges()
{
    touchAgesUnder(invisibleRootItem());
}

void HostTreeModel::touchAgesUnder(QStandardItem* parent)
{
    if (parent->rowCount() == 0)
        return;
    const QModelIndex p = parent == invisibleRootItem() ? QModelIndex() : parent->index();
    Q_EMIT dataChanged(index(0, Age, p), index(parent->rowCount() - 1, Age, p), {Qt::DisplayRole});
    for (int r = 0; r < parent->rowCount(); ++r)
        touchAgesUnder(parent->child(r, 0));
}

QStandardItem* HostTreeModel::hostItem(const QString& host) const
{
    return childByKey(invisibleRootItem(), host);
}

QStandardItem* HostTreeModel::group(const QString& host, Kind kind) const
{
    QStandardItem* h = hostItem(host);
    if (!h)
        return nullptr;
    for (int r = 0; r < h->rowCount(); ++r)
        if (Kind(h->child(r, 0)->data(KindRole).toInt()) == kind)
            return h->child(r, 0);
    return nullptr;
}

QStandardItem* HostTreeModel::childByKey(QStandardItem* parent, const QString& key)
{
    for (int r = 0; r < parent->rowCount(); ++r)
        if (QStandardItem* it = parent->child(r, 0); it->data(KeyRole).toString() == key)
            return it;
    return nullptr;
}

QStandardItem* HostTreeModel::ensureRow(QStandardItem* parent, Kind kind, const QString& key, int position)
{
    if (QStandardItem* existing = childByKey(parent, key);
        existing && Kind(existing->data(KindRole).toInt()) == kind)
        return existing;
    const QString host = kind == Kind::Host ? key : (parent->data(HostRole).toString());
    QList<QStandardItem*> row;
    for (int c = 0; c < ColumnCount; ++c) {
        auto* it = new QStandardItem;
        it->setEditable(false);
        row.append(it);
    }
    row.first()->setData(int(kind), KindRole);
    row.first()->setData(key, KeyRole);
    row.first()->setData(host, HostRole);
    parent->insertRow(std::clamp(position, 0, parent->rowCount()), row);
    return row.first();
}

void HostTreeModel::removeOthers(QStandardItem* parent, const QSet<QString>& keep)
{
    for (int r = parent->rowCount() - 1; r >= 0; --r)
        if (!keep.contains(parent->child(r, 0)->data(KeyRole).toString()))
            parent->removeRow(r);
}

void HostTreeModel::setCells(QStandardItem* first, const QStringList& texts)
{
    for (int c = 0; c < texts.size() && c < ColumnCount; ++c)
        if (QStandardItem* it = cell(first, c); it->text() != texts.at(c))
            it->setText(texts.at(c));
}

} // namespace fluid::ui

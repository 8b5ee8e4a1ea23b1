// SPDX-License-Identifier: Apache-2.0
#include "DiffPathModel.h"

#include <QLocale>

#include <algorithm>

namespace fluid::ui {

namespace {
QString sizeText(const QJsonObject& side)
{
    if (side.isEmpty() || side.value(QStringLiteral("type")).toString() == QLatin1String("directory"))
        return {};
    return QLocale().formattedDataSize(side.value(QStringLiteral("size")).toInteger(), 1,
                                       QLocale::DataSizeTraditionalFormat);
}

QString ownerText(const QJsonObject& side)
{
    if (side.isEmpty())
        return {};
    return QStringLiteral("%1:%2")
        .arg(side.value(QStringLiteral("uid")).toInteger())
        .arg(side.value(QStringLiteral("gid")).toInteger());
}

/// "a → b" when both sides exist and differ, else the side there is.
QString beforeAfter(const QString& before, const QString& after, bool hasBefore, bool hasAfter)
{
    if (hasBefore && hasAfter)
        return before == after ? after : QStringLiteral("%1 → %2").arg(before, after);
    if (hasAfter)
        return QStringLiteral("→ %1").arg(after);
    if (hasBefore)
        return QStringLiteral("%1 →").arg(before);
    return {};
}
} // namespace

DiffPathModel::DiffPathModel(QObject* parent)
    : QAbstractItemModel(parent)
    , m_root(std::make_unique<Node>())
    , m_palette(DiffPalette::from(QPalette()))
{
}

DiffPathModel::~DiffPathModel() = default;

void DiffPathModel::setPalette(const DiffPalette& palette)
{
    m_palette = palette;
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
}

void DiffPathModel::setDocument(const QJsonObject& document)
{
    beginResetModel();
    m_entries = document.value(QStringLiteral("paths")).toArray();
    m_root = std::make_unique<Node>();
    for (int i = 0; i < m_entries.size(); ++i) {
        const QString path = m_entries.at(i).toObject().value(QStringLiteral("path")).toString();
        Node* node = m_root.get();
        QString prefix;
        for (const QString& part : path.split(QLatin1Char('/'), Qt::SkipEmptyParts)) {
            prefix += QLatin1Char('/') + part;
            auto it = std::find_if(node->children.begin(), node->children.end(),
                                   [&](const auto& c) { return c->name == part; });
            if (it == node->children.end()) {
                auto child = std::make_unique<Node>();
                child->name = part;
                child->path = prefix;
                child->parent = node;
                node->children.push_back(std::move(child));
                node = node->children.back().get();
            } else {
                node = it->get();
            }
        }
        node->entry = i;
    }
    // A folder that did not change and only holds one sub-folder becomes one row with it.
    std::function<void(Node*)> settle = [&](Node* node) {
        if (node != m_root.get()) {
            while (node->entry < 0 && node->children.size() == 1 && node->children.front()->entry < 0 &&
                   !node->children.front()->children.empty()) {
                std::unique_ptr<Node> only = std::move(node->children.front());
                node->name += QLatin1Char('/') + only->name;
                node->path = only->path;
                node->children = std::move(only->children);
                for (auto& c : node->children)
                    c->parent = node;
            }
        }
        std::sort(node->children.begin(), node->children.end(),
                  [](const auto& a, const auto& b) { return a->name < b->name; });
        for (size_t r = 0; r < node->children.size(); ++r) {
            node->children[r]->row = int(r);
            settle(node->children[r].get());
        }
    };
    settle(m_root.get());
    endResetModel();
}

QJsonObject DiffPathModel::entry(const QModelIndex& index) const
{
    const Node* node = nodeOf(index);
    return node && node->entry >= 0 ? m_entries.at(node->entry).toObject() : QJsonObject();
}

QModelIndex DiffPathModel::indexOfPath(const QString& path) const
{
    Node* node = m_root.get();
    while (node) {
        if (node->path == path && node != m_root.get())
            return indexOf(node);
        Node* next = nullptr;
        for (const auto& c : node->children)
            if (path == c->path || path.startsWith(c->path + QLatin1Char('/'))) {
                next = c.get();
                break;
            }
        node = next;
    }
    return {};
}

DiffPathModel::Node* DiffPathModel::nodeOf(const QModelIndex& index) const
{
    return index.isValid() ? static_cast<Node*>(index.internalPointer()) : m_root.get();
}

QModelIndex DiffPathModel::indexOf(Node* node, int column) const
{
    return node == m_root.get() ? QModelIndex() : createIndex(node->row, column, node);
}

QModelIndex DiffPathModel::index(int row, int column, const QModelIndex& parent) const
{
    const Node* p = nodeOf(parent);
    if (row < 0 || column < 0 || column >= ColumnCount || row >= int(p->children.size()))
        return {};
    return createIndex(row, column, p->children[size_t(row)].get());
}

QModelIndex DiffPathModel::parent(const QModelIndex& child) const
{
    if (!child.isValid())
        return {};
    return indexOf(nodeOf(child)->parent);
}

int DiffPathModel::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid() && parent.column() != 0)
        return 0;
    return int(nodeOf(parent)->children.size());
}

int DiffPathModel::columnCount(const QModelIndex&) const
{
    return ColumnCount;
}

QString DiffPathModel::cellText(const Node& node, int column) const
{
    if (column == PathColumn)
        return node.parent == m_root.get() ? QLatin1Char('/') + node.name : node.name;
    if (node.entry < 0)
        return {};
    const QJsonObject e = m_entries.at(node.entry).toObject();
    const QJsonObject before = e.value(QStringLiteral("before")).toObject();
    const QJsonObject after = e.value(QStringLiteral("after")).toObject();
    switch (column) {
    case ChangeColumn:
        return e.value(QStringLiteral("change")).toString();
    case AspectsColumn: {
        QStringList aspects;
        for (const QJsonValue& a : e.value(QStringLiteral("aspects")).toArray())
            aspects << a.toString();
        return aspects.join(QStringLiteral(", "));
    }
    case SizeColumn:
        return beforeAfter(sizeText(before), sizeText(after), !sizeText(before).isEmpty(),
                           !sizeText(after).isEmpty());
    case ModeColumn:
        return beforeAfter(before.value(QStringLiteral("mode")).toString(),
                           after.value(QStringLiteral("mode")).toString(), !before.isEmpty(),
                           !after.isEmpty());
    case OwnerColumn:
        return beforeAfter(ownerText(before), ownerText(after), !before.isEmpty(), !after.isEmpty());
    default:
        return {};
    }
}

QVariant DiffPathModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid())
        return {};
    const Node& node = *nodeOf(index);
    const QJsonObject e = node.entry >= 0 ? m_entries.at(node.entry).toObject() : QJsonObject();
    const QString change = e.value(QStringLiteral("change")).toString();
    switch (role) {
    case Qt::DisplayRole:
        return cellText(node, index.column());
    case Qt::ToolTipRole:
        if (index.column() == PathColumn)
            return node.path;
        return cellText(node, index.column());
    case Qt::DecorationRole:
        if (index.column() == ChangeColumn)
            return m_palette.iconForChange(change);
        return {};
    case Qt::ForegroundRole:
        if (index.column() == ChangeColumn || (index.column() == PathColumn && node.entry >= 0))
            return m_palette.forChange(change);
        return {};
    case FullPathRole:
        return node.path;
    case ChangeRole:
        return change;
    case AspectsRole: {
        QStringList aspects;
        for (const QJsonValue& a : e.value(QStringLiteral("aspects")).toArray())
            aspects << a.toString();
        return aspects;
    }
    case IsChangeRole:
        return node.entry >= 0;
    default:
        return {};
    }
}

QVariant DiffPathModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case PathColumn:
        return tr("Path");
    case ChangeColumn:
        return tr("Change");
    case AspectsColumn:
        return tr("Aspects");
    case SizeColumn:
        return tr("Size");
    case ModeColumn:
        return tr("Mode");
    case OwnerColumn:
        return tr("Owner");
    default:
        return {};
    }
}

DiffPathFilter::DiffPathFilter(QObject* parent)
    : QSortFilterProxyModel(parent)
    , m_changes{QStringLiteral("added"), QStringLiteral("removed"), QStringLiteral("modified")}
{
    setRecursiveFilteringEnabled(true);
}

void DiffPathFilter::setChanges(const QStringList& changes)
{
    m_changes = changes;
    invalidateFilter();
}

void DiffPathFilter::setAspect(const QString& aspect)
{
    m_aspect = aspect;
    invalidateFilter();
}

void DiffPathFilter::setText(const QString& text)
{
    m_text = text;
    invalidateFilter();
}

bool DiffPathFilter::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    const QModelIndex i = sourceModel()->index(sourceRow, 0, sourceParent);
    if (!i.data(DiffPathModel::IsChangeRole).toBool())
        return false; // a folder shows when a row under it passes
    const QString change = i.data(DiffPathModel::ChangeRole).toString();
    if (!m_changes.contains(change))
        return false;
    if (!m_aspect.isEmpty()) {
        const QStringList aspects = i.data(DiffPathModel::AspectsRole).toStringList();
        const bool wholeFile = change != QLatin1String("modified") && m_aspect == QLatin1String("content");
        if (!wholeFile && !aspects.contains(m_aspect))
            return false;
    }
    return m_text.isEmpty() ||
           i.data(DiffPathModel::FullPathRole).toString().contains(m_text, Qt::CaseInsensitive);
}

} // namespace fluid::ui

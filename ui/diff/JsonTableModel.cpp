// SPDX-License-Identifier: Apache-2.0
#include "JsonTableModel.h"

namespace fluid::ui {

JsonTableModel::Column JsonTableModel::key(const QString& header, const QString& key, bool isChange)
{
    return {header,
            [key](const QJsonObject& o) {
                const QJsonValue v = o.value(key);
                if (v.isArray()) {
                    QStringList parts;
                    for (const QJsonValue& item : v.toArray())
                        parts << item.toString();
                    return parts.join(QStringLiteral("; "));
                }
                return v.toVariant().toString();
            },
            isChange};
}

JsonTableModel::JsonTableModel(QList<Column> columns, QObject* parent)
    : QAbstractTableModel(parent)
    , m_columns(std::move(columns))
    , m_palette(DiffPalette::from(QPalette()))
{
}

void JsonTableModel::setRows(const QJsonArray& rows)
{
    beginResetModel();
    m_rows = rows;
    endResetModel();
}

void JsonTableModel::setPalette(const DiffPalette& palette)
{
    m_palette = palette;
    if (!m_rows.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
}

int JsonTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int JsonTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_columns.size());
}

QVariant JsonTableModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size() || index.column() >= m_columns.size())
        return {};
    const Column& column = m_columns.at(index.column());
    const QString text = column.text(m_rows.at(index.row()).toObject());
    switch (role) {
    case Qt::DisplayRole:
    case Qt::ToolTipRole:
        return text;
    case Qt::ForegroundRole:
        return column.isChange ? QVariant(m_palette.forChange(text)) : QVariant();
    case Qt::DecorationRole:
        return column.isChange ? QVariant(m_palette.iconForChange(text)) : QVariant();
    default:
        return {};
    }
}

QVariant JsonTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole || section >= m_columns.size())
        return {};
    return m_columns.at(section).header;
}

} // namespace fluid::ui

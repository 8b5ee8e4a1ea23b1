// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "DiffPalette.h"

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QJsonObject>

#include <functional>

namespace fluid::ui {

/// A table over a JSON array of objects (one row each), with columns defined by a header and a function
/// that renders the cell from the row's object. The column named by changeKey is coloured and gets an
/// icon by its change word. Used for the packages, units, accounts, cron and /etc layers of a diff. GUI
/// thread.
class JsonTableModel : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(JsonTableModel)
public:
    struct Column {
        QString header;
        std::function<QString(const QJsonObject&)> text;
        bool isChange = false;
    };
    /// A column showing one key of the row (arrays joined with "; ").
    static Column key(const QString& header, const QString& key, bool isChange = false);

    JsonTableModel(QList<Column> columns, QObject* parent = nullptr);

    void setRows(const QJsonArray& rows);
    void setPalette(const DiffPalette& palette);
    QJsonObject row(int row) const { return m_rows.at(row).toObject(); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<Column> m_columns;
    QJsonArray m_rows;
    DiffPalette m_palette;
};

} // namespace fluid::ui

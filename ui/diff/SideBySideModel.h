// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QAbstractTableModel>
#include <QJsonObject>
#include <QPoint>

namespace fluid::ui {

/// The hunks of one changed file laid out side by side: each row holds the old line (left) and the new
/// line (right). Runs of removed lines are paired with the added lines that follow them; the shorter side
/// gets blank filler rows so both sides stay aligned. Each hunk starts with a header row. A file without
/// line hunks (binary, too large, sensitive, a link, a mode-only change) has no rows and a message()
/// saying why, with sizes and sha256. GUI thread.
class SideBySideModel : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SideBySideModel)
public:
    enum Column { OldNumberColumn, OldTextColumn, NewNumberColumn, NewTextColumn, ColumnCount };
    /// What a cell shows; the same on a side's number and text cell.
    enum class Kind { Context, Removed, Added, Filler, Header };
    enum Role {
        KindRole = Qt::UserRole + 1, ///< Kind as int
        SpansRole,                   ///< QList<QPoint>: (start, length) UTF-16 ranges that differ in the line
        LineNumberRole,              ///< the line number on that side (0 on filler and header rows)
    };

    explicit SideBySideModel(QObject* parent = nullptr);

    /// One paths[] entry of a diff document.
    void setEntry(const QJsonObject& entry);
    void clear();
    QString path() const { return m_path; }
    /// Why there are no lines to show (empty when the entry has hunks).
    QString message() const { return m_message; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// The paths[] entry's message for files without hunks (also used by the views' tooltips).
    static QString describe(const QJsonObject& entry);

private:
    struct Side {
        Kind kind = Kind::Filler;
        int number = 0;
        QString text;
        QList<QPoint> spans;
    };
    struct Row {
        Side left;
        Side right;
    };
    QList<Row> m_rows;
    QString m_path;
    QString m_message;
};

} // namespace fluid::ui

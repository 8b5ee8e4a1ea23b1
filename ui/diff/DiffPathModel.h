// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "DiffPalette.h"

#include <QAbstractItemModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QSortFilterProxyModel>

#include <memory>
#include <vector>

namespace fluid::ui {

/// The changed paths of a snapshot diff document ("paths[]") as a tree: folders are the path components,
/// and a chain of folders with one sub-folder each collapses into one row ("etc/systemd/system"). A row
/// can be both a change (an added directory) and a folder of further changes. Columns: path, change,
/// aspects, size before → after, mode, owner. GUI thread.
class DiffPathModel : public QAbstractItemModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DiffPathModel)
public:
    enum Column { PathColumn, ChangeColumn, AspectsColumn, SizeColumn, ModeColumn, OwnerColumn, ColumnCount };
    enum Role {
        FullPathRole = Qt::UserRole + 1, ///< "/etc/hostname" (a folder row: its own path)
        ChangeRole,   ///< added | removed | modified; empty on a folder that did not change
        AspectsRole,  ///< QStringList: type, content, mode, owner, target, device
        IsChangeRole, ///< true when the row is an entry of paths[]
    };

    explicit DiffPathModel(QObject* parent = nullptr);
    ~DiffPathModel() override;

    void setDocument(const QJsonObject& document);
    void setPalette(const DiffPalette& palette);

    /// The paths[] entry of a row (empty for a folder that did not change itself).
    QJsonObject entry(const QModelIndex& index) const;
    /// The row of a path ("/etc/hostname"), or an invalid index.
    QModelIndex indexOfPath(const QString& path) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Node {
        QString name;
        QString path;
        int entry = -1;
        Node* parent = nullptr;
        int row = 0;
        std::vector<std::unique_ptr<Node>> children;
    };
    Node* nodeOf(const QModelIndex& index) const;
    QModelIndex indexOf(Node* node, int column = 0) const;
    QString cellText(const Node& node, int column) const;

    std::unique_ptr<Node> m_root;
    QJsonArray m_entries;
    DiffPalette m_palette;
};

/// Filters a DiffPathModel by change kind (added / removed / modified), by aspect (content, mode, owner,
/// ...: a row passes when it has that aspect, and added/removed rows count as content changes) and by text
/// in the path. Folders stay when something under them passes (recursive filtering). GUI thread.
class DiffPathFilter : public QSortFilterProxyModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DiffPathFilter)
public:
    explicit DiffPathFilter(QObject* parent = nullptr);

    /// Change kinds shown; all three by default.
    void setChanges(const QStringList& changes);
    QStringList changes() const { return m_changes; }
    /// The aspect a row must have; empty shows every aspect.
    void setAspect(const QString& aspect);
    QString aspect() const { return m_aspect; }
    /// Case-insensitive text the full path must contain; empty shows all.
    void setText(const QString& text);
    QString text() const { return m_text; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QStringList m_changes;
    QString m_aspect;
    QString m_text;
};

} // namespace fluid::ui

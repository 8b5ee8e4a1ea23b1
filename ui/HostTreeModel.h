// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "model/Model.h"
#include "services/HostSession.h"

#include <QStandardItemModel>

namespace fluid {
class Clock;
}

namespace fluid::ui {

/// The hosts tree: host > "Source VMs" > source, host > "Sandboxes" > sandbox > snapshot. Rows are updated
/// in place (sandboxes by id, sources and snapshots by name), never reset, so a view's selection and
/// expansion survive live updates. The Age column is computed from the clock each time it is read.
/// GUI thread.
class HostTreeModel : public QStandardItemModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HostTreeModel)
public:
    enum Column { Name, State, Ip, Memory, Vcpus, Age, Accelerator, ColumnCount };
    enum class Kind { Host = 1, SourceGroup, SandboxGroup, Source, Sandbox, Snapshot, Placeholder };
    enum Role {
        KindRole = Qt::UserRole + 1,
        HostRole,         ///< the host name, on every row under it
        KeyRole,          ///< sandbox id, source name or snapshot name
        SandboxStateRole, ///< model::SandboxState as int (sandbox rows)
        SandboxIdRole,    ///< the sandbox a snapshot belongs to (snapshot rows); the id on sandbox rows
        CloneableRole,    ///< source rows
        ConnectedRole,    ///< host rows
        CreatedRole,      ///< QDateTime for the Age column
        OrderRole,        ///< host rows: the host's place in the settings (-1: after every other)
    };

    explicit HostTreeModel(QObject* parent = nullptr, const Clock* clock = nullptr);

    /// Adds a host row (with its two groups) unless there is one already; returns its index. Host rows
    /// are kept in `order` (the host's place in the settings), so a host that is reopened with new
    /// settings comes back where it was; -1 puts it after every other host.
    QModelIndex addHost(const QString& host, const QString& uri, int order = -1);
    /// Removes a host row with everything under it (nothing when there is none).
    void removeHost(const QString& host);
    /// State column and tooltip of a host row; connected says whether operations can run.
    void setHostState(const QString& host, bool connected, const QString& state, const QString& detail);
    void setHostInfo(const QString& host, const QString& summary);
    void setSources(const QString& host, const QList<services::HostSession::Source>& sources);
    void setSandboxes(const QString& host, const QList<model::Sandbox>& sandboxes);
    void setSnapshots(const QString& host, const QString& sandboxId,
                      const QList<virt::SnapshotInfo>& snapshots);

    QModelIndex hostIndex(const QString& host) const;
    QModelIndex sandboxIndex(const QString& host, const QString& sandboxId) const;
    QModelIndex sourceIndex(const QString& host, const QString& name) const;
    QModelIndex snapshotIndex(const QString& host, const QString& sandboxId, const QString& name) const;

    static Kind kindOf(const QModelIndex& index);
    /// "just now", "5 min", "3 h", "2 d".
    static QString ageText(const QDateTime& from, const QDateTime& now);

    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    /// Tells views that every Age cell changed (a timer calls it once a minute).
    void touchAges();

private:
    QStandardItem* hostItem(const QString& host) const;
    QStandardItem* group(const QString& host, Kind kind) const;
    static QStandardItem* childByKey(QStandardItem* parent, const QString& key);
    /// The row under parent whose key is `key`, created (appended at `position`) when missing.
    QStandardItem* ensureRow(QStandardItem* parent, Kind kind, const QString& key, int position);
    /// Removes the rows under parent whose key is not in keep.
    static void removeOthers(QStandardItem* parent, const QSet<QString>& keep);
    static void setCells(QStandardItem* first, const QStringList& texts);
    void touchAgesUnder(QStandardItem* parent);

    const Clock* m_clock;
};

} // namespace fluid::ui

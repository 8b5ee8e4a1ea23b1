// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "diff/DiffPickDialog.h"
#include "model/Model.h"
#include "SandboxDialogs.h"
#include "services/Operations.h"

#include <QDockWidget>
#include <QMap>
#include <QPersistentModelIndex>
#include <QPointer>

#include <memory>
#include <optional>

class QAction;
class QLabel;
class QListView;
class QTreeView;

namespace fluid {
class Clock;
}

namespace fluid::services {
class HostSession;
}

namespace fluid::ui {

class HostTreeModel;
class OperationListModel;

/// The "Hosts & sandboxes" dock: a tree of every host's source VMs and sandboxes (with their snapshots),
/// live from HostSession signals, and the actions on them (create, start, stop, destroy, snapshot, revert,
/// refresh). Every action calls the session as the local person (model::Actor::localPerson()); the session
/// works on its own threads. The operation list reads the sessions' OperationRegistry: running operations
/// with their progress (a create or diff can be cancelled), failures listed with their message until
/// dismissed. GUI thread.
class HostsDock : public QDockWidget {
    Q_OBJECT
    Q_MOC_INCLUDE("services/HostSession.h")
    Q_DISABLE_COPY_MOVE(HostsDock)
public:
    enum class Action {
        Create,
        Start,
        Stop,
        Destroy,
        Snapshot,
        Revert,
        Refresh,
        CancelOperation,
        OpenTerminal,
        Diff
    };

    /// How the dock asks the person (dialogs by default; a test answers with its own).
    class Prompts {
    public:
        virtual ~Prompts() = default;
        virtual std::optional<CreateRequest> askCreate(QWidget* parent, const QString& source,
                                                       const CreateRequest& defaults);
        virtual bool confirm(QWidget* parent, const QString& title, const QString& text);
        virtual std::optional<QString> askSnapshotName(QWidget* parent, const QString& sandbox,
                                                       const QString& suggestion);
        /// Which two states of `sandbox` to diff (DiffPickDialog by default).
        virtual std::optional<DiffRequest> askDiff(QWidget* parent, const QString& sandbox,
                                                   const QStringList& snapshots, const DiffRequest& defaults);
    };

    explicit HostsDock(QWidget* parent = nullptr, const Clock* clock = nullptr);
    ~HostsDock() override;

    /// Shows the session's host in the tree, follows its signals and opens it unless it is open. The dock
    /// does not own the session; one that is deleted first simply drops out of the actions. `order`: see
    /// HostTreeModel::addHost.
    void addHostSession(services::HostSession* session, int order = -1);
    /// Drops a session that is being closed (HostSession::close()): its host leaves the tree, its running
    /// operations leave the list (the session cancels them), and the dock stops following its signals.
    void removeHostSession(services::HostSession* session);
    /// What the dock says while it has no host (e.g. "No libvirt host configured ...").
    void setEmptyText(const QString& text);
    QString emptyText() const;

    void setPrompts(std::unique_ptr<Prompts> prompts);

    HostTreeModel* model() const { return m_model; }
    QTreeView* view() const { return m_view; }
    QAction* action(Action which) const;
    /// Running operations (with progress) and failed ones (with their message).
    OperationListModel* operations() const { return m_operations; }
    /// Where operations are followed; the first host session's registry when not set.
    void setOperations(services::OperationRegistry* registry);
    /// Who the dock's actions are recorded as (the local person by default).
    void setActor(const model::Actor& actor) { m_actor = actor; }
    QListView* operationsView() const { return m_operationsView; }

Q_SIGNALS:
    /// A line for the window's status bar; timeoutMs 0 keeps it until the next one.
    void statusMessage(const QString& text, int timeoutMs);
    /// "Open terminal" on a running sandbox with an IP; the sandbox carries its id, name, host id, state and
    /// IP.
    void openTerminalRequested(fluid::services::HostSession* session, const fluid::model::Sandbox& sandbox);
    /// A diff was started (HostSession::diff) as `operation` of `registry`; the window shows it in its diff
    /// dock.
    void diffStarted(fluid::services::OperationRegistry* registry, quint64 operation,
                     const QString& sandboxName);

private:
    QAction* makeAction(Action which, const QString& text, const QKeySequence& shortcut, int icon,
                        const QString& tip, void (HostsDock::*slot)());
    services::HostSession* sessionFor(const QModelIndex& index) const;
    /// What Create clones from the row: a cloneable source VM row itself, elsewhere the host's golden VM.
    QString createSource(const QModelIndex& index) const;
    services::HostSession* sessionNamed(const QString& host) const;
    QModelIndex selected() const;
    void updateActions();
    void updateEmptyState();
    void showContextMenu(const QPoint& pos);
    void onExpanded(const QModelIndex& index);

    void createSandbox();
    void startSandbox();
    void stopSandbox();
    void destroySandbox();
    void takeSnapshot();
    void revertSnapshot();
    void refresh();
    void cancelOperation();
    void openTerminal();
    void diffSelected();
    /// Asks what to diff on a sandbox or snapshot row and starts it; loads the snapshots first when the
    /// row has not (once: `loaded` says they were just loaded).
    void diffAt(const QModelIndex& index, bool loaded);

    /// Reloads the snapshots of `sandboxId` once `operation` ends (it took or reverted one).
    void reloadSnapshotsAfter(services::HostSession* session, quint64 operation, const QString& sandboxId);
    void onOperationFinished(const services::OperationInfo& info);

    HostTreeModel* m_model;
    QTreeView* m_view;
    QLabel* m_empty;
    OperationListModel* m_operations;
    QListView* m_operationsView;
    QMap<Action, QAction*> m_actions;
    QList<QPointer<services::HostSession>> m_sessions;
    QSet<QString> m_opening; ///< hosts whose open() has not answered yet
    /// Snapshot lists to reload when an operation ends: its session and sandbox, by operation id.
    QHash<quint64, QPair<QPointer<services::HostSession>, QString>> m_reloadAfter;
    model::Actor m_actor = model::Actor::localPerson();
    std::unique_ptr<Prompts> m_prompts;
    const Clock* m_clock;
    QPersistentModelIndex m_pendingDiff; ///< the row a Diff… waits on snapshots for
};

} // namespace fluid::ui

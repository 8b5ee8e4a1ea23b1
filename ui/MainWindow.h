// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QMainWindow>

class QLabel;

namespace fluid::store {
class StoreWorker;
}

namespace fluid::services {
class HostSession;
class HostSessionSet;
class Services;
} // namespace fluid::services

namespace fluid::ui {

class AuditDock;
class DiffDock;
class HostsDock;
class ApprovalInboxDock;
class TerminalDock;

/// Fluid's main window: dock layout (restored from the last session), menus, status bar. GUI thread;
/// it only paints and reacts, all work happens in core services on workers.
class MainWindow : public QMainWindow {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)
public:
    /// The window over `services`: its store (the docks read it on the store's thread), approvals and
    /// operations, and its hosts once the store is open. Call Services::start() after making the window.
    explicit MainWindow(services::Services& services, QWidget* parent = nullptr);
    ~MainWindow() override;

    AuditDock* auditDock() const { return m_auditDock; }
    HostsDock* hostsDock() const { return m_hostsDock; }
    /// The View menu: one entry per dock.
    QMenu* viewMenu() const { return m_viewMenu; }
    DiffDock* diffDock() const { return m_diffDock; }
    ApprovalInboxDock* approvalDock() const { return m_approvalDock; }
    TerminalDock* terminalDock() const { return m_terminalDock; }

    /// Shows a libvirt host in the hosts dock and opens it. The window does not own the session; keep it
    /// alive while the window uses it (destroying it first is safe). `order`: see HostTreeModel::addHost.
    void addHostSession(services::HostSession* session, int order = -1);
    /// Drops a session that is being closed from the docks (its terminals stay open).
    void removeHostSession(services::HostSession* session);
    /// Shows the set's sessions and follows it: sessions it adds are shown and opened, sessions it closes
    /// are dropped (HostSessionSet::apply() after the settings were saved). The set outlives the window's
    /// use of it.
    void setHostSessions(services::HostSessionSet* sessions);

public Q_SLOTS:
    void showAbout();

Q_SIGNALS:
    /// File → Set up Fluid…: the app shows the onboarding wizard.
    void setupWizardRequested();
    /// Edit → Settings… (Ctrl+,): the app shows the settings dialog.
    void settingsRequested();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void createMenus();
    void createDocks();
    void restoreLayout();
    void onStoreOpened(bool ok, const QString& message);
    void setStoreStatus(const QString& text, bool healthy);

    services::Services* m_services;
    store::StoreWorker* m_store;
    AuditDock* m_auditDock = nullptr;
    HostsDock* m_hostsDock = nullptr;
    DiffDock* m_diffDock = nullptr;
    QLabel* m_storeStatus = nullptr;
    QMenu* m_viewMenu = nullptr;
    ApprovalInboxDock* m_approvalDock = nullptr;
    TerminalDock* m_terminalDock = nullptr;
};

} // namespace fluid::ui

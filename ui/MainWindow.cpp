// SPDX-License-Identifier: Apache-2.0
#include "MainWindow.h"

#include "Resources.h"

#include "AboutDialog.h"
#include "approvals/ApprovalInboxDock.h"
#include "AuditDock.h"
#include "base/Paths.h"
#include "diff/DiffDock.h"
#include "HostsDock.h"
#include "services/HostSession.h"
#include "services/HostSessionSet.h"
#include "services/Services.h"
#include "store/StoreWorker.h"
#include "terminal/TerminalDock.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QLabel>
#include <QMenuBar>
#include <QSettings>
#include <QStatusBar>
#include <QVBoxLayout>

namespace fluid::ui {

MainWindow::MainWindow(services::Services& services, QWidget* parent)
    : QMainWindow(parent)
    , m_services(&services)
    , m_store(services.storeWorker())
{
    loadResources();
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("Fluid"));
    setWindowIcon(QIcon(QStringLiteral(":/fluid/fluid.svg")));
    setDockNestingEnabled(true);
    resize(1280, 800);

    auto* welcome = new QLabel(tr("<h2>No sandbox selected</h2>"
                                  "<p>Sandboxes, their terminals and their snapshot diffs open here.</p>"));
    welcome->setObjectName(QStringLiteral("welcome"));
    welcome->setAlignment(Qt::AlignCenter);
    welcome->setTextFormat(Qt::RichText);
    welcome->setEnabled(false);
    setCentralWidget(welcome);

    createMenus();
    createDocks();

    m_storeStatus = new QLabel(tr("Store: opening…"));
    m_storeStatus->setObjectName(QStringLiteral("storeStatus"));
    statusBar()->addPermanentWidget(m_storeStatus);
    statusBar()->showMessage(tr("Ready"), 3000);

    restoreLayout();
    if (const int hosts = int(m_services->settings().hosts.size()); hosts > 0)
        m_hostsDock->setEmptyText(tr("Opening the store before connecting to %n host(s)…", nullptr, hosts));
    connect(m_services, &services::Services::storeOpened, this, &MainWindow::onStoreOpened);
}

MainWindow::~MainWindow() = default;

void MainWindow::createMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* setup = file->addAction(tr("&Set up Fluid…"), this, &MainWindow::setupWizardRequested);
    setup->setObjectName(QStringLiteral("actionSetup"));
    setup->setToolTip(tr("Host, SSH CA, golden VM and language model, step by step"));
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* preferences = edit->addAction(tr("&Settings…"), this, &MainWindow::settingsRequested);
    preferences->setObjectName(QStringLiteral("actionSettings"));
    preferences->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Comma));
    preferences->setMenuRole(QAction::PreferencesRole);

    m_viewMenu = menuBar()->addMenu(tr("&View"));

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About Fluid"), this, &MainWindow::showAbout);
    about->setObjectName(QStringLiteral("actionAbout"));
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::createDocks()
{
    m_hostsDock = new HostsDock(this, &m_services->clock());
    m_hostsDock->setOperations(m_services->operations());
    addDockWidget(Qt::LeftDockWidgetArea, m_hostsDock);
    QAction* hosts = m_hostsDock->toggleViewAction();
    hosts->setText(tr("&Hosts && sandboxes")); // the dock's title has no mnemonic, the menu entry does
    hosts->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H));
    m_viewMenu->addAction(hosts);
    connect(m_hostsDock, &HostsDock::statusMessage, this,
            [this](const QString& text, int timeoutMs) { statusBar()->showMessage(text, timeoutMs); });

    m_auditDock = new AuditDock(m_store, this);
    addDockWidget(Qt::BottomDockWidgetArea, m_auditDock);
    QAction* toggle = m_auditDock->toggleViewAction();
    toggle->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A));
    m_viewMenu->addAction(toggle);
    connect(m_auditDock, &AuditDock::chainVerified, this, [this](bool intact, const QString& text) {
        if (!intact)
            setStoreStatus(text, false);
    });

    // Snapshot diffs open on the right, hidden until the first one is asked for.
    m_diffDock = new DiffDock(this);
    addDockWidget(Qt::RightDockWidgetArea, m_diffDock);
    m_diffDock->hide();
    QAction* diffs = m_diffDock->toggleViewAction();
    diffs->setText(tr("Snapshot &diff"));
    diffs->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_D));
    m_viewMenu->addAction(diffs);
    connect(m_diffDock, &DiffDock::statusMessage, this,
            [this](const QString& text, int timeoutMs) { statusBar()->showMessage(text, timeoutMs); });
    connect(m_hostsDock, &HostsDock::diffStarted, this,
            [this](services::OperationRegistry* registry, quint64 operation, const QString& sandboxName) {
                m_diffDock->follow(registry, operation, sandboxName);
                m_diffDock->show();
                m_diffDock->raise();
            });
    m_approvalDock = new ApprovalInboxDock(m_store, m_services->approvals(), this, &m_services->clock());
    addDockWidget(Qt::RightDockWidgetArea, m_approvalDock);
    QAction* approvals = m_approvalDock->toggleViewAction(); // its text carries the pending count
    approvals->setShortcut(
        QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_I)); // the inbox; Ctrl+Shift+P takes a snapshot
    m_viewMenu->addAction(approvals);
    connect(m_approvalDock, &ApprovalInboxDock::statusMessage, this,
            [this](const QString& text, int timeoutMs) { statusBar()->showMessage(text, timeoutMs); });
    m_terminalDock = new TerminalDock(this);
    addDockWidget(Qt::BottomDockWidgetArea, m_terminalDock);
    tabifyDockWidget(m_auditDock, m_terminalDock);
    m_auditDock->raise(); // the terminals come to the front when one is opened
    QAction* terminals = m_terminalDock->toggleViewAction();
    terminals->setText(tr("&Terminals"));
    terminals->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T));
    m_viewMenu->addAction(terminals);
    m_viewMenu->addAction(m_terminalDock->fontAction());
    connect(m_hostsDock, &HostsDock::openTerminalRequested, this,
            [this](services::HostSession* session, const model::Sandbox& sandbox) {
                m_terminalDock->openSandboxTerminal(session, sandbox);
            });
    tabifyDockWidget(m_approvalDock, m_diffDock); // a diff opens as a tab beside the inbox, not squeezing it
}

void MainWindow::addHostSession(services::HostSession* session, int order)
{
    m_hostsDock->addHostSession(session, order);
}

void MainWindow::removeHostSession(services::HostSession* session)
{
    m_hostsDock->removeHostSession(session);
}

void MainWindow::setHostSessions(services::HostSessionSet* sessions)
{
    for (services::HostSession* session : sessions->sessions())
        addHostSession(session, sessions->order(session->hostName()));
    connect(
        sessions, &services::HostSessionSet::sessionAdded, this,
        [this, sessions](services::HostSession* s) { addHostSession(s, sessions->order(s->hostName())); });
    connect(sessions, &services::HostSessionSet::sessionRemoved, this, &MainWindow::removeHostSession);
}

void MainWindow::onStoreOpened(bool ok, const QString& message)
{
    if (!ok) {
        setStoreStatus(tr("Store unavailable"), false);
        m_storeStatus->setToolTip(message);
        statusBar()->showMessage(tr("The store could not be opened: %1").arg(message));
        if (!m_services->settings().hosts.isEmpty())
            m_hostsDock->setEmptyText(tr("Hosts need the store, which could not be opened: %1").arg(message));
        return;
    }
    setStoreStatus(tr("Store: %1").arg(message), true);
    m_auditDock->refresh();
    m_auditDock->verifyChain();
    if (m_services->hosts())
        setHostSessions(m_services->hosts());
}

void MainWindow::restoreLayout()
{
    QSettings settings(paths::uiStateFile(), QSettings::IniFormat);
    restoreGeometry(settings.value(QStringLiteral("mainWindow/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("mainWindow/state")).toByteArray());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings(paths::uiStateFile(), QSettings::IniFormat);
    settings.setValue(QStringLiteral("mainWindow/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("mainWindow/state"), saveState());
    QMainWindow::closeEvent(event);
    // The shells end with the window (their pty.close is audited); destroying a host session at quit closes
    // any shell still open and waits until those records are stored.
    if (event->isAccepted())
        m_terminalDock->closeAll();
}

void MainWindow::setStoreStatus(const QString& text, bool healthy)
{
    m_storeStatus->setText(text);
    QFont font = m_storeStatus->font();
    font.setBold(!healthy);
    m_storeStatus->setFont(font);
}

void MainWindow::showAbout()
{
    AboutDialog dialog(this);
    dialog.setWindowIcon(windowIcon());
    dialog.exec();
}

} // namespace fluid::ui

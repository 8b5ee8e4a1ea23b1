// SPDX-License-Identifier: Apache-2.0
#include "TerminalDock.h"

#include "services/HostSession.h"
#include "ssh/PtySession.h"
#include "TerminalScreen.h"
#include "TerminalTransport.h"
#include "TerminalView.h"

#include <QAction>
#include <QHBoxLayout>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QStackedWidget>
#include <QTabBar>
#include <QTabWidget>
#include <QVBoxLayout>

namespace fluid::ui {

TerminalTab::TerminalTab(std::unique_ptr<TerminalTransport> transport, TransportFactory reconnect,
                         QWidget* parent)
    : QWidget(parent)
    , m_factory(std::move(reconnect))
{
    setObjectName(QStringLiteral("terminalTab"));
    m_stack = new QStackedWidget(this);
    m_connecting = new QLabel(tr("Connecting…"), m_stack);
    m_connecting->setObjectName(QStringLiteral("terminalConnecting"));
    m_connecting->setAlignment(Qt::AlignCenter);
    m_connecting->setWordWrap(true);
    m_view = new TerminalView(m_stack);
    m_stack->addWidget(m_connecting);
    m_stack->addWidget(m_view);

    m_endBar = new QWidget(this);
    m_endBar->setObjectName(QStringLiteral("terminalEndBar"));
    m_endLabel = new QLabel(m_endBar);
    m_endLabel->setObjectName(QStringLiteral("terminalEndLabel"));
    m_endLabel->setWordWrap(true);
    m_endLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_reconnect = new QPushButton(tr("&Reconnect"), m_endBar);
    m_reconnect->setObjectName(QStringLiteral("terminalReconnect"));
    m_reconnect->setToolTip(tr("Open a new shell in this tab"));
    m_reconnect->setAccessibleName(tr("Reconnect"));
    connect(m_reconnect, &QPushButton::clicked, this, &TerminalTab::reconnect);
    auto* bar = new QHBoxLayout(m_endBar);
    bar->setContentsMargins(6, 4, 6, 4);
    bar->addWidget(m_endLabel, 1);
    bar->addWidget(m_reconnect);
    m_endBar->hide();

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(m_stack, 1);
    layout->addWidget(m_endBar);

    connect(m_view, &TerminalView::titleChanged, this, &TerminalTab::titleChanged);
    connect(m_view, &TerminalView::sendBytes, this, [this](const QByteArray& bytes) {
        if (m_transport && m_connected && !m_ended)
            m_transport->write(bytes);
    });
    connect(m_view, &TerminalView::terminalResized, this, [this](int cols, int rows) {
        if (m_transport && !m_ended)
            m_transport->resize(cols, rows);
    });
    setFocusProxy(m_view);
    attach(std::move(transport));
}

TerminalTab::~TerminalTab()
{
    if (m_transport)
        m_transport->disconnect(this);
}

void TerminalTab::attach(std::unique_ptr<TerminalTransport> transport)
{
    if (m_transport)
        m_transport->disconnect(this);
    m_transport = std::move(transport);
    m_connected = false;
    m_ended = false;
    m_endBar->hide();
    m_connecting->setText(tr("Connecting…"));
    m_stack->setCurrentWidget(m_connecting);
    if (!m_transport) {
        showEnd(tr("No shell to connect to."));
        return;
    }
    TerminalTransport* t = m_transport.get();
    connect(t, &TerminalTransport::opened, this, [this] {
        m_connected = true;
        m_stack->setCurrentWidget(m_view);
        m_transport->resize(m_view->screen()->cols(), m_view->screen()->rows());
        if (isVisible())
            m_view->setFocus();
    });
    connect(t, &TerminalTransport::output, m_view, &TerminalView::feed);
    connect(t, &TerminalTransport::finished, this, [this](int exitCode, const QString& signal) {
        if (exitCode >= 0)
            showEnd(tr("The shell ended with exit status %1.").arg(exitCode));
        else if (!signal.isEmpty())
            showEnd(tr("The shell was ended by signal %1.").arg(signal));
        else
            showEnd(tr("The shell ended (the connection was closed)."));
    });
    connect(t, &TerminalTransport::failed, this,
            [this](const QString& message) { showEnd(tr("The shell failed: %1").arg(message)); });
    t->resize(m_view->screen()->cols(), m_view->screen()->rows());
}

void TerminalTab::showEnd(const QString& text)
{
    if (m_ended)
        return;
    m_ended = true;
    const bool canReconnect = bool(m_factory);
    m_endLabel->setText(canReconnect ? tr("%1 Press Reconnect for a new shell.").arg(text) : text);
    m_reconnect->setVisible(canReconnect);
    m_endBar->show();
    if (!m_connected) {
        m_connecting->setText(text);
    }
}

QString TerminalTab::endText() const
{
    return m_ended ? m_endLabel->text() : QString();
}

void TerminalTab::closeTransport()
{
    if (m_transport && !m_ended)
        m_transport->close();
}

void TerminalTab::reconnect()
{
    if (!m_factory)
        return;
    if (m_transport && !m_ended)
        m_transport->close();
    // The old screen stays for reference; the new shell starts on a fresh line.
    m_view->feed(QByteArrayLiteral("\r\n"));
    attach(m_factory());
}

TerminalDock::TerminalDock(QWidget* parent)
    : QDockWidget(tr("Terminals"), parent)
{
    setObjectName(QStringLiteral("terminalDock"));
    m_stack = new QStackedWidget(this);
    m_empty = new QLabel(tr("No terminal open. Select a running sandbox in the hosts dock and choose "
                            "\"Open terminal\" (Ctrl+T)."),
                         m_stack);
    m_empty->setObjectName(QStringLiteral("terminalEmpty"));
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_empty->setEnabled(false);
    m_tabs = new QTabWidget(m_stack);
    m_tabs->setObjectName(QStringLiteral("terminalTabs"));
    m_tabs->setTabsClosable(true);
    m_tabs->setMovable(true);
    m_tabs->setDocumentMode(true);
    m_tabs->setAccessibleName(tr("Terminals"));
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_tabs);
    setWidget(m_stack);
    connect(m_tabs, &QTabWidget::tabCloseRequested, this, &TerminalDock::closeTab);

    m_fontAction = new QAction(tr("Terminal &Font…"), this);
    m_fontAction->setObjectName(QStringLiteral("actionTerminalFont"));
    m_fontAction->setToolTip(tr("Choose the monospace font of the terminals"));
    connect(m_fontAction, &QAction::triggered, this, &TerminalDock::chooseFont);
    addAction(m_fontAction);
    setContextMenuPolicy(Qt::ActionsContextMenu);
}

TerminalDock::~TerminalDock() = default;

int TerminalDock::count() const
{
    return m_tabs->count();
}

TerminalTab* TerminalDock::tab(int index) const
{
    return qobject_cast<TerminalTab*>(m_tabs->widget(index));
}

TerminalTab* TerminalDock::openTerminal(const QString& title, std::unique_ptr<TerminalTransport> transport,
                                        TerminalTab::TransportFactory reconnect)
{
    auto* tab = new TerminalTab(std::move(transport), std::move(reconnect));
    const int index = m_tabs->addTab(tab, title);
    m_tabs->setTabToolTip(index, tr("Shell on %1").arg(title));
    // The window title a program sets (the shell's prompt, vim) shows as the tab's tooltip.
    connect(tab, &TerminalTab::titleChanged, this, [this, tab, title](const QString& text) {
        if (const int i = m_tabs->indexOf(tab); i >= 0)
            m_tabs->setTabToolTip(i, text.isEmpty() ? tr("Shell on %1").arg(title) : text);
    });
    m_tabs->setCurrentIndex(index);
    m_stack->setCurrentWidget(m_tabs);
    show();
    raise();
    tab->setFocus();
    return tab;
}

TerminalTab* TerminalDock::openSandboxTerminal(services::HostSession* session, const model::Sandbox& sandbox)
{
    const QPointer<services::HostSession> guard(session);
    const QString sandboxId = sandbox.id;
    const QString name = sandbox.name;
    TerminalTab::TransportFactory factory = [guard, sandboxId, name]() -> std::unique_ptr<TerminalTransport> {
        auto transport = std::make_unique<PtyTransport>();
        PtyTransport* t = transport.get();
        if (!guard) {
            QMetaObject::invokeMethod(
                t, [t, name]() { t->fail(tr("The host of %1 is no longer connected.").arg(name)); },
                Qt::QueuedConnection);
            return transport;
        }
        guard->openShell(sandboxId, model::Actor::localPerson(), t,
                         [t](Result<std::shared_ptr<ssh::RemoteShell>> shell) {
                             if (!shell) {
                                 t->fail(shell.error().message);
                                 return;
                             }
                             // The PTY is made here, on the GUI thread, and owned by the transport with its
                             // connection.
                             std::shared_ptr<ssh::RemoteShell> s = *shell;
                             t->attach(s->openPty(ssh::PtyOptions()), s);
                         });
        return transport;
    };
    return openTerminal(name, factory(), factory);
}

void TerminalDock::closeTab(int index)
{
    TerminalTab* t = tab(index);
    if (!t)
        return;
    t->closeTransport();
    m_tabs->removeTab(index);
    t->deleteLater();
    if (m_tabs->count() == 0)
        m_stack->setCurrentWidget(m_empty);
}

void TerminalDock::closeAll()
{
    while (count() > 0)
        closeTab(count() - 1);
}

void TerminalDock::chooseFont()
{
    TerminalView* current = nullptr;
    if (TerminalTab* t = tab(m_tabs->currentIndex()))
        current = t->view();
    const auto chosen =
        TerminalView::askFont(this, current ? current->terminalFont() : TerminalView::defaultFont());
    if (!chosen)
        return;
    for (int i = 0; i < m_tabs->count(); ++i)
        tab(i)->view()->setTerminalFont(*chosen);
}

} // namespace fluid::ui

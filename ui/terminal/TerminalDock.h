// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDockWidget>

#include <functional>
#include <memory>

class QAction;
class QLabel;
class QPushButton;
class QStackedWidget;
class QTabWidget;

namespace fluid::model {
struct Sandbox;
}

namespace fluid::services {
class HostSession;
}

namespace fluid::ui {

class TerminalTransport;
class TerminalView;

/// One tab of the terminal dock: "connecting…" until the transport opens, then the terminal; when the shell
/// ends or fails, the terminal stays readable and a bar says why, with a Reconnect button when the tab knows
/// how to open a new transport. Owns its transport. GUI thread.
class TerminalTab : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TerminalTab)
public:
    using TransportFactory = std::function<std::unique_ptr<TerminalTransport>()>;

    TerminalTab(std::unique_ptr<TerminalTransport> transport, TransportFactory reconnect,
                QWidget* parent = nullptr);
    ~TerminalTab() override;

    TerminalView* view() const { return m_view; }
    TerminalTransport* transport() const { return m_transport.get(); }
    bool isConnected() const { return m_connected; }
    bool hasEnded() const { return m_ended; }
    /// The status bar's text once the shell ended or failed ("" while it runs).
    QString endText() const;
    QPushButton* reconnectButton() const { return m_reconnect; }

    /// Closes the transport (the remote shell gets end-of-file and the channel closes).
    void closeTransport();
    void reconnect();

Q_SIGNALS:
    void titleChanged(const QString& title);

private:
    void attach(std::unique_ptr<TerminalTransport> transport);
    void showEnd(const QString& text);

    std::unique_ptr<TerminalTransport> m_transport;
    TransportFactory m_factory;
    QStackedWidget* m_stack;
    QLabel* m_connecting;
    TerminalView* m_view;
    QWidget* m_endBar;
    QLabel* m_endLabel;
    QPushButton* m_reconnect;
    bool m_connected = false;
    bool m_ended = false;
};

/// The "Terminals" dock: one closable tab per interactive shell (a sandbox's root shell over SSH, titled
/// with the sandbox's name). Closing a tab closes its shell. GUI thread.
class TerminalDock : public QDockWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TerminalDock)
public:
    explicit TerminalDock(QWidget* parent = nullptr);
    ~TerminalDock() override;

    /// Opens a tab over `transport` and shows it; `reconnect`, when given, makes a fresh transport for the
    /// Reconnect button. Returns the tab.
    TerminalTab* openTerminal(const QString& title, std::unique_ptr<TerminalTransport> transport,
                              TerminalTab::TransportFactory reconnect = {});
    /// Opens a root shell on a running sandbox through the session (which connects on its workers).
    TerminalTab* openSandboxTerminal(services::HostSession* session, const model::Sandbox& sandbox);

    QTabWidget* tabs() const { return m_tabs; }
    int count() const;
    TerminalTab* tab(int index) const;
    /// Closes the tab at `index` and its shell.
    void closeTab(int index);
    /// Closes every tab and its shell (the window is closing): each shell gets end-of-file and its channel
    /// closes, so the terminal's pty.close is audited as closed by the person.
    void closeAll();
    /// Asks for the font of every terminal (remembered for new ones).
    void chooseFont();
    QAction* fontAction() const { return m_fontAction; }

private:
    QTabWidget* m_tabs;
    QLabel* m_empty;
    QStackedWidget* m_stack;
    QAction* m_fontAction;
};

} // namespace fluid::ui

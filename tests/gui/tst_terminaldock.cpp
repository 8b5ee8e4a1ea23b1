// SPDX-License-Identifier: Apache-2.0
// The terminal dock against a real OpenSSH sshd on 127.0.0.1, through the PtySession transport: typing,
// resizing (seen by `stty size`), bracketed paste, an output flood, the end of a shell and Reconnect, and
// closing a tab ending the remote shell, a silently lost connection shown with Reconnect. Terminals opened
// through a HostSession are audited (pty.open, pty.close in the hash-chained log, without what was typed) and
// the audit dock shows them by itself; destroying the session, as the app does at quit, closes open terminals
// and stores their pty.close first.

#include "SshTestEnv.h"

#include "AuditDock.h"
#include "AuditLogModel.h"
#include "MainWindow.h"
#include "services/HostSession.h"
#include "services/Services.h"
#include "ssh/HostTrust.h"
#include "ssh/SshConnection.h"
#include "store/AuditLog.h"
#include "store/Repository.h"
#include "store/StoreWorker.h"
#include "terminal/TerminalDock.h"
#include "terminal/TerminalScreen.h"
#include "terminal/TerminalTransport.h"
#include "terminal/TerminalView.h"

#include <QApplication>
#include <QClipboard>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QMainWindow>
#include <QPushButton>
#include <QRegularExpression>
#include <QtTest>

#include <algorithm>
#include <csignal>
#include <thread>

using namespace fluid;
using namespace fluid::test;
using fluid::ui::PtyTransport;
using fluid::ui::TerminalDock;
using fluid::ui::TerminalTab;

class TstTerminalDock : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    std::unique_ptr<LoopbackSshd> m_sshd;
    std::shared_ptr<ssh::SandboxShell> m_shell;
    std::unique_ptr<QMainWindow> m_window;
    TerminalDock* m_dock = nullptr;

    TerminalTab::TransportFactory factory()
    {
        return [this]() -> std::unique_ptr<ui::TerminalTransport> {
            return std::make_unique<PtyTransport>(m_shell->openPty(ssh::PtyOptions()), m_shell);
        };
    }

    /// Opens a tab and waits for the shell's prompt.
    TerminalTab* openTab(const QString& title)
    {
        auto f = factory();
        TerminalTab* tab = m_dock->openTerminal(title, f(), f);
        if (!QTest::qWaitFor([tab] { return tab->isConnected() || tab->hasEnded(); }, 15000))
            qWarning("the shell did not open");
        return tab;
    }

    static void type(TerminalTab* tab, const QString& text)
    {
        QTest::keyClicks(tab->view(), text);
        QTest::keyClick(tab->view(), Qt::Key_Return);
    }

    static QString screenText(TerminalTab* tab) { return tab->view()->screen()->screenText(); }

    /// Interrupts the foreground program and waits for the shell's prompt (what is typed before it would be
    /// flushed with the interrupted program's input).
    static bool interrupt(TerminalTab* tab)
    {
        const auto prompt = [tab] {
            return screenText(tab).trimmed().endsWith(QLatin1Char('#'));
        };
        // A second Ctrl-C when the first brought no prompt back: on a loaded machine (CI, once in several
        // runs) the first was seen to go unanswered; a tab that never answers still fails.
        for (int attempt = 0; attempt < 2; ++attempt) {
            QTest::keyClick(tab->view(), Qt::Key_C, Qt::ControlModifier);
            if (QTest::qWaitFor(prompt, 7000))
                return true;
        }
        return false;
    }

    /// Points a session's shells at the loopback sshd: its CA, and port 22 of the row swapped for the sshd's
    /// (the row cannot name a port). `caLoads` counts CA loads when given.
    void useLoopbackSshd(services::HostSession::Setup& setup, int* caLoads = nullptr)
    {
        setup.loadCa = [this, caLoads]() -> Result<std::shared_ptr<const ssh::CertificateAuthority>> {
            if (caLoads)
                ++*caLoads;
            return std::shared_ptr<const ssh::CertificateAuthority>(m_ca);
        };
        const int port = m_sshd->port();
        setup.shellEndpoint = [port](const model::Sandbox& s) -> Result<ssh::SandboxEndpoint> {
            auto e = services::HostSession::sandboxEndpoint(s);
            if (e)
                e->port = port;
            return e;
        };
    }

    /// Opens the session and stores a running sandbox row `id` whose sshd is the loopback one.
    model::Sandbox openWithRunningSandbox(services::HostSession& session,
                                          const services::HostSession::Setup& setup, const QString& id)
    {
        QSignalSpy opened(&session, &services::HostSession::opened);
        session.open();
        if (!QTest::qWaitFor([&] { return !opened.isEmpty(); }, 15000) || !opened.first().at(0).toBool())
            qFatal("the session did not open");
        model::Sandbox row;
        row.id = id;
        row.name = m_sshd->options().sandboxName; // the certificate principal
        row.hostId = session.hostId();
        row.domainName = QStringLiteral("fluid-") + id;
        row.state = model::SandboxState::Running;
        row.ip = m_sshd->host();
        row.hostPublicKey = m_sshd->hostKey().publicKey().toOpenSshLine();
        row.createdAt = row.updatedAt = QDateTime::currentDateTimeUtc();
        auto db = must(store::Database::open(setup.database));
        must(store::SandboxRepository(*db).insert(row));
        return row;
    }

    /// The terminal events of one sandbox in the store, oldest first (read here, on the test's thread).
    static QList<model::AuditEvent> ptyEvents(const store::DatabaseOptions& database,
                                              const QString& sandboxId)
    {
        auto db = must(store::Database::open(database));
        store::AuditFilter filter;
        filter.sandboxId = sandboxId;
        filter.kindPrefix = QStringLiteral("pty.");
        QList<model::AuditEvent> events = must(store::AuditLog(*db).list(filter));
        std::reverse(events.begin(), events.end());
        return events;
    }

    static int countKind(const QList<model::AuditEvent>& events, const QString& kind)
    {
        return int(std::count_if(events.begin(), events.end(),
                                 [&kind](const model::AuditEvent& e) { return e.kind == kind; }));
    }

    /// Every audit row as text (summary and data), to look for what must never be stored.
    static QString wholeLog(const store::DatabaseOptions& database)
    {
        auto db = must(store::Database::open(database));
        store::AuditFilter all;
        all.limit = 100000;
        QString text;
        for (const model::AuditEvent& e : must(store::AuditLog(*db).list(all)))
            text += e.summary + QString::fromUtf8(QJsonDocument(e.data).toJson()) + QLatin1Char('\n');
        return text;
    }

    static void verifyChain(const store::DatabaseOptions& database)
    {
        auto db = must(store::Database::open(database));
        const store::AuditVerifyReport report = must(store::AuditLog(*db).verify());
        QVERIFY2(report.intact(), qPrintable(report.reason));
        QVERIFY(report.rowsChecked >= 2);
    }

private Q_SLOTS:
    void initTestCase()
    {
        // The main window keeps its layout there.
        qputenv("FLUID_CONFIG_DIR", (makeTempDir(QStringLiteral("terminaldock-config"))).toUtf8());
        m_ca = makeTestCa();
        m_sshd = must(startLoopbackSshd(m_ca));
        m_shell = makeShell(m_ca, *m_sshd);
        m_window = std::make_unique<QMainWindow>();
        m_dock = new TerminalDock(m_window.get());
        m_window->addDockWidget(Qt::BottomDockWidgetArea, m_dock);
        m_window->resize(900, 600);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }

    void cleanupTestCase()
    {
        m_window.reset();
        QTest::qWait(50); // deleteLater of closed tabs
        m_shell.reset();
        if (m_sshd)
            m_sshd->stop();
    }

    void typingRunsCommands()
    {
        TerminalTab* tab = openTab(QStringLiteral("sandbox-test"));
        QVERIFY2(tab->isConnected(), qPrintable(tab->endText()));
        QCOMPARE(m_dock->tabs()->tabText(m_dock->tabs()->indexOf(tab)), QStringLiteral("sandbox-test"));
        type(tab, QStringLiteral("echo hello-$((6*7))"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nhello-42")), 10000);
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
    }

    void resizeReachesTheShell()
    {
        TerminalTab* tab = openTab(QStringLiteral("resize"));
        QVERIFY(tab->isConnected());
        auto* view = tab->view();
        type(tab, QStringLiteral("stty size"));
        const QSize first = view->gridSize();
        QTRY_VERIFY_WITH_TIMEOUT(
            screenText(tab).contains(QStringLiteral("%1 %2").arg(first.height()).arg(first.width())), 10000);

        m_window->resize(1200, 800);
        QTRY_VERIFY(view->gridSize() != first);
        const QSize grid = view->gridSize();
        QCOMPARE(view->screen()->cols(), grid.width());
        QCOMPARE(view->screen()->rows(), grid.height());
        type(tab, QStringLiteral("echo size=$(stty size)"));
        QTRY_VERIFY_WITH_TIMEOUT(
            screenText(tab).contains(QStringLiteral("\nsize=%1 %2").arg(grid.height()).arg(grid.width())),
            10000);
        m_window->resize(900, 600);
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
    }

    void bracketedPaste()
    {
        TerminalTab* tab = openTab(QStringLiteral("paste"));
        QVERIFY(tab->isConnected());
        // An application asks for bracketed paste; cat -v shows what the paste sent, ESC as ^[.
        type(tab, QStringLiteral("printf '\\033[?2004h'; cat -v"));
        QTRY_VERIFY_WITH_TIMEOUT(tab->view()->screen()->bracketedPaste(), 10000);
        QApplication::clipboard()->setText(QStringLiteral("pasted\x1b[201~text"));
        tab->view()->paste();
        QTest::keyClick(tab->view(), Qt::Key_Return);
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("^[[200~pasted[201~text^[[201~")),
                                 10000);
        QVERIFY(interrupt(tab));
        // Without the mode (the shell turns it off before running a command) the paste is sent as it is.
        type(tab, QStringLiteral("echo start-cat; cat -v"));
        QTRY_VERIFY2_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nstart-cat")),
                                  qPrintable(screenText(tab)), 10000);
        QVERIFY(!tab->view()->screen()->bracketedPaste());
        QApplication::clipboard()->setText(QStringLiteral("plain-paste"));
        tab->view()->paste();
        QTest::keyClick(tab->view(), Qt::Key_Return);
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nplain-paste\nplain-paste")),
                                 10000);
        QVERIFY(!screenText(tab).contains(QStringLiteral("^[[200~plain")));
        QVERIFY(interrupt(tab));
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
    }

    void outputFloodStaysResponsive()
    {
        TerminalTab* tab = openTab(QStringLiteral("flood"));
        QVERIFY(tab->isConnected());
        auto* view = tab->view();
        // The event loop's longest pause while the flood is interpreted and painted.
        QElapsedTimer sinceTick;
        qint64 longestGap = 0;
        QTimer ticker;
        ticker.setInterval(5);
        connect(&ticker, &QTimer::timeout, this,
                [&] { longestGap = std::max(longestGap, sinceTick.restart()); });
        const int paintsBefore = view->paintCount();
        QElapsedTimer took;
        took.start();
        sinceTick.start();
        ticker.start();
        type(tab, QStringLiteral("seq 1 200000; echo flood-done"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nflood-done")), 120000);
        ticker.stop();
        const qint64 ms = took.elapsed();
        const int paints = view->paintCount() - paintsBefore;
        qInfo("flood: 200000 lines (1.3 MB) in %lld ms, %d paints, longest event-loop gap %lld ms", ms,
              paints, longestGap);
        QVERIFY(screenText(tab).contains(QStringLiteral("\n200000\nflood-done")));
        QCOMPARE(view->pendingBytes(), 0);
        QCOMPARE(view->droppedBytes(), 0);
        QCOMPARE(view->screen()->scrollbackLines(), ui::TerminalScreen::kDefaultScrollback);
        // Coalesced: far fewer paints than output chunks, at most about one per 16 ms frame.
        QVERIFY2(paints <= ms / 16 + 5, qPrintable(QStringLiteral("%1 paints in %2 ms").arg(paints).arg(ms)));
        QVERIFY2(longestGap < 250, qPrintable(QStringLiteral("event loop stalled %1 ms").arg(longestGap)));
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
    }

    void endedShellCanReconnect()
    {
        TerminalTab* tab = openTab(QStringLiteral("exit"));
        QVERIFY(tab->isConnected());
        type(tab, QStringLiteral("exit 7"));
        QTRY_VERIFY_WITH_TIMEOUT(tab->hasEnded(), 10000);
        QVERIFY2(tab->endText().contains(QStringLiteral("exit status 7")), qPrintable(tab->endText()));
        QVERIFY(tab->reconnectButton()->isVisible());
        QTest::mouseClick(tab->reconnectButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() && !tab->hasEnded(), 15000);
        QVERIFY(!tab->reconnectButton()->isVisible());
        type(tab, QStringLiteral("echo again-$((1+1))"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nagain-2")), 10000);
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
    }

    /// A sandbox whose sshd silently stops answering (its connection's processes SIGSTOPped: no FIN, no
    /// RST): keepalives go unanswered, the tab says the connection was lost and offers Reconnect, which opens
    /// a new shell over a new connection.
    void lostConnectionShowsAndReconnects()
    {
        auto sshd = must(startLoopbackSshd(m_ca));
        ssh::SandboxShellOptions o;
        o.keepaliveInterval = std::chrono::seconds(2);
        o.keepaliveMisses = 2;
        std::shared_ptr<ssh::SandboxShell> shell = makeShell(m_ca, *sshd, o);
        TerminalTab::TransportFactory f = [shell]() -> std::unique_ptr<ui::TerminalTransport> {
            return std::make_unique<PtyTransport>(shell->openPty(ssh::PtyOptions()), shell);
        };
        TerminalTab* tab = m_dock->openTerminal(QStringLiteral("lost"), f(), f);
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() || tab->hasEnded(), 15000);
        QVERIFY2(tab->isConnected(), qPrintable(tab->endText()));
        type(tab, QStringLiteral("echo before-$((2+2))"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nbefore-4")), 10000);
        {
            FrozenConnections frozen(*sshd);
            QVERIFY(frozen.count() > 0);
            // interval × (misses + 1), and room for a loaded machine.
            QTRY_VERIFY_WITH_TIMEOUT(tab->hasEnded(), 10000);
            QVERIFY2(tab->endText().contains(QStringLiteral("was lost (no answer for")),
                     qPrintable(tab->endText()));
            QVERIFY(tab->reconnectButton()->isVisible());
        }
        QTest::mouseClick(tab->reconnectButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() && !tab->hasEnded(), 15000);
        type(tab, QStringLiteral("echo after-$((3+3))"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nafter-6")), 10000);
        QCOMPARE(shell->connectionsStarted(), 2);
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
        QTest::qWait(50);
    }

    void closingTheTabEndsTheShell()
    {
        TerminalTab* tab = openTab(QStringLiteral("close"));
        QVERIFY(tab->isConnected());
        type(tab, QStringLiteral("echo shell-pid=$$"));
        const QRegularExpression re(QStringLiteral("\nshell-pid=(\\d+)"));
        QTRY_VERIFY_WITH_TIMEOUT(re.match(screenText(tab)).hasMatch(), 10000);
        const pid_t pid = re.match(screenText(tab)).captured(1).toInt();
        QVERIFY(pid > 1);
        QCOMPARE(::kill(pid, 0), 0); // the sshd is local, so its shell is a process here
        const int before = m_dock->count();
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
        QCOMPARE(m_dock->count(), before - 1);
        QTRY_VERIFY_WITH_TIMEOUT(::kill(pid, 0) != 0, 10000);
    }

    /// The app's path: HostSession::openShell (CA loaded on a worker, the sandbox's row, a certificate login)
    /// and the dock's openSandboxTerminal. The row cannot name a port, so the endpoint seam points port 22 at
    /// the loopback sshd; everything else is the real path.
    void sandboxTerminalThroughHostSession()
    {
        const QString dir = makeTempDir(QStringLiteral("terminaldock"));
        services::HostSession::Setup setup = testDriverSessionSetup(dir);
        must(store::openAndMigrate(setup.database));
        int caLoads = 0;
        useLoopbackSshd(setup, &caLoads);
        services::HostSession session(setup);
        const model::Sandbox row = openWithRunningSandbox(session, setup, QStringLiteral("sbx-terminal-1"));
        model::Sandbox stopped = row;
        stopped.id = QStringLiteral("sbx-terminal-2");
        stopped.domainName = QStringLiteral("fluid-sbx-terminal-2");
        stopped.state = model::SandboxState::Stopped;
        {
            auto db = must(store::Database::open(setup.database));
            must(store::SandboxRepository(*db).insert(stopped));
        }

        // A stopped sandbox is refused with what to do.
        std::optional<Result<std::shared_ptr<ssh::RemoteShell>>> refused;
        session.openShell(stopped.id, model::Actor::localPerson(), this,
                          [&](Result<std::shared_ptr<ssh::RemoteShell>> r) { refused = r; });
        QTRY_VERIFY_WITH_TIMEOUT(refused.has_value(), 15000);
        QVERIFY(!refused->ok());
        QVERIFY2(refused->error().message.contains(QStringLiteral("start it")),
                 qPrintable(refused->error().message));

        TerminalTab* tab = m_dock->openSandboxTerminal(&session, row);
        QCOMPARE(m_dock->tabs()->tabText(m_dock->tabs()->indexOf(tab)), row.name);
        QVERIFY(!tab->isConnected()); // "connecting…" while the worker logs in
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() || tab->hasEnded(), 15000);
        QVERIFY2(tab->isConnected(), qPrintable(tab->endText()));
        type(tab, QStringLiteral("echo via-session-$((2*21)) $(whoami)"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nvia-session-42 root")), 10000);
        // Reconnect goes through the session again; the CA was loaded once.
        type(tab, QStringLiteral("exit"));
        QTRY_VERIFY_WITH_TIMEOUT(tab->hasEnded(), 10000);
        tab->reconnect();
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() && !tab->hasEnded(), 15000);
        QCOMPARE(caLoads, 1);
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
        QTest::qWait(50);
    }

    /// A person's terminal on a sandbox, opened the app's way, is in the hash-chained audit log: pty.open and
    /// pty.close with the person running Fluid as actor ("person:<login>"), the sandbox, the target, the
    /// size, how it ended and how long it ran, but not what was typed. The audit dock shows the rows without
    /// being asked to refresh.
    void sandboxTerminalIsAudited()
    {
        const QString dir = makeTempDir(QStringLiteral("terminaldock-audit"));
        services::HostSession::Setup setup = testDriverSessionSetup(dir);
        must(store::openAndMigrate(setup.database));
        useLoopbackSshd(setup);
        services::HostSession session(setup);
        const model::Sandbox row = openWithRunningSandbox(session, setup, QStringLiteral("sbx-audit-1"));

        store::StoreWorker worker(setup.database);
        QSignalSpy storeOpened(&worker, &store::StoreWorker::opened);
        worker.start();
        QTRY_VERIFY_WITH_TIMEOUT(!storeOpened.isEmpty(), 10000);
        ui::AuditDock auditDock(&worker);
        auditDock.setPollInterval(100);
        auditDock.show();
        QVERIFY(QTest::qWaitForWindowExposed(&auditDock));
        const auto dockHas = [&auditDock, &row](const QString& kind) {
            const ui::AuditLogModel* m = auditDock.model();
            for (int i = 0; i < m->rowCount(); ++i)
                if (m->eventAt(i).kind == kind && m->eventAt(i).sandboxId == row.id)
                    return true;
            return false;
        };

        TerminalTab* tab = m_dock->openSandboxTerminal(&session, row);
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() || tab->hasEnded(), 15000);
        QVERIFY2(tab->isConnected(), qPrintable(tab->endText()));
        QTRY_VERIFY_WITH_TIMEOUT(dockHas(QStringLiteral("pty.open")), 10000);
        // What the person types, a password among it, never reaches the log.
        type(tab, QStringLiteral("echo typed-secret-hunter2 $((3*3))"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\ntyped-secret-hunter2 9")), 10000);
        const QSize grid(tab->view()->screen()->cols(), tab->view()->screen()->rows());
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
        QTRY_VERIFY_WITH_TIMEOUT(
            countKind(ptyEvents(setup.database, row.id), QStringLiteral("pty.close")) == 1, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(dockHas(QStringLiteral("pty.close")), 10000);

        const QList<model::AuditEvent> events = ptyEvents(setup.database, row.id);
        QCOMPARE(events.size(), 2);
        const model::AuditEvent& open = events.at(0);
        const model::AuditEvent& close = events.at(1);
        QCOMPARE(open.kind, QStringLiteral("pty.open"));
        QCOMPARE(close.kind, QStringLiteral("pty.close"));
        QVERIFY(open.seq < close.seq);
        const QString target =
            QStringLiteral("root@%1 (%2:%3)").arg(row.name, m_sshd->host()).arg(m_sshd->port());
        for (const model::AuditEvent& e : events) {
            QCOMPARE(e.actor, model::Actor::localPerson().toString());
            QCOMPARE(e.sandboxId, row.id);
            QCOMPARE(e.data.value(QStringLiteral("target")).toString(), target);
            QVERIFY2(e.summary.contains(target), qPrintable(e.summary));
            QCOMPARE(e.data.value(QStringLiteral("term")).toString(), QStringLiteral("xterm-256color"));
        }
        // The size the terminal had: asked for when the PTY was opened, followed as it changed.
        QVERIFY(open.data.value(QStringLiteral("cols")).toInt() > 0);
        QVERIFY(open.data.value(QStringLiteral("rows")).toInt() > 0);
        QCOMPARE(close.data.value(QStringLiteral("cols")).toInt(), grid.width());
        QCOMPARE(close.data.value(QStringLiteral("rows")).toInt(), grid.height());
        QCOMPARE(close.data.value(QStringLiteral("ended_by")).toString(), QStringLiteral("closed"));
        QVERIFY2(
            close.summary.contains(QStringLiteral("closed by ") + model::Actor::localPerson().toString()),
            qPrintable(close.summary));
        QVERIFY(close.data.value(QStringLiteral("exit_code")).isNull());
        QVERIFY(close.data.value(QStringLiteral("duration_ms")).toInteger(-1) >= 0);
        QVERIFY(QDateTime::fromString(close.data.value(QStringLiteral("started_at")).toString(),
                                      Qt::ISODateWithMs)
                    .isValid());
        QVERIFY(QDateTime::fromString(close.data.value(QStringLiteral("finished_at")).toString(),
                                      Qt::ISODateWithMs)
                    .isValid());
        // Counts only: what was typed went in (34 characters and Return), at least its echo came out.
        const QByteArray counts = QJsonDocument(close.data).toJson(QJsonDocument::Compact);
        QVERIFY2(close.data.value(QStringLiteral("input_bytes")).toInteger() >= 35, counts.constData());
        QVERIFY2(close.data.value(QStringLiteral("output_bytes")).toInteger() >= 35, counts.constData());

        // A shell that exits by itself is recorded with its exit status.
        TerminalTab* second = m_dock->openSandboxTerminal(&session, row);
        QTRY_VERIFY_WITH_TIMEOUT(second->isConnected() || second->hasEnded(), 15000);
        QVERIFY2(second->isConnected(), qPrintable(second->endText()));
        type(second, QStringLiteral("exit 3"));
        QTRY_VERIFY_WITH_TIMEOUT(second->hasEnded(), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(
            countKind(ptyEvents(setup.database, row.id), QStringLiteral("pty.close")) == 2, 10000);
        const model::AuditEvent exited = ptyEvents(setup.database, row.id).last();
        QCOMPARE(exited.kind, QStringLiteral("pty.close"));
        QCOMPARE(exited.data.value(QStringLiteral("ended_by")).toString(), QStringLiteral("remote"));
        QCOMPARE(exited.data.value(QStringLiteral("exit_code")).toInt(-1), 3);
        QVERIFY2(exited.summary.contains(QStringLiteral("exit status 3")), qPrintable(exited.summary));
        m_dock->closeTab(m_dock->tabs()->indexOf(second));

        verifyChain(setup.database);
        const QString log = wholeLog(setup.database);
        QVERIFY(!log.contains(QStringLiteral("hunter2")));
        QVERIFY(!log.contains(QStringLiteral("exit 3")));
        QCOMPARE(countKind(ptyEvents(setup.database, row.id), QStringLiteral("pty.open")), 2);
    }

    /// The app's shutdown: the window closes (its terminals with it), then the host session is destroyed
    /// (main.cpp's order), then the window and the store worker. Each terminal's pty.close is stored by the
    /// time the session's destructor returns, and nothing crashes. Also when the session goes while a
    /// terminal is still open in the window (nothing closed it first).
    void shutdownStoresPtyCloseBeforeTheStoreGoes_data()
    {
        QTest::addColumn<bool>("closeWindowFirst");
        QTest::newRow("window closed, then session destroyed") << true;
        QTest::newRow("session destroyed with the terminal open") << false;
    }

    void shutdownStoresPtyCloseBeforeTheStoreGoes()
    {
        QFETCH(bool, closeWindowFirst);
        const QString dir = makeTempDir(QStringLiteral("terminaldock-shutdown"));
        services::HostSession::Setup setup = testDriverSessionSetup(dir);
        must(store::openAndMigrate(setup.database));
        useLoopbackSshd(setup);
        auto services = std::make_unique<services::Services>(test::storeServicesOptions(setup.database));
        auto window = std::make_unique<ui::MainWindow>(*services);
        auto session = std::make_unique<services::HostSession>(setup);
        const QString id = closeWindowFirst ? QStringLiteral("sbx-quit-1") : QStringLiteral("sbx-quit-2");
        const model::Sandbox row = openWithRunningSandbox(*session, setup, id);
        window->show();
        services->start();
        QVERIFY(QTest::qWaitForWindowExposed(window.get()));

        TerminalTab* tab = window->terminalDock()->openSandboxTerminal(session.get(), row);
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() || tab->hasEnded(), 15000);
        QVERIFY2(tab->isConnected(), qPrintable(tab->endText()));
        type(tab, QStringLiteral("echo shell-pid=$$"));
        const QRegularExpression re(QStringLiteral("\nshell-pid=(\\d+)"));
        QTRY_VERIFY_WITH_TIMEOUT(re.match(screenText(tab)).hasMatch(), 10000);
        const pid_t pid = re.match(screenText(tab)).captured(1).toInt();
        QVERIFY(pid > 1);
        QTRY_COMPARE_WITH_TIMEOUT(countKind(ptyEvents(setup.database, row.id), QStringLiteral("pty.open")), 1,
                                  10000);

        if (closeWindowFirst) {
            QVERIFY(window->close());
            QCOMPARE(window->terminalDock()->count(), 0);
        }
        session.reset(); // blocks until the shells are closed and their records stored
        const QList<model::AuditEvent> events = ptyEvents(setup.database, row.id);
        QCOMPARE(countKind(events, QStringLiteral("pty.close")), 1);
        const model::AuditEvent& close = events.last();
        QCOMPARE(close.kind, QStringLiteral("pty.close"));
        QCOMPARE(close.actor, model::Actor::localPerson().toString());
        QCOMPARE(close.data.value(QStringLiteral("ended_by")).toString(), QStringLiteral("closed"));
        QTRY_VERIFY_WITH_TIMEOUT(::kill(pid, 0) != 0, 10000); // the remote shell really ended
        if (!closeWindowFirst) {
            // The tab holds a closed shell now and says so; reconnecting has no host to go through.
            QTRY_VERIFY_WITH_TIMEOUT(tab->hasEnded(), 10000);
            tab->reconnect();
            QTRY_VERIFY_WITH_TIMEOUT(tab->hasEnded(), 10000);
            QVERIFY2(tab->endText().contains(QStringLiteral("no longer connected")),
                     qPrintable(tab->endText()));
        }
        window.reset();
        services.reset();
        QTest::qWait(50); // shells released by the tabs are deleted on the global pool
        QCOMPARE(countKind(ptyEvents(setup.database, row.id), QStringLiteral("pty.close")), 1);
        verifyChain(setup.database);
    }

    /// A record reaching a terminal's audit sink after its writer is gone is dropped with a warning, not a
    /// crash (a tab may hold its shell's connection longer than the session that wrote its records).
    void auditRecordAfterTheWriterIsGoneIsDropped()
    {
        const QString dir = makeTempDir(QStringLiteral("terminaldock-late"));
        store::DatabaseOptions database;
        database.sqlitePath = dir + QStringLiteral("/fluid.sqlite");
        must(store::openAndMigrate(database));
        ssh::AuditSink sink;
        ssh::AuditRecord record;
        record.event.actor = model::Actor::localPerson().toString();
        record.event.kind = QStringLiteral("pty.close");
        record.event.sandboxId = QStringLiteral("sbx-late");
        record.event.summary = QStringLiteral("late");
        {
            auto writer = std::make_unique<ssh::AuditWriter>(database);
            sink = writer->sink();
            sink(record); // stored: close() waits for it
            writer.reset();
        }
        QCOMPARE(ptyEvents(database, QStringLiteral("sbx-late")).size(), 1);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("arrived after its writer was closed")));
        std::thread late([&sink, &record] { sink(record); }); // from another thread, as a connection would
        late.join();
        QCOMPARE(ptyEvents(database, QStringLiteral("sbx-late")).size(), 1);
    }

    /// A sandbox of a remote host: its network is only reachable from that host, so the shell jumps through
    /// an SSH connection to it (a second loopback sshd stands in for the hypervisor host; its log shows the
    /// forwarded connection).
    void remoteHostSandboxThroughTheHost()
    {
        const QString dir = makeTempDir(QStringLiteral("terminaldock-remote"));
        auto hvKey = must(ssh::KeyPair::generate());
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("hypervisor");
        o.authorizedKeys = {hvKey.publicKey()};
        o.logLevel = QStringLiteral("DEBUG1"); // logs each direct-tcpip request
        LoopbackSshd hypervisor(m_ca, o);
        must(hypervisor.start());
        const QString knownHosts = dir + QStringLiteral("/known_hosts");
        must(ssh::trustHostKey(knownHosts, hypervisor.host(), hypervisor.port(),
                               hypervisor.hostKey().publicKey()));

        services::HostSession::Setup setup = testDriverSessionSetup(dir);
        must(store::openAndMigrate(setup.database));
        const auto testDriver = setup.connect;
        setup.host.name = QStringLiteral("far");
        setup.host.uri = QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system").arg(hypervisor.port());
        setup.connect = [testDriver](const QString&) {
            return testDriver(QStringLiteral("test:///default"));
        };
        int hostConnections = 0;
        setup.connectHost = [&](const QString&) -> Result<std::shared_ptr<ssh::RemoteShell>> {
            ++hostConnections;
            ssh::ConnectionOptions c;
            c.host = hypervisor.host();
            c.port = hypervisor.port();
            c.user = QStringLiteral("root");
            c.hostKeyCheck = ssh::HostKeyCheck::knownHosts(knownHosts);
            c.identity = ssh::Identity{hvKey, std::nullopt};
            auto connection = ssh::SshConnection::open(c);
            auto ready = connection->ready();
            ready.waitForFinished();
            if (auto r = ready.result(); !r)
                return r.error();
            return std::shared_ptr<ssh::RemoteShell>(connection);
        };
        useLoopbackSshd(setup);
        const int port = m_sshd->port();
        services::HostSession session(setup);
        const model::Sandbox row = openWithRunningSandbox(session, setup, QStringLiteral("sbx-far-1"));
        TerminalTab* tab = m_dock->openSandboxTerminal(&session, row);
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected() || tab->hasEnded(), 15000);
        QVERIFY2(tab->isConnected(), qPrintable(tab->endText()));
        type(tab, QStringLiteral("echo far-$((2*21)) $(whoami)"));
        QTRY_VERIFY_WITH_TIMEOUT(screenText(tab).contains(QStringLiteral("\nfar-42 root")), 10000);
        QTRY_VERIFY2(hypervisor.log().contains(QStringLiteral("target 127.0.0.1 port %1").arg(port)),
                     qPrintable(hypervisor.log().right(2000)));
        // A second terminal reuses the connection to the host (the first is the start-up clean-up's).
        const int before = hostConnections;
        TerminalTab* second = m_dock->openSandboxTerminal(&session, row);
        QTRY_VERIFY_WITH_TIMEOUT(second->isConnected() || second->hasEnded(), 15000);
        QVERIFY2(second->isConnected(), qPrintable(second->endText()));
        QCOMPARE(hostConnections, before);
        m_dock->closeTab(m_dock->tabs()->indexOf(second));
        m_dock->closeTab(m_dock->tabs()->indexOf(tab));
        QTest::qWait(50);
    }
};

QTEST_MAIN(TstTerminalDock)
#include "tst_terminaldock.moc"

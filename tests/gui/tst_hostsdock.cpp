// SPDX-License-Identifier: Apache-2.0
// The hosts dock over a real HostSession on libvirt's test driver: the tree of sources and sandboxes, the
// actions and their enabled state, live libvirt events, snapshots on expand, cancel, failures, and the
// main window's seam for sessions.
#include "HostsDock.h"
#include "HostTreeModel.h"
#include "MainWindow.h"
#include "SandboxDialogs.h"
#include "services/HostSession.h"
#include "store/Repository.h"
#include "terminal/TerminalDock.h"
#include "TestSupport.h"
#include "virt/Hypervisor.h"

#include <QAction>
#include <QApplication>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QMenuBar>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QTest>
#include <QToolButton>
#include <QTreeView>

using namespace fluid;
using Action = ui::HostsDock::Action;
using Kind = ui::HostTreeModel::Kind;

namespace {

/// Answers the dock's questions the way a test says, and remembers what it was asked.
class ScriptedPrompts : public ui::HostsDock::Prompts {
public:
    ui::CreateRequest createAnswer;
    QString snapshotAnswer;
    ui::CreateRequest createDefaultsSeen;
    QStringList confirmations;

    std::optional<ui::CreateRequest> askCreate(QWidget*, const QString&,
                                               const ui::CreateRequest& defaults) override
    {
        createDefaultsSeen = defaults;
        return createAnswer;
    }
    bool confirm(QWidget*, const QString&, const QString& text) override
    {
        confirmations << text;
        return true;
    }
    std::optional<QString> askSnapshotName(QWidget*, const QString&, const QString&) override
    {
        return snapshotAnswer;
    }
};

} // namespace

class TestHostsDock : public QObject {
    Q_OBJECT

    QString m_dir;
    store::DatabaseOptions m_store;
    virt::Hypervisor* m_raw = nullptr;

    struct Bed {
        std::unique_ptr<services::HostSession> session;
        std::unique_ptr<ui::HostsDock> dock;
        ScriptedPrompts* prompts = nullptr;
    };

    Bed makeBed(const std::function<void(services::HostSession::Setup&)>& tweak = {})
    {
        services::HostSession::Setup setup = test::testDriverSessionSetup(m_dir, &m_raw);
        if (tweak)
            tweak(setup);
        Bed bed;
        bed.session = std::make_unique<services::HostSession>(setup);
        bed.dock = std::make_unique<ui::HostsDock>();
        auto prompts = std::make_unique<ScriptedPrompts>();
        bed.prompts = prompts.get();
        bed.dock->setPrompts(std::move(prompts));
        bed.dock->resize(900, 500);
        bed.dock->show();
        bed.dock->addHostSession(bed.session.get());
        return bed;
    }

    static QString cellText(const QModelIndex& index, int column)
    {
        return index.siblingAtColumn(column).data().toString();
    }

    static void select(ui::HostsDock& dock, const QModelIndex& index)
    {
        dock.view()->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect |
                                                         QItemSelectionModel::Rows);
    }

    static bool enabled(ui::HostsDock& dock, Action a) { return dock.action(a)->isEnabled(); }

    /// The sandbox row named `name` (invalid while there is none).
    static QModelIndex sandboxNamed(ui::HostsDock& dock, const QString& name)
    {
        const QModelIndex group = dock.model()->index(1, 0, dock.model()->hostIndex(QStringLiteral("local")));
        for (int r = 0; r < dock.model()->rowCount(group); ++r)
            if (cellText(dock.model()->index(r, 0, group), 0) == name)
                return dock.model()->index(r, 0, group);
        return {};
    }

    /// Triggers `a` and waits for the operation it starts to finish; returns (ok, message).
    static QPair<bool, QString> run(Bed& bed, Action a)
    {
        QSignalSpy started(bed.session.get(), &services::HostSession::operationStarted);
        QSignalSpy done(bed.session.get(), &services::HostSession::operationFinished);
        bed.dock->action(a)->trigger();
        if (started.isEmpty())
            return {false, QStringLiteral("no operation started")};
        const int op = started.first().value(0).toInt();
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 20000) {
            for (const QList<QVariant>& args : std::as_const(done))
                if (args.value(0).toInt() == op)
                    return {args.value(1).toBool(), args.value(2).toString()};
            done.wait(100);
        }
        return {false, QStringLiteral("operation %1 did not finish").arg(op)};
    }

    static bool waitConnected(ui::HostsDock& dock)
    {
        return QTest::qWaitFor(
            [&]() {
                return dock.model()
                           ->hostIndex(QStringLiteral("local"))
                           .data(ui::HostTreeModel::ConnectedRole)
                           .toBool() &&
                       dock.model()->sourceIndex(QStringLiteral("local"), QStringLiteral("golden")).isValid();
            },
            20000);
    }

private Q_SLOTS:
    void init()
    {
        m_dir = test::makeTempDir(QStringLiteral("hostsdock"));
        qputenv("FLUID_CONFIG_DIR", (m_dir + QStringLiteral("/config")).toUtf8());
        m_store = test::migratedStore(m_dir);
        m_raw = nullptr;
    }

    void emptyStateSaysWhatToDo()
    {
        ui::HostsDock dock;
        dock.show();
        auto* empty = dock.findChild<QLabel*>(QStringLiteral("hostsEmpty"));
        QVERIFY(empty->isVisible());
        QVERIFY(empty->text().contains(QLatin1String("No libvirt host configured")));
        QVERIFY(!dock.view()->isVisible());
        for (Action a : {Action::Create, Action::Start, Action::Stop, Action::Destroy, Action::Snapshot,
                         Action::Revert, Action::Refresh, Action::CancelOperation})
            QVERIFY(!enabled(dock, a));
    }

    void dialogsValidateNames()
    {
        ui::CreateSandboxDialog create(QStringLiteral("golden"), {QString(), 768, 2});
        QCOMPARE(create.memoryEdit()->value(), 768);
        QCOMPARE(create.vcpusEdit()->value(), 2);
        QVERIFY(create.canAccept()); // empty: a generated name
        create.nameEdit()->setText(QStringLiteral("Web Server"));
        QVERIFY(!create.canAccept());
        create.nameEdit()->setText(QStringLiteral("-web"));
        QVERIFY(!create.canAccept());
        create.nameEdit()->setText(QString(41, QLatin1Char('a')));
        QVERIFY(!create.canAccept());
        create.nameEdit()->setText(QStringLiteral("web-1"));
        QVERIFY(create.canAccept());
        create.memoryEdit()->setValue(1024);
        QCOMPARE(create.request().name, QStringLiteral("web-1"));
        QCOMPARE(create.request().memoryMib, 1024);

        ui::SnapshotNameDialog snapshot(QStringLiteral("web-1"), QStringLiteral("snap-1"));
        QVERIFY(snapshot.canAccept());
        snapshot.nameEdit()->clear();
        QVERIFY(!snapshot.canAccept());
        snapshot.nameEdit()->setText(QStringLiteral("before_nginx.1"));
        QVERIFY(snapshot.canAccept());
        QCOMPARE(snapshot.name(), QStringLiteral("before_nginx.1"));
    }

    /// Host rows follow the settings' order, whatever order the hosts are added in (a host reopened with
    /// new settings comes back in its place); hosts without a place go last, in the order added.
    void hostRowsFollowTheSettingsOrder()
    {
        ui::HostTreeModel model;
        model.addHost(QStringLiteral("gamma"), QStringLiteral("test:///default"), 2);
        model.addHost(QStringLiteral("extra"), QStringLiteral("test:///default"));
        model.addHost(QStringLiteral("alpha"), QStringLiteral("test:///default"), 0);
        model.addHost(QStringLiteral("later"), QStringLiteral("test:///default"));
        model.addHost(QStringLiteral("beta"), QStringLiteral("test:///default"), 1);
        model.addHost(QStringLiteral("alpha"), QStringLiteral("test:///default"), 7); // already there
        QStringList rows;
        for (int r = 0; r < model.rowCount(); ++r)
            rows << model.index(r, 0).data().toString();
        QCOMPARE(rows, (QStringList{QStringLiteral("alpha"), QStringLiteral("beta"), QStringLiteral("gamma"),
                                    QStringLiteral("extra"), QStringLiteral("later")}));
        QCOMPARE(model.rowCount(model.hostIndex(QStringLiteral("beta"))), 2); // its two groups
    }

    void treeShowsHostAndSources()
    {
        Bed bed = makeBed();
        ui::HostTreeModel* model = bed.dock->model();
        QVERIFY(waitConnected(*bed.dock));
        const QModelIndex host = model->hostIndex(QStringLiteral("local"));
        QCOMPARE(cellText(host, ui::HostTreeModel::State), QStringLiteral("connected"));
        QTRY_VERIFY_WITH_TIMEOUT(host.data(Qt::ToolTipRole).toString().contains(QLatin1String("MiB free")),
                                 20000);
        QCOMPARE(model->rowCount(host), 2);
        QCOMPARE(cellText(model->index(0, 0, host), 0), QStringLiteral("Source VMs"));
        QCOMPARE(cellText(model->index(1, 0, host), 0), QStringLiteral("Sandboxes"));

        const QModelIndex golden = model->sourceIndex(QStringLiteral("local"), QStringLiteral("golden"));
        QVERIFY(golden.data(ui::HostTreeModel::CloneableRole).toBool());
        QCOMPARE(cellText(golden, ui::HostTreeModel::Memory), QStringLiteral("512 MiB"));
        // The driver's own "test" domain has no disk Fluid can clone: greyed, with the reason.
        const QModelIndex refused = model->sourceIndex(QStringLiteral("local"), QStringLiteral("test"));
        QVERIFY(refused.isValid());
        QVERIFY(!refused.data(ui::HostTreeModel::CloneableRole).toBool());
        QVERIFY2(refused.data(Qt::ToolTipRole).toString().startsWith(QLatin1String("Cannot be cloned: ")),
                 qPrintable(refused.data(Qt::ToolTipRole).toString()));
        QCOMPARE(refused.siblingAtColumn(ui::HostTreeModel::State).data(Qt::ForegroundRole).value<QBrush>(),
                 QApplication::palette().brush(QPalette::Disabled, QPalette::Text));
        QVERIFY(golden.data(Qt::ForegroundRole).value<QBrush>() !=
                QApplication::palette().brush(QPalette::Disabled, QPalette::Text));

        // Create only on a cloneable source.
        select(*bed.dock, host);
        QVERIFY(!enabled(*bed.dock, Action::Create));
        QVERIFY(enabled(*bed.dock, Action::Refresh));
        select(*bed.dock, refused);
        QVERIFY(!enabled(*bed.dock, Action::Create));
        select(*bed.dock, golden);
        QVERIFY(enabled(*bed.dock, Action::Create));
        for (Action a : {Action::Start, Action::Stop, Action::Destroy, Action::Snapshot, Action::Revert})
            QVERIFY(!enabled(*bed.dock, a));
    }

    /// A host with a golden VM (hosts[].golden): its row is marked, and Create on the host clones it.
    void createOnTheHostClonesItsGoldenVm()
    {
        Bed bed = makeBed([](services::HostSession::Setup& s) { s.host.golden = QStringLiteral("golden"); });
        ui::HostsDock& dock = *bed.dock;
        ui::HostTreeModel* model = dock.model();
        QVERIFY(waitConnected(dock));
        const QModelIndex golden = model->sourceIndex(QStringLiteral("local"), QStringLiteral("golden"));
        QTRY_VERIFY(golden.data(Qt::FontRole).value<QFont>().bold());
        QVERIFY(golden.data(Qt::ToolTipRole).toString().contains(QLatin1String("golden VM")));
        QVERIFY(!model->sourceIndex(QStringLiteral("local"), QStringLiteral("test"))
                     .data(Qt::FontRole)
                     .value<QFont>()
                     .bold());
        select(dock, model->hostIndex(QStringLiteral("local")));
        QVERIFY(enabled(dock, Action::Create));
        bed.prompts->createAnswer = {QStringLiteral("from-host"), 0, 0};
        const auto r = run(bed, Action::Create);
        QVERIFY2(r.first, qPrintable(r.second));
        QTRY_VERIFY_WITH_TIMEOUT(sandboxNamed(dock, QStringLiteral("from-host")).isValid(), 20000);
    }

    void lifecycleThroughTheDock()
    {
        Bed bed = makeBed();
        ui::HostsDock& dock = *bed.dock;
        QVERIFY(waitConnected(dock));
        select(dock, dock.model()->sourceIndex(QStringLiteral("local"), QStringLiteral("golden")));
        bed.prompts->createAnswer = {QStringLiteral("tree"), 0, 0};
        const auto created = run(bed, Action::Create);
        QVERIFY2(created.first, qPrintable(created.second));
        QCOMPARE(bed.prompts->createDefaultsSeen.memoryMib, 2); // defaults come from the session
        QCOMPARE(bed.prompts->createDefaultsSeen.vcpus, 1);
        QTRY_VERIFY_WITH_TIMEOUT(sandboxNamed(dock, QStringLiteral("tree")).isValid(), 20000);
        QPersistentModelIndex row = sandboxNamed(dock, QStringLiteral("tree"));
        QTRY_COMPARE_WITH_TIMEOUT(cellText(row, ui::HostTreeModel::State), QStringLiteral("running"), 20000);
        QCOMPARE(cellText(row, ui::HostTreeModel::Memory), QStringLiteral("2 MiB"));
        QCOMPARE(cellText(row, ui::HostTreeModel::Age), QStringLiteral("just now"));
        const QString id = row.data(ui::HostTreeModel::SandboxIdRole).toString();

        select(dock, row);
        QVERIFY(!enabled(dock, Action::Start));
        QVERIFY(enabled(dock, Action::Stop));
        QVERIFY(enabled(dock, Action::Destroy));
        QVERIFY(enabled(dock, Action::Snapshot));
        QVERIFY(!enabled(dock, Action::Create));
        dock.view()->expand(row.parent());

        // Powered off behind Fluid's back: the same row turns stopped, still selected, without a refresh.
        QVERIFY(m_raw);
        test::must(m_raw->destroyDomain(QStringLiteral("fluid-tree")));
        QTRY_COMPARE_WITH_TIMEOUT(cellText(row, ui::HostTreeModel::State), QStringLiteral("stopped"), 20000);
        QVERIFY(row.isValid());
        QCOMPARE(dock.view()->selectionModel()->selectedRows(0).value(0), QModelIndex(row));
        QVERIFY(enabled(dock, Action::Start));
        QVERIFY(!enabled(dock, Action::Stop));

        auto r = run(bed, Action::Start);
        QVERIFY2(r.first, qPrintable(r.second));
        QTRY_COMPARE_WITH_TIMEOUT(cellText(row, ui::HostTreeModel::State), QStringLiteral("running"), 20000);

        bed.prompts->snapshotAnswer = QStringLiteral("one");
        r = run(bed, Action::Snapshot);
        QVERIFY2(r.first, qPrintable(r.second));
        dock.view()->expand(row);
        QTRY_VERIFY_WITH_TIMEOUT(
            dock.model()->snapshotIndex(QStringLiteral("local"), id, QStringLiteral("one")).isValid(), 20000);
        QCOMPARE(dock.model()->rowCount(row), 1); // the placeholder gave way

        select(dock, dock.model()->snapshotIndex(QStringLiteral("local"), id, QStringLiteral("one")));
        QVERIFY(enabled(dock, Action::Revert));
        for (Action a : {Action::Create, Action::Start, Action::Stop, Action::Destroy, Action::Snapshot})
            QVERIFY(!enabled(dock, a));
        r = run(bed, Action::Revert);
        QVERIFY2(r.first, qPrintable(r.second));
        QVERIFY(bed.prompts->confirmations.last().contains(QLatin1String("one")));

        select(dock, row);
        r = run(bed, Action::Destroy);
        QVERIFY2(r.first, qPrintable(r.second));
        QVERIFY(bed.prompts->confirmations.last().startsWith(QLatin1String("Destroy sandbox tree?")));
        QTRY_VERIFY_WITH_TIMEOUT(!sandboxNamed(dock, QStringLiteral("tree")).isValid(), 20000);
        QVERIFY(!enabled(dock, Action::Destroy));
        // Finished operations leave the list; only failures stay.
        QCOMPARE(dock.operations()->rowCount(), 0);
    }

    void failureIsListedWithItsMessage()
    {
        Bed bed = makeBed();
        QVERIFY(waitConnected(*bed.dock));
        QSignalSpy status(bed.dock.get(), &ui::HostsDock::statusMessage);
        select(*bed.dock, bed.dock->model()->sourceIndex(QStringLiteral("local"), QStringLiteral("golden")));
        bed.prompts->createAnswer = {QStringLiteral("Not_A_Name"), 0, 0};
        const auto r = run(bed, Action::Create);
        QVERIFY(!r.first);
        QVERIFY(!r.second.isEmpty());
        QCOMPARE(bed.dock->operations()->rowCount(), 1);
        const QModelIndex failure = bed.dock->operations()->index(0, 0);
        // The spy saw the end first: the dock gets it queued on its own thread.
        QTRY_VERIFY2(failure.data().toString().contains(QLatin1String("failed: ") + r.second),
                     qPrintable(failure.data().toString()));
        QCOMPARE(failure.data(Qt::ToolTipRole).toString(), r.second);
        QVERIFY(status.last().value(0).toString().contains(r.second));
        QCOMPARE(status.last().value(1).toInt(), 0); // stays until the next message
        QVERIFY(!sandboxNamed(*bed.dock, QStringLiteral("Not_A_Name")).isValid());

        bed.dock->findChild<QToolButton*>(QStringLiteral("dismissOperations"))->click();
        QCOMPARE(bed.dock->operations()->rowCount(), 0);
    }

    void runningCreateCanBeCancelled()
    {
        Bed bed = makeBed([](services::HostSession::Setup& s) {
            s.createDefaults.waitReady = true; // waits for a guest that never answers, until cancelled
            s.createDefaults.readyTimeoutS = 600;
        });
        ui::HostsDock& dock = *bed.dock;
        QVERIFY(waitConnected(dock));
        QSignalSpy done(bed.session.get(), &services::HostSession::operationFinished);
        select(dock, dock.model()->sourceIndex(QStringLiteral("local"), QStringLiteral("golden")));
        bed.prompts->createAnswer = {QStringLiteral("slow"), 0, 0};
        dock.action(Action::Create)->trigger();
        QCOMPARE(dock.operations()->rowCount(), 1);
        const QModelIndex op = dock.operations()->index(0, 0);
        QTRY_VERIFY_WITH_TIMEOUT(op.data().toString().contains(QLatin1String("waiting")), 20000);
        QVERIFY(!enabled(dock, Action::CancelOperation)); // nothing selected in the list yet
        dock.operationsView()->selectionModel()->select(op, QItemSelectionModel::ClearAndSelect);
        QVERIFY(enabled(dock, Action::CancelOperation));
        dock.action(Action::CancelOperation)->trigger();
        QVERIFY(done.wait(20000));
        QVERIFY(!done.first().value(1).toBool());
        QTRY_VERIFY_WITH_TIMEOUT(!sandboxNamed(dock, QStringLiteral("slow")).isValid(), 20000);
        QVERIFY(dock.operations()->index(0, 0).data().toString().contains(QLatin1String("failed")));
        QVERIFY(!enabled(dock, Action::CancelOperation));
    }

    void mainWindowHostsTheDock()
    {
        services::HostSession session(test::testDriverSessionSetup(m_dir, &m_raw));
        ui::MainWindow window(nullptr);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        ui::HostsDock* dock = window.hostsDock();
        QCOMPARE(dock->objectName(), QStringLiteral("hostsDock"));
        QCOMPARE(window.dockWidgetArea(dock), Qt::LeftDockWidgetArea);
        QAction* toggle = dock->toggleViewAction();
        QCOMPARE(toggle->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H));
        QVERIFY(window.viewMenu()->actions().contains(toggle));

        window.addHostSession(&session);
        QVERIFY(waitConnected(*dock));
        QTRY_VERIFY_WITH_TIMEOUT(
            window.statusBar()->currentMessage().startsWith(QLatin1String("Connected to local")), 20000);
        window.close();
    }

    void openTerminalNeedsARunningSandboxWithAnAddress()
    {
        Bed bed = makeBed();
        ui::HostsDock& dock = *bed.dock;
        QVERIFY(waitConnected(dock));
        model::Sandbox row;
        row.id = QStringLiteral("sbx-term");
        row.name = QStringLiteral("term");
        row.hostId = bed.session->hostId();
        row.domainName = QStringLiteral("fluid-term");
        row.state = model::SandboxState::Running;
        row.createdAt = row.updatedAt = QDateTime::currentDateTimeUtc();
        {
            auto db = test::must(store::Database::open(m_store));
            test::must(store::SandboxRepository(*db).insert(row));
        }
        bed.session->refresh();
        QTRY_VERIFY_WITH_TIMEOUT(sandboxNamed(dock, QStringLiteral("term")).isValid(), 20000);
        select(dock, sandboxNamed(dock, QStringLiteral("term")));
        QVERIFY(!enabled(dock, Action::OpenTerminal)); // running, but no address yet

        row.ip = QStringLiteral("192.0.2.7");
        {
            auto db = test::must(store::Database::open(m_store));
            test::must(store::SandboxRepository(*db).update(row));
        }
        bed.session->refresh();
        QTRY_VERIFY_WITH_TIMEOUT(enabled(dock, Action::OpenTerminal), 20000);
        QCOMPARE(dock.action(Action::OpenTerminal)->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_T));
        QSignalSpy requested(&dock, &ui::HostsDock::openTerminalRequested);
        dock.action(Action::OpenTerminal)->trigger();
        QCOMPARE(requested.count(), 1);
        QCOMPARE(requested.first().at(0).value<services::HostSession*>(), bed.session.get());
        const auto sandbox = requested.first().at(1).value<model::Sandbox>();
        QCOMPARE(sandbox.id, row.id);
        QCOMPARE(sandbox.name, row.name);
        QCOMPARE(sandbox.ip, row.ip);
    }

    void mainWindowHostsTheTerminalDock()
    {
        ui::MainWindow window(nullptr);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        ui::TerminalDock* dock = window.terminalDock();
        QVERIFY(dock);
        QCOMPARE(dock->objectName(), QStringLiteral("terminalDock"));
        QCOMPARE(window.dockWidgetArea(dock), Qt::BottomDockWidgetArea);
        QCOMPARE(dock->toggleViewAction()->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T));
        const QList<QAction*> viewActions = window.viewMenu()->actions();
        QVERIFY(viewActions.contains(dock->toggleViewAction()));
        QVERIFY(viewActions.contains(dock->fontAction()));
        QCOMPARE(dock->count(), 0);
        window.close();
    }
};

QTEST_MAIN(TestHostsDock)
#include "tst_hostsdock.moc"

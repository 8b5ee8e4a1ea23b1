// SPDX-License-Identifier: Apache-2.0
// The approval inbox: ApprovalModel on its own (columns, relative times, merges that keep selections), the
// dock over a real store (pending, history, expiry, notifications, comments, hash binding), the dock
// deciding the approvals a real create waits for (HostSession on libvirt's test driver with limits small
// enough that every create needs one), and the main window hosting it with the pending count.
#include "approval/ApprovalBroker.h"
#include "approval/ApprovalInbox.h"
#include "approvals/ApprovalInboxDock.h"
#include "approvals/ApprovalModel.h"
#include "base/Clock.h"
#include "base/Worker.h"
#include "MainWindow.h"
#include "services/Admission.h"
#include "services/HostSession.h"
#include "services/Services.h"
#include "store/Repository.h"
#include "store/StoreWorker.h"
#include "TestSupport.h"

#include <QAction>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QLabel>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QTableView>
#include <QTest>
#include <QTextBrowser>

using namespace fluid;
using model::Approval;
using model::ApprovalStatus;
using ui::ApprovalModel;

namespace {

class RecordingNotifier : public ui::ApprovalInboxDock::Notifier {
public:
    explicit RecordingNotifier(QStringList* log)
        : m_log(log)
    {
    }
    void notify(ui::ApprovalInboxDock*, const QString& title, const QString& text) override
    {
        m_log->append(title + QStringLiteral(": ") + text);
    }

private:
    QStringList* m_log;
};

Approval makeApproval(const QString& id, const QDateTime& created, qint64 ttlMs)
{
    Approval a;
    a.id = id;
    a.kind = QStringLiteral("resources");
    a.request = QStringLiteral("Create sandbox %1 beyond its limits").arg(id);
    a.context = QJsonObject{{QStringLiteral("sandbox"), id}, {QStringLiteral("memoryMib"), 4096}};
    a.requestedBy = QStringLiteral("agent:7");
    a.createdAt = created;
    a.expiresAt = created.addMSecs(ttlMs);
    a.contentHash = approval::contentHash(a.kind, a.request, a.context);
    return a;
}

QString cell(const QAbstractItemModel* m, int row, int column)
{
    return m->index(row, column).data().toString();
}

/// The text of the row of `view` whose What column contains `needle`, or -1.
int rowContaining(const ui::ApprovalModel* m, const QString& needle)
{
    for (int r = 0; r < m->rowCount(); ++r)
        if (m->approvalAt(r).request.contains(needle))
            return r;
    return -1;
}

} // namespace

class TestApprovalDock : public QObject {
    Q_OBJECT

    QString m_dir;
    store::DatabaseOptions m_options;
    /// The process's broker: the dock decides through it, a waiting create hears from it at once.
    std::unique_ptr<approval::ApprovalBroker> m_broker;

    std::unique_ptr<store::Database> openDb() { return test::must(store::Database::open(m_options)); }

    /// Files `a` as the actor its requestedBy names.
    Approval file(store::Database& db, const Approval& a, qint64 ttlMs)
    {
        return test::must(m_broker->request(
            db, a, model::Actor::fromString(a.requestedBy).value_or(model::Actor()), ttlMs));
    }

    /// Another process's decision: a broker of its own over a connection of its own.
    void decideElsewhere(const QString& id, bool approve, const QString& who, const QString& comment)
    {
        auto db = openDb();
        approval::ApprovalBroker theirs(db->options());
        test::must(theirs.decide(*db, id, approve, model::Actor::person(who), comment));
    }

    static bool waitOpened(store::StoreWorker& worker)
    {
        QSignalSpy opened(&worker, &store::StoreWorker::opened);
        worker.start();
        return opened.wait(10000) && opened.first().value(0).toBool();
    }

    /// Waits (events running) for operation `op` to finish; (ok, message).
    static QPair<bool, QString> waitFinished(test::OperationLog& log, quint64 op, int timeoutMs = 30000)
    {
        const auto info = log.waitFinished(op, timeoutMs);
        if (!info)
            return {false, QStringLiteral("operation %1 did not finish").arg(op)};
        return {info->state == services::OperationState::Succeeded, info->outcome};
    }

private Q_SLOTS:
    void init()
    {
        m_dir = test::makeTempDir(QStringLiteral("approvaldock"));
        qputenv("FLUID_CONFIG_DIR", (m_dir + QStringLiteral("/config")).toUtf8());
        m_options = test::migratedStore(m_dir);
        m_broker = std::make_unique<approval::ApprovalBroker>(m_options);
    }

    void cleanup() { m_broker.reset(); }

    void modelShowsColumnsAndRelativeTimes()
    {
        ManualClock clock;
        const QDateTime t0 = clock.now();
        ApprovalModel m(&clock);
        Approval a = makeApproval(QStringLiteral("web-1"), t0.addSecs(-120), 15 * 60 * 1000);
        Approval decided = makeApproval(QStringLiteral("db-1"), t0.addSecs(-7200), 60000);
        decided.sandboxId = QStringLiteral("sbx-42");
        decided.status = ApprovalStatus::Rejected;
        decided.decidedBy = QStringLiteral("person:alice");
        decided.comment = QStringLiteral("too big");
        decided.decidedAt = t0.addSecs(-7150);
        m.setApprovals({a, decided});
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.columnCount(), int(ApprovalModel::ColumnCount));
        QCOMPARE(cell(&m, 0, ApprovalModel::Kind), QStringLiteral("resources"));
        QCOMPARE(cell(&m, 0, ApprovalModel::Sandbox), QStringLiteral("web-1"));  // from the context
        QCOMPARE(cell(&m, 1, ApprovalModel::Sandbox), QStringLiteral("sbx-42")); // the id wins
        QCOMPARE(cell(&m, 0, ApprovalModel::RequestedBy), QStringLiteral("agent:7"));
        QCOMPARE(cell(&m, 0, ApprovalModel::What), a.request);
        QCOMPARE(cell(&m, 0, ApprovalModel::Age), QStringLiteral("2 min ago"));
        QCOMPARE(cell(&m, 0, ApprovalModel::Expires), QStringLiteral("in 13 min"));
        QCOMPARE(cell(&m, 0, ApprovalModel::Status), QStringLiteral("pending"));
        QCOMPARE(cell(&m, 1, ApprovalModel::Age), QStringLiteral("2 h ago"));
        QCOMPARE(cell(&m, 1, ApprovalModel::Expires), QString()); // decided: no expiry
        QCOMPARE(cell(&m, 1, ApprovalModel::Status), QStringLiteral("rejected"));
        QCOMPARE(cell(&m, 1, ApprovalModel::DecidedBy), QStringLiteral("person:alice"));
        QCOMPARE(cell(&m, 1, ApprovalModel::Comment), QStringLiteral("too big"));
        QVERIFY(!cell(&m, 1, ApprovalModel::Decided).isEmpty());
        QCOMPARE(m.index(0, 0).data(ApprovalModel::IdRole).toString(), QStringLiteral("web-1"));
        QCOMPARE(m.index(0, 0).data(ApprovalModel::HashRole).toString(), a.contentHash);
        QCOMPARE(m.headerData(ApprovalModel::What, Qt::Horizontal, Qt::DisplayRole).toString(),
                 QStringLiteral("What"));

        // Time passes: tick() says the time cells changed; an overdue request reads expired and is greyed.
        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        clock.advance(14 * 60 * 1000);
        m.tick();
        QCOMPARE(changed.size(), 1);
        QCOMPARE(cell(&m, 0, ApprovalModel::Expires), QStringLiteral("expired"));
        QCOMPARE(cell(&m, 0, ApprovalModel::Status), QStringLiteral("expired"));
        QVERIFY(m.index(0, 0).data(ApprovalModel::OverdueRole).toBool());
        QVERIFY(m.index(0, 0).data(Qt::ForegroundRole).isValid());
        QVERIFY(!m.index(1, 0).data(ApprovalModel::OverdueRole).toBool());

        QCOMPARE(ApprovalModel::shortDuration(45'000), QStringLiteral("45 s"));
        QCOMPARE(ApprovalModel::shortDuration(3 * 86400'000LL), QStringLiteral("3 d"));
        QCOMPARE(ApprovalModel::shortDuration(-5), QStringLiteral("0 s"));
    }

    void modelMergeKeepsRowsAndSelection()
    {
        ManualClock clock;
        ApprovalModel m(&clock);
        const QDateTime t0 = clock.now();
        const Approval a = makeApproval(QStringLiteral("a"), t0, 60000);
        const Approval b = makeApproval(QStringLiteral("b"), t0.addSecs(1), 60000);
        const Approval c = makeApproval(QStringLiteral("c"), t0.addSecs(2), 60000);
        m.setApprovals({a, c});
        QItemSelectionModel selection(&m);
        selection.select(m.index(1, 0), QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        QPersistentModelIndex selectedC(m.index(1, 0));

        QSignalSpy reset(&m, &QAbstractItemModel::modelReset);
        QSignalSpy inserted(&m, &QAbstractItemModel::rowsInserted);
        QSignalSpy removed(&m, &QAbstractItemModel::rowsRemoved);
        QSignalSpy changed(&m, &QAbstractItemModel::dataChanged);
        Approval c2 = c;
        c2.request = QStringLiteral("changed");
        m.setApprovals({b, c2}); // a leaves, b arrives before c, c changes
        QCOMPARE(reset.size(), 0);
        QCOMPARE(removed.size(), 1);
        QCOMPARE(inserted.size(), 1);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(m.rowCount(), 2);
        QCOMPARE(m.approvalAt(0).id, QStringLiteral("b"));
        QVERIFY(selectedC.isValid());
        QCOMPARE(selectedC.row(), 1);
        QCOMPARE(selection.selectedRows().value(0).data(ApprovalModel::IdRole).toString(),
                 QStringLiteral("c"));
        QCOMPARE(cell(&m, 1, ApprovalModel::What), QStringLiteral("changed"));
        QCOMPARE(m.rowOf(QStringLiteral("b")), 0);
        QCOMPARE(m.rowOf(QStringLiteral("a")), -1);

        // The same list again changes nothing; a new order falls back to a reset.
        changed.clear();
        m.setApprovals({b, c2});
        QCOMPARE(changed.size(), 0);
        m.setApprovals({c2, b});
        QCOMPARE(reset.size(), 1);
        QCOMPARE(m.approvalAt(0).id, QStringLiteral("c"));
        m.setApprovals({});
        QCOMPARE(m.rowCount(), 0);
    }

    void inboxOverTheStore()
    {
        {
            auto db = openDb();
            Approval apply;
            apply.kind = QStringLiteral("apply");
            apply.sandboxId = QStringLiteral("sbx-7f3a");
            apply.request = QStringLiteral("Apply playbook nginx.yml to web-prod-1");
            apply.requestedBy = QStringLiteral("agent:3");
            apply.context =
                QJsonObject{{QStringLiteral("why"),
                             QStringLiteral("The agent installed nginx and wants it in production")},
                            {QStringLiteral("playbook"), QStringLiteral("nginx.yml")},
                            {QStringLiteral("targets"), QJsonArray{QStringLiteral("web-prod-1")}},
                            {QStringLiteral("diff"),
                             QStringLiteral("--- a/etc/nginx/nginx.conf\n+++ b/etc/nginx/nginx.conf\n"
                                            "@@ -1 +1 @@\n-worker_processes 1;\n+worker_processes "
                                            "auto;<script>")}};
            file(*db, apply, 60 * 60 * 1000);
            Approval old = makeApproval(QStringLiteral("old"), {}, 60000);
            old.id.clear();
            const Approval filedOld = file(*db, old, 60000);
            decideElsewhere(filedOld.id, true, QStringLiteral("bob"), QStringLiteral("fine"));
        }
        store::StoreWorker worker(m_options);
        QVERIFY(waitOpened(worker));
        ui::ApprovalInboxDock dock(&worker, m_broker.get());
        QStringList notes;
        dock.setNotifier(std::make_unique<RecordingNotifier>(&notes));
        dock.setDecider(model::Actor::person(QStringLiteral("tester")));
        dock.resize(900, 900);
        dock.show();
        QCOMPARE(dock.objectName(), QStringLiteral("approvalDock"));
        QTRY_COMPARE_WITH_TIMEOUT(dock.pendingCount(), 1, 10000);
        QCOMPARE(dock.windowTitle(), QStringLiteral("Approvals (1)"));
        QCOMPARE(dock.toggleViewAction()->text().remove(QLatin1Char('&')), QStringLiteral("Approvals (1)"));
        QTRY_COMPARE(notes.size(), 1);
        QVERIFY2(notes.first().contains(QLatin1String("agent:3 asks: Apply playbook nginx.yml")),
                 qPrintable(notes.first()));
        QCOMPARE(dock.historyModel()->rowCount(), 1);
        QCOMPARE(cell(dock.historyModel(), 0, ApprovalModel::DecidedBy), QStringLiteral("person:bob"));
        QCOMPARE(cell(dock.historyModel(), 0, ApprovalModel::Comment), QStringLiteral("fine"));

        // Nothing selected: nothing to decide.
        QVERIFY(!dock.approveButton()->isEnabled());
        QVERIFY(!dock.rejectButton()->isEnabled());
        QVERIFY(!dock.approveButton()->accessibleName().isEmpty());
        QVERIFY(!dock.rejectButton()->accessibleName().isEmpty());
        QVERIFY(!dock.commentEdit()->accessibleName().isEmpty());
        QVERIFY(!dock.pendingView()->accessibleName().isEmpty());

        const Approval shown = dock.pendingModel()->approvalAt(0);
        QVERIFY(dock.select(shown.id));
        QVERIFY(dock.shown().has_value());
        QVERIFY(dock.approveButton()->isEnabled());
        const QString html = dock.details()->toHtml();
        const QString text = dock.details()->toPlainText();
        QVERIFY2(text.contains(QLatin1String("The agent installed nginx")), qPrintable(text));
        QVERIFY(text.contains(QLatin1String("sbx-7f3a")));
        QVERIFY(text.contains(QLatin1String("web-prod-1")));
        QVERIFY(text.contains(QLatin1String("+worker_processes auto;<script>"))); // escaped, not markup
        QVERIFY(text.contains(shown.contentHash));
        QVERIFY(html.contains(QLatin1String("background-color"))); // diff lines marked

        // Reject asks for a comment first and decides nothing without one.
        QTest::mouseClick(dock.rejectButton(), Qt::LeftButton);
        QVERIFY2(dock.messageText().contains(QLatin1String("Rejecting needs a comment")),
                 qPrintable(dock.messageText()));
        QCOMPARE(test::must(store::ApprovalRepository(*openDb()).get(shown.id)).status,
                 ApprovalStatus::Pending);

        // The requester changes what it asks (with a new hash) while the person reads the old version.
        Approval changed = shown;
        changed.request = QStringLiteral("Apply playbook nginx.yml to every production host");
        changed.contentHash = approval::contentHash(changed.kind, changed.request, changed.context);
        test::must(store::ApprovalRepository(*openDb()).update(changed));
        QSignalSpy refreshed(&dock, &ui::ApprovalInboxDock::refreshed);
        QVERIFY(refreshed.wait(5000));
        auto* banner = dock.findChild<QLabel*>(QStringLiteral("approvalChanged"));
        QTRY_VERIFY(banner->isVisible());
        QCOMPARE(dock.shown()->request, shown.request); // the pane does not swap content under the reader
        QSignalSpy finished(&dock, &ui::ApprovalInboxDock::decisionFinished);
        QTest::mouseClick(dock.approveButton(), Qt::LeftButton);
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().value(1).toBool(), false);
        QVERIFY2(dock.messageText().contains(QLatin1String("Could not approve")) &&
                     dock.messageText().contains(QLatin1String("content hash differs")),
                 qPrintable(dock.messageText()));
        QCOMPARE(test::must(store::ApprovalRepository(*openDb()).get(shown.id)).status,
                 ApprovalStatus::Pending);

        // Looking again shows the new content; that can be decided.
        Q_EMIT banner->linkActivated(QStringLiteral("reload"));
        QCOMPARE(dock.shown()->request, changed.request);
        QVERIFY(!banner->isVisible());
        dock.commentEdit()->setPlainText(QStringLiteral("production is frozen this week"));
        finished.clear();
        // From the keyboard: Ctrl+Shift+Return rejects while typing the comment.
        dock.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&dock));
        dock.commentEdit()->setFocus();
        QTest::keyClick(dock.commentEdit(), Qt::Key_Return, Qt::ControlModifier | Qt::ShiftModifier);
        QVERIFY(finished.wait(5000));
        QVERIFY2(finished.first().value(1).toBool(), qPrintable(finished.first().value(2).toString()));
        const Approval rejected = test::must(store::ApprovalRepository(*openDb()).get(shown.id));
        QCOMPARE(rejected.status, ApprovalStatus::Rejected);
        QCOMPARE(rejected.decidedBy, QStringLiteral("person:tester"));
        QCOMPARE(rejected.comment, QStringLiteral("production is frozen this week"));
        QTRY_COMPARE(dock.pendingCount(), 0);
        QCOMPARE(dock.windowTitle(), QStringLiteral("Approvals"));
        QTRY_COMPARE(dock.historyModel()->rowCount(), 2);
        // The pane follows the decided request into the history.
        QTRY_COMPARE(dock.shown()->status, ApprovalStatus::Rejected);
        QCOMPARE(dock.historyView()->selectionModel()->selectedRows().value(0).data(ApprovalModel::IdRole),
                 QVariant(shown.id));
        QVERIFY(!dock.approveButton()->isEnabled());
        QVERIFY(dock.details()->toPlainText().contains(QLatin1String("production is frozen this week")));

        // A request nobody decides in time moves to the history as expired; each new one is announced.
        {
            auto db = openDb();
            Approval brief = makeApproval(QStringLiteral("brief"), {}, 0);
            brief.id.clear();
            file(*db, brief, 4000);
        }
        QTRY_COMPARE_WITH_TIMEOUT(dock.pendingCount(), 1, 5000);
        QTRY_COMPARE(notes.size(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(dock.pendingCount(), 0, 10000);
        const int expiredRow = rowContaining(dock.historyModel(), QStringLiteral("brief"));
        QVERIFY(expiredRow >= 0);
        QCOMPARE(cell(dock.historyModel(), expiredRow, ApprovalModel::Status), QStringLiteral("expired"));
        QCOMPARE(cell(dock.historyModel(), expiredRow, ApprovalModel::DecidedBy), QStringLiteral("system"));
        QCOMPARE(notes.size(), 2); // announced once
    }

    void tamperedRequestCannotBeApproved()
    {
        QString id;
        {
            auto db = openDb();
            Approval a = makeApproval(QStringLiteral("t"), {}, 0);
            a.id.clear();
            id = file(*db, a, 60000).id;
        }
        store::StoreWorker worker(m_options);
        QVERIFY(waitOpened(worker));
        ui::ApprovalInboxDock dock(&worker, m_broker.get());
        QStringList notes;
        dock.setNotifier(std::make_unique<RecordingNotifier>(&notes));
        dock.show();
        QTRY_COMPARE_WITH_TIMEOUT(dock.pendingCount(), 1, 10000);
        QVERIFY(dock.select(id));
        // Someone edits the stored request behind the broker's back: the hash column stays the same.
        QVERIFY(openDb()
                    ->exec(QStringLiteral(
                               "UPDATE approvals SET request = 'Create sandbox t with 64 GiB' WHERE id = ?"),
                           {id})
                    .ok());
        QSignalSpy finished(&dock, &ui::ApprovalInboxDock::decisionFinished);
        QTest::mouseClick(dock.approveButton(), Qt::LeftButton);
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().value(1).toBool(), false);
        QVERIFY2(dock.messageText().contains(QLatin1String("changed in the store after it was filed")),
                 qPrintable(dock.messageText()));
        QCOMPARE(test::must(store::ApprovalRepository(*openDb()).get(id)).status, ApprovalStatus::Pending);
        // Showing the current content says it no longer matches its hash.
        auto* banner = dock.findChild<QLabel*>(QStringLiteral("approvalChanged"));
        QTRY_VERIFY(banner->isVisible());
        Q_EMIT banner->linkActivated(QStringLiteral("reload"));
        QVERIFY(dock.details()->toPlainText().contains(QLatin1String("no longer matches this hash")));
    }

    void decisionsMadeElsewhereShowUp()
    {
        QString id;
        {
            auto db = openDb();
            Approval a = makeApproval(QStringLiteral("e"), {}, 0);
            a.id.clear();
            id = file(*db, a, 60000).id;
        }
        store::StoreWorker worker(m_options);
        QVERIFY(waitOpened(worker));
        ui::ApprovalInboxDock dock(&worker, m_broker.get());
        QStringList notes;
        dock.setNotifier(std::make_unique<RecordingNotifier>(&notes));
        dock.show();
        QTRY_COMPARE_WITH_TIMEOUT(dock.pendingCount(), 1, 10000);
        QVERIFY(dock.select(id));
        QVERIFY(dock.approveButton()->isEnabled());
        // `fluid approval approve` in another process: the shown request follows into the history.
        decideElsewhere(id, true, QStringLiteral("bob"), QStringLiteral("from the CLI"));
        QTRY_COMPARE_WITH_TIMEOUT(dock.pendingCount(), 0, 5000);
        QTRY_COMPARE(dock.historyModel()->rowCount(), 1);
        QCOMPARE(dock.shown()->status, ApprovalStatus::Approved);
        QCOMPARE(dock.shown()->decidedBy, QStringLiteral("person:bob"));
        QVERIFY(!dock.approveButton()->isEnabled());
        QCOMPARE(dock.historyView()->selectionModel()->selectedRows().value(0).data(ApprovalModel::IdRole),
                 QVariant(id));

        // Filed and decided between two polls: the pending list never saw it, the periodic history read does.
        {
            auto db = openDb();
            Approval a = makeApproval(QStringLiteral("quick"), {}, 0);
            a.id.clear();
            const Approval filed = file(*db, a, 60000);
            decideElsewhere(filed.id, false, QStringLiteral("bob"), QStringLiteral("no"));
        }
        QTRY_COMPARE_WITH_TIMEOUT(dock.historyModel()->rowCount(), 2,
                                  ui::ApprovalInboxDock::kPollIntervalMs *
                                      (approval::kInboxHistoryEvery + 2));
    }

    void createWaitsForTheInbox()
    {
        services::HostSession::Setup setup = test::testDriverSessionSetup(m_dir);
        setup.createDefaults.limits.maxMemoryMib = 1; // every create (2 MiB) needs an approval
        setup.admit = services::approvalGate(m_broker.get(), m_options);
        services::HostSession session(setup);
        test::OperationLog log(session.operations());
        store::StoreWorker worker(m_options);
        QVERIFY(waitOpened(worker));
        ui::ApprovalInboxDock dock(&worker, m_broker.get());
        QStringList notes;
        dock.setNotifier(std::make_unique<RecordingNotifier>(&notes));
        dock.resize(900, 900);
        dock.show();
        test::must(await(session.open()));
        const model::Actor me = model::Actor::localPerson();
        const auto create = [&](const QString& name) {
            services::CreateRequest request;
            request.source = QStringLiteral("golden");
            request.name = name;
            return session.create(request, me).id();
        };

        // 1. Approve in the dock: the create goes on and finishes.
        const quint64 first = create(QStringLiteral("big-1"));
        QTRY_VERIFY_WITH_TIMEOUT(dock.pendingCount() == 1, 15000);
        QCOMPARE(dock.windowTitle(), QStringLiteral("Approvals (1)"));
        QTRY_COMPARE(notes.size(), 1);
        QTRY_VERIFY(log.said(QStringLiteral("waiting for approval"), first));
        const Approval asked = dock.pendingModel()->approvalAt(0);
        QCOMPARE(cell(dock.pendingModel(), 0, ApprovalModel::Sandbox), QStringLiteral("big-1"));
        QCOMPARE(cell(dock.pendingModel(), 0, ApprovalModel::Kind), QStringLiteral("resources"));
        QVERIFY(dock.select(asked.id));
        const QString details = dock.details()->toPlainText();
        QVERIFY2(details.contains(QLatin1String("Memory")) && details.contains(QLatin1String("2 MiB")),
                 qPrintable(details));
        QVERIFY(details.contains(QLatin1String("vCPUs")));
        QVERIFY(details.contains(QLatin1String("the limit is 1 MiB")));
        QVERIFY(details.contains(QLatin1String("test:///default")));
        QVERIFY(details.contains(asked.contentHash));
        dock.commentEdit()->setPlainText(QStringLiteral("ok for the demo"));
        QTest::mouseClick(dock.approveButton(), Qt::LeftButton);
        const auto created = waitFinished(log, first);
        QVERIFY2(created.first, qPrintable(created.second));
        QTRY_COMPARE(dock.pendingCount(), 0);
        QTRY_COMPARE(dock.historyModel()->rowCount(), 1);
        QCOMPARE(cell(dock.historyModel(), 0, ApprovalModel::Status), QStringLiteral("approved"));
        QCOMPARE(cell(dock.historyModel(), 0, ApprovalModel::DecidedBy), me.toString());
        QVERIFY(me.toString().startsWith(QLatin1String("person:")));
        QCOMPARE(cell(dock.historyModel(), 0, ApprovalModel::Comment), QStringLiteral("ok for the demo"));
        QVERIFY(!cell(dock.historyModel(), 0, ApprovalModel::Decided).isEmpty());

        // 2. Reject with a comment: the create fails and says it was rejected, and why.
        const quint64 second = create(QStringLiteral("big-2"));
        QTRY_VERIFY_WITH_TIMEOUT(dock.pendingCount() == 1, 15000);
        QVERIFY(dock.select(dock.pendingModel()->approvalAt(0).id));
        QCOMPARE(dock.shown()->context.value(QStringLiteral("sandbox")).toString(), QStringLiteral("big-2"));
        dock.commentEdit()->setPlainText(QStringLiteral("two are enough today"));
        QTest::mouseClick(dock.rejectButton(), Qt::LeftButton);
        const auto rejected = waitFinished(log, second);
        QVERIFY(!rejected.first);
        QVERIFY2(rejected.second.contains(QLatin1String("rejected")) &&
                     rejected.second.contains(QLatin1String("two are enough today")),
                 qPrintable(rejected.second));
        QTRY_COMPARE(dock.historyModel()->rowCount(), 2);
        QCOMPARE(cell(dock.historyModel(), 0, ApprovalModel::Status), QStringLiteral("rejected"));

        // 3. The request changes in the store after it was shown: approving is refused, the create waits on.
        const quint64 third = create(QStringLiteral("big-3"));
        QTRY_VERIFY_WITH_TIMEOUT(dock.pendingCount() == 1, 15000);
        const QString thirdId = dock.pendingModel()->approvalAt(0).id;
        QVERIFY(dock.select(thirdId));
        QVERIFY(openDb()
                    ->exec(QStringLiteral(
                               "UPDATE approvals SET request = request || ' and 64 GiB more' WHERE id = ?"),
                           {thirdId})
                    .ok());
        QSignalSpy decided(&dock, &ui::ApprovalInboxDock::decisionFinished);
        QTest::mouseClick(dock.approveButton(), Qt::LeftButton);
        QVERIFY(decided.wait(5000));
        QCOMPARE(decided.first().value(1).toBool(), false);
        QVERIFY2(dock.messageText().contains(QLatin1String("Could not approve")) &&
                     dock.messageText().contains(QLatin1String("hash")),
                 qPrintable(dock.messageText()));
        QCOMPARE(test::must(store::ApprovalRepository(*openDb()).get(thirdId)).status,
                 ApprovalStatus::Pending);
        QTest::qWait(1000); // the create keeps waiting
        QCOMPARE(waitFinished(log, third, 0).second,
                 QStringLiteral("operation %1 did not finish").arg(third));
        QVERIFY(session.operations()->cancel(third));
        const auto cancelled = waitFinished(log, third);
        QVERIFY(!cancelled.first);
        QVERIFY2(cancelled.second.contains(QLatin1String("Stopped waiting for approval")) ||
                     cancelled.second.contains(QLatin1String("cancelled")),
                 qPrintable(cancelled.second));
    }

    void mainWindowHostsTheInbox()
    {
        services::Services services(test::storeServicesOptions(m_options));
        ui::MainWindow window(services);
        ui::ApprovalInboxDock* dock = window.approvalDock();
        QVERIFY(dock);
        QCOMPARE(window.dockWidgetArea(dock), Qt::RightDockWidgetArea);
        QAction* entry = dock->toggleViewAction();
        QVERIFY(!entry->shortcut().isEmpty());
        QMenu* view = nullptr;
        for (QAction* a : window.menuBar()->actions())
            if (a->text().remove(QLatin1Char('&')) == QLatin1String("View"))
                view = a->menu();
        QVERIFY(view && view->actions().contains(entry));
        {
            auto db = openDb();
            Approval a = makeApproval(QStringLiteral("m"), {}, 0);
            a.id.clear();
            file(*db, a, 60000);
            a.request = QStringLiteral("another");
            file(*db, a, 60000);
        }
        services.start();
        window.show();
        QTRY_COMPARE_WITH_TIMEOUT(dock->windowTitle(), QStringLiteral("Approvals (2)"), 10000);
        QCOMPARE(entry->text().remove(QLatin1Char('&')), QStringLiteral("Approvals (2)"));
        // The default notifier: without a system tray (offscreen has none) the status bar says it.
        if (!QSystemTrayIcon::isSystemTrayAvailable()) {
            QVERIFY2(window.statusBar()->currentMessage().contains(QLatin1String("2 approval requests")),
                     qPrintable(window.statusBar()->currentMessage()));
        }
        window.close();
    }

    void notificationsAreSentOncePerRequest()
    {
        store::StoreWorker worker(m_options);
        QVERIFY(waitOpened(worker));
        ui::ApprovalInboxDock dock(&worker, m_broker.get());
        QStringList notes;
        dock.setNotifier(std::make_unique<RecordingNotifier>(&notes));
        QSignalSpy refreshed(&dock, &ui::ApprovalInboxDock::refreshed);
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(notes.size(), 0); // nothing pending, nothing said
        const auto fileOne = [&](const QString& what) {
            auto db = openDb();
            Approval a = makeApproval(what, {}, 0);
            a.id.clear();
            a.requestedBy = QStringLiteral("agent:9");
            file(*db, a, 60000);
        };
        fileOne(QStringLiteral("first"));
        QTRY_COMPARE_WITH_TIMEOUT(notes.size(), 1, 5000);
        QVERIFY2(
            notes.first().startsWith(QLatin1String("Approval needed: agent:9 asks: Create sandbox first")),
            qPrintable(notes.first()));
        fileOne(QStringLiteral("second"));
        fileOne(QStringLiteral("third"));
        QTRY_COMPARE_WITH_TIMEOUT(dock.pendingCount(), 3, 5000);
        // Both may land in one poll ("2 approval requests wait") or in two; either way each is said once.
        QTRY_VERIFY(notes.size() >= 2);
        refreshed.clear();
        QVERIFY(refreshed.wait(5000));
        QVERIFY(refreshed.wait(5000));
        const QString all = notes.join(QLatin1Char('\n'));
        QVERIFY2(notes.size() == 3 || all.contains(QLatin1String("2 approval requests")), qPrintable(all));
        QVERIFY(notes.size() <= 3);
    }

    void dockLayoutSurvivesRestart()
    {
        services::Services services(test::storeServicesOptions(m_options)); // not started: no store yet
        {
            ui::MainWindow window(services);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            QVERIFY(window.approvalDock()->isVisible());
            QCOMPARE(
                window.approvalDock()->findChild<QLabel*>(QStringLiteral("approvalPendingEmpty"))->text(),
                QStringLiteral("Reading approval requests…"));
            window.approvalDock()->hide();
            window.close();
        }
        ui::MainWindow again(services);
        again.show();
        QVERIFY(QTest::qWaitForWindowExposed(&again));
        QVERIFY(!again.approvalDock()->isVisible());
        again.close();
    }
};

QTEST_MAIN(TestApprovalDock)
#include "tst_approvaldock.moc"

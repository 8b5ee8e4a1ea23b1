// SPDX-License-Identifier: Apache-2.0
// The main window over a real store: audit dock contents, chain status, About, layout persistence.
#include "AboutDialog.h"
#include "AuditDock.h"
#include "AuditLogModel.h"
#include "base/BuildInfo.h"
#include "base/Clock.h"
#include "MainWindow.h"
#include "services/Services.h"
#include "services/Wiring.h"
#include "store/AuditLog.h"
#include "store/StoreWorker.h"
#include "TestSupport.h"

#include <QApplication>
#include <QComboBox>
#include <QFile>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTest>

using namespace fluid;

class TestMainWindow : public QObject {
    Q_OBJECT

    store::DatabaseOptions m_options;

private Q_SLOTS:
    void initTestCase()
    {
        const QString dir = test::makeTempDir(QStringLiteral("gui"));
        qputenv("FLUID_CONFIG_DIR", (dir + QStringLiteral("/config")).toUtf8());
        m_options.sqlitePath = dir + QStringLiteral("/fluid.sqlite");
        auto db = store::openAndMigrate(m_options);
        QVERIFY(db.ok());
        store::AuditLog audit(**db);
        for (const char* kind : {"host.add", "sandbox.create", "sandbox.destroy"})
            QVERIFY(audit
                        .append(QStringLiteral("person"), QLatin1String(kind),
                                QStringLiteral("did %1").arg(kind), {}, QStringLiteral("sbx-1"))
                        .ok());
    }

    void auditDockShowsEventsAndVerifiedChain()
    {
        services::Services services(test::storeServicesOptions(m_options));
        ui::MainWindow window(services);
        QSignalSpy verified(window.auditDock(), &ui::AuditDock::chainVerified);
        services.start();
        window.show();
        QVERIFY(verified.wait(10000));
        QCOMPARE(verified.first().at(0).toBool(), true);
        QTRY_COMPARE(window.auditDock()->model()->rowCount(), 3);
        QCOMPARE(window.auditDock()->model()->eventAt(0).kind, QStringLiteral("sandbox.destroy"));
        QVERIFY(window.auditDock()->chainStatus().contains(QLatin1String("3 row(s) intact")));
        QVERIFY(window.findChild<QLabel*>(QStringLiteral("storeStatus"))
                    ->text()
                    .contains(QLatin1String("SQLite")));
    }

    void auditDockReportsTamperedRow()
    {
        {
            auto db = store::Database::open(m_options);
            QVERIFY(db.ok());
            QVERIFY((*db)->exec(QStringLiteral("DROP TRIGGER audit_events_no_update")).ok());
            QVERIFY(
                (*db)->exec(QStringLiteral("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")).ok());
        }
        services::Services services(test::storeServicesOptions(m_options));
        ui::MainWindow window(services);
        QSignalSpy verified(window.auditDock(), &ui::AuditDock::chainVerified);
        services.start();
        QVERIFY(verified.wait(10000));
        QCOMPARE(verified.first().at(0).toBool(), false);
        QVERIFY2(window.auditDock()->chainStatus().startsWith(QLatin1String("Chain broken at row 2")),
                 qPrintable(window.auditDock()->chainStatus()));
    }

    /// The window anchors the chain like the CLI: a store whose newest row was removed shows as broken even
    /// though every remaining row verifies.
    void auditDockReportsARemovedTail()
    {
        const QString dir = test::makeTempDir(QStringLiteral("gui-anchor"));
        services::Services::Options o = test::storeServicesOptions({});
        o.config.settings.store.sqlitePath = dir + QStringLiteral("/fluid.sqlite");
        o.config.settings.secrets.backend = config::SecretsBackend::EncryptedFile;
        o.config.settings.secrets.encryptedFile = dir + QStringLiteral("/secrets.enc");
        o.passphrase = QStringLiteral("window anchor test");
        o.anchorAudit = true;
        {
            store::DatabaseOptions d =
                test::must(services::resolveDatabaseOptions(o.config.settings, o.passphrase, true));
            QVERIFY(d.auditAnchor);
            auto db = test::must(store::openAndMigrate(d));
            for (int i = 1; i <= 3; ++i)
                test::must(store::AuditLog(*db).append(QStringLiteral("person"), QStringLiteral("k"),
                                                       QStringLiteral("e%1").arg(i)));
            test::must(db->exec(QStringLiteral("DROP TRIGGER audit_events_no_delete")));
            test::must(db->exec(QStringLiteral("DELETE FROM audit_events WHERE seq = 3")));
        }
        services::Services services(std::move(o));
        ui::MainWindow window(services);
        QSignalSpy verified(window.auditDock(), &ui::AuditDock::chainVerified);
        services.start();
        QVERIFY(verified.wait(20000));
        QCOMPARE(verified.first().at(0).toBool(), false);
        QVERIFY2(window.auditDock()->chainStatus().contains(QLatin1String("newest rows were removed")),
                 qPrintable(window.auditDock()->chainStatus()));
    }

    void auditDockFiltersByTime()
    {
        store::DatabaseOptions options;
        options.sqlitePath = test::makeTempDir(QStringLiteral("audittime")) + QStringLiteral("/fluid.sqlite");
        {
            auto db = test::must(store::openAndMigrate(options));
            ManualClock clock;
            const QDateTime now = QDateTime::currentDateTimeUtc();
            const std::pair<qint64, const char*> ages[] = {{10 * 86400, "old.ten-days"},
                                                           {3 * 86400, "old.three-days"},
                                                           {2 * 3600, "recent.two-hours"},
                                                           {60, "recent.one-minute"}};
            for (const auto& [seconds, kind] : ages) {
                clock.set(now.addSecs(-seconds));
                test::must(store::AuditLog(*db, clock)
                               .append(QStringLiteral("person"), QLatin1String(kind), QLatin1String(kind)));
            }
        }
        store::StoreWorker worker(options);
        ui::AuditDock dock(&worker);
        QSignalSpy opened(&worker, &store::StoreWorker::opened);
        QSignalSpy refreshed(&dock, &ui::AuditDock::refreshed);
        worker.start();
        QVERIFY(opened.wait(10000));
        dock.refresh();
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(dock.model()->rowCount(), 4); // any time, as before

        auto* when = dock.findChild<QComboBox*>(QStringLiteral("auditTimeFilter"));
        QVERIFY(when);
        QVERIFY(!when->accessibleName().isEmpty());
        QCOMPARE(when->currentText(), QStringLiteral("Any time"));
        const auto kindsFor = [&](int index) {
            refreshed.clear();
            when->setCurrentIndex(index);
            if (!refreshed.wait(5000))
                return QStringList{QStringLiteral("no refresh")};
            QStringList kinds;
            for (int r = 0; r < dock.model()->rowCount(); ++r)
                kinds << dock.model()->eventAt(r).kind;
            return kinds;
        };
        QCOMPARE(kindsFor(1), QStringList{QStringLiteral("recent.one-minute")});
        QCOMPARE(kindsFor(2),
                 (QStringList{QStringLiteral("recent.one-minute"), QStringLiteral("recent.two-hours")}));
        QCOMPARE(kindsFor(3),
                 (QStringList{QStringLiteral("recent.one-minute"), QStringLiteral("recent.two-hours"),
                              QStringLiteral("old.three-days")}));
        // Time and kind filters combine.
        refreshed.clear();
        dock.findChild<QLineEdit*>(QStringLiteral("auditKindFilter"))->setText(QStringLiteral("old."));
        QVERIFY(refreshed.wait(5000));
        QCOMPARE(dock.model()->rowCount(), 1);
        QCOMPARE(dock.model()->eventAt(0).kind, QStringLiteral("old.three-days"));
        QCOMPARE(kindsFor(0),
                 (QStringList{QStringLiteral("old.three-days"), QStringLiteral("old.ten-days")}));
    }

    void storeFailureIsShownNotFatal()
    {
        store::DatabaseOptions bad;
        bad.sqlitePath = QStringLiteral("/proc/nope/fluid.sqlite");
        services::Services services(test::storeServicesOptions(bad));
        ui::MainWindow window(services);
        QSignalSpy opened(&services, &services::Services::storeOpened);
        services.start();
        QVERIFY(opened.wait(10000));
        QTRY_COMPARE(window.findChild<QLabel*>(QStringLiteral("storeStatus"))->text(),
                     QStringLiteral("Store unavailable"));
    }

    void aboutListsLibraryVersions()
    {
        ui::AboutDialog about;
        const QList<QLabel*> labels = about.findChildren<QLabel*>();
        QStringList texts;
        for (QLabel* l : labels)
            texts << l->text();
        const QString all = texts.join(QLatin1Char('\n'));
        QVERIFY(all.contains(fluidVersion()));
        for (const ComponentVersion& c : componentVersions()) {
            QVERIFY2(all.contains(c.name), qPrintable(c.name));
            QVERIFY2(all.contains(c.version), qPrintable(c.version));
        }
    }

    /// Every shortcut of the window and its docks does one thing: a key bound twice in overlapping places
    /// does nothing at all in Qt (an ambiguous shortcut). The window has its icon.
    void shortcutsAreUniqueAndTheIconLoads()
    {
        services::Services services(test::storeServicesOptions(m_options));
        ui::MainWindow window(services);
        QHash<QString, QStringList> owners;
        for (QAction* a : window.findChildren<QAction*>()) {
            for (const QKeySequence& key : a->shortcuts())
                owners[key.toString()] << a->text().remove(QLatin1Char('&'));
        }
        QStringList clashes;
        for (auto it = owners.cbegin(); it != owners.cend(); ++it)
            if (it.value().size() > 1)
                clashes << QStringLiteral("%1: %2").arg(it.key(), it.value().join(QStringLiteral(", ")));
        QVERIFY2(clashes.isEmpty(), qPrintable(clashes.join(QLatin1Char('\n'))));
        QVERIFY(owners.size() > 10); // the docks' actions were found
        QCOMPARE(owners.value(QStringLiteral("Ctrl+Shift+I")), QStringList{QStringLiteral("Approvals")});
        QVERIFY(QFile::exists(QStringLiteral(":/fluid/fluid.svg")));
        QVERIFY(!window.windowIcon().isNull());
        QVERIFY(!window.windowIcon().pixmap(32, 32).isNull());
    }

    void dockLayoutSurvivesRestart()
    {
        services::Services services(test::storeServicesOptions(m_options));
        {
            ui::MainWindow window(services);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            QVERIFY(window.auditDock()->isVisible());
            window.auditDock()->hide();
            window.close();
        }
        ui::MainWindow again(services);
        again.show();
        QVERIFY(QTest::qWaitForWindowExposed(&again));
        QVERIFY(!again.auditDock()->isVisible());
        again.auditDock()->show();
        again.close();
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"

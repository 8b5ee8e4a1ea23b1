// SPDX-License-Identifier: Apache-2.0
// Saved host settings apply without a restart: HostSessionSet behind the main window, real HostSessions on
// libvirt's test driver, and the settings dialog saving the changes. An unchanged host keeps its session
// object, a removed host's session is closed (its running create cancelled and rolled back) without
// blocking the GUI thread, an added host is opened, a changed host is closed and then reopened.
#include "config/Config.h"
#include "HostsDock.h"
#include "HostTreeModel.h"
#include "MainWindow.h"
#include "OperationListModel.h"
#include "services/HostSession.h"
#include "services/HostSessionSet.h"
#include "services/Services.h"
#include "services/Wiring.h"
#include "settings/SettingsDialog.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"
#include "virt/LibvirtHypervisor.h"

#include <QAction>
#include <QDir>
#include <QElapsedTimer>
#include <QFont>
#include <QLabel>
#include <QPointer>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QTableView>
#include <QTest>
#include <QThread>
#include <QTreeView>

using namespace fluid;

namespace {

constexpr int kWaitMs = 30000;

config::HostSettings testHost(const QString& name)
{
    config::HostSettings host;
    host.name = name;
    host.uri = QStringLiteral("test:///default");
    return host;
}

bool connected(ui::HostsDock& dock, const QString& host)
{
    return dock.model()->hostIndex(host).data(ui::HostTreeModel::ConnectedRole).toBool() &&
           dock.model()->sourceIndex(host, QStringLiteral("golden")).isValid();
}

/// The host names the tree shows, top to bottom.
QStringList treeHosts(ui::HostsDock& dock)
{
    QStringList hosts;
    for (int r = 0; r < dock.model()->rowCount(); ++r)
        hosts << dock.model()->index(r, 0).data().toString();
    return hosts;
}

/// Domains of libvirt's test driver (shared by every test:///default connection of this process).
QStringList testDriverDomains()
{
    auto hv = test::must(virt::LibvirtHypervisor::connect(QStringLiteral("test:///default")));
    QStringList names;
    for (const virt::DomainSummary& d : test::must(hv->domains()))
        names << d.name;
    return names;
}

} // namespace

class TestLiveHosts : public QObject {
    Q_OBJECT

    QString m_dir;
    store::DatabaseOptions m_store;
    /// Hosts whose sessions wait for guests that never answer (a create runs until cancelled).
    QStringList m_waitingHosts;
    /// Hosts whose connect takes this long (a slow network).
    QHash<QString, int> m_connectDelayMs;
    std::unique_ptr<virt::Hypervisor> m_keep;

    /// How the test's sessions are made: the test driver, with the create defaults and stop timeout the
    /// settings give (memory and vCPUs made to fit the driver's tiny host).
    services::HostSessionSet::SetupFactory factory(services::Services& services)
    {
        return [this, &services](const config::Settings& settings, const config::HostSettings& host) {
            services::HostSession::Setup s = test::testDriverSessionSetup(m_dir);
            s.host = host;
            s.operations = services.operations(); // what the window's operation list follows
            s.createDefaults = services::createDefaults(settings, host, {});
            s.createDefaults.memoryMib = 2; // the test driver's host has 3 MiB free
            s.createDefaults.vcpus = 1;
            s.createDefaults.waitReady = m_waitingHosts.contains(host.name);
            s.manager.stopTimeoutS = services::managerOptions(settings).stopTimeoutS;
            if (const int delay = m_connectDelayMs.value(host.name); delay > 0) {
                auto connect = s.connect;
                s.connect = [connect, delay](const QString& uri) {
                    QThread::msleep(delay);
                    return connect(uri);
                };
            }
            return s;
        };
    }

    config::Settings settingsWith(const QList<config::HostSettings>& hosts) const
    {
        config::Settings settings;
        settings.store.sqlitePath = m_store.sqlitePath;
        settings.hosts = hosts;
        return settings;
    }

    /// Starts a create of `name` on `host` from its golden VM and waits until it waits for the guest.
    static quint64 startCreate(ui::HostsDock& dock, services::HostSession* session, const QString& name)
    {
        test::OperationLog log(session->operations());
        services::CreateRequest request;
        request.source = QStringLiteral("golden");
        request.name = name;
        const quint64 id = session->create(request, model::Actor::localPerson()).id();
        [&]() {
            QTRY_VERIFY_WITH_TIMEOUT(log.said(QStringLiteral("waiting"), id), kWaitMs);
        }();
        [&]() {
            QTRY_COMPARE(dock.operations()->rowCount(), 1);
        }();
        return id;
    }

private Q_SLOTS:
    void init()
    {
        m_dir = test::makeTempDir(QStringLiteral("livehosts"));
        qputenv("FLUID_CONFIG_DIR", (m_dir + QStringLiteral("/config")).toUtf8());
        m_store = test::migratedStore(m_dir);
        m_waitingHosts.clear();
        m_connectDelayMs.clear();
        QDir().mkpath(m_dir + QStringLiteral("/config"));
        // Held for the whole test: the driver's shared state would start afresh once the last connection
        // closed, which would hide what a closed session left behind.
        m_keep = test::must(test::connectTestDriver());
    }

    void cleanup() { m_keep.reset(); }

    /// The settings dialog saves: gamma removed, beta changed (its golden VM), delta added, a sandbox default
    /// changed. The tree follows at once; alpha's session is the very same object and was not reopened.
    void savedHostsApplyWithoutRestart()
    {
        services::Services services(test::storeServicesOptions(m_store));
        ui::MainWindow window(services);
        services::HostSessionSet hosts(factory(services));
        window.setHostSessions(&hosts);
        window.show();
        ui::HostsDock& dock = *window.hostsDock();

        const config::Settings before =
            settingsWith({testHost(QStringLiteral("alpha")), testHost(QStringLiteral("beta")),
                          testHost(QStringLiteral("gamma"))});
        const auto first = hosts.apply(before);
        QCOMPARE(first.added,
                 (QStringList{QStringLiteral("alpha"), QStringLiteral("beta"), QStringLiteral("gamma")}));
        for (const char* host : {"alpha", "beta", "gamma"})
            QTRY_VERIFY_WITH_TIMEOUT(connected(dock, QString::fromLatin1(host)), kWaitMs);
        QCOMPARE(treeHosts(dock),
                 (QStringList{QStringLiteral("alpha"), QStringLiteral("beta"), QStringLiteral("gamma")}));

        const QPointer<services::HostSession> alpha = hosts.session(QStringLiteral("alpha"));
        const QPointer<services::HostSession> oldBeta = hosts.session(QStringLiteral("beta"));
        const QPointer<services::HostSession> gamma = hosts.session(QStringLiteral("gamma"));
        QVERIFY(alpha && oldBeta && gamma);
        QSignalSpy alphaOpened(alpha.data(), &services::HostSession::opened);
        const QPersistentModelIndex alphaRow = dock.model()->hostIndex(QStringLiteral("alpha"));
        const QPersistentModelIndex gammaRow = dock.model()->hostIndex(QStringLiteral("gamma"));
        dock.view()->selectionModel()->select(alphaRow, QItemSelectionModel::ClearAndSelect |
                                                            QItemSelectionModel::Rows);
        QCOMPARE(alpha->createDefaults().readyTimeoutS, 180);
        QVERIFY(!dock.model()
                     ->sourceIndex(QStringLiteral("beta"), QStringLiteral("golden"))
                     .data(Qt::FontRole)
                     .value<QFont>()
                     .bold());

        // The person edits the hosts in the settings dialog and presses OK.
        const QString configPath = m_dir + QStringLiteral("/config/config.yaml");
        ui::SettingsDialog dialog(configPath, before, &window);
        services::HostSessionSet::Changes changes;
        qint64 applyMs = -1;
        connect(&dialog, &ui::SettingsDialog::saved, &hosts, [&](const config::Settings& written) {
            QElapsedTimer timer;
            timer.start();
            changes = hosts.apply(written);
            applyMs = timer.elapsed();
        });
        auto* table = test::child<QTableView>(&dialog, "hosts");
        table->selectRow(2);
        dialog.removeHost(); // gamma
        table->selectRow(1);
        dialog.setHostEditor([](QWidget*, const config::HostSettings& host) {
            config::HostSettings edited = host;
            edited.golden = QStringLiteral("golden");
            return std::optional<config::HostSettings>(edited);
        });
        dialog.editHost(); // beta
        dialog.setHostEditor([](QWidget*, const config::HostSettings&) {
            return std::optional<config::HostSettings>(testHost(QStringLiteral("delta")));
        });
        dialog.addHost();
        test::child<QSpinBox>(&dialog, "sandbox.ready_timeout_s")->setValue(300);
        QVERIFY2(dialog.problems().isEmpty(), qPrintable(dialog.problems().join(QLatin1Char('\n'))));
        const QString note = test::child<QLabel>(&dialog, "settingsSummary")->text();
        QVERIFY2(note.contains(QLatin1String("store")) && note.contains(QLatin1String("secrets backend")) &&
                     note.contains(QLatin1String("restart")) && note.contains(QLatin1String("Hosts")),
                 qPrintable(note));
        dialog.accept();
        QVERIFY(applyMs >= 0);
        QVERIFY2(applyMs < 500, qPrintable(QStringLiteral("apply took %1 ms").arg(applyMs)));
        QCOMPARE(changes.kept, QStringList{QStringLiteral("alpha")});
        QCOMPARE(changes.changed, QStringList{QStringLiteral("beta")});
        QCOMPARE(changes.removed, QStringList{QStringLiteral("gamma")});
        QCOMPARE(changes.added, QStringList{QStringLiteral("delta")});
        QVERIFY(changes.describe().contains(QLatin1String("delta added")));

        // Removed at once from the tree; its session is deleted once it has closed.
        QVERIFY(!gammaRow.isValid());
        QVERIFY(!treeHosts(dock).contains(QStringLiteral("gamma")));
        QTRY_VERIFY_WITH_TIMEOUT(gamma.isNull(), kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(oldBeta.isNull(), kWaitMs);
        QCOMPARE(hosts.closingCount(), 0);

        // The changed host comes back with its new settings, the added one is opened.
        QTRY_VERIFY_WITH_TIMEOUT(connected(dock, QStringLiteral("beta")), kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(connected(dock, QStringLiteral("delta")), kWaitMs);
        QVERIFY(hosts.session(QStringLiteral("beta")) != nullptr);
        QCOMPARE(hosts.session(QStringLiteral("beta"))->golden(), QStringLiteral("golden"));
        QTRY_VERIFY_WITH_TIMEOUT(dock.model()
                                     ->sourceIndex(QStringLiteral("beta"), QStringLiteral("golden"))
                                     .data(Qt::FontRole)
                                     .value<QFont>()
                                     .bold(),
                                 kWaitMs);
        // In the settings' order: beta, reopened after delta was added, comes back in its old place.
        QCOMPARE(treeHosts(dock),
                 (QStringList{QStringLiteral("alpha"), QStringLiteral("beta"), QStringLiteral("delta")}));

        // The unchanged host: the same session, never reopened, its row (and the selection on it) kept,
        // the new sandbox default applied to it.
        QVERIFY(alpha);
        QCOMPARE(hosts.session(QStringLiteral("alpha")), alpha.data());
        QCOMPARE(alphaOpened.count(), 0);
        QVERIFY(alphaRow.isValid());
        QVERIFY(alphaRow.data(ui::HostTreeModel::ConnectedRole).toBool());
        QCOMPARE(dock.view()->selectionModel()->selectedRows(0).value(0), QModelIndex(alphaRow));
        QCOMPARE(alpha->createDefaults().readyTimeoutS, 300);
        QCOMPARE(hosts.sessions(),
                 (QList<services::HostSession*>{alpha.data(), hosts.session(QStringLiteral("beta")),
                                                hosts.session(QStringLiteral("delta"))}));

        // The file says the same as the tree.
        const config::Settings saved = test::must(config::loadConfig(configPath)).settings;
        QCOMPARE(saved.hosts.size(), 3);
        QCOMPARE(saved.host(QStringLiteral("beta"))->golden, QStringLiteral("golden"));
    }

    /// A removed host with a create waiting for its guest: the create is cancelled and rolled back on the
    /// session's workers, and a host still connecting (slow network) is dropped too, all without the GUI
    /// thread waiting for either.
    void removingAHostCancelsItsWorkWithoutBlocking()
    {
        m_waitingHosts = {QStringLiteral("busy")};
        m_connectDelayMs.insert(QStringLiteral("slow"), 3000);
        services::Services services(test::storeServicesOptions(m_store));
        ui::MainWindow window(services);
        services::HostSessionSet hosts(factory(services));
        window.setHostSessions(&hosts);
        window.show();
        ui::HostsDock& dock = *window.hostsDock();

        hosts.apply(settingsWith({testHost(QStringLiteral("alpha")), testHost(QStringLiteral("busy"))}));
        QTRY_VERIFY_WITH_TIMEOUT(connected(dock, QStringLiteral("alpha")), kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(connected(dock, QStringLiteral("busy")), kWaitMs);
        const QPointer<services::HostSession> busy = hosts.session(QStringLiteral("busy"));
        const quint64 create = startCreate(dock, busy, QStringLiteral("never-ready"));
        if (QTest::currentTestFailed())
            return;
        QVERIFY(testDriverDomains().contains(QStringLiteral("fluid-never-ready")));

        hosts.apply(settingsWith({testHost(QStringLiteral("alpha")), testHost(QStringLiteral("busy")),
                                  testHost(QStringLiteral("slow"))}));
        const QPointer<services::HostSession> slow = hosts.session(QStringLiteral("slow"));
        QVERIFY(slow);
        QTRY_VERIFY(!slow->isOpen() && treeHosts(dock).contains(QStringLiteral("slow")));

        QElapsedTimer timer;
        timer.start();
        const auto changes = hosts.apply(settingsWith({testHost(QStringLiteral("alpha"))}));
        const qint64 applyMs = timer.elapsed();
        QVERIFY2(applyMs < 500, qPrintable(QStringLiteral("apply took %1 ms").arg(applyMs)));
        QCOMPARE(changes.removed, (QStringList{QStringLiteral("busy"), QStringLiteral("slow")}));
        QCOMPARE(treeHosts(dock), QStringList{QStringLiteral("alpha")});
        QCOMPARE(dock.operations()->rowCount(), 0); // the busy host's running create left the list
        QVERIFY(busy && slow);                      // still closing
        QVERIFY(busy->isClosing());

        // The GUI thread keeps turning while both close: the slow host is still connecting for seconds.
        QElapsedTimer turning;
        turning.start();
        int ticks = 0;
        while (slow && turning.elapsed() < kWaitMs) {
            QTest::qWait(20);
            ++ticks;
        }
        QVERIFY(slow.isNull());
        QVERIFY2(ticks > 20, qPrintable(QStringLiteral("%1 event loop turns while closing").arg(ticks)));
        QTRY_VERIFY_WITH_TIMEOUT(busy.isNull(), kWaitMs);

        // The cancelled create rolled back: no domain, no live row; its end did not come back to the list.
        QCOMPARE(services.operations()->find(create)->state, services::OperationState::Cancelled);
        QCOMPARE(dock.operations()->rowCount(), 0);
        QVERIFY(!testDriverDomains().contains(QStringLiteral("fluid-never-ready")));
        auto db = test::must(store::Database::open(m_store));
        const model::Host busyRow = *test::must(store::hostNamed(*db, QStringLiteral("busy")));
        QVERIFY(
            !test::must(store::liveSandboxNamed(*db, busyRow.id, QStringLiteral("never-ready"))).has_value());
        QVERIFY(connected(dock, QStringLiteral("alpha")));
    }

    /// A changed host with a create in flight: the new session opens only after the old one has closed (its
    /// create rolled back), so two sessions never manage the host at once.
    void changedHostReopensAfterTheOldSessionClosed()
    {
        m_waitingHosts = {QStringLiteral("lab")};
        services::Services services(test::storeServicesOptions(m_store));
        ui::MainWindow window(services);
        services::HostSessionSet hosts(factory(services));
        window.setHostSessions(&hosts);
        window.show();
        ui::HostsDock& dock = *window.hostsDock();
        hosts.apply(settingsWith({testHost(QStringLiteral("lab"))}));
        QTRY_VERIFY_WITH_TIMEOUT(connected(dock, QStringLiteral("lab")), kWaitMs);
        const QPointer<services::HostSession> old = hosts.session(QStringLiteral("lab"));
        startCreate(dock, old, QStringLiteral("in-flight"));
        if (QTest::currentTestFailed())
            return;

        QStringList events;
        connect(&hosts, &services::HostSessionSet::sessionRemoved, this,
                [&](services::HostSession* s) { events << QStringLiteral("removed ") + s->hostName(); });
        connect(&hosts, &services::HostSessionSet::sessionClosed, this,
                [&](const QString& host) { events << QStringLiteral("closed ") + host; });
        connect(&hosts, &services::HostSessionSet::sessionAdded, this, [&](services::HostSession* s) {
            // The old session's create is rolled back before the new one can reconcile the host.
            events << QStringLiteral("added %1 (domain left: %2)")
                          .arg(s->hostName())
                          .arg(testDriverDomains().contains(QStringLiteral("fluid-in-flight")) ? "yes"
                                                                                               : "no");
        });
        config::HostSettings changed = testHost(QStringLiteral("lab"));
        changed.limits.maxSandboxes = 3;
        const auto changes = hosts.apply(settingsWith({changed}));
        QCOMPARE(changes.changed, QStringList{QStringLiteral("lab")});
        QVERIFY(changes.added.isEmpty());
        QCOMPARE(hosts.session(QStringLiteral("lab")), nullptr); // until the old one has closed
        QVERIFY(!treeHosts(dock).contains(QStringLiteral("lab")));
        QTRY_VERIFY_WITH_TIMEOUT(connected(dock, QStringLiteral("lab")), kWaitMs);
        QCOMPARE(events, (QStringList{QStringLiteral("removed lab"), QStringLiteral("closed lab"),
                                      QStringLiteral("added lab (domain left: no)")}));
        QTRY_VERIFY(old.isNull());
        QVERIFY(hosts.session(QStringLiteral("lab")) != nullptr);
        QCOMPARE(hosts.session(QStringLiteral("lab"))->createDefaults().limits.maxSandboxes, 3);
    }
};

QTEST_MAIN(TestLiveHosts)
#include "tst_livehosts.moc"

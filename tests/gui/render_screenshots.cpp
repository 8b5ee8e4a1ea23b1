// SPDX-License-Identifier: Apache-2.0
// Renders the main window, the hosts dock and the About dialog to PNG files so a person can look at them:
//   render_screenshots OUTPUT_DIR
// Run under Xvfb by scripts/render-screenshots.sh. Uses a throw-away store with a few audit events, and
// libvirt's test driver as the host, with a sandbox and a snapshot made through the same HostSession the
// app uses.
#include "AboutDialog.h"
#include "AuditDock.h"
#include "HostsDock.h"
#include "HostTreeModel.h"
#include "MainWindow.h"
#include "services/HostSession.h"
#include "services/Services.h"
#include "store/AuditLog.h"
#include "store/StoreWorker.h"
#include "TestSupport.h"

#include <QTreeView>

#include <QApplication>
#include <QDir>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>

using namespace fluid;

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: render_screenshots OUTPUT_DIR\n");
        return 2;
    }
    const QString out = QString::fromLocal8Bit(argv[1]);
    QDir().mkpath(out);
    QTemporaryDir tmp;
    qputenv("FLUID_CONFIG_DIR", tmp.filePath(QStringLiteral("config")).toUtf8());

    store::DatabaseOptions options;
    options.sqlitePath = tmp.filePath(QStringLiteral("fluid.sqlite"));
    {
        auto db = store::openAndMigrate(options);
        if (!db) {
            std::fprintf(stderr, "%s\n", qPrintable(db.error().toString()));
            return 1;
        }
        store::AuditLog audit(**db);
        const char* events[][3] = {
            {"person", "host.add", "Added host local (qemu:///system)"},
            {"system", "sandbox.create", "Created sandbox sbx-7f3a from golden-bookworm"},
            {"agent:1", "command.run", "apt-get install -y nginx (exit 0, 3.2 s)"},
            {"system", "snapshot.create", "Snapshot after-nginx of sbx-7f3a"},
            {"person", "approval.decide", "Approved egress for sbx-7f3a: deb.debian.org:80"}};
        for (const auto& e : events) {
            if (!audit.append(QLatin1String(e[0]), QLatin1String(e[1]), QLatin1String(e[2]), {},
                              QStringLiteral("sbx-7f3a")))
                return 1;
        }
    }

    services::Services services(test::storeServicesOptions(options));
    ui::MainWindow window(services);
    window.resize(1280, 800);
    services::HostSession::Setup setup = test::testDriverSessionSetup(tmp.path());
    setup.operations = services.operations();
    services::HostSession session(setup);
    int failures = 0;
    bool auditReady = false;
    bool hostsReady = false;
    bool snapshotTaken = false;
    const auto render = [&]() {
        if (!auditReady || !hostsReady)
            return;
        // One more turn of the event loop so the views have painted their rows.
        QTimer::singleShot(300, &window, [&]() {
            if (!window.hostsDock()->grab().save(out + QStringLiteral("/hosts-dock.png")))
                ++failures;
            if (!window.grab().save(out + QStringLiteral("/main-window.png")))
                ++failures;
            ui::AboutDialog about(&window);
            about.show();
            QTimer::singleShot(200, &about, [&]() {
                if (!about.grab().save(out + QStringLiteral("/about-dialog.png")))
                    ++failures;
                about.close();
                app.quit();
            });
            about.exec();
        });
    };
    QObject::connect(window.auditDock(), &ui::AuditDock::chainVerified, &window, [&]() {
        auditReady = true;
        render();
    });

    // The hosts dock: a sandbox from the golden VM, with a snapshot, expanded and selected.
    ui::HostTreeModel* tree = window.hostsDock()->model();
    const auto sandboxRow = [&]() {
        return tree->index(0, 0, tree->index(1, 0, tree->hostIndex(QStringLiteral("local"))));
    };
    QObject::connect(&session, &services::HostSession::opened, &window, [&](bool ok, const QString& message) {
        if (!ok) {
            std::fprintf(stderr, "test driver: %s\n", qPrintable(message));
            ++failures;
            app.quit();
            return;
        }
        services::CreateRequest request;
        request.source = QStringLiteral("golden");
        request.name = QStringLiteral("web-1");
        session.create(request, model::Actor::localPerson());
    });
    QObject::connect(services.operations(), &services::OperationRegistry::finished, &window,
                     [&](const services::OperationInfo& info) {
                         if (info.state != services::OperationState::Succeeded) {
                             std::fprintf(stderr, "test driver: %s\n", qPrintable(info.outcome));
                             ++failures;
                             app.quit();
                         }
                     });
    QObject::connect(&session, &services::HostSession::sandboxesChanged, &window,
                     [&](const QList<model::Sandbox>& sandboxes) {
                         if (sandboxes.isEmpty() || snapshotTaken)
                             return;
                         snapshotTaken = true;
                         session.snapshot(sandboxes.first().id, QStringLiteral("baseline"),
                                          model::Actor::localPerson());
                     });
    QObject::connect(&session, &services::HostSession::snapshotsLoaded, &window,
                     [&](const QString&, const QList<virt::SnapshotInfo>& snapshots) {
                         if (snapshots.isEmpty() || hostsReady)
                             return;
                         hostsReady = true;
                         render();
                     });
    QObject::connect(services.operations(), &services::OperationRegistry::finished, &window,
                     [&](const services::OperationInfo& info) {
                         if (info.kind != services::OperationKind::Snapshot ||
                             info.state != services::OperationState::Succeeded)
                             return;
                         QTreeView* view = window.hostsDock()->view();
                         view->expand(sandboxRow()); // loads the snapshots
                         view->selectionModel()->select(sandboxRow(), QItemSelectionModel::ClearAndSelect |
                                                                          QItemSelectionModel::Rows);
                     });
    window.addHostSession(&session);
    window.resizeDocks({window.hostsDock()}, {560}, Qt::Horizontal);
    services.start();
    window.show();
    QTimer::singleShot(30000, &app, [&]() {
        std::fprintf(stderr, "timed out waiting for the window to load\n");
        ++failures;
        app.quit();
    });
    app.exec();
    if (failures == 0)
        std::printf("wrote main-window.png\nwrote hosts-dock.png\nwrote about-dialog.png\n");
    return failures == 0 ? 0 : 1;
}

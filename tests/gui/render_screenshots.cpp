// SPDX-License-Identifier: Apache-2.0
// Renders the main window and the About dialog to PNG files so a person can look at them:
//   render_screenshots OUTPUT_DIR
// Run under Xvfb by scripts/render-screenshots.sh. Uses a throw-away store with a few audit events.
#include "AboutDialog.h"
#include "AuditDock.h"
#include "MainWindow.h"
#include "store/AuditLog.h"
#include "store/StoreWorker.h"

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

    store::StoreWorker worker(options);
    ui::MainWindow window(&worker);
    window.resize(1280, 800);
    int failures = 0;
    QObject::connect(window.auditDock(), &ui::AuditDock::chainVerified, &window, [&]() {
        // One more turn of the event loop so the table has painted its rows.
        QTimer::singleShot(200, &window, [&]() {
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
    });
    worker.start();
    window.show();
    QTimer::singleShot(30000, &app, [&]() {
        std::fprintf(stderr, "timed out waiting for the window to load\n");
        ++failures;
        app.quit();
    });
    app.exec();
    if (failures == 0)
        std::printf("wrote %s/main-window.png and %s/about-dialog.png\n", qPrintable(out), qPrintable(out));
    return failures == 0 ? 0 : 1;
}

// SPDX-License-Identifier: Apache-2.0
// Renders the snapshot diff dock to PNG files so a person can look at it:
//   render_diff OUTPUT_DIR  ->  diff-dock.png (Files tab, a file side by side), diff-packages.png
// The document is a real one: diffTrees over the inspect fixture's two root trees (packages, units,
// accounts, cron and every kind of file change).
#include "diff/DiffDock.h"
#include "diff/DiffPathModel.h"
#include "inspect/DiffEngine.h"
#include "inspect/TreeWalker.h"
#include "InspectFixture.h"

#include <QApplication>
#include <QDir>
#include <QJsonDocument>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QTreeView>

#include <cstdio>

using namespace fluid;

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: render_diff OUTPUT_DIR\n");
        return 2;
    }
    QTimer::singleShot(25000, &app, []() {
        std::fprintf(stderr, "render_diff: timed out\n");
        std::exit(3);
    });
    const QString out = QString::fromLocal8Bit(argv[1]);
    QDir().mkpath(out);
    QTemporaryDir tmp;
    const QString a = tmp.filePath(QStringLiteral("a"));
    const QString b = tmp.filePath(QStringLiteral("b"));
    for (const auto& r : {test::InspectFixture::writeBefore(a), test::InspectFixture::writeAfter(b)}) {
        if (!r) {
            std::fprintf(stderr, "%s\n", qPrintable(r.error().toString()));
            return 1;
        }
    }
    auto ta = inspect::walkTree(a);
    auto tb = inspect::walkTree(b);
    if (!ta || !tb) {
        std::fprintf(stderr, "cannot walk the fixture trees\n");
        return 1;
    }
    const QJsonObject doc = inspect::diffTrees(
        {a, &*ta, QJsonObject{{QStringLiteral("snapshot"), QStringLiteral("baseline")}}, {}},
        {b, &*tb, QJsonObject{{QStringLiteral("snapshot"), QStringLiteral("after-agent")}}, {}});
    model::Diff diff;
    diff.content = QJsonDocument(doc).toJson(QJsonDocument::Compact);

    ui::DiffDock dock;
    dock.resize(1400, 760);
    dock.showDiff(diff, QStringLiteral("sbx-7f3a"));
    dock.show();
    const QModelIndex passwd = dock.pathModel()->indexOfPath(QStringLiteral("/etc/passwd"));
    dock.pathView()->setCurrentIndex(dock.pathFilter()->mapFromSource(passwd));
    dock.pathView()->scrollTo(dock.pathView()->currentIndex());

    int status = 0;
    QTimer::singleShot(300, &app, [&]() {
        if (dock.grab().save(QDir(out).filePath(QStringLiteral("diff-dock.png"))))
            std::printf("wrote diff-dock.png\n");
        else
            status = 1;
        dock.tabs()->setCurrentIndex(1);
        QTimer::singleShot(200, &app, [&]() {
            if (dock.grab().save(QDir(out).filePath(QStringLiteral("diff-packages.png"))))
                std::printf("wrote diff-packages.png\n");
            else
                status = 1;
            std::fflush(stdout);
            app.exit(status);
        });
    });
    return app.exec();
}

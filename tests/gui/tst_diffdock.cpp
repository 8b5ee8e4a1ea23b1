// SPDX-License-Identifier: Apache-2.0
// The snapshot diff dock over a real diff document (diffTrees on two directory trees from the inspect
// fixture): the path tree and its filters, the side-by-side line model, the layer tables, export, and the
// HostSession::diff operation on libvirt's test driver up to where the inspector stops (no real disks).
#include "base/Worker.h"
#include "diff/DiffDock.h"
#include "diff/DiffPalette.h"
#include "diff/DiffPathModel.h"
#include "diff/DiffPickDialog.h"
#include "diff/JsonTableModel.h"
#include "diff/SideBySideModel.h"
#include "diff/SideBySideView.h"
#include "HostsDock.h"
#include "HostTreeModel.h"
#include "inspect/DiffEngine.h"
#include "inspect/SnapshotInspector.h"
#include "InspectFixture.h"
#include "MainWindow.h"
#include "services/HostSession.h"
#include "services/Services.h"
#include "ssh/RemoteShell.h"
#include "store/Database.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QRegularExpression>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTableView>
#include <QTabWidget>
#include <QTest>
#include <QToolButton>
#include <QTreeView>

#include <unistd.h>

using namespace fluid;
using Kind = ui::SideBySideModel::Kind;

namespace {

class ExportPrompt : public ui::DiffDock::Prompts {
public:
    std::optional<ui::DiffDock::ExportRequest> answer;
    QString suggested;
    std::optional<ui::DiffDock::ExportRequest> askExport(QWidget*, const QString& path) override
    {
        suggested = path;
        return answer;
    }
};

class DiffPrompt : public ui::HostsDock::Prompts {
public:
    ui::DiffRequest answer;
    QStringList snapshotsSeen;
    ui::DiffRequest defaultsSeen;
    std::optional<ui::DiffRequest> askDiff(QWidget*, const QString&, const QStringList& snapshots,
                                           const ui::DiffRequest& defaults) override
    {
        snapshotsSeen = snapshots;
        defaultsSeen = defaults;
        return answer;
    }
    std::optional<QString> askSnapshotName(QWidget*, const QString&, const QString&) override
    {
        return QStringLiteral("one");
    }
};

/// The change rows (not plain folders) a proxy shows, as full paths, sorted.
QStringList shownChanges(const QAbstractItemModel* model, const QModelIndex& parent = {})
{
    QStringList out;
    for (int r = 0; r < model->rowCount(parent); ++r) {
        const QModelIndex i = model->index(r, 0, parent);
        if (i.data(ui::DiffPathModel::IsChangeRole).toBool())
            out << i.data(ui::DiffPathModel::FullPathRole).toString();
        out << shownChanges(model, i);
    }
    out.sort();
    return out;
}

QStringList docPaths(const QJsonObject& doc, const std::function<bool(const QJsonObject&)>& keep)
{
    QStringList out;
    for (const QJsonValue& v : doc.value(QStringLiteral("paths")).toArray())
        if (keep(v.toObject()))
            out << v.toObject().value(QStringLiteral("path")).toString();
    out.sort();
    return out;
}

QStringList tableColumn(const QAbstractItemModel* model, int column)
{
    QStringList out;
    for (int r = 0; r < model->rowCount(); ++r)
        out << model->index(r, column).data().toString();
    return out;
}

/// The row of a table whose first cells equal `keys`; -1 when none.
int tableRow(const QAbstractItemModel* model, const QStringList& keys)
{
    for (int r = 0; r < model->rowCount(); ++r) {
        bool all = true;
        for (int c = 0; c < keys.size(); ++c)
            all = all && model->index(r, c).data().toString() == keys.at(c);
        if (all)
            return r;
    }
    return -1;
}

} // namespace

class TestDiffDock : public QObject {
    Q_OBJECT

    QString m_base;
    QJsonObject m_doc;
    model::Diff m_diff;

    ui::DiffDock* makeDock()
    {
        auto* dock = new ui::DiffDock;
        dock->resize(1200, 700);
        dock->show();
        dock->showDiff(m_diff, QStringLiteral("web-1"));
        return dock;
    }

    /// A folder with a migrated store for a HostSession.
    static QString storeDir(const QString& prefix)
    {
        const QString dir = test::makeTempDir(prefix);
        test::migratedStore(dir);
        return dir;
    }

    void select(ui::DiffDock& dock, const QString& path)
    {
        const QModelIndex source = dock.pathModel()->indexOfPath(path);
        QVERIFY2(source.isValid(), qPrintable(path));
        dock.pathView()->setCurrentIndex(dock.pathFilter()->mapFromSource(source));
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_base = test::makeTempDir(QStringLiteral("diffdock"));
        qputenv("FLUID_CONFIG_DIR", (m_base + QStringLiteral("/config")).toUtf8());
        const QString a = m_base + QStringLiteral("/a");
        const QString b = m_base + QStringLiteral("/b");
        test::must(test::InspectFixture::writeBefore(a));
        test::must(test::InspectFixture::writeAfter(b));
        const inspect::FileTree ta = test::must(inspect::walkTree(a));
        const inspect::FileTree tb = test::must(inspect::walkTree(b));
        m_doc = inspect::diffTrees(
            {a, &ta, QJsonObject{{QStringLiteral("snapshot"), QStringLiteral("baseline")}}, {}},
            {b, &tb, QJsonObject{{QStringLiteral("snapshot"), QStringLiteral("after-agent")}}, {}});
        m_diff.id = model::newId();
        m_diff.content = QJsonDocument(m_doc).toJson(QJsonDocument::Compact);
        m_diff.summary = inspect::summarize(m_doc);
    }

    void cleanupTestCase() { QDir(m_base).removeRecursively(); }

    void headerAndTabs()
    {
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        QCOMPARE(dock->objectName(), QStringLiteral("diffDock"));
        const QString header = dock->headerLabel()->text();
        QVERIFY2(header.contains(QLatin1String("web-1")), qPrintable(header));
        QVERIFY2(header.contains(QStringLiteral("baseline → after-agent")), qPrintable(header));
        const int files = m_doc.value(QStringLiteral("paths")).toArray().size();
        QVERIFY2(header.contains(QStringLiteral("%1 file(s)").arg(files)), qPrintable(header));
        QVERIFY2(header.contains(QStringLiteral("3 package(s)")), qPrintable(header));
        QCOMPARE(dock->tabs()->count(), 6);
        QCOMPARE(dock->tabs()->tabText(0), QStringLiteral("Files (%1)").arg(files));
        QCOMPARE(dock->tabs()->tabText(1), QStringLiteral("Packages (3)"));
        QVERIFY(dock->tabs()->tabText(2).startsWith(QLatin1String("Services (")));
        QVERIFY(dock->tabs()->tabText(3).startsWith(QLatin1String("Users (")));
        QVERIFY(dock->tabs()->tabText(4).startsWith(QLatin1String("Cron (")));
        QVERIFY(dock->exportAction()->isEnabled());
        QVERIFY(!dock->progressBar()->isVisible());
    }

    void pathTree()
    {
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        ui::DiffPathModel* m = dock->pathModel();
        QStringList top;
        for (int r = 0; r < m->rowCount(); ++r)
            top << m->index(r, 0).data().toString();
        // Folders without changes of their own collapse their single sub-folder chains.
        QCOMPARE(top, (QStringList{QStringLiteral("/etc"), QStringLiteral("/lib/systemd/system"),
                                   QStringLiteral("/srv"), QStringLiteral("/usr/local/bin"),
                                   QStringLiteral("/var")}));
        const QModelIndex var = m->index(4, 0);
        QCOMPARE(m->rowCount(var), 2);
        QCOMPARE(m->index(0, 0, var).data().toString(), QStringLiteral("lib/dpkg"));
        QCOMPARE(m->index(1, 0, var).data().toString(), QStringLiteral("spool/cron/crontabs"));
        QCOMPARE(shownChanges(m), test::InspectFixture::expectedChangedPaths(::geteuid() == 0));

        // A row can be a change and a folder of changes.
        const QModelIndex cronD = m->indexOfPath(QStringLiteral("/etc/cron.d"));
        QCOMPARE(cronD.siblingAtColumn(ui::DiffPathModel::ChangeColumn).data().toString(),
                 QStringLiteral("added"));
        QCOMPARE(m->rowCount(cronD), 1);
        QCOMPARE(m->index(0, 0, cronD).data(ui::DiffPathModel::FullPathRole).toString(),
                 QStringLiteral("/etc/cron.d/agent"));

        const QModelIndex tool = m->indexOfPath(QStringLiteral("/usr/local/bin/tool"));
        QCOMPARE(tool.data().toString(), QStringLiteral("tool"));
        QCOMPARE(tool.siblingAtColumn(ui::DiffPathModel::ChangeColumn).data().toString(),
                 QStringLiteral("modified"));
        QCOMPARE(tool.siblingAtColumn(ui::DiffPathModel::AspectsColumn).data().toString(),
                 QStringLiteral("mode"));
        QCOMPARE(tool.siblingAtColumn(ui::DiffPathModel::ModeColumn).data().toString(),
                 QStringLiteral("0644 → 0755"));
        QCOMPARE(tool.siblingAtColumn(ui::DiffPathModel::SizeColumn).data().toString(),
                 QStringLiteral("20 bytes"));
        const QModelIndex motd = m->indexOfPath(QStringLiteral("/etc/motd"));
        QCOMPARE(motd.siblingAtColumn(ui::DiffPathModel::ChangeColumn).data().toString(),
                 QStringLiteral("removed"));
        QCOMPARE(motd.siblingAtColumn(ui::DiffPathModel::SizeColumn).data().toString(),
                 QStringLiteral("8 bytes →"));
        QCOMPARE(m->indexOfPath(QStringLiteral("/etc/app.conf"))
                     .siblingAtColumn(ui::DiffPathModel::SizeColumn)
                     .data()
                     .toString(),
                 QStringLiteral("→ 12 bytes"));
        // Change words are coloured and get an icon from the palette.
        const QModelIndex change = motd.siblingAtColumn(ui::DiffPathModel::ChangeColumn);
        QVERIFY(change.data(Qt::ForegroundRole).value<QColor>().isValid());
        QVERIFY(!change.data(Qt::DecorationRole).value<QIcon>().isNull());
        QVERIFY(
            change.data(Qt::ForegroundRole).value<QColor>() !=
            tool.siblingAtColumn(ui::DiffPathModel::ChangeColumn).data(Qt::ForegroundRole).value<QColor>());
        if (::geteuid() == 0)
            QCOMPARE(m->indexOfPath(QStringLiteral("/srv/owned"))
                         .siblingAtColumn(ui::DiffPathModel::OwnerColumn)
                         .data()
                         .toString(),
                     QStringLiteral("0:0 → 1000:1000"));
    }

    void filters()
    {
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        QAbstractItemModel* shown = dock->pathView()->model();
        const auto change = [](const char* kind) {
            return [kind](const QJsonObject& e) {
                return e.value(QStringLiteral("change")).toString() == QLatin1String(kind);
            };
        };
        QCOMPARE(shownChanges(shown), docPaths(m_doc, [](const QJsonObject&) { return true; }));

        const QList<QToolButton*> toggles = dock->changeToggles();
        QCOMPARE(toggles.size(), 3);
        toggles[0]->setChecked(false); // added
        toggles[1]->setChecked(false); // removed
        QCOMPARE(shownChanges(shown), docPaths(m_doc, change("modified")));
        QVERIFY(shownChanges(shown).contains(QStringLiteral("/etc/hostname")));
        QVERIFY(!shownChanges(shown).contains(QStringLiteral("/etc/motd")));
        toggles[2]->setChecked(false);
        toggles[1]->setChecked(true);
        QCOMPARE(shownChanges(shown), docPaths(m_doc, change("removed")));
        QVERIFY(shownChanges(shown).contains(QStringLiteral("/etc/motd")));
        toggles[0]->setChecked(true);
        toggles[2]->setChecked(true);

        dock->aspectBox()->setCurrentIndex(dock->aspectBox()->findData(QStringLiteral("mode")));
        QCOMPARE(shownChanges(shown), QStringList{QStringLiteral("/usr/local/bin/tool")});
        dock->aspectBox()->setCurrentIndex(dock->aspectBox()->findData(QStringLiteral("target")));
        QCOMPARE(shownChanges(shown), QStringList{QStringLiteral("/srv/current")});
        dock->aspectBox()->setCurrentIndex(dock->aspectBox()->findData(QStringLiteral("content")));
        QVERIFY(shownChanges(shown).contains(QStringLiteral("/etc/hostname")));
        QVERIFY(shownChanges(shown).contains(QStringLiteral("/etc/app.conf"))); // added: its whole content
        QVERIFY(!shownChanges(shown).contains(QStringLiteral("/usr/local/bin/tool")));
        dock->aspectBox()->setCurrentIndex(0);

        dock->filterEdit()->setText(QStringLiteral("CRON"));
        QCOMPARE(shownChanges(shown), docPaths(m_doc, [](const QJsonObject& e) {
                     return e.value(QStringLiteral("path")).toString().contains(QLatin1String("cron"));
                 }));
        // Folders above a match stay so the match has a place in the tree.
        QCOMPARE(shown->rowCount(), 2); // /etc and /var
        dock->filterEdit()->setText(QStringLiteral("no such path"));
        QCOMPARE(shown->rowCount(), 0);
        dock->filterEdit()->clear();
        QCOMPARE(shownChanges(shown).size(), m_doc.value(QStringLiteral("paths")).toArray().size());
    }

    void sideBySideLines()
    {
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        select(*dock, QStringLiteral("/etc/services.list"));
        ui::SideBySideView* view = dock->sideBySide();
        QVERIFY(!view->showsMessage());
        const ui::SideBySideModel* m = view->model();
        QCOMPARE(m->path(), QStringLiteral("/etc/services.list"));
        const auto kind = [m](int row, int column) {
            return Kind(m->index(row, column).data(ui::SideBySideModel::KindRole).toInt());
        };
        const auto text = [m](int row, int column) {
            return m->index(row, column).data().toString();
        };
        // Two hunks (lines 5 and 30), each: header, 3 context, the changed line paired, 3 context.
        QCOMPARE(m->rowCount(), 2 * (1 + 3 + 1 + 3));
        QCOMPARE(kind(0, ui::SideBySideModel::OldTextColumn), Kind::Header);
        QCOMPARE(text(0, ui::SideBySideModel::OldTextColumn), QStringLiteral("@@ -2,7 +2,7 @@"));
        QCOMPARE(kind(1, ui::SideBySideModel::OldTextColumn), Kind::Context);
        QCOMPARE(text(1, ui::SideBySideModel::OldNumberColumn), QStringLiteral("2"));
        QCOMPARE(text(1, ui::SideBySideModel::NewNumberColumn), QStringLiteral("2"));
        const int changed = 4;
        QCOMPARE(kind(changed, ui::SideBySideModel::OldTextColumn), Kind::Removed);
        QCOMPARE(kind(changed, ui::SideBySideModel::NewTextColumn), Kind::Added);
        QCOMPARE(text(changed, ui::SideBySideModel::OldNumberColumn), QStringLiteral("5"));
        QCOMPARE(text(changed, ui::SideBySideModel::NewNumberColumn), QStringLiteral("5"));
        QCOMPARE(text(changed, ui::SideBySideModel::OldTextColumn),
                 QStringLiteral("line 5 of the service list"));
        QCOMPARE(text(changed, ui::SideBySideModel::NewTextColumn),
                 QStringLiteral("line 5 changed by the agent"));
        for (int column :
             {int(ui::SideBySideModel::OldTextColumn), int(ui::SideBySideModel::NewTextColumn)}) {
            const auto spans =
                m->index(changed, column).data(ui::SideBySideModel::SpansRole).value<QList<QPoint>>();
            QVERIFY(!spans.isEmpty());
            const int length = int(text(changed, column).size());
            for (const QPoint& s : spans) {
                QVERIFY(s.x() >= 7); // "line 5 " is the same on both sides
                QVERIFY(s.y() > 0 && s.x() + s.y() <= length);
            }
            QVERIFY(
                m->index(1, column).data(ui::SideBySideModel::SpansRole).value<QList<QPoint>>().isEmpty());
        }
        QCOMPARE(text(9, ui::SideBySideModel::OldNumberColumn), QStringLiteral("27"));

        // An added line has filler on the old side; numbers run on without gaps per side.
        select(*dock, QStringLiteral("/etc/passwd"));
        int fillers = 0;
        int lastOld = 0;
        int lastNew = 0;
        for (int r = 0; r < m->rowCount(); ++r) {
            const Kind left = kind(r, ui::SideBySideModel::OldTextColumn);
            const Kind right = kind(r, ui::SideBySideModel::NewTextColumn);
            if (left == Kind::Header) {
                QCOMPARE(right, Kind::Header);
                lastOld = m->index(r + 1, 0).data(ui::SideBySideModel::LineNumberRole).toInt() - 1;
                lastNew = m->index(r + 1, 2).data(ui::SideBySideModel::LineNumberRole).toInt() - 1;
                continue;
            }
            if (left == Kind::Filler) {
                ++fillers;
                QCOMPARE(right, Kind::Added);
                QCOMPARE(text(r, ui::SideBySideModel::OldNumberColumn), QString());
                QCOMPARE(text(r, ui::SideBySideModel::OldTextColumn), QString());
            } else {
                QCOMPARE(m->index(r, 0).data(ui::SideBySideModel::LineNumberRole).toInt(), ++lastOld);
            }
            if (right != Kind::Filler)
                QCOMPARE(m->index(r, 2).data(ui::SideBySideModel::LineNumberRole).toInt(), ++lastNew);
        }
        QCOMPARE(fillers, 1);
        QVERIFY(m->match(m->index(0, ui::SideBySideModel::NewTextColumn), Qt::DisplayRole,
                         QStringLiteral("agent:x:1000:1000:Agent:/home/agent:/bin/bash"))
                    .size() == 1);

        // A removed file: every old line against filler.
        select(*dock, QStringLiteral("/etc/motd"));
        QCOMPARE(m->rowCount(), 2);
        QCOMPARE(kind(1, ui::SideBySideModel::OldTextColumn), Kind::Removed);
        QCOMPARE(kind(1, ui::SideBySideModel::NewTextColumn), Kind::Filler);
        QCOMPARE(text(1, ui::SideBySideModel::OldTextColumn), QStringLiteral("Welcome"));

        // The panes share rows: scrolling one scrolls the other.
        select(*dock, QStringLiteral("/etc/services.list"));
        dock->resize(1200, 240);
        QTest::qWait(20);
        QVERIFY(view->oldPane()->verticalScrollBar()->maximum() > 0);
        view->oldPane()->verticalScrollBar()->setValue(5);
        QCOMPARE(view->newPane()->verticalScrollBar()->value(), 5);
        QVERIFY(view->oldPane()->isColumnHidden(ui::SideBySideModel::NewTextColumn));
        QVERIFY(view->newPane()->isColumnHidden(ui::SideBySideModel::OldTextColumn));
    }

    void filesWithoutLines()
    {
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        ui::SideBySideView* view = dock->sideBySide();
        const auto entry = [this](const QString& path) {
            for (const QJsonValue& v : m_doc.value(QStringLiteral("paths")).toArray())
                if (v.toObject().value(QStringLiteral("path")).toString() == path)
                    return v.toObject();
            return QJsonObject();
        };
        select(*dock, QStringLiteral("/srv/blob.bin"));
        QVERIFY(view->showsMessage());
        QString message = view->messageLabel()->text();
        QVERIFY2(message.startsWith(QLatin1String("Binary file")), qPrintable(message));
        const QJsonObject blob = entry(QStringLiteral("/srv/blob.bin"));
        QVERIFY(message.contains(
            blob.value(QStringLiteral("before")).toObject().value(QStringLiteral("sha256")).toString()));
        QVERIFY(message.contains(
            blob.value(QStringLiteral("after")).toObject().value(QStringLiteral("sha256")).toString()));
        QVERIFY(message.contains(QLatin1String("(108 bytes)")));

        select(*dock, QStringLiteral("/srv/big.txt"));
        QVERIFY(view->messageLabel()->text().startsWith(QLatin1String("Too large")));
        select(*dock, QStringLiteral("/etc/shadow"));
        message = view->messageLabel()->text();
        QVERIFY(message.startsWith(QLatin1String("Sensitive file")));
        QVERIFY(!message.contains(QLatin1String("newhashvalue")));
        select(*dock, QStringLiteral("/srv/current"));
        message = view->messageLabel()->text();
        QVERIFY2(message.contains(QStringLiteral("→ release-1")) &&
                     message.contains(QStringLiteral("→ release-2")),
                 qPrintable(message));
        select(*dock, QStringLiteral("/usr/local/bin/tool"));
        QVERIFY(view->messageLabel()->text().startsWith(QLatin1String("Content unchanged; changed: mode.")));
        QVERIFY(view->messageLabel()->text().contains(QLatin1String("mode 0755")));
    }

    void tables()
    {
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        const ui::JsonTableModel* pkgs = dock->packagesModel();
        QCOMPARE(pkgs->rowCount(), 3);
        QCOMPARE(pkgs->headerData(0, Qt::Horizontal).toString(), QStringLiteral("Package"));
        QVERIFY(tableRow(pkgs, {QStringLiteral("alpha"), QStringLiteral("amd64"), QStringLiteral("upgraded"),
                                QStringLiteral("1.0-1"), QStringLiteral("1.0-2~bpo1")}) >= 0);
        QVERIFY(tableRow(pkgs, {QStringLiteral("beta"), QStringLiteral("all"), QStringLiteral("removed"),
                                QStringLiteral("2:2.0-1"), QString()}) >= 0);
        QVERIFY(tableRow(pkgs, {QStringLiteral("nginx"), QStringLiteral("amd64"), QStringLiteral("installed"),
                                QString(), QStringLiteral("1.22.1-9")}) >= 0);
        QVERIFY(pkgs->index(0, 2).data(Qt::ForegroundRole).value<QColor>().isValid());
        QVERIFY(dock->packagesNote()->isHidden()); // dpkg only: nothing it could not read
        QJsonObject withRpm = m_doc;
        QJsonObject packages = withRpm.value(QStringLiteral("packages")).toObject();
        packages[QStringLiteral("notes")] =
            QJsonArray{QStringLiteral("an rpm database is present; rpm changes are not read")};
        withRpm[QStringLiteral("packages")] = packages;
        dock->setDocument(withRpm, QStringLiteral("web-1"));
        QVERIFY(!dock->packagesNote()->isHidden());
        QVERIFY(dock->packagesNote()->text().contains(QLatin1String("rpm")));
        dock->setDocument(m_doc, QStringLiteral("web-1"));
        pkgs = dock->packagesModel();

        const ui::JsonTableModel* units = dock->unitsModel();
        QCOMPARE(units->rowCount(), m_doc.value(QStringLiteral("units")).toArray().size());
        QVERIFY(tableRow(units, {QStringLiteral("agent.service"), QStringLiteral("added")}) >= 0);
        QVERIFY(tableRow(units, {QStringLiteral("agent.service"), QStringLiteral("enabled")}) >= 0);
        QVERIFY(tableRow(units, {QStringLiteral("old.service"), QStringLiteral("masked")}) >= 0);

        const ui::JsonTableModel* accounts = dock->accountsModel();
        QCOMPARE(accounts->rowCount(), m_doc.value(QStringLiteral("accounts")).toArray().size());
        int r =
            tableRow(accounts, {QStringLiteral("user"), QStringLiteral("agent"), QStringLiteral("added")});
        QVERIFY(r >= 0);
        QVERIFY(accounts->index(r, 3).data().toString().contains(QLatin1String("home=/home/agent")));
        r = tableRow(accounts, {QStringLiteral("user"), QStringLiteral("daemon"), QStringLiteral("changed")});
        QVERIFY(r >= 0);
        QCOMPARE(accounts->index(r, 3).data().toString(),
                 QStringLiteral("shell: /usr/sbin/nologin → /bin/sh"));
        QVERIFY(tableRow(accounts,
                         {QStringLiteral("group"), QStringLiteral("agents"), QStringLiteral("added")}) >= 0);
        r = tableRow(accounts,
                     {QStringLiteral("user"), QStringLiteral("root"), QStringLiteral("password-changed")});
        QVERIFY(r >= 0);
        QCOMPARE(accounts->index(r, 3).data().toString(), QStringLiteral("empty: no, locked: no"));
        for (int row = 0; row < accounts->rowCount(); ++row)
            QVERIFY(!accounts->index(row, 3).data().toString().contains(QLatin1String("hash")));

        const ui::JsonTableModel* cron = dock->cronModel();
        QCOMPARE(cron->rowCount(), 2);
        r = tableRow(cron, {QStringLiteral("/var/spool/cron/crontabs/root"), QStringLiteral("modified")});
        QVERIFY(r >= 0);
        QCOMPARE(cron->index(r, 3).data().toString(), QStringLiteral("*/5 * * * * /usr/local/bin/tool"));
        QCOMPARE(cron->index(r, 4).data().toString(), QString());
        QVERIFY(tableRow(cron, {QStringLiteral("/etc/cron.d/agent"), QStringLiteral("added")}) >= 0);

        QCOMPARE(tableColumn(dock->etcModel(), 0).size(),
                 m_doc.value(QStringLiteral("etc")).toArray().size());
        QVERIFY(tableColumn(dock->etcModel(), 0).contains(QStringLiteral("/etc/hostname")));
    }

    void exportJsonAndPatch()
    {
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        auto prompt = std::make_unique<ExportPrompt>();
        ExportPrompt* p = prompt.get();
        dock->setPrompts(std::move(prompt));
        QSignalSpy done(dock.get(), &ui::DiffDock::exportFinished);

        p->answer = ui::DiffDock::ExportRequest{m_base + QStringLiteral("/out.json"),
                                                ui::DiffDock::ExportFormat::Json};
        dock->exportAction()->trigger();
        QVERIFY(p->suggested.endsWith(QLatin1String("web-1-baseline-after-agent.json")));
        QVERIFY(done.wait(10000));
        QCOMPARE(done.last().value(0).toBool(), true);
        QFile json(m_base + QStringLiteral("/out.json"));
        QVERIFY(json.open(QIODevice::ReadOnly));
        QCOMPARE(QJsonDocument::fromJson(json.readAll()).object(), m_doc);
        QVERIFY(dock->exportAction()->isEnabled());

        p->answer = ui::DiffDock::ExportRequest{m_base + QStringLiteral("/out.patch"),
                                                ui::DiffDock::ExportFormat::Patch};
        dock->exportAction()->trigger();
        QVERIFY(done.wait(10000));
        QCOMPARE(done.last().value(0).toBool(), true);
        QFile patch(m_base + QStringLiteral("/out.patch"));
        QVERIFY(patch.open(QIODevice::ReadOnly));
        const QByteArray bytes = patch.readAll();
        QCOMPARE(bytes, inspect::toUnifiedPatch(m_doc));
        QVERIFY(bytes.contains("diff --git a/etc/hostname b/etc/hostname"));

        // A file that cannot be written says which and why.
        dock->exportTo(m_base + QStringLiteral("/no/such/dir/out.json"), ui::DiffDock::ExportFormat::Json);
        QVERIFY(done.wait(10000));
        QCOMPARE(done.last().value(0).toBool(), false);
        QVERIFY(done.last().value(2).toString().contains(QLatin1String("no/such/dir/out.json")));

        // Cancelled dialog: nothing written.
        p->answer.reset();
        const int before = int(done.size());
        dock->exportAction()->trigger();
        QTest::qWait(50);
        QCOMPARE(int(done.size()), before);
    }

    void darkPalette()
    {
        QPalette dark;
        dark.setColor(QPalette::Base, QColor(30, 30, 30));
        dark.setColor(QPalette::Text, QColor(220, 220, 220));
        const ui::DiffPalette d = ui::DiffPalette::from(dark);
        QVERIFY(d.addedLine.lightnessF() < 0.4);
        QVERIFY(d.removedLine.lightnessF() < 0.4);
        QVERIFY(d.addedSpan.greenF() > d.addedLine.greenF());
        QVERIFY(d.removedSpan.redF() > d.removedLine.redF());
        const ui::DiffPalette light = ui::DiffPalette::from(QPalette(QColor(240, 240, 240)));
        QVERIFY(light.addedLine.lightnessF() > 0.6);
        std::unique_ptr<ui::DiffDock> dock(makeDock());
        dock->setPalette(dark);
        const QModelIndex change = dock->pathModel()
                                       ->indexOfPath(QStringLiteral("/etc/motd"))
                                       .siblingAtColumn(ui::DiffPathModel::ChangeColumn);
        QCOMPARE(change.data(Qt::ForegroundRole).value<QColor>(), d.removed);
    }

    /// How long a big document takes to show (parse + tree), for the report; generous bound only.
    void largeDocument()
    {
        QJsonArray paths;
        for (int i = 0; i < 20000; ++i)
            paths.append(QJsonObject{
                {QStringLiteral("path"),
                 QStringLiteral("/usr/share/pkg%1/sub%2/file%3.txt").arg(i / 400).arg(i / 20).arg(i)},
                {QStringLiteral("change"), QStringLiteral("added")},
                {QStringLiteral("aspects"), QJsonArray()},
                {QStringLiteral("after"), QJsonObject{{QStringLiteral("type"), QStringLiteral("file")},
                                                      {QStringLiteral("mode"), QStringLiteral("0644")},
                                                      {QStringLiteral("size"), 10}}}});
        model::Diff big;
        big.content =
            QJsonDocument(QJsonObject{{QStringLiteral("paths"), paths}}).toJson(QJsonDocument::Compact);
        ui::DiffDock dock;
        dock.resize(1200, 700);
        dock.show();
        QElapsedTimer t;
        t.start();
        dock.showDiff(big, QStringLiteral("big"));
        QCoreApplication::processEvents();
        const qint64 ms = t.elapsed();
        qInfo("20,000 changed paths (%lld KiB of JSON) shown in %lld ms", qint64(big.content.size() / 1024),
              ms);
        QCOMPARE(shownChanges(dock.pathView()->model()).size(), 20000);
        QVERIFY2(ms < 20000, qPrintable(QString::number(ms)));

        // A text file at the size cap changed on every line: 5,000 removed against 5,000 added lines.
        QJsonArray lines;
        for (int i = 1; i <= 5000; ++i)
            lines.append(
                QJsonObject{{QStringLiteral("kind"), QStringLiteral("-")},
                            {QStringLiteral("old"), i},
                            {QStringLiteral("text"), QStringLiteral("old line %1 ").arg(i).repeated(4)}});
        for (int i = 1; i <= 5000; ++i)
            lines.append(
                QJsonObject{{QStringLiteral("kind"), QStringLiteral("+")},
                            {QStringLiteral("new"), i},
                            {QStringLiteral("text"), QStringLiteral("new line %1 ").arg(i).repeated(4)},
                            {QStringLiteral("spans"), QJsonArray{QJsonArray{0, 3}}}});
        const QJsonObject entry{
            {QStringLiteral("path"), QStringLiteral("/big.txt")},
            {QStringLiteral("change"), QStringLiteral("modified")},
            {QStringLiteral("hunks"), QJsonArray{QJsonObject{{QStringLiteral("oldStart"), 1},
                                                             {QStringLiteral("oldCount"), 5000},
                                                             {QStringLiteral("newStart"), 1},
                                                             {QStringLiteral("newCount"), 5000},
                                                             {QStringLiteral("lines"), lines}}}}};
        t.restart();
        dock.sideBySide()->setEntry(entry);
        QCoreApplication::processEvents();
        qInfo("a 5,000-line hunk laid out side by side in %lld ms", t.elapsed());
        QCOMPARE(dock.sideBySide()->model()->rowCount(), 5001);
    }

    void pickDialog()
    {
        ui::DiffPickDialog dialog(QStringLiteral("web-1"),
                                  {QStringLiteral("baseline"), QStringLiteral("one")},
                                  {QStringLiteral("one"), QString()});
        QCOMPARE(dialog.fromBox()->currentText(), QStringLiteral("one"));
        QCOMPARE(dialog.toBox()->count(), 3);
        QVERIFY(dialog.canAccept());
        QCOMPARE(dialog.request().to, QString()); // now
        dialog.toBox()->setCurrentIndex(1);
        QVERIFY(!dialog.canAccept()); // one → one
        dialog.fromBox()->setCurrentIndex(0);
        QVERIFY(dialog.canAccept());
        QCOMPARE(dialog.request().from, QStringLiteral("baseline"));
        QCOMPARE(dialog.request().to, QStringLiteral("one"));
    }

    /// A sandbox on the test driver, made through `session` with `snapshots` taken in order.
    static model::Sandbox sandboxWithSnapshots(services::HostSession& session, const QString& name,
                                               const QStringList& snapshots)
    {
        const model::Actor me = model::Actor::localPerson();
        services::CreateRequest request;
        request.source = QStringLiteral("golden");
        request.name = name;
        const model::Sandbox sandbox = test::must(await(session.create(request, me).future()));
        for (const QString& snapshot : snapshots)
            test::must(await(session.snapshot(sandbox.id, snapshot, me).future()));
        return sandbox;
    }

    /// The whole path on libvirt's test driver: Diff… on a sandbox row, the operation with a fresh
    /// snapshot, and the inspector's error (the test driver's disks are not real files) in the dock.
    void diffOperationOnTestDriver()
    {
        const QString dir = storeDir(QStringLiteral("diffdock-session"));
        services::Services services(test::storeServicesOptions(test::migratedStore(dir)));
        services::HostSession::Setup setup = test::testDriverSessionSetup(dir, nullptr);
        setup.operations = services.operations();
        services::HostSession session(setup);
        ui::MainWindow window(services);
        auto prompts = std::make_unique<DiffPrompt>();
        DiffPrompt* p = prompts.get();
        window.hostsDock()->setPrompts(std::move(prompts));
        window.show();
        QSignalSpy opened(&session, &services::HostSession::opened);
        window.addHostSession(&session);
        QTRY_VERIFY_WITH_TIMEOUT(!opened.isEmpty(), 20000);
        QVERIFY2(opened.first().value(0).toBool(), qPrintable(opened.first().value(1).toString()));
        ui::HostsDock* hosts = window.hostsDock();
        QTRY_VERIFY_WITH_TIMEOUT(hosts->model()
                                     ->hostIndex(QStringLiteral("local"))
                                     .data(ui::HostTreeModel::ConnectedRole)
                                     .toBool(),
                                 20000);
        const model::Sandbox sandbox =
            sandboxWithSnapshots(session, QStringLiteral("tree"), {QStringLiteral("one")});

        QModelIndex row;
        QTRY_VERIFY_WITH_TIMEOUT(
            (row = hosts->model()->sandboxIndex(QStringLiteral("local"), sandbox.id)).isValid(), 20000);
        hosts->view()->selectionModel()->select(row, QItemSelectionModel::ClearAndSelect |
                                                         QItemSelectionModel::Rows);
        QVERIFY(hosts->action(ui::HostsDock::Action::Diff)->isEnabled());
        QCOMPARE(hosts->action(ui::HostsDock::Action::Diff)->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_D));

        test::OperationLog log(services.operations());
        QSignalSpy diffStarted(hosts, &ui::HostsDock::diffStarted);
        p->answer = {QStringLiteral("one"), QString()};
        hosts->action(ui::HostsDock::Action::Diff)->trigger();
        // The snapshots were not loaded yet: the dock loads them, then asks.
        QTRY_VERIFY_WITH_TIMEOUT(!diffStarted.isEmpty(), 20000);
        QCOMPARE(p->snapshotsSeen, QStringList{QStringLiteral("one")});
        QCOMPARE(p->defaultsSeen.from, QStringLiteral("one"));
        const quint64 op = diffStarted.first().value(1).value<quint64>();
        QCOMPARE(diffStarted.first().value(0).value<services::OperationRegistry*>(), services.operations());
        QCOMPARE(log.started.last().id, op);
        QCOMPARE(log.started.last().description, QStringLiteral("Diff one → now"));
        QCOMPARE(log.started.last().kind, services::OperationKind::Diff);

        ui::DiffDock* dock = window.diffDock();
        QVERIFY(dock->isVisible());
        const auto ended = log.waitFinished(op, 30000);
        QVERIFY(ended);
        QCOMPARE(ended->state, services::OperationState::Failed);
        const QString message = ended->outcome;
        // Progress came before the end, from the inspector's first stage.
        QTRY_VERIFY(log.said(QStringLiteral("mounting one"), op));
        // The error is the inspector's own for this disk (a test driver volume is no file).
        const auto direct = inspect::SnapshotInspector().diffDisk(sandbox.overlayPath, QStringLiteral("one"),
                                                                  QStringLiteral("x"));
        QVERIFY(!direct.ok());
        QVERIFY2(message.startsWith(direct.error().message), qPrintable(message));
        qInfo() << "the inspector says:" << message;
        QTRY_VERIFY(!dock->isRunning());
        QVERIFY(dock->errorLabel()->isVisible());
        QVERIFY2(dock->errorLabel()->text().contains(direct.error().message),
                 qPrintable(dock->errorLabel()->text()));
        QVERIFY(!dock->progressBar()->isVisible());
        // "now" took a fresh snapshot first (it shows up in the tree after the diff).
        QTRY_VERIFY_WITH_TIMEOUT(hosts->model()->rowCount(row) == 2, 20000);
        QStringList names;
        for (int r = 0; r < 2; ++r)
            names << hosts->model()->index(r, 0, row).data(ui::HostTreeModel::KeyRole).toString();
        names.sort();
        QCOMPARE(names.size(), 2);
        QVERIFY2(QRegularExpression(QStringLiteral("^diff-\\d{8}-\\d{6}$")).match(names.first()).hasMatch(),
                 qPrintable(names.join(u' ')));
        QCOMPARE(names.last(), QStringLiteral("one"));
        QDir(dir).removeRecursively();
    }

    /// HostSession::diff to the end on a real disk: the test driver's sandbox gets a real qcow2 (the
    /// fixture's two trees as internal snapshots "before" and "after") as its overlay in the store, and the
    /// operation mounts, walks and diffs it on a worker; the dock shows the result. A second ask is served
    /// from the store.
    void diffOperationOnRealDisk()
    {
        const QString missing = test::ImageBuilder::missingTools();
        if (!missing.isEmpty())
            QSKIP(qPrintable(QStringLiteral("snapshot mounts need: %1").arg(missing)));
        const QString dir = storeDir(QStringLiteral("diffdock-real"));
        services::HostSession session(test::testDriverSessionSetup(dir, nullptr));
        test::must(await(session.open()));
        model::Sandbox sandbox = sandboxWithSnapshots(session, QStringLiteral("real"),
                                                      {QStringLiteral("before"), QStringLiteral("after")});

        const QString image = dir + QStringLiteral("/real.qcow2");
        test::must(test::ImageBuilder::createWithSnapshot(m_base + QStringLiteral("/a"), image,
                                                          test::DiskLayout::Gpt, QStringLiteral("before")));
        test::must(test::ImageBuilder::addSnapshot(m_base + QStringLiteral("/b"), image,
                                                   test::DiskLayout::Gpt, QStringLiteral("after")));
        {
            store::DatabaseOptions o;
            o.sqlitePath = dir + QStringLiteral("/fluid.sqlite");
            auto db = test::must(store::Database::open(o));
            sandbox = test::must(store::SandboxRepository(*db).get(sandbox.id));
            sandbox.overlayPath = image;
            test::must(store::SandboxRepository(*db).update(sandbox));
        }

        const model::Actor me = model::Actor::localPerson();
        ui::DiffDock dock;
        test::OperationLog log(session.operations());
        const auto op = session.diff(sandbox.id, QStringLiteral("before"), QStringLiteral("after"), me);
        dock.follow(session.operations(), op.id(), sandbox.name);
        const model::Diff diff = test::must(await(op.future()));
        double last = -1;
        QStringList stages;
        QTRY_VERIFY(!dock.isRunning());
        for (const services::OperationInfo& p : std::as_const(log.progress)) {
            if (p.id != op.id())
                continue;
            QVERIFY(p.progress.fraction >= last);
            last = p.progress.fraction;
            stages << p.progress.stage;
        }
        QCOMPARE(last, 1.0);
        QVERIFY2(stages.filter(QStringLiteral("walking")).size() >= 2, qPrintable(stages.join(u'|')));
        QVERIFY(dock.errorLabel()->isHidden());
        QCOMPARE(shownChanges(dock.pathModel()), test::InspectFixture::expectedChangedPaths(true));
        QVERIFY(dock.headerLabel()->text().contains(QStringLiteral("before → after")));
        QCOMPARE(dock.packagesModel()->rowCount(), 3);

        // Asked again: from the store, nothing mounted.
        log.progress.clear();
        const auto again = session.diff(sandbox.id, QStringLiteral("before"), QStringLiteral("after"), me);
        QCOMPARE(test::must(await(again.future())).id, diff.id);
        QTRY_COMPARE(log.progress.size(), 1);
        QCOMPARE(log.progress.first().progress.stage, QStringLiteral("stored"));

        // Cancel from the dock: the operation ends as cancelled, nothing is shown or stored.
        const auto cancelled =
            session.diff(sandbox.id, QStringLiteral("after"), QStringLiteral("before"), me);
        dock.follow(session.operations(), cancelled.id(), sandbox.name);
        QVERIFY(dock.cancelButton()->isEnabled());
        dock.cancelButton()->click();
        const Result<model::Diff> stopped = await(cancelled.future());
        QCOMPARE(stopped.error().code, ErrorCode::Cancelled);
        QVERIFY2(stopped.error().message.contains(QLatin1String("cancelled")),
                 qPrintable(stopped.error().message));
        QTRY_VERIFY(!dock.errorLabel()->isHidden());
        QVERIFY(dock.errorLabel()->text().contains(QLatin1String("cancelled")));
        QVERIFY(
            dock.headerLabel()->text().contains(QStringLiteral("before → after"))); // the last result stays
        QDir(dir).removeRecursively();
    }

    /// A sandbox on a remote host is read there: the operation asks the session's host connector for an SSH
    /// connection to that host (here one that refuses, so nothing is dialled) and shows why it failed.
    void remoteHostGoesThroughTheConnector()
    {
        const QString dir = storeDir(QStringLiteral("diffdock-remote"));
        services::HostSession::Setup setup = test::testDriverSessionSetup(dir, nullptr);
        // Only the recorded URI is remote: the connection itself is the test driver, nothing is dialled.
        setup.host.uri = QStringLiteral("qemu+ssh://fluid@remote.invalid/system");
        setup.connect = [local = setup.connect](const QString&) {
            return local(QStringLiteral("test:///default"));
        };
        QStringList dialled;
        setup.connectHost = [&dialled](const QString& uri) -> Result<std::shared_ptr<ssh::RemoteShell>> {
            dialled << uri;
            return makeError(ErrorCode::Unavailable, QStringLiteral("no SSH in this test"));
        };
        services::HostSession session(setup);
        test::must(await(session.open()));
        const model::Sandbox sandbox = sandboxWithSnapshots(session, QStringLiteral("far"),
                                                            {QStringLiteral("one"), QStringLiteral("two")});

        // Opening dialled once already: it clears snapshot mounts an earlier run left on the host.
        QCOMPARE(dialled, QStringList{QStringLiteral("qemu+ssh://fluid@remote.invalid/system")});
        dialled.clear();
        const model::Actor me = model::Actor::localPerson();
        ui::DiffDock dock;
        const auto op = session.diff(sandbox.id, QStringLiteral("one"), QStringLiteral("two"), me);
        // The diff may fail before it is followed (a busy machine): either way the dock ends showing why.
        dock.follow(session.operations(), op.id(), sandbox.name);
        const Result<model::Diff> failed = await(op.future());
        QCOMPARE(failed.error().code, ErrorCode::Unavailable);
        const QString message = failed.error().message;
        QCOMPARE(message,
                 QStringLiteral("Cannot connect to qemu+ssh://fluid@remote.invalid/system to read the "
                                "sandbox's disk: no SSH in this test"));
        QCOMPARE(dialled, QStringList{QStringLiteral("qemu+ssh://fluid@remote.invalid/system")});
        QTRY_VERIFY(!dock.isRunning());
        QVERIFY(dock.errorLabel()->text().contains(message));

        // A snapshot the sandbox does not have is named in the error.
        const Result<model::Diff> missing =
            await(session.diff(sandbox.id, QStringLiteral("nope"), QStringLiteral("two"), me).future());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QCOMPARE(missing.error().message, QStringLiteral("far has no snapshot named nope"));
        QDir(dir).removeRecursively();
    }
};

QTEST_MAIN(TestDiffDock)
#include "tst_diffdock.moc"

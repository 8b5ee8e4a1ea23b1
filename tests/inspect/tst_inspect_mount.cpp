// SPDX-License-Identifier: Apache-2.0
// Snapshot diffs read from real qcow2 images the test builds (mkfs.ext4 -d, sfdisk, qemu-img snapshot):
// bare, MBR and GPT disks, every change kind and semantic layer through the real mount pipeline, the
// current state, the store round trip, JSON and patch export, and clean-up after success, after a failure
// half-way and after a crash (a child mounting, then SIGKILLed). Needs root, /dev/fuse and qemu-utils.
#include "inspect/SnapshotInspector.h"
#include "InspectFixture.h"
#include "store/Database.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QTest>

#include <csignal>
#include <cstdio>
#include <unistd.h>

using namespace fluid;
using namespace fluid::inspect;
using fluid::test::byPath;
using fluid::test::changedPaths;
using fluid::test::DiskLayout;
using fluid::test::hasEntry;
using fluid::test::ImageBuilder;
using fluid::test::InspectFixture;
using fluid::test::mountLeftoversUnder;
using fluid::test::must;

namespace {

/// `--mount-child IMAGE SNAPSHOT RUNTIME`: mounts and waits to be killed (the crash test's victim).
int mountChild(int argc, char** argv)
{
    if (argc < 5)
        return 2;
    MountOptions o;
    o.imagePath = QString::fromLocal8Bit(argv[2]);
    o.snapshotName = QString::fromLocal8Bit(argv[3]);
    o.runtimeDir = QString::fromLocal8Bit(argv[4]);
    auto m = ImageMount::open(o);
    if (!m) {
        std::printf("ERROR %s\n", qPrintable(m.error().toString()));
        std::fflush(stdout);
        return 1;
    }
    std::printf("READY %s\n", qPrintable((*m)->root()));
    std::fflush(stdout);
    for (;;)
        ::pause();
}

} // namespace

CancelToken cancelledToken()
{
    CancelToken t;
    t.cancel();
    return t;
}

class TstInspectMount : public QObject {
    Q_OBJECT
    QString m_base;
    QString m_runtime;
    QString m_before;
    QString m_after;
    QHash<int, QString> m_images; // layout -> qcow2 with snapshots "before" and "after"

    SnapshotInspector inspector() const
    {
        InspectorOptions o;
        o.runtimeDir = m_runtime;
        return SnapshotInspector(o);
    }

private slots:
    void initTestCase()
    {
        const QString missing = ImageBuilder::missingTools();
        if (!missing.isEmpty())
            fluid::test::skipWholeTest(QStringLiteral("snapshot mounts need: %1").arg(missing));
        m_base = fluid::test::makeTempDir(QStringLiteral("inspect"));
        m_runtime = m_base + QStringLiteral("/run");
        m_before = m_base + QStringLiteral("/tree-before");
        m_after = m_base + QStringLiteral("/tree-after");
        must(InspectFixture::writeBefore(m_before));
        must(InspectFixture::writeAfter(m_after));
        for (auto [layout, name] : {std::pair{DiskLayout::Bare, "bare"}, std::pair{DiskLayout::Mbr, "mbr"},
                                    std::pair{DiskLayout::Gpt, "gpt"}}) {
            const QString image = m_base + QStringLiteral("/%1.qcow2").arg(QLatin1String(name));
            must(ImageBuilder::createWithSnapshot(m_before, image, layout, QStringLiteral("before")));
            must(ImageBuilder::addSnapshot(m_after, image, layout, QStringLiteral("after")));
            m_images.insert(int(layout), image);
        }
    }

    void cleanupTestCase()
    {
        if (!m_base.isEmpty()) {
            QCOMPARE(mountLeftoversUnder(m_runtime), QStringList());
            QDir(m_base).removeRecursively();
        }
    }

    void everyChangeKindOnABareDisk()
    {
        QStringList stages;
        const QJsonObject doc = must(inspector().diffDisk(
            m_images.value(int(DiskLayout::Bare)), QStringLiteral("before"), QStringLiteral("after"),
            QStringLiteral("qcow2"), [&](const Progress& p) { stages << p.stage; }));
        QCOMPARE(changedPaths(doc), InspectFixture::expectedChangedPaths(true));
        QVERIFY(stages.contains(QStringLiteral("diffing")));
        QCOMPARE(stages.last(), QStringLiteral("done"));
        QCOMPARE(mountLeftoversUnder(m_runtime), QStringList());

        QCOMPARE(byPath(doc, QStringLiteral("/etc/app.conf")).value(QStringLiteral("change")).toString(),
                 QStringLiteral("added"));
        QCOMPARE(byPath(doc, QStringLiteral("/etc/motd")).value(QStringLiteral("change")).toString(),
                 QStringLiteral("removed"));
        const QJsonObject owned = byPath(doc, QStringLiteral("/srv/owned"));
        QCOMPARE(owned.value(QStringLiteral("aspects")).toArray(), QJsonArray{QStringLiteral("owner")});
        QCOMPARE(owned.value(QStringLiteral("after")).toObject().value(QStringLiteral("uid")).toInt(), 1000);
        QCOMPARE(byPath(doc, QStringLiteral("/usr/local/bin/tool"))
                     .value(QStringLiteral("after"))
                     .toObject()
                     .value(QStringLiteral("mode"))
                     .toString(),
                 QStringLiteral("0755"));
        const QJsonObject link = byPath(doc, QStringLiteral("/srv/current"));
        QCOMPARE(link.value(QStringLiteral("before")).toObject().value(QStringLiteral("target")).toString(),
                 QStringLiteral("release-1"));
        QCOMPARE(link.value(QStringLiteral("after")).toObject().value(QStringLiteral("target")).toString(),
                 QStringLiteral("release-2"));
        QCOMPARE(byPath(doc, QStringLiteral("/srv/typechange"))
                     .value(QStringLiteral("after"))
                     .toObject()
                     .value(QStringLiteral("type"))
                     .toString(),
                 QStringLiteral("directory"));
        const QJsonObject blob = byPath(doc, QStringLiteral("/srv/blob.bin"));
        QCOMPARE(blob.value(QStringLiteral("content")).toString(), QStringLiteral("binary"));
        QCOMPARE(
            blob.value(QStringLiteral("after")).toObject().value(QStringLiteral("sha256")).toString().size(),
            64);
        QCOMPARE(byPath(doc, QStringLiteral("/srv/big.txt")).value(QStringLiteral("content")).toString(),
                 QStringLiteral("too-large"));

        // Text hunks with intra-line spans: "sandbox-template" -> "agent-sandbox".
        const QJsonArray hunks =
            byPath(doc, QStringLiteral("/etc/hostname")).value(QStringLiteral("hunks")).toArray();
        QCOMPARE(hunks.size(), 1);
        const QJsonArray lines = hunks[0].toObject().value(QStringLiteral("lines")).toArray();
        QCOMPARE(lines.size(), 2);
        QCOMPARE(lines[0].toObject().value(QStringLiteral("kind")).toString(), QStringLiteral("-"));
        QCOMPARE(lines[1].toObject().value(QStringLiteral("text")).toString(),
                 QStringLiteral("agent-sandbox"));
        QVERIFY(!lines[1].toObject().value(QStringLiteral("spans")).toArray().isEmpty());
        const QJsonArray services =
            byPath(doc, QStringLiteral("/etc/services.list")).value(QStringLiteral("hunks")).toArray();
        QCOMPARE(services.size(), 2);
        QCOMPARE(services[1].toObject().value(QStringLiteral("oldStart")).toInt(), 27);

        // Semantic layers.
        const QJsonObject packages = doc.value(QStringLiteral("packages")).toObject();
        QCOMPARE(packages.value(QStringLiteral("managers")).toArray(), QJsonArray{QStringLiteral("dpkg")});
        const QJsonArray pkgs = packages.value(QStringLiteral("changes")).toArray();
        QCOMPARE(pkgs.size(), 3);
        QVERIFY(hasEntry(pkgs, {{QStringLiteral("name"), QStringLiteral("alpha")},
                                {QStringLiteral("change"), QStringLiteral("upgraded")},
                                {QStringLiteral("before"), QStringLiteral("1.0-1")},
                                {QStringLiteral("after"), QStringLiteral("1.0-2~bpo1")}}));
        QVERIFY(hasEntry(pkgs, {{QStringLiteral("name"), QStringLiteral("beta")},
                                {QStringLiteral("change"), QStringLiteral("removed")}}));
        QVERIFY(hasEntry(pkgs, {{QStringLiteral("name"), QStringLiteral("nginx")},
                                {QStringLiteral("change"), QStringLiteral("installed")},
                                {QStringLiteral("after"), QStringLiteral("1.22.1-9")}}));

        const QJsonArray units = doc.value(QStringLiteral("units")).toArray();
        QVERIFY(hasEntry(units, {{QStringLiteral("unit"), QStringLiteral("agent.service")},
                                 {QStringLiteral("change"), QStringLiteral("added")}}));
        QVERIFY(hasEntry(units, {{QStringLiteral("unit"), QStringLiteral("agent.service")},
                                 {QStringLiteral("change"), QStringLiteral("enabled")},
                                 {QStringLiteral("detail"), QStringLiteral("wanted by multi-user.target")}}));
        QVERIFY(hasEntry(units, {{QStringLiteral("unit"), QStringLiteral("old.service")},
                                 {QStringLiteral("change"), QStringLiteral("disabled")}}));
        QVERIFY(hasEntry(units, {{QStringLiteral("unit"), QStringLiteral("old.service")},
                                 {QStringLiteral("change"), QStringLiteral("masked")}}));
        QVERIFY(!hasEntry(units, {{QStringLiteral("unit"), QStringLiteral("ssh.service")}}));

        const QJsonArray accounts = doc.value(QStringLiteral("accounts")).toArray();
        QVERIFY(hasEntry(accounts, {{QStringLiteral("kind"), QStringLiteral("user")},
                                    {QStringLiteral("name"), QStringLiteral("agent")},
                                    {QStringLiteral("change"), QStringLiteral("added")}}));
        QVERIFY(hasEntry(accounts, {{QStringLiteral("kind"), QStringLiteral("user")},
                                    {QStringLiteral("name"), QStringLiteral("daemon")},
                                    {QStringLiteral("change"), QStringLiteral("changed")}}));
        QVERIFY(hasEntry(accounts, {{QStringLiteral("kind"), QStringLiteral("group")},
                                    {QStringLiteral("name"), QStringLiteral("agents")},
                                    {QStringLiteral("change"), QStringLiteral("added")}}));
        QVERIFY(hasEntry(accounts, {{QStringLiteral("name"), QStringLiteral("root")},
                                    {QStringLiteral("change"), QStringLiteral("password-changed")}}));
        QVERIFY(hasEntry(accounts, {{QStringLiteral("name"), QStringLiteral("agent")},
                                    {QStringLiteral("change"), QStringLiteral("password-changed")}}));

        const QJsonArray cron = doc.value(QStringLiteral("cron")).toArray();
        QVERIFY(hasEntry(cron, {{QStringLiteral("file"), QStringLiteral("/etc/cron.d/agent")},
                                {QStringLiteral("change"), QStringLiteral("added")}}));
        QVERIFY(hasEntry(
            cron, {{QStringLiteral("file"), QStringLiteral("/var/spool/cron/crontabs/root")},
                   {QStringLiteral("change"), QStringLiteral("modified")},
                   {QStringLiteral("added"), QJsonArray{QStringLiteral("*/5 * * * * /usr/local/bin/tool")}},
                   {QStringLiteral("removed"), QJsonArray()}}));
        const QJsonArray etc = doc.value(QStringLiteral("etc")).toArray();
        QVERIFY(hasEntry(etc, {{QStringLiteral("path"), QStringLiteral("/etc/hostname")},
                               {QStringLiteral("change"), QStringLiteral("modified")}}));
        QVERIFY(!hasEntry(etc, {{QStringLiteral("path"), QStringLiteral("/srv/owned")}}));

        const QByteArray json = QJsonDocument(doc).toJson();
        QVERIFY(!json.contains("newhashvalue"));
        QVERIFY(!json.contains("PRIVATE KEY"));

        const QJsonObject summary = summarize(doc);
        QCOMPARE(summary.value(QStringLiteral("paths")).toObject().value(QStringLiteral("total")).toInt(),
                 InspectFixture::expectedChangedPaths(true).size());
        QCOMPARE(
            summary.value(QStringLiteral("packages")).toObject().value(QStringLiteral("installed")).toInt(),
            1);
        QCOMPARE(summary.value(QStringLiteral("units")).toObject().value(QStringLiteral("enabled")).toInt(),
                 1);

        const QByteArray patch = toUnifiedPatch(doc);
        QVERIFY(patch.contains(
            "diff --git a/etc/hostname b/etc/hostname\n--- a/etc/hostname\n+++ b/etc/hostname\n"
            "@@ -1 +1 @@\n-sandbox-template\n+agent-sandbox\n"));
        QVERIFY(
            patch.contains("diff --git a/etc/app.conf b/etc/app.conf\nnew file mode 100644\n--- /dev/null\n"
                           "+++ b/etc/app.conf\n@@ -0,0 +1 @@\n+listen=8080\n"));
        QVERIFY(patch.contains("diff --git a/etc/motd b/etc/motd\ndeleted file mode 100644\n"));
        QVERIFY(patch.contains("old mode 100644\nnew mode 100755\n"));
        QVERIFY(patch.contains("Binary files a/srv/blob.bin and b/srv/blob.bin differ\n"));
        QVERIFY(patch.contains("# owner 0:0 -> 1000:1000 /srv/owned\n"));
        QVERIFY(patch.contains("-release-1\n\\ No newline at end of file\n+release-2\n"));
        QVERIFY(!patch.contains("newhashvalue"));
    }

    void partitionedDisksFindTheRoot()
    {
        const QStringList expected = InspectFixture::expectedChangedPaths(true);
        for (auto [layout, scheme] : {std::pair{DiskLayout::Mbr, "mbr"}, std::pair{DiskLayout::Gpt, "gpt"}}) {
            const QJsonObject doc = must(inspector().diffDisk(
                m_images.value(int(layout)), QStringLiteral("before"), QStringLiteral("after")));
            QCOMPARE(changedPaths(doc), expected);
            const QJsonObject to = doc.value(QStringLiteral("to")).toObject();
            QCOMPARE(to.value(QStringLiteral("partitionScheme")).toString(), QLatin1String(scheme));
            QCOMPARE(to.value(QStringLiteral("partition")).toInt(),
                     2); // not the larger partition 1 without /etc
        }
        QCOMPARE(mountLeftoversUnder(m_runtime), QStringList());
    }

    void currentStateAndCustomExcludes()
    {
        InspectorOptions o;
        o.runtimeDir = m_runtime;
        o.excludes = {QStringLiteral("/srv")};
        const QJsonObject doc = must(SnapshotInspector(o).diffDisk(m_images.value(int(DiskLayout::Bare)),
                                                                   QStringLiteral("before"), QString()));
        QStringList expected;
        for (const QString& p : InspectFixture::expectedChangedPaths(true)) {
            if (!p.startsWith(QLatin1String("/srv")))
                expected << p;
        }
        // Without the default excludes the /tmp and journal files show up.
        expected << QStringLiteral("/tmp/scratch") << QStringLiteral("/var/log/journal/system.journal");
        expected.sort();
        QCOMPARE(changedPaths(doc), expected);
    }

    void storedDiffIsServedFromTheStore()
    {
        store::DatabaseOptions dbo;
        dbo.sqlitePath = m_base + QStringLiteral("/fluid.sqlite");
        auto db = must(store::openAndMigrate(dbo));
        model::Host host{model::newId(),
                         QStringLiteral("local"),
                         QStringLiteral("qemu:///system"),
                         {},
                         QDateTime::currentDateTimeUtc()};
        must(store::HostRepository(*db).insert(host));
        const QString image = m_base + QStringLiteral("/store.qcow2");
        QVERIFY(QFile::copy(m_images.value(int(DiskLayout::Bare)), image));
        model::Sandbox sb;
        sb.id = model::newId();
        sb.name = QStringLiteral("sb-inspect");
        sb.hostId = host.id;
        sb.domainName = QStringLiteral("fluid-sb-inspect");
        sb.state = model::SandboxState::Stopped;
        sb.overlayPath = image;
        sb.createdAt = sb.updatedAt = QDateTime::currentDateTimeUtc();
        must(store::SandboxRepository(*db).insert(sb));
        model::Snapshot from{model::newId(),
                             sb.id,
                             QStringLiteral("before"),
                             model::SnapshotKind::Baseline,
                             {},
                             QDateTime::currentDateTimeUtc()};
        model::Snapshot to{model::newId(),
                           sb.id,
                           QStringLiteral("after"),
                           model::SnapshotKind::Manual,
                           {},
                           QDateTime::currentDateTimeUtc()};
        must(store::SnapshotRepository(*db).insert(from));
        must(store::SnapshotRepository(*db).insert(to));

        const model::Diff first = must(diffSnapshots(*db, inspector(), sb, from, to));
        QCOMPARE(
            first.summary.value(QStringLiteral("paths")).toObject().value(QStringLiteral("total")).toInt(),
            InspectFixture::expectedChangedPaths(true).size());
        // The disk is gone now: a second ask can only be answered from the store.
        QVERIFY(QFile::remove(image));
        QStringList stages;
        const model::Diff second = must(
            diffSnapshots(*db, inspector(), sb, from, to, [&](const Progress& p) { stages << p.stage; }));
        QCOMPARE(second.id, first.id);
        QCOMPARE(stages, QStringList{QStringLiteral("stored")});
        const QJsonObject doc = QJsonDocument::fromJson(second.content).object();
        QCOMPARE(changedPaths(doc), InspectFixture::expectedChangedPaths(true));
        QCOMPARE(doc.value(QStringLiteral("to")).toObject().value(QStringLiteral("snapshotId")).toString(),
                 to.id);
        QVERIFY(toUnifiedPatch(doc).contains("+agent-sandbox\n"));
        // Other direction is a different pair, and needs the (missing) disk.
        auto reverse = diffSnapshots(*db, inspector(), sb, to, from);
        QVERIFY(!reverse);
        QCOMPARE(reverse.error().code, ErrorCode::NotFound);

        model::Host remote{model::newId(), QStringLiteral("far"),
                           QStringLiteral("qemu+ssh://root@far.example/system"), QStringLiteral("SHA256:x"),
                           QDateTime::currentDateTimeUtc()};
        must(store::HostRepository(*db).insert(remote));
        model::Sandbox far = sb;
        far.hostId = remote.id;
        model::Snapshot farTo = to;
        farTo.id = model::newId();
        auto remoteDiff = diffSnapshots(*db, inspector(), far, from, farTo);
        QVERIFY(!remoteDiff);
        QVERIFY(remoteDiff.error().code == ErrorCode::Unavailable ||
                remoteDiff.error().code == ErrorCode::InvalidArgument);
    }

    void failuresHalfwayLeaveNothing()
    {
        // No file system inside: qemu-nbd and the FUSE export come up, then finding the root fails.
        const QString empty = m_base + QStringLiteral("/empty.qcow2");
        must(ImageBuilder::run(QStringLiteral("qemu-img"),
                               {QStringLiteral("create"), QStringLiteral("-q"), QStringLiteral("-f"),
                                QStringLiteral("qcow2"), empty, QStringLiteral("16M")}));
        auto r = inspector().mount(empty, QString());
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(r.error().message.contains(QLatin1String("No file system")),
                 qPrintable(r.error().toString()));
        QCOMPARE(mountLeftoversUnder(m_runtime), QStringList());
        QCOMPARE(QDir(m_runtime).entryList(QDir::NoDotAndDotDot | QDir::AllEntries), QStringList());

        // An unknown snapshot: qemu-nbd fails, and the error names it with its stderr.
        auto bad =
            inspector().mount(m_images.value(int(DiskLayout::Bare)), QStringLiteral("no-such-snapshot"));
        QVERIFY(!bad);
        QVERIFY2(bad.error().message.contains(QLatin1String("qemu-nbd")), qPrintable(bad.error().toString()));
        QVERIFY2(!bad.error().detail.isEmpty(), qPrintable(bad.error().toString()));
        QCOMPARE(mountLeftoversUnder(m_runtime), QStringList());

        // The walk fails (cancelled) with both disks mounted: both are released.
        auto cancelled =
            inspector().diffDisk(m_images.value(int(DiskLayout::Bare)), QStringLiteral("before"),
                                 QStringLiteral("after"), QStringLiteral("qcow2"), {}, cancelledToken());
        QVERIFY(!cancelled);
        QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
        QCOMPARE(mountLeftoversUnder(m_runtime), QStringList());
        QCOMPARE(QDir(m_runtime).entryList(QDir::NoDotAndDotDot | QDir::AllEntries), QStringList());
    }

    void crashLeftoversAreCleanedUp()
    {
        const QString runtime = m_base + QStringLiteral("/crash");
        QProcess child;
        child.start(QCoreApplication::applicationFilePath(),
                    {QStringLiteral("--mount-child"), m_images.value(int(DiskLayout::Gpt)),
                     QStringLiteral("after"), runtime});
        QVERIFY(child.waitForStarted());
        QByteArray line;
        QDeadlineTimer deadline(60000);
        while (!line.contains('\n') && !deadline.hasExpired() && child.state() == QProcess::Running) {
            child.waitForReadyRead(200);
            line += child.readAllStandardOutput();
        }
        QVERIFY2(line.startsWith("READY "), line.constData());
        const QString root = QString::fromUtf8(line.mid(6).trimmed());
        QVERIFY(QFile::exists(root + QStringLiteral("/etc/hostname")));
        ::kill(pid_t(child.processId()), SIGKILL);
        QVERIFY(child.waitForFinished(10000));
        QVERIFY(!mountLeftoversUnder(runtime).isEmpty()); // the crash left mounts and helpers behind

        QCOMPARE(must(ImageMount::cleanupLeftovers(runtime)), 1);
        QCOMPARE(mountLeftoversUnder(runtime), QStringList());
        QCOMPARE(QDir(runtime).entryList(QDir::NoDotAndDotDot | QDir::AllEntries), QStringList());
        QCOMPARE(must(ImageMount::cleanupLeftovers(runtime)), 0);
    }

    void liveMountsAreNotCleanedUp()
    {
        auto m = must(inspector().mount(m_images.value(int(DiskLayout::Bare)), QStringLiteral("before")));
        QCOMPARE(must(ImageMount::cleanupLeftovers(m_runtime)), 0); // its owner (this process) is alive
        QVERIFY(QFile::exists(m->root() + QStringLiteral("/etc/motd")));
        const QList<qint64> pids = m->helperPids();
        QVERIFY(pids[0] > 0 && pids[1] > 0);
        // cleanupLeftovers() stops a helper with the process group it leads.
        for (const qint64 pid : pids)
            QCOMPARE(qint64(::getpgid(pid_t(pid))), pid);
        must(m->close());
        QCOMPARE(mountLeftoversUnder(m_runtime), QStringList());
    }
};

int main(int argc, char** argv)
{
    if (argc > 1 && qstrcmp(argv[1], "--mount-child") == 0) {
        QCoreApplication app(argc, argv);
        return mountChild(argc, argv);
    }
    QCoreApplication app(argc, argv);
    TstInspectMount t;
    return QTest::qExec(&t, argc, argv);
}

#include "tst_inspect_mount.moc"

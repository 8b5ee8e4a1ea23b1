// SPDX-License-Identifier: Apache-2.0
// Snapshot diffs of a disk on a remote hypervisor host: the pipeline runs "there" over SSH. A real OpenSSH
// sshd on 127.0.0.1, logged into as root with a Fluid certificate, stands in for the host. The documents
// must equal the local diff of the same images (bare and GPT disks, every change kind and layer), and
// nothing may stay mounted or running after success, a failure, a cancel, or a crash of the owner.
// Needs root, /dev/fuse, qemu-utils and sshd; exits 77 (Skipped) without them.
#include "inspect/RemoteMount.h"
#include "inspect/SnapshotInspector.h"
#include "InspectFixture.h"
#include "SshTestEnv.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QTest>

using namespace fluid;
using namespace fluid::inspect;
using fluid::test::changedPaths;
using fluid::test::DiskLayout;
using fluid::test::ImageBuilder;
using fluid::test::InspectFixture;
using fluid::test::mountLeftoversUnder;
using fluid::test::must;

namespace {

QStringList workDirs(const QString& base)
{
    return QDir(base).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
}

/// A PID that belonged to a process which has ended.
qint64 endedPid()
{
    QProcess p;
    p.start(QStringLiteral("true"), {});
    p.waitForFinished(10000);
    return p.processId() > 0 ? p.processId() : 999999;
}

} // namespace

class TstInspectRemote : public QObject {
    Q_OBJECT
    QString m_base;
    QString m_remoteRun;
    QString m_localRun;
    QHash<int, QString> m_images;
    std::shared_ptr<ssh::CertificateAuthority> m_ca;
    std::unique_ptr<test::LoopbackSshd> m_sshd;
    std::shared_ptr<ssh::RemoteShell> m_host;

    SnapshotInspector inspector() const
    {
        InspectorOptions o;
        o.runtimeDir = m_localRun;
        o.remoteRuntimeDir = m_remoteRun;
        return SnapshotInspector(o);
    }

    RemoteMountOptions mountOptions(const QString& snapshot) const
    {
        RemoteMountOptions o;
        o.imagePath = m_images.value(int(DiskLayout::Gpt));
        o.snapshotName = snapshot;
        o.baseDir = m_remoteRun;
        return o;
    }

private slots:
    void initTestCase()
    {
        const QString missing = ImageBuilder::missingTools();
        if (!missing.isEmpty())
            test::skipWholeTest(QStringLiteral("snapshot mounts need: %1").arg(missing));
        if (auto host = ImageMount::checkHost(); !host)
            test::skipWholeTest(host.error().message);
        test::requireLoopbackSshd();
        m_base = test::makeTempDir(QStringLiteral("inspect-remote"));
        m_remoteRun = m_base + QStringLiteral("/host-run");
        m_localRun = m_base + QStringLiteral("/run");
        const QString before = m_base + QStringLiteral("/tree-before");
        const QString after = m_base + QStringLiteral("/tree-after");
        must(InspectFixture::writeBefore(before));
        must(InspectFixture::writeAfter(after));
        for (auto [layout, name] : {std::pair{DiskLayout::Bare, "bare"}, std::pair{DiskLayout::Gpt, "gpt"}}) {
            const QString image = m_base + QStringLiteral("/%1.qcow2").arg(QLatin1String(name));
            must(ImageBuilder::createWithSnapshot(before, image, layout, QStringLiteral("before")));
            must(ImageBuilder::addSnapshot(after, image, layout, QStringLiteral("after")));
            m_images.insert(int(layout), image);
        }
        m_ca = test::makeTestCa();
        m_sshd = must(test::startLoopbackSshd(m_ca));
        m_host = test::makeShell(m_ca, *m_sshd);
    }

    void cleanupTestCase()
    {
        m_host.reset();
        if (m_sshd)
            m_sshd->stop();
        if (!m_base.isEmpty()) {
            QCOMPARE(mountLeftoversUnder(m_base), QStringList());
            QDir(m_base).removeRecursively();
        }
    }

    void theHostHasWhatItNeeds() { must(RemoteImageMount::checkHost(*m_host)); }

    void sameDocumentAsLocal_data()
    {
        QTest::addColumn<int>("layout");
        QTest::newRow("bare") << int(DiskLayout::Bare);
        QTest::newRow("gpt") << int(DiskLayout::Gpt);
    }

    void sameDocumentAsLocal()
    {
        QFETCH(int, layout);
        const QString image = m_images.value(layout);
        const QJsonObject local =
            must(inspector().diffDisk(image, QStringLiteral("before"), QStringLiteral("after")));
        QStringList stages;
        const QJsonObject remote = must(inspector().diffRemoteDisk(
            m_host, image, QStringLiteral("before"), QStringLiteral("after"), QStringLiteral("qcow2"),
            [&](const Progress& p) { stages << p.stage; }));
        QCOMPARE(changedPaths(remote), InspectFixture::expectedChangedPaths(true));
        // Every path with its metadata, hashes, hunks and spans, and every semantic layer, as read locally.
        const QString difference = test::documentDifference(local, remote);
        QVERIFY2(difference.isEmpty(), qPrintable(difference));
        QVERIFY(!remote.value(QStringLiteral("packages"))
                     .toObject()
                     .value(QStringLiteral("changes"))
                     .toArray()
                     .isEmpty());
        QVERIFY(!remote.value(QStringLiteral("accounts")).toArray().isEmpty());
        QVERIFY(stages.contains(QStringLiteral("hashing after")));
        QCOMPARE(stages.last(), QStringLiteral("done"));
        QCOMPARE(workDirs(m_remoteRun), QStringList());
        QCOMPARE(mountLeftoversUnder(m_base), QStringList());
    }

    void aMissingSnapshotFailsCleanly()
    {
        auto doc = inspector().diffRemoteDisk(m_host, m_images.value(int(DiskLayout::Gpt)),
                                              QStringLiteral("before"), QStringLiteral("no-such-snapshot"));
        QVERIFY(!doc);
        QVERIFY2(doc.error().message.contains(QLatin1String("no-such-snapshot")),
                 qPrintable(doc.error().toString()));
        QVERIFY2(doc.error().detail.contains(QLatin1String("qemu-nbd")), qPrintable(doc.error().toString()));
        QCOMPARE(workDirs(m_remoteRun), QStringList());
        QCOMPARE(mountLeftoversUnder(m_base), QStringList());
    }

    void cancelStopsAndReleases()
    {
        CancelToken cancel;
        auto doc = inspector().diffRemoteDisk(
            m_host, m_images.value(int(DiskLayout::Gpt)), QStringLiteral("before"), QStringLiteral("after"),
            QStringLiteral("qcow2"),
            [&](const Progress& p) {
                if (p.stage.startsWith(QLatin1String("hashing")))
                    cancel.cancel();
            },
            cancel);
        QVERIFY(!doc);
        QCOMPARE(doc.error().code, ErrorCode::Cancelled);
        QCOMPARE(workDirs(m_remoteRun), QStringList());
        QCOMPARE(mountLeftoversUnder(m_base), QStringList());
    }

    void leftoversOfACrashedOwnerAreCleaned()
    {
        // A mount whose owner "crashed": it stays, and its owner record names a process that has ended.
        auto crashed = must(RemoteImageMount::open(m_host, mountOptions(QStringLiteral("after"))));
        const QString work = crashed->workDir();
        QVERIFY(QFileInfo(crashed->root() + QStringLiteral("/etc")).isDir());
        const QString machine = mountOwnerTag().section(QLatin1Char(':'), 0, 0);
        {
            QFile owner(work + QStringLiteral("/owner"));
            QVERIFY(owner.open(QIODevice::WriteOnly | QIODevice::Truncate));
            owner.write(QStringLiteral("%1:%2:1\n").arg(machine).arg(endedPid()).toUtf8());
        }
        (void)crashed.release(); // never closed, as after a crash

        // A mount whose owner is alive (this process) must survive the clean-up.
        auto alive = must(RemoteImageMount::open(m_host, mountOptions(QStringLiteral("before"))));
        QVERIFY(!mountLeftoversUnder(work).isEmpty());

        QCOMPARE(must(RemoteImageMount::cleanupLeftovers(*m_host, m_remoteRun)), 1);
        QVERIFY(!QFileInfo::exists(work));
        QCOMPARE(mountLeftoversUnder(work), QStringList());
        QVERIFY(QFileInfo(alive->root() + QStringLiteral("/etc")).isDir());
        QCOMPARE(workDirs(m_remoteRun), QStringList{QFileInfo(alive->workDir()).fileName()});

        // Another machine's mounts are never touched.
        {
            QFile owner(alive->workDir() + QStringLiteral("/owner"));
            QVERIFY(owner.open(QIODevice::WriteOnly | QIODevice::Truncate));
            owner.write("another-machine:1:1\n");
        }
        QCOMPARE(must(RemoteImageMount::cleanupLeftovers(*m_host, m_remoteRun)), 0);
        must(alive->close());
        QCOMPARE(workDirs(m_remoteRun), QStringList());
        QCOMPARE(mountLeftoversUnder(m_base), QStringList());
    }

    void refusesUnsafePaths()
    {
        RemoteMountOptions o = mountOptions(QStringLiteral("before"));
        o.baseDir = QStringLiteral("/run/x; rm -rf /");
        auto m = RemoteImageMount::open(m_host, o);
        QVERIFY(!m);
        QCOMPARE(m.error().code, ErrorCode::InvalidArgument);
        o = mountOptions(QStringLiteral("before"));
        o.imagePath = QStringLiteral("relative.qcow2");
        QVERIFY(!RemoteImageMount::open(m_host, o));
        // A path with shell syntax is only ever a path: quoted, it names a file that does not exist.
        o.imagePath = QStringLiteral("/tmp/$(touch %1/pwned).qcow2").arg(m_base);
        auto quoted = RemoteImageMount::open(m_host, o);
        QVERIFY(!quoted);
        QVERIFY(!QFileInfo::exists(m_base + QStringLiteral("/pwned")));
        QCOMPARE(workDirs(m_remoteRun), QStringList());
    }
};

QTEST_GUILESS_MAIN(TstInspectRemote)
#include "tst_inspect_remote.moc"

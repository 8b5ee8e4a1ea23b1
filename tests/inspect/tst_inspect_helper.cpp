// SPDX-License-Identifier: Apache-2.0
// The privileged inspection helper (core/inspect/fluid-inspect-helper) on this machine: a local diff through
// it equals the in-process one, and under sudo (SUDO_UID set, as sudo sets it) every argument is held to
// what Fluid itself sends, tried the way a person allowed to run it through sudo could abuse it: work
// folders elsewhere, disks (and backing or data files) outside the allowed folders, mount options without
// nosuid/nodev/noexec, reads and hashes of a guest's symlinks to the host's files or of "..", unknown verbs.
// The sudo path as a real unprivileged person is covered by the GUI e2e test (tst_e2e_gui_person).
// Needs root, /dev/fuse and qemu-utils; exits 77 (Skipped) without them.
#include "base/Process.h"
#include "inspect/InspectHelper.h"
#include "inspect/SnapshotInspector.h"
#include "InspectFixture.h"
#include "TestSupport.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QMutex>
#include <QPromise>
#include <QScopeGuard>
#include <QTest>

#include <unistd.h>

using namespace fluid;
using namespace fluid::inspect;
using fluid::test::changedPaths;
using fluid::test::DiskLayout;
using fluid::test::ImageBuilder;
using fluid::test::InspectFixture;
using fluid::test::mountLeftoversUnder;
using fluid::test::must;

namespace {

/// One run of the compiled-in helper as root, as if through sudo by a person (uid 65534).
ProcessResult runAsSudo(const QStringList& verbAndArgs, const QByteArray& input = {},
                        const QString& baseOverride = {})
{
    ProcessSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments = QStringList{QStringLiteral("-c"), QString::fromUtf8(inspectHelperScript()),
                                 QStringLiteral("fluid-inspect-helper")} +
                     verbAndArgs;
    spec.environment.set(QStringLiteral("SUDO_UID"), QStringLiteral("65534"));
    if (!baseOverride.isEmpty())
        spec.environment.set(QStringLiteral("FLUID_INSPECT_BASE"), baseOverride);
    if (!input.isNull())
        spec.input = input.toBase64() + '\n';
    spec.timeoutMs = 120000;
    auto r = runProcess(spec);
    return r ? *r : ProcessResult{};
}

QString describe(const ProcessResult& r)
{
    return QStringLiteral("exit %1, out: %2, err: %3")
        .arg(r.exitCode)
        .arg(QString::fromUtf8(r.out.left(300)), QString::fromUtf8(r.err.trimmed().left(600)));
}

} // namespace

class TstInspectHelper : public QObject {
    Q_OBJECT
    QString m_base;
    QString m_allowed; ///< a folder inside /var/lib/libvirt/images, which the helper allows by default
    QString m_gptImage;
    QString m_bareAllowed;
    QString m_hostFile; ///< a file of this machine no guest may make the helper read

private slots:
    void initTestCase()
    {
        const QString missing = ImageBuilder::missingTools();
        if (!missing.isEmpty())
            test::skipWholeTest(QStringLiteral("snapshot mounts need: %1").arg(missing));
        if (auto host = ImageMount::checkHost(); !host)
            test::skipWholeTest(host.error().message);
        m_base = test::makeTempDir(QStringLiteral("inspect-helper"));
        m_allowed = QStringLiteral("/var/lib/libvirt/images/fluid-helper-test-%1").arg(::getpid());
        QVERIFY(QDir().mkpath(m_allowed));
        m_hostFile = m_base + QStringLiteral("/host-secret");
        QFile secret(m_hostFile);
        QVERIFY(secret.open(QIODevice::WriteOnly));
        secret.write("the host's secret\n");
        secret.close();

        const QString before = m_base + QStringLiteral("/tree-before");
        const QString after = m_base + QStringLiteral("/tree-after");
        must(InspectFixture::writeBefore(before));
        must(InspectFixture::writeAfter(after));
        // A guest's symlinks at the host's files (absolute targets resolve on the host once mounted there).
        QVERIFY(QFile::link(m_hostFile, after + QStringLiteral("/etc/evil")));
        QVERIFY(QFile::link(QStringLiteral("/"), after + QStringLiteral("/etc/up")));
        m_gptImage = m_base + QStringLiteral("/gpt.qcow2");
        must(ImageBuilder::createWithSnapshot(before, m_gptImage, DiskLayout::Gpt, QStringLiteral("before")));
        must(ImageBuilder::addSnapshot(after, m_gptImage, DiskLayout::Gpt, QStringLiteral("after")));
        m_bareAllowed = m_allowed + QStringLiteral("/bare.qcow2");
        must(ImageBuilder::createWithSnapshot(after, m_bareAllowed, DiskLayout::Bare,
                                              QStringLiteral("after")));
    }

    void cleanupTestCase()
    {
        if (!m_base.isEmpty()) {
            QCOMPARE(mountLeftoversUnder(QLatin1String(kRemoteInspectDir)), QStringList());
            QDir(m_base).removeRecursively();
        }
        if (!m_allowed.isEmpty())
            QDir(m_allowed).removeRecursively();
    }

    // The helper path (what a person's Fluid uses through sudo) gives the document the in-process mounts
    // give, and leaves nothing behind.
    void aDiffThroughTheHelperEqualsTheInProcessOne()
    {
        const QJsonObject inProcess =
            must(SnapshotInspector().diffDisk(m_gptImage, QStringLiteral("before"), QStringLiteral("after")));
        InspectorOptions o;
        o.localPrivilege = InspectorOptions::LocalPrivilege::Helper;
        QStringList stages;
        const QJsonObject helped = must(SnapshotInspector(o).diffDisk(
            m_gptImage, QStringLiteral("before"), QStringLiteral("after"), QStringLiteral("qcow2"),
            [&](const Progress& p) { stages << p.stage; }));
        QVERIFY(changedPaths(helped).contains(QStringLiteral("/etc/evil")));
        const QString difference = test::documentDifference(inProcess, helped);
        QVERIFY2(difference.isEmpty(), qPrintable(difference));
        QVERIFY(stages.contains(QStringLiteral("hashing after")));
        QCOMPARE(mountLeftoversUnder(QLatin1String(kRemoteInspectDir)), QStringList());
        QCOMPARE(mountLeftoversUnder(m_base), QStringList());
    }

    // Its root commands are audited like a remote host's, and one whose start record cannot be stored never
    // runs (nothing is mounted).
    void helperCallsAreAuditedAndNeverRunUnaudited()
    {
        QMutex mutex;
        QList<ssh::AuditRecord> starts;
        QList<ssh::AuditRecord> done;
        bool storeWorks = true;
        InspectorOptions o;
        o.localPrivilege = InspectorOptions::LocalPrivilege::Helper;
        o.auditSink = [&](const ssh::AuditRecord& r) {
            QMutexLocker lock(&mutex);
            done << r;
        };
        o.auditGate = [&](const ssh::AuditRecord& r) {
            QMutexLocker lock(&mutex);
            starts << r;
            QPromise<Result<void>> stored;
            stored.start();
            stored.addResult(storeWorks
                                 ? Result<void>{}
                                 : Result<void>(makeError(ErrorCode::Io, QStringLiteral("disk full"))));
            stored.finish();
            return stored.future();
        };
        must(SnapshotInspector(o).diffDisk(m_gptImage, QStringLiteral("before"), QStringLiteral("after")));
        QVERIFY(!done.isEmpty());
        QCOMPARE(starts.size(), done.size());
        QStringList summaries;
        for (const ssh::AuditRecord& r : done) {
            QCOMPARE(r.event.kind, QStringLiteral("command.run"));
            QVERIFY(r.event.data.value(QStringLiteral("target"))
                        .toString()
                        .contains(QLatin1String("fluid-inspect-helper")));
            summaries << r.event.summary;
        }
        QVERIFY2(summaries.contains(QStringLiteral("snapshot inspection: the disk export")),
                 qPrintable(summaries.join(QLatin1Char('\n'))));
        QVERIFY2(summaries.contains(QStringLiteral("snapshot inspection: releasing the mount")),
                 qPrintable(summaries.join(QLatin1Char('\n'))));
        QVERIFY(done.first()
                    .event.data.value(QStringLiteral("command"))
                    .toString()
                    .startsWith(QLatin1String("fluid-inspect-helper 'check'")));

        storeWorks = false;
        starts.clear();
        done.clear();
        auto refused =
            SnapshotInspector(o).diffDisk(m_gptImage, QStringLiteral("before"), QStringLiteral("after"));
        QVERIFY(!refused);
        QVERIFY2(refused.error().toString().contains(QLatin1String("audit record could not be stored")),
                 qPrintable(refused.error().toString()));
        QCOMPARE(starts.size(), 1);
        QCOMPARE(done.size(), 0); // it never ran
        QCOMPARE(mountLeftoversUnder(QLatin1String(kRemoteInspectDir)), QStringList());
    }

    void underSudoOnlyFluidsOwnVerbsAndWorkFolders()
    {
        ProcessResult r = runAsSudo({QStringLiteral("sh"), QStringLiteral("-c"), QStringLiteral("id")});
        QVERIFY2(r.exitCode != 0 && r.err.contains("unknown verb"), qPrintable(describe(r)));
        const QString elsewhere = m_base + QStringLiteral("/0123456789ab");
        r = runAsSudo({QStringLiteral("start"), elsewhere, QStringLiteral("x:1:1"), QStringLiteral("30"),
                       QStringLiteral("qcow2"), m_bareAllowed, QStringLiteral("after")},
                      {}, m_base);
        QVERIFY2(r.exitCode != 0 && r.err.contains("not a work folder under /run/fluid-inspect"),
                 qPrintable(describe(r)));
        QVERIFY(!QFileInfo::exists(elsewhere));
        r = runAsSudo({QStringLiteral("close"), QStringLiteral("/run/fluid-inspect/../../etc")});
        QVERIFY2(r.exitCode != 0 && r.err.contains("not a work folder name"), qPrintable(describe(r)));
        QVERIFY(QFileInfo::exists(QStringLiteral("/etc/passwd")));
    }

    void underSudoOnlyDisksInTheAllowedFolders()
    {
        const auto start = [](const QString& disk, const QString& format = QStringLiteral("qcow2")) {
            return runAsSudo({QStringLiteral("start"), QStringLiteral("/run/fluid-inspect/0000000000ab"),
                              QStringLiteral("x:1:1"), QStringLiteral("30"), format, disk, QString()});
        };
        // A disk outside: refused before anything runs.
        ProcessResult r = start(m_gptImage);
        QVERIFY2(r.exitCode != 0 && r.err.contains("not in a folder allowed") &&
                     r.err.contains("/etc/fluid/inspect-helper.conf"),
                 qPrintable(describe(r)));
        // The host's own disk or a host file read as a raw "disk".
        r = start(QStringLiteral("/etc/shadow"), QStringLiteral("raw"));
        QVERIFY2(r.exitCode != 0 && r.err.contains("not in a folder allowed"), qPrintable(describe(r)));
        // A symlink inside the allowed folder pointing out of it.
        const QString link = m_allowed + QStringLiteral("/link.qcow2");
        QVERIFY(QFile::link(m_gptImage, link));
        r = start(link);
        QVERIFY2(r.exitCode != 0 && r.err.contains("not in a folder allowed"), qPrintable(describe(r)));
        // An image inside whose backing file lies outside.
        const QString overlay = m_allowed + QStringLiteral("/overlay.qcow2");
        must(ImageBuilder::run(QStringLiteral("qemu-img"),
                               {QStringLiteral("create"), QStringLiteral("-q"), QStringLiteral("-f"),
                                QStringLiteral("qcow2"), QStringLiteral("-F"), QStringLiteral("qcow2"),
                                QStringLiteral("-b"), m_gptImage, overlay}));
        r = start(overlay);
        QVERIFY2(r.exitCode != 0 && r.err.contains("not in a folder allowed") &&
                     r.err.contains(m_gptImage.toUtf8()),
                 qPrintable(describe(r)));
        // An image inside whose external data file lies outside.
        const QString withData = m_allowed + QStringLiteral("/data.qcow2");
        must(ImageBuilder::run(QStringLiteral("qemu-img"),
                               {QStringLiteral("create"), QStringLiteral("-q"), QStringLiteral("-f"),
                                QStringLiteral("qcow2"), QStringLiteral("-o"),
                                QStringLiteral("data_file=%1/data.raw").arg(m_base), withData,
                                QStringLiteral("16M")}));
        r = start(withData);
        QVERIFY2(r.exitCode != 0 && r.err.contains("not in a folder allowed"), qPrintable(describe(r)));
        QVERIFY(!QFileInfo::exists(QStringLiteral("/run/fluid-inspect/0000000000ab")));
    }

    void underSudoMountsAndReadsStayInsideTheGuest()
    {
        const QString work =
            QStringLiteral("/run/fluid-inspect/%1").arg(qlonglong(::getpid()), 12, 16, QLatin1Char('0'));
        ProcessResult r =
            runAsSudo({QStringLiteral("start"), work, QStringLiteral("x:1:1"), QStringLiteral("30"),
                       QStringLiteral("qcow2"), m_bareAllowed, QStringLiteral("after")});
        QVERIFY2(r.exitCode == 0 && r.out.trimmed().toLongLong() > 0, qPrintable(describe(r)));
        const auto closeWork = qScopeGuard([&] { runAsSudo({QStringLiteral("close"), work}); });
        // Fluid's own options, and nothing weaker.
        r = runAsSudo(
            {QStringLiteral("mountfs"), work, QStringLiteral("ext4"), QStringLiteral("ro,loop,offset=0")});
        QVERIFY2(r.exitCode != 0 && r.err.contains("mount options other than Fluid's own"),
                 qPrintable(describe(r)));
        r = runAsSudo({QStringLiteral("mountfs"), work, QStringLiteral("ext4"),
                       QStringLiteral("ro,nosuid,nodev,noexec,noload,errors=continue,loop,offset=0")});
        QVERIFY2(r.exitCode == 0 && r.out.trimmed() == "etc", qPrintable(describe(r)));
        // Reads: a regular file of the guest, never what its symlinks or ".." name on the host.
        r = runAsSudo({QStringLiteral("cat"), work, QStringLiteral("/etc/passwd"), QStringLiteral("100000")});
        QVERIFY2(r.exitCode == 0 && r.out.contains("root:"), qPrintable(describe(r)));
        for (const QString& path : {QStringLiteral("/etc/evil"), QStringLiteral("/etc/up") + m_hostFile,
                                    QStringLiteral("/../../../..") + m_hostFile,
                                    QStringLiteral("/etc/../../../../..") + m_hostFile}) {
            r = runAsSudo({QStringLiteral("cat"), work, path, QStringLiteral("100000")});
            QVERIFY2(r.exitCode != 0 && !r.out.contains("secret"),
                     qPrintable(path + QLatin1String(": ") + describe(r)));
        }
        // Hashes likewise: only the guest's own regular file is hashed.
        QByteArray list;
        for (const char* p : {"./etc/passwd", "./etc/evil", "./etc/up/", "./../../../../etc/passwd"})
            list += QByteArray(p) + '\0';
        list += "./etc/up" + m_hostFile.toUtf8() + '\0';
        r = runAsSudo({QStringLiteral("hash"), work}, list);
        const QList<QByteArray> lines = r.out.split('\0');
        QVERIFY2(lines.size() == 2 && lines.first().endsWith("  etc/passwd"), qPrintable(describe(r)));
        QVERIFY2(!r.out.contains("secret") && !r.out.contains("host-secret"), qPrintable(describe(r)));
        // Numbers are numbers.
        r = runAsSudo({QStringLiteral("read"), work, QStringLiteral("0;id"), QStringLiteral("10")});
        QVERIFY2(r.exitCode != 0 && r.err.contains("not a number"), qPrintable(describe(r)));
        r = runAsSudo({QStringLiteral("close"), work});
        QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
        QVERIFY(!QFileInfo::exists(work));
        QCOMPARE(mountLeftoversUnder(work), QStringList());
    }
};

QTEST_GUILESS_MAIN(TstInspectHelper)
#include "tst_inspect_helper.moc"

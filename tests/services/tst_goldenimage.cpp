// SPDX-License-Identifier: Apache-2.0
// services::buildGoldenImage and locateGoldenImage against stand-ins for golden-image.sh (found through
// FLUID_SCRIPTS_DIR) that print the real script's lines: no image is built.
#include "base/Worker.h"
#include "services/GoldenImage.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QMutex>
#include <QTest>

#include <csignal>

using namespace fluid;

namespace {

/// What a build reported through its callbacks (they run on the thread that builds).
struct Seen {
    QMutex mutex;
    QList<Progress> progress;
    QStringList out;
    QStringList err;

    services::GoldenImageLog log()
    {
        return [this](const QString& line, bool isError) {
            QMutexLocker lock(&mutex);
            (isError ? err : out) << line;
        };
    }
    ProgressSink sink()
    {
        return [this](const Progress& p) {
            QMutexLocker lock(&mutex);
            progress << p;
        };
    }
};

/// True when `pid` is gone, or only a zombie waiting for its parent.
bool goneOrZombie(pid_t pid)
{
    if (::kill(pid, 0) != 0)
        return true;
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray text = stat.readAll();
    const qsizetype close = text.lastIndexOf(')');
    return close > 0 && text.mid(close + 2, 1) == "Z";
}

} // namespace

class TstGoldenImage : public QObject {
    Q_OBJECT

    QString m_dir;

    /// A stand-in golden-image.sh with `body` in a fresh folder that FLUID_SCRIPTS_DIR points at.
    QString installScript(const QByteArray& body)
    {
        m_dir = test::makeTempDir(QStringLiteral("golden"));
        const QString script = m_dir + QStringLiteral("/golden-image.sh");
        QFile file(script);
        if (!file.open(QIODevice::WriteOnly) || file.write(body) != body.size())
            qFatal("cannot write %s", qPrintable(script));
        file.close();
        qputenv("FLUID_SCRIPTS_DIR", m_dir.toUtf8());
        return script;
    }

    static services::GoldenImageBuild request(const QString& defineUri = {})
    {
        services::GoldenImageBuild build;
        build.defineUri = defineUri;
        build.exeDir = QStringLiteral("/nonexistent/a/b/c"); // only FLUID_SCRIPTS_DIR can find the script
        return build;
    }

private Q_SLOTS:
    void cleanup() { qunsetenv("FLUID_SCRIPTS_DIR"); }

    void parsesTheScriptsLines()
    {
        const auto p = services::parseGoldenImageProgress(
            QStringLiteral("progress: 42% debootstrap: extracting (12 s)"));
        QVERIFY(p.has_value());
        QCOMPARE(p->fraction, 0.42);
        QCOMPARE(p->message, QStringLiteral("debootstrap: extracting (12 s)"));
        QCOMPARE(p->stage, QStringLiteral("debootstrap: extracting"));
        QCOMPARE(services::parseGoldenImageProgress(QStringLiteral("progress: 250% x"))->fraction, 1.0);
        QVERIFY(!services::parseGoldenImageProgress(QStringLiteral("I: Retrieving InRelease")));
        QCOMPARE(services::parseGoldenImageDefined(QStringLiteral(
                     "defined golden-debian12-fwcfg (qemu:///system) for /images/debian12-fwcfg-0a")),
                 QStringLiteral("golden-debian12-fwcfg"));
        QVERIFY(!services::parseGoldenImageDefined(QStringLiteral("defined nothing")));
    }

    void buildReportsProgressAndTheDefinedVm()
    {
        installScript("echo \"args: $*\"\n"
                      "echo 'progress: 5% building debian12-fwcfg-0123456789ab (recipe 0123456789ab) (0 s)'\n"
                      "echo 'I: Retrieving Packages'\n"
                      "echo 'progress: 55% debootstrap done (2 s)'\n"
                      "echo 'progress: 100% built /images/debian12-fwcfg-0123456789ab (3 s)'\n"
                      "echo 'defined golden-debian12-fwcfg (test:///default) for "
                      "/images/debian12-fwcfg-0123456789ab'\n");
        Seen seen;
        auto built = services::buildGoldenImage(request(QStringLiteral("test:///default")), seen.sink(),
                                                seen.log(), {});
        QVERIFY2(built.ok(), qPrintable(built.ok() ? QString() : built.error().toString()));
        QCOMPARE(built->definedVm, QStringLiteral("golden-debian12-fwcfg"));
        QCOMPARE(built->imageDir, QStringLiteral("/images/debian12-fwcfg-0123456789ab"));
        QVERIFY(!built->cached);
        QCOMPARE(seen.progress.size(), 3);
        QCOMPARE(seen.progress.at(0).fraction, 0.05);
        QCOMPARE(seen.progress.at(1).fraction, 0.55);
        QCOMPARE(seen.progress.at(1).stage, QStringLiteral("debootstrap done"));
        QCOMPARE(seen.progress.at(2).fraction, 1.0);
        QCOMPARE(seen.out.size(), 6); // every line reaches the log, progress lines too
        QCOMPARE(seen.out.first(), QStringLiteral("args: build --flavour fwcfg --define test:///default"));
        QVERIFY(seen.err.isEmpty());
    }

    void aCachedImageIsReportedAsSuch()
    {
        installScript("echo 'progress: 100% cached /images/debian12-cloudinit-0123456789ab (0 s)'\n"
                      "echo 'cached /images/debian12-cloudinit-0123456789ab'\n");
        services::GoldenImageBuild build = request();
        build.flavour = QStringLiteral("cloudinit");
        auto built = services::buildGoldenImage(build, {}, {}, {});
        QVERIFY(built.ok());
        QVERIFY(built->cached);
        QCOMPARE(built->imageDir, QStringLiteral("/images/debian12-cloudinit-0123456789ab"));
        QVERIFY(built->definedVm.isEmpty());
    }

    void cancelStopsTheScriptAndItsChildren()
    {
        // Like the real script: a TERM trap, and a child of its own (debootstrap there, sleep here).
        const QString script = installScript("trap 'exit 130' INT TERM\n"
                                             "echo 'progress: 5% debootstrap (0 s)'\n"
                                             "sleep 300 & echo $! > \"$(dirname \"$0\")/child.pid\"\n"
                                             "echo 'progress: 30% packages (1 s)'\n"
                                             "wait\n");
        Seen seen;
        CancelToken cancel;
        QFuture<Result<services::GoldenImageResult>> future = runAsync([&seen, &cancel]() {
            return services::buildGoldenImage(request(), seen.sink(), seen.log(), cancel);
        });
        const QString pidFile = QFileInfo(script).absolutePath() + QStringLiteral("/child.pid");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(pidFile).size() > 0, 10000);
        const auto progressLines = [&seen]() {
            QMutexLocker lock(&seen.mutex);
            return seen.progress.size();
        };
        QTRY_COMPARE_WITH_TIMEOUT(progressLines(), qsizetype(2), 10000);
        QFile pidText(pidFile);
        QVERIFY(pidText.open(QIODevice::ReadOnly));
        const pid_t child = pid_t(pidText.readAll().trimmed().toInt());
        QVERIFY(child > 0);
        QVERIFY(!goneOrZombie(child));

        QElapsedTimer stopping;
        stopping.start();
        cancel.cancel();
        future.waitForFinished();
        QVERIFY2(stopping.elapsed() < 2000, qPrintable(QString::number(stopping.elapsed())));
        const Result<services::GoldenImageResult> result = future.result();
        QVERIFY(!result.ok());
        QCOMPARE(result.error().code, ErrorCode::Cancelled);
        QTRY_VERIFY_WITH_TIMEOUT(goneOrZombie(child), 2000);
    }

    void aFailedBuildSaysWhyWithTheEndOfItsOutput()
    {
        installScript(
            "echo 'progress: 5% building (0 s)'\n"
            "echo 'golden-image: no Debian bookworm mirror found: add one or set FLUID_DEBIAN_MIRROR' >&2\n"
            "exit 1\n");
        Seen seen;
        auto built = services::buildGoldenImage(request(), seen.sink(), seen.log(), {});
        QVERIFY(!built.ok());
        QCOMPARE(built.error().code, ErrorCode::Unknown);
        QVERIFY2(built.error().message.contains(QStringLiteral("exit code 1")) &&
                     built.error().message.contains(QStringLiteral("FLUID_DEBIAN_MIRROR")),
                 qPrintable(built.error().message));
        QVERIFY2(built.error().detail.contains(QStringLiteral("no Debian bookworm mirror found")),
                 qPrintable(built.error().detail));
        QCOMPARE(seen.err.size(), 1);
        QCOMPARE(seen.progress.size(), 1);

        // Without a complaint of the script's own, the error names the usual cause: the mirror.
        installScript("echo 'W: Failure trying to run: chroot' >&2\nexit 2\n");
        built = services::buildGoldenImage(request(), {}, {}, {});
        QVERIFY(!built.ok());
        QVERIFY2(built.error().message.contains(QStringLiteral("exit code 2")) &&
                     built.error().message.contains(QStringLiteral("set FLUID_DEBIAN_MIRROR")),
                 qPrintable(built.error().message));
        QVERIFY(built.error().detail.contains(QStringLiteral("W: Failure trying to run")));
    }

    void theScriptGetsOnlyTheVariablesItReads()
    {
        installScript("env\n");
        qputenv("FLUID_SECRETS_PASSPHRASE", "not-for-the-builder");
        qputenv("OPENAI_API_KEY", "sk-not-for-the-builder");
        qputenv("FLUID_DEBIAN_MIRROR", "http://mirror.test/debian");
        qputenv("http_proxy", "http://proxy.test:3128");
        Seen seen;
        auto built = services::buildGoldenImage(request(), {}, seen.log(), {});
        qunsetenv("FLUID_SECRETS_PASSPHRASE");
        qunsetenv("OPENAI_API_KEY");
        qunsetenv("FLUID_DEBIAN_MIRROR");
        qunsetenv("http_proxy");
        QVERIFY(built.ok());
        const QString env = seen.out.join(QLatin1Char('\n'));
        QVERIFY2(!env.contains(QStringLiteral("FLUID_SECRETS_PASSPHRASE")) &&
                     !env.contains(QStringLiteral("not-for-the-builder")),
                 qPrintable(env));
        QVERIFY(!env.contains(QStringLiteral("FLUID_SCRIPTS_DIR"))); // Fluid's, not the script's
        QVERIFY(seen.out.contains(QStringLiteral("FLUID_DEBIAN_MIRROR=http://mirror.test/debian")));
        QVERIFY(seen.out.contains(QStringLiteral("http_proxy=http://proxy.test:3128")));
    }

    void withoutTheScriptTheErrorSaysHowToFindIt()
    {
        m_dir = test::makeTempDir(QStringLiteral("golden-none"));
        qputenv("FLUID_SCRIPTS_DIR", m_dir.toUtf8());
        auto built = services::buildGoldenImage(request(), {}, {}, {});
        QVERIFY(!built.ok());
        QCOMPARE(built.error().code, ErrorCode::NotFound);
        QVERIFY(built.error().message.contains(QStringLiteral("FLUID_SCRIPTS_DIR")));
    }

    void locateReportsTheFolderAndWhetherItIsComplete()
    {
        installScript(
            "[ \"$1\" = path ] || exit 2\n"
            "case \"$3\" in fwcfg) echo /images/debian12-fwcfg-0a; exit 0 ;;\n"
            "cloudinit) echo /images/debian12-cloudinit-0b; exit 1 ;;\n"
            "*) echo \"golden-image: unknown flavour '$3' (use fwcfg or cloudinit)\" >&2; exit 1 ;;\n"
            "esac\n");
        auto fwcfg = services::locateGoldenImage(QStringLiteral("fwcfg"), QStringLiteral("/nonexistent"));
        QVERIFY(fwcfg.ok());
        QCOMPARE(fwcfg->imageDir, QStringLiteral("/images/debian12-fwcfg-0a"));
        QVERIFY(fwcfg->complete);
        auto cloudinit =
            services::locateGoldenImage(QStringLiteral("cloudinit"), QStringLiteral("/nonexistent"));
        QVERIFY(cloudinit.ok());
        QVERIFY(!cloudinit->complete);
        auto nosuch = services::locateGoldenImage(QStringLiteral("nosuch"), QStringLiteral("/nonexistent"));
        QVERIFY(!nosuch.ok());
        QVERIFY2(nosuch.error().detail.contains(QStringLiteral("unknown flavour 'nosuch'")),
                 qPrintable(nosuch.error().toString()));
    }
};

QTEST_GUILESS_MAIN(TstGoldenImage)
#include "tst_goldenimage.moc"

// SPDX-License-Identifier: Apache-2.0
// FLUID_SECRETS_PASSPHRASE leaves the environment as it is read (services::passphraseFromEnvironment(), as
// the window and the CLI read it), so no child process Fluid starts afterwards has it: not one that inherits
// Fluid's whole environment (as ssh under libvirt or a ProxyCommand does), not runProcess, not a
// BackgroundProcess (its /proc/PID/environ).
#include "base/Process.h"
#include "services/Wiring.h"
#include "TestSupport.h"

#include <QFile>
#include <QProcess>
#include <QTest>

#include <cstdlib>

using namespace fluid;

namespace {

const QByteArray kPassphrase = "correct horse battery staple";

/// The environment of a child that inherits this process's environment, one NAME=value a line.
QByteArray inheritedEnvironment()
{
    QProcess p;
    p.start(QStringLiteral("env"), {});
    if (!p.waitForFinished(30000) || p.exitCode() != 0)
        qFatal("env did not run");
    return p.readAllStandardOutput();
}

bool mentionsPassphrase(const QByteArray& text)
{
    return text.contains(services::kPassphraseEnv) || text.contains(kPassphrase);
}

} // namespace

class TestPassphraseEnv : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void passphraseLeavesTheEnvironmentWhenRead()
    {
        qputenv(services::kPassphraseEnv, kPassphrase);
        // The check below can see the variable: a child that inherits the environment has it now.
        QVERIFY(inheritedEnvironment().contains(QByteArray(services::kPassphraseEnv) + '=' + kPassphrase));

        QCOMPARE(services::passphraseFromEnvironment(), QString::fromUtf8(kPassphrase));
        QVERIFY(!qEnvironmentVariableIsSet(services::kPassphraseEnv));
        QVERIFY(std::getenv(services::kPassphraseEnv) == nullptr);
        QVERIFY(!QProcessEnvironment::systemEnvironment().contains(QLatin1String(services::kPassphraseEnv)));
        // Read once: later readers (the CLI reads it where it opens the services) get the same value.
        QCOMPARE(services::passphraseFromEnvironment(), QString::fromUtf8(kPassphrase));

        const QByteArray inherited = inheritedEnvironment();
        QVERIFY2(!mentionsPassphrase(inherited), inherited.constData());

        ProcessSpec env;
        env.program = QStringLiteral("env");
        const ProcessResult ran = test::must(runProcess(env));
        QVERIFY(ran.succeeded());
        QVERIFY2(!mentionsPassphrase(ran.out), ran.out.constData());

        ProcessSpec sleeper;
        sleeper.program = QStringLiteral("sleep");
        sleeper.arguments = {QStringLiteral("60")};
        auto background = test::must(BackgroundProcess::start(sleeper));
        QFile environ(QStringLiteral("/proc/%1/environ").arg(background->pid()));
        QVERIFY2(environ.open(QIODevice::ReadOnly), qPrintable(environ.fileName()));
        const QByteArray seen = environ.readAll();
        QVERIFY(seen.contains("PATH=")); // it is the sleeper's environment, exec'd already
        QVERIFY2(!mentionsPassphrase(seen), seen.constData());
        background->stop(1000);
    }
};

QTEST_GUILESS_MAIN(TestPassphraseEnv)
#include "tst_passphraseenv.moc"

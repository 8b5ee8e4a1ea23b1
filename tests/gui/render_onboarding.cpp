// SPDX-License-Identifier: Apache-2.0
// Renders the onboarding wizard's pages and the settings dialog to PNG files for people to look at:
//   render_onboarding OUTPUT_DIR
// The host page shows a real connection test of libvirt's test driver (with its golden VM defined), the CA
// page a CA really created in a throw-away encrypted secrets file (no keychain under Xvfb), the golden page
// the test driver's VMs. Writes wizard-host.png, wizard-host-keychain.png (a remote host with a generated
// keychain key), wizard-ca.png, wizard-golden.png, wizard-llm.png and settings-dialog.png, and quits by
// itself.
#include "config/Config.h"
#include "onboarding/CaPage.h"
#include "onboarding/GoldenPage.h"
#include "onboarding/HostPage.h"
#include "onboarding/OnboardingWizard.h"
#include "settings/SettingsDialog.h"
#include "TestSupport.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QRadioButton>
#include <QStandardItemModel>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QTreeView>

#include <cstdio>
#include <functional>

using namespace fluid;

namespace {

bool waitFor(const std::function<bool()>& done, int timeoutMs = 20000)
{
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > timeoutMs)
            return false;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        QThread::msleep(10);
    }
    return true;
}

bool save(QWidget* widget, const QString& dir, const QString& name)
{
    QCoreApplication::processEvents();
    if (!widget->grab().save(dir + QLatin1Char('/') + name)) {
        std::fprintf(stderr, "cannot write %s\n", qPrintable(name));
        return false;
    }
    std::printf("wrote %s\n", qPrintable(name));
    std::fflush(stdout);
    return true;
}

int fail(const char* what)
{
    std::fprintf(stderr, "render_onboarding: %s\n", what);
    return 1;
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: render_onboarding OUTPUT_DIR\n");
        return 2;
    }
    QTimer::singleShot(28000, &app, []() {
        std::fprintf(stderr, "render_onboarding: took too long\n");
        std::exit(1);
    });
    const QString out = QString::fromLocal8Bit(argv[1]);
    QDir().mkpath(out);
    QTemporaryDir tmp;

    ui::OnboardingWizard::Environment env;
    env.configPath = tmp.filePath(QStringLiteral("config.yaml"));
    env.knownHostsFile = tmp.filePath(QStringLiteral("known_hosts"));
    env.sshDir = tmp.filePath(QStringLiteral("ssh"));
    env.secretStore.backend = secrets::SecretStoreOptions::Backend::EncryptedFile;
    env.secretStore.encryptedFilePath = tmp.filePath(QStringLiteral("secrets.enc"));
    env.secretStore.passphrase = QStringLiteral("render-only passphrase");
    env.exeDir = QCoreApplication::applicationDirPath();
    env.connect = [](const QString& uri, const QString&) {
        return test::connectTestDriver(uri);
    };

    {
        // A remote host whose login key is generated into the keychain (no connection test: nothing listens).
        ui::OnboardingWizard remote(env);
        remote.resize(860, 640);
        remote.show();
        remote.findChild<QRadioButton*>(QStringLiteral("remoteRadio"))->setChecked(true);
        remote.findChild<QLineEdit*>(QStringLiteral("sshUser"))->setText(QStringLiteral("fluid"));
        remote.findChild<QLineEdit*>(QStringLiteral("sshHost"))->setText(QStringLiteral("kvm-01.lab"));
        remote.hostPage()->generateKey();
        if (!waitFor([&]() { return remote.hostPage()->loginKey().has_value(); }))
            return fail("no login key was generated");
        if (!save(&remote, out, QStringLiteral("wizard-host-keychain.png")))
            return 1;
    }

    ui::OnboardingWizard wizard(env);
    wizard.resize(860, 640);
    wizard.show();
    wizard.findChild<QLineEdit*>(QStringLiteral("localUri"))->setText(QStringLiteral("test:///default"));
    wizard.hostPage()->startTest();
    if (!waitFor([&]() { return !wizard.hostPage()->isTesting(); }) || !wizard.hostPage()->isComplete())
        return fail("the host test did not pass");
    if (!save(&wizard, out, QStringLiteral("wizard-host.png")))
        return 1;

    wizard.next();
    wizard.caPage()->run();
    if (!waitFor([&]() { return wizard.caPage()->isComplete(); }))
        return fail("the CA was not created");
    if (!save(&wizard, out, QStringLiteral("wizard-ca.png")))
        return 1;

    wizard.next();
    auto* view = wizard.goldenPage()->findChild<QTreeView*>(QStringLiteral("sourceList"));
    auto* model = qobject_cast<QStandardItemModel*>(view->model());
    for (int r = 0; r < model->rowCount(); ++r) {
        if (model->item(r, 0)->text() == QLatin1String("golden"))
            view->selectionModel()->select(model->index(r, 0),
                                           QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    }
    if (!wizard.goldenPage()->isComplete())
        return fail("the golden VM is not listed");
    if (!save(&wizard, out, QStringLiteral("wizard-golden.png")))
        return 1;

    wizard.next();
    wizard.findChild<QComboBox*>(QStringLiteral("llmProvider"))->setCurrentText(QStringLiteral("openrouter"));
    wizard.findChild<QLineEdit*>(QStringLiteral("llmModel"))
        ->setText(QStringLiteral("anthropic/claude-sonnet-4"));
    wizard.findChild<QLineEdit*>(QStringLiteral("llmEndpoint"))
        ->setText(QStringLiteral("https://openrouter.ai/api/v1"));
    wizard.findChild<QLineEdit*>(QStringLiteral("llmApiKey"))
        ->setText(QStringLiteral("sk-or-not-a-real-key"));
    if (!save(&wizard, out, QStringLiteral("wizard-llm.png")))
        return 1;
    wizard.hide();

    config::Settings settings;
    config::HostSettings lab;
    lab.name = QStringLiteral("lab");
    lab.uri = QStringLiteral("qemu+ssh://fluid@lab.internal/system");
    lab.accelerator = config::Accelerator::Kvm;
    lab.limits = {65536, 16, 8};
    lab.golden = QStringLiteral("golden-debian12-fwcfg");
    settings.hosts.append(lab);
    settings.agent.model = QStringLiteral("anthropic/claude-sonnet-4");
    settings.agent.provider = config::AgentProvider::OpenRouter;
    ui::SettingsDialog dialog(tmp.filePath(QStringLiteral("settings.yaml")), settings);
    dialog.resize(820, 560);
    dialog.show();
    if (!save(&dialog, out, QStringLiteral("settings-dialog.png")))
        return 1;
    return 0;
}

// SPDX-License-Identifier: Apache-2.0
#include "Cli.h"

#include "base/Logging.h"
#include "base/Paths.h"
#include "base/Signals.h"
#include "HostsDock.h"
#include "MainWindow.h"
#include "onboarding/OnboardingWizard.h"
#include "Resources.h"
#include "services/Services.h"
#include "services/Wiring.h"
#include "settings/SettingsDialog.h"

#include <QApplication>
#include <QCoreApplication>
#include <QInputDialog>
#include <QMessageBox>
#include <QStatusBar>

namespace {
QStringList argumentList(int argc, char** argv)
{
    QStringList list;
    for (int i = 0; i < argc; ++i)
        list.append(QString::fromLocal8Bit(argv[i]));
    return list;
}

QString configPathArgument(const QStringList& arguments)
{
    const qsizetype i = arguments.indexOf(QStringLiteral("--config"));
    return i >= 0 ? arguments.value(i + 1) : QString();
}

QString configFileFor(const QStringList& arguments)
{
    const QString given = configPathArgument(arguments);
    return given.isEmpty() ? fluid::paths::configFile() : given;
}

/// The onboarding wizard over the settings `loaded` holds (defaults on first run).
fluid::ui::OnboardingWizard::Environment wizardEnvironment(const fluid::config::LoadedConfig& loaded,
                                                           const QString& configFile,
                                                           const QString& passphrase)
{
    fluid::ui::OnboardingWizard::Environment env;
    env.configPath = configFile;
    env.base = loaded.settings;
    env.baseFromFile = loaded.fromFile;
    env.secretStore = fluid::services::secretStoreOptions(loaded.settings, passphrase);
    env.exeDir = QCoreApplication::applicationDirPath();
    return env;
}

void setIdentity()
{
    // Organization left empty on purpose: user folders become ~/.config/fluid and ~/.local/share/fluid.
    QCoreApplication::setApplicationName(QStringLiteral("fluid"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FLUID_VERSION));
}

int runWindow(int argc, char** argv, const QStringList& arguments)
{
    QApplication app(argc, argv);
    setIdentity();
    QApplication::setApplicationDisplayName(QStringLiteral("Fluid"));
    QApplication::setDesktopFileName(QStringLiteral("dev.fluid.Fluid"));
    fluid::ui::loadResources();
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/fluid/fluid.svg")));

    // Reading a small local file; everything slow (keychain, database) happens on the store thread.
    auto loaded = fluid::services::loadSettings(configPathArgument(arguments));
    if (!loaded) {
        QMessageBox::critical(
            nullptr, QObject::tr("Fluid cannot start"),
            QObject::tr("The configuration file has problems:\n\n%1\n\nFix the file (or move "
                        "it away to start from defaults) and start Fluid again.")
                .arg(loaded.error().toString()));
        return 1;
    }
    // First run (no config file, or no host in it): the set-up wizard; cancelling it keeps the defaults.
    if (!loaded->fromFile || loaded->settings.hosts.isEmpty()) {
        fluid::ui::OnboardingWizard wizard(wizardEnvironment(*loaded, configFileFor(arguments),
                                                             fluid::services::passphraseFromEnvironment()));
        if (wizard.exec() == QDialog::Accepted) {
            if (auto again = fluid::services::loadSettings(configFileFor(arguments)))
                loaded = std::move(again);
        }
    }
    fluid::config::logWarnings(*loaded);
    const fluid::config::Settings settings = loaded->settings;

    QString passphrase = fluid::services::passphraseFromEnvironment();
    if (passphrase.isEmpty() && fluid::services::storeNeedsSecrets(settings) &&
        settings.secrets.backend == fluid::config::SecretsBackend::EncryptedFile) {
        bool ok = false;
        passphrase = QInputDialog::getText(nullptr, QObject::tr("Unlock secrets"),
                                           QObject::tr("Passphrase of Fluid's encrypted secrets file:"),
                                           QLineEdit::Password, QString(), &ok);
        if (!ok)
            return 1;
    }

    fluid::services::Services::Options options;
    options.config = *loaded;
    options.passphrase = passphrase;
    // This very executable runs local hosts' egress gates (`fluid egress serve`).
    options.egressGateProgram = QCoreApplication::applicationFilePath();
    options.anchorAudit = true;
    fluid::services::Services services(std::move(options));
    // The window goes before the services: each host session waits for its workers as it is destroyed,
    // closes its terminals' shells and waits until their audit records (pty.close) are stored.
    fluid::ui::MainWindow window(services);
    // The store and the secret store stay the ones Fluid started with (changing those needs a restart, the
    // settings dialog says so); saved hosts and sandbox defaults apply at once.
    const auto saved = [&](const fluid::config::Settings& written) {
        if (const QString applied = services.applySettings(written); !applied.isEmpty())
            window.statusBar()->showMessage(applied, 8000);
    };
    QObject::connect(&window, &fluid::ui::MainWindow::setupWizardRequested, &window, [&]() {
        fluid::ui::OnboardingWizard wizard(
            wizardEnvironment(services.config(), configFileFor(arguments), passphrase), &window);
        QObject::connect(&wizard, &fluid::ui::OnboardingWizard::configWritten, &window,
                         [&](const QString&, const fluid::config::Settings& written) { saved(written); });
        wizard.exec();
    });
    QObject::connect(&window, &fluid::ui::MainWindow::settingsRequested, &window, [&]() {
        fluid::ui::SettingsDialog dialog(configFileFor(arguments), services.settings(), &window);
        QObject::connect(&dialog, &fluid::ui::SettingsDialog::saved, &window, saved);
        dialog.exec();
    });
    window.show();
    services.start();
    return app.exec();
}
} // namespace

int main(int argc, char** argv)
{
    fluid::prepareProcess();
    fluid::installRedactingMessageHandler();
    // Out of the environment before any thread starts or any child process is spawned.
    fluid::services::passphraseFromEnvironment();
    const QStringList arguments = argumentList(argc, argv);
    if (fluid::app::Cli::handles(arguments)) {
        QCoreApplication app(argc, argv);
        setIdentity();
        return fluid::app::Cli::run(arguments);
    }
    return runWindow(argc, argv, arguments);
}

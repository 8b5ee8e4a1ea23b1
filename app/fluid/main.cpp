// SPDX-License-Identifier: Apache-2.0
#include "Cli.h"

#include "base/Logging.h"
#include "base/Signals.h"
#include "HostsDock.h"
#include "MainWindow.h"
#include "runtime/HostSession.h"
#include "runtime/Runtime.h"
#include "store/StoreWorker.h"

#include <QApplication>
#include <QCoreApplication>
#include <QInputDialog>
#include <QMessageBox>

#include <memory>
#include <vector>

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
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/fluid/fluid.svg")));

    // Reading a small local file; everything slow (keychain, database) happens on the store thread.
    auto loaded = fluid::runtime::loadSettings(configPathArgument(arguments));
    if (!loaded) {
        QMessageBox::critical(
            nullptr, QObject::tr("Fluid cannot start"),
            QObject::tr("The configuration file has problems:\n\n%1\n\nFix the file (or move "
                        "it away to start from defaults) and start Fluid again.")
                .arg(loaded.error().toString()));
        return 1;
    }
    fluid::config::logWarnings(*loaded);
    const fluid::config::Settings settings = loaded->settings;

    QString passphrase = qEnvironmentVariable(fluid::runtime::kPassphraseEnv);
    if (passphrase.isEmpty() && fluid::runtime::storeNeedsSecrets(settings) &&
        settings.secrets.backend == fluid::config::SecretsBackend::EncryptedFile) {
        bool ok = false;
        passphrase = QInputDialog::getText(nullptr, QObject::tr("Unlock secrets"),
                                           QObject::tr("Passphrase of Fluid's encrypted secrets file:"),
                                           QLineEdit::Password, QString(), &ok);
        if (!ok)
            return 1;
    }

    fluid::store::StoreWorker store(
        [settings, passphrase]() { return fluid::runtime::resolveDatabaseOptions(settings, passphrase); });
    fluid::ui::MainWindow window(&store);
    // Declared after the window, so they go first: each waits for its workers as it is destroyed.
    std::vector<std::unique_ptr<fluid::runtime::HostSession>> sessions;
    if (!settings.hosts.isEmpty())
        window.hostsDock()->setEmptyText(QObject::tr("Opening the store before connecting to %n host(s)…",
                                                     nullptr, int(settings.hosts.size())));
    QObject::connect(
        &store, &fluid::store::StoreWorker::opened, &window, [&](bool ok, const QString& message) {
            if (!ok) {
                if (!settings.hosts.isEmpty())
                    window.hostsDock()->setEmptyText(
                        QObject::tr("Hosts need the store, which could not be opened: %1").arg(message));
                return;
            }
            if (!sessions.empty() || !store.databaseOptions())
                return;
            // One CA for every host, loaded from the secret store by the first create.
            const fluid::virt::IdentityIssuer issuer =
                fluid::runtime::lazyIdentityIssuer(fluid::runtime::secretStoreCaLoader(settings, passphrase));
            // Terminals load the same CA (on a session worker) when the first shell is opened.
            const fluid::runtime::CaLoader loadCa = fluid::runtime::secretStoreCaLoader(settings, passphrase);
            for (const fluid::config::HostSettings& host : settings.hosts) {
                fluid::runtime::HostSession::Setup setup;
                setup.host = host;
                setup.database = *store.databaseOptions();
                setup.manager = fluid::runtime::managerOptions(settings);
                setup.manager.issueIdentity = issuer;
                setup.createDefaults = fluid::runtime::createDefaults(settings, host, {});
                setup.loadCa = loadCa;
                sessions.push_back(std::make_unique<fluid::runtime::HostSession>(setup));
                window.addHostSession(sessions.back().get());
            }
        });
    window.show();
    store.start();
    return app.exec();
}
} // namespace

int main(int argc, char** argv)
{
    fluid::prepareProcess();
    fluid::installRedactingMessageHandler();
    const QStringList arguments = argumentList(argc, argv);
    if (fluid::app::Cli::handles(arguments)) {
        QCoreApplication app(argc, argv);
        setIdentity();
        return fluid::app::Cli::run(arguments);
    }
    return runWindow(argc, argv, arguments);
}

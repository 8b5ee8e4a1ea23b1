// SPDX-License-Identifier: Apache-2.0
#include "Cli.h"

#include "base/Logging.h"
#include "MainWindow.h"

#include <QApplication>
#include <QCoreApplication>

namespace {
QStringList argumentList(int argc, char** argv) {
    QStringList list;
    for (int i = 0; i < argc; ++i)
        list.append(QString::fromLocal8Bit(argv[i]));
    return list;
}

void setIdentity() {
    // Organization left empty on purpose: user folders become ~/.config/fluid and ~/.local/share/fluid.
    QCoreApplication::setApplicationName(QStringLiteral("fluid"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FLUID_VERSION));
}
} // namespace

int main(int argc, char** argv) {
    fluid::installRedactingMessageHandler();
    const QStringList arguments = argumentList(argc, argv);
    if (fluid::app::Cli::handles(arguments)) {
        QCoreApplication app(argc, argv);
        setIdentity();
        return fluid::app::Cli::run(arguments);
    }

    QApplication app(argc, argv);
    setIdentity();
    QApplication::setApplicationDisplayName(QStringLiteral("Fluid"));
    QApplication::setDesktopFileName(QStringLiteral("dev.fluid.Fluid"));
    fluid::ui::MainWindow window;
    window.show();
    return app.exec();
}

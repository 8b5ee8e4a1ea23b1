// SPDX-License-Identifier: Apache-2.0
#include "Cli.h"

#include "base/BuildInfo.h"

#include <QTextStream>

namespace fluid::app {
namespace {

QTextStream& out() {
    static QTextStream s(stdout);
    return s;
}

QTextStream& err() {
    static QTextStream s(stderr);
    return s;
}

const char kUsage[] = R"(Usage: fluid [OPTIONS] [COMMAND]

Without a command, opens the Fluid desktop window.

Options:
  -h, --help            Show this help and exit.
  -v, --version         Show Fluid's version and the library versions it runs with.
  --config FILE         Use FILE instead of the default config.yaml.

Commands:
  audit verify          Check the audit log's hash chain; names the first broken row.
  audit list [--limit N]
                        Print the newest audit events.
  config check          Validate the config file and print the effective settings.
)";

int printVersion() {
    out() << "fluid " << fluidVersion() << "\n";
    for (const ComponentVersion& c : componentVersions())
        out() << "  " << c.name << " " << c.version << "\n";
    out().flush();
    return 0;
}

} // namespace

bool Cli::handles(const QStringList& arguments) {
    static const QStringList flags = {QStringLiteral("-h"), QStringLiteral("--help"), QStringLiteral("-v"),
                                      QStringLiteral("--version")};
    static const QStringList commands = {QStringLiteral("audit"), QStringLiteral("config")};
    for (const QString& a : arguments.mid(1)) {
        if (flags.contains(a) || commands.contains(a))
            return true;
    }
    return false;
}

int Cli::run(const QStringList& arguments) {
    const QStringList args = arguments.mid(1);
    if (args.contains(QStringLiteral("-h")) || args.contains(QStringLiteral("--help"))) {
        out() << kUsage;
        out().flush();
        return 0;
    }
    if (args.contains(QStringLiteral("-v")) || args.contains(QStringLiteral("--version")))
        return printVersion();
    err() << "fluid: unknown command: " << args.join(QLatin1Char(' ')) << "\n" << kUsage;
    err().flush();
    return 2;
}

} // namespace fluid::app

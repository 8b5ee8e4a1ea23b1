// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QStringList>

namespace fluid::app {

/// The command-line front end: --help, --version and subcommands that need no window (audit verify, ...).
/// Runs on the main thread of a QCoreApplication.
class Cli {
public:
    /// True when the arguments ask for something the CLI answers (so no QApplication, no display).
    static bool handles(const QStringList& arguments);

    /// Runs the command; returns the process exit code. Output goes to stdout, errors to stderr.
    static int run(const QStringList& arguments);
};

} // namespace fluid::app

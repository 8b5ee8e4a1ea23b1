// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "config/Config.h"
#include "store/Database.h"

#include <QStringList>
#include <QTextStream>

#include <memory>

namespace fluid::app::cli {

enum ExitCode { Ok = 0, Failed = 1, Usage = 2, CannotRun = 3 };

QTextStream& out();
QTextStream& err();

/// The command line after the program name, with --config FILE taken out.
struct Parsed {
    QString configPath;
    QStringList words;
    QString error;
};
Parsed parse(const QStringList& arguments);

/// Options of a subcommand: "--name value" pairs and flags, plus the positional words.
struct Options {
    QHash<QString, QString> values;
    QSet<QString> flags;
    QStringList positional;
    QString error;
    QString value(const QString& name, const QString& fallback = {}) const
    {
        return values.value(name, fallback);
    }
    bool has(const QString& flag) const { return flags.contains(flag); }
};
/// `valueOptions` take a value ("--memory 512"); `flagOptions` do not ("--no-wait").
Options parseOptions(const QStringList& words, const QStringList& valueOptions,
                     const QStringList& flagOptions);

int usageError(const QString& message);
int cannotRun(const Error& error);

/// Config as the command line names it, with warnings printed.
Result<config::LoadedConfig> loadSettings(const Parsed& p);

/// Opens and migrates the configured store. With mustExist, a SQLite store that is not there yet is a
/// NotFound error (and *missing is set), so read-only commands do not create one.
Result<std::unique_ptr<store::Database>> openStore(const Parsed& p, bool mustExist = false,
                                                   bool* missing = nullptr);

} // namespace fluid::app::cli

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Result.h"
#include "config/Config.h"
#include "services/Services.h"
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

/// While it lives, Ctrl-C and SIGTERM cancel `token` (the handlers set a flag; a small thread of its own
/// watches it, so no event loop is needed). signal() says which signal came (0: none), for the exit code a
/// shell reports for a command a signal ended (128 + signal).
class InterruptCancels {
public:
    explicit InterruptCancels(CancelToken token);
    ~InterruptCancels();
    InterruptCancels(const InterruptCancels&) = delete;
    InterruptCancels& operator=(const InterruptCancels&) = delete;
    int signal() const;

private:
    struct Watch;
    std::unique_ptr<Watch> m_watch;
};

int usageError(const QString& message);
int cannotRun(const Error& error);

/// Config as the command line names it, with warnings printed.
Result<config::LoadedConfig> loadSettings(const Parsed& p);

/// What a command runs on: Fluid's services over the settings the command line names, and the store opened
/// (and migrated) on this thread.
struct Context {
    std::unique_ptr<services::Services> services;
    store::Database* db = nullptr;
};
/// The services over the settings (their warnings printed) without opening the store.
Result<std::unique_ptr<services::Services>> openServices(const Parsed& p);
/// openServices() with the store open. With mustExist, a SQLite store that is not there yet is a NotFound
/// error (and *missing is set), so read-only commands do not create one.
Result<Context> openStore(const Parsed& p, bool mustExist = false, bool* missing = nullptr);

} // namespace fluid::app::cli

// SPDX-License-Identifier: Apache-2.0
#include "CliSupport.h"

#include "services/Runtime.h"

#include <QFileInfo>

namespace fluid::app::cli {

QTextStream& out()
{
    static QTextStream s(stdout);
    return s;
}

QTextStream& err()
{
    static QTextStream s(stderr);
    return s;
}

Parsed parse(const QStringList& arguments)
{
    Parsed p;
    const QStringList args = arguments.mid(1);
    for (qsizetype i = 0; i < args.size(); ++i) {
        const QString& a = args.at(i);
        if (a == QLatin1String("--config")) {
            if (i + 1 >= args.size()) {
                p.error = QStringLiteral("--config needs a file name");
                return p;
            }
            p.configPath = args.at(++i);
        } else if (a.startsWith(QLatin1String("--config="))) {
            p.configPath = a.mid(9);
        } else {
            p.words << a;
        }
    }
    return p;
}

Options parseOptions(const QStringList& words, const QStringList& valueOptions,
                     const QStringList& flagOptions)
{
    Options o;
    for (qsizetype i = 0; i < words.size(); ++i) {
        const QString& w = words.at(i);
        if (!w.startsWith(QLatin1String("--"))) {
            o.positional << w;
        } else if (valueOptions.contains(w)) {
            if (i + 1 >= words.size()) {
                o.error = QStringLiteral("%1 needs a value").arg(w);
                return o;
            }
            o.values.insert(w, words.at(++i));
        } else if (flagOptions.contains(w)) {
            o.flags.insert(w);
        } else {
            o.error = QStringLiteral("unknown option %1").arg(w);
            return o;
        }
    }
    return o;
}

int usageError(const QString& message)
{
    err() << "fluid: " << message << "\n(see fluid --help)\n";
    return Usage;
}

int cannotRun(const Error& error)
{
    err() << "fluid: " << error.toString() << "\n";
    return CannotRun;
}

Result<config::LoadedConfig> loadSettings(const Parsed& p)
{
    auto loaded = services::loadSettings(p.configPath);
    if (loaded) {
        for (const QString& w : loaded->warnings)
            err() << "warning: " << w << "\n";
    }
    return loaded;
}

Result<std::unique_ptr<store::Database>> openStore(const Parsed& p, bool mustExist, bool* missing)
{
    auto loaded = loadSettings(p);
    if (!loaded)
        return loaded.error();
    auto options =
        services::resolveDatabaseOptions(loaded->settings, qEnvironmentVariable(services::kPassphraseEnv));
    if (!options)
        return options.error();
    if (mustExist && options->backend == store::Backend::Sqlite && !QFileInfo::exists(options->sqlitePath)) {
        if (missing)
            *missing = true;
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("There is no store at %1 yet: Fluid has recorded "
                                        "nothing there")
                             .arg(options->sqlitePath));
    }
    return store::openAndMigrate(*options);
}

} // namespace fluid::app::cli

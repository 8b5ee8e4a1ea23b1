// SPDX-License-Identifier: Apache-2.0
#include "CliSupport.h"

#include <QCoreApplication>

#include "services/Wiring.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

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

namespace {
std::atomic<int> g_signal{0};
void onSignal(int signal)
{
    g_signal = signal;
}
} // namespace

struct InterruptCancels::Watch {
    std::jthread thread;
};

InterruptCancels::InterruptCancels(CancelToken token)
    : m_watch(std::make_unique<Watch>())
{
    g_signal = 0;
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    m_watch->thread = std::jthread([token](std::stop_token stop) {
        while (!stop.stop_requested() && g_signal == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (g_signal != 0)
            token.cancel();
    });
}

InterruptCancels::~InterruptCancels()
{
    m_watch->thread.request_stop();
    m_watch->thread.join();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
}

int InterruptCancels::signal() const
{
    return g_signal;
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

Result<std::unique_ptr<services::Services>> openServices(const Parsed& p)
{
    auto loaded = loadSettings(p);
    if (!loaded)
        return loaded.error();
    services::Services::Options options;
    options.config = *loaded;
    options.passphrase = services::passphraseFromEnvironment();
    // `fluid sandbox create|start` start the host's egress gate too: this executable runs it.
    options.egressGateProgram = QCoreApplication::applicationFilePath();
    options.anchorAudit = true;
    return std::make_unique<services::Services>(std::move(options));
}

Result<Context> openStore(const Parsed& p, bool mustExist, bool* missing)
{
    auto services = openServices(p);
    if (!services)
        return services.error();
    auto db = (*services)->openStoreHere(mustExist);
    if (!db) {
        if (missing && db.error().code == ErrorCode::NotFound)
            *missing = true;
        return db.error();
    }
    return Context{std::move(*services), *db};
}

} // namespace fluid::app::cli

// SPDX-License-Identifier: Apache-2.0
#include "Cli.h"

#include "CliSupport.h"
#include "EgressCommands.h"
#include "SandboxCommands.h"

#include "base/BuildInfo.h"
#include "services/Wiring.h"
#include "store/AuditLog.h"

#include <QFileInfo>
#include <QTextStream>

namespace fluid::app {
namespace {
using namespace cli;

const char kUsage[] = R"(Usage: fluid [OPTIONS] [COMMAND]

Without a command, opens the Fluid desktop window.

Options:
  -h, --help              Show this help and exit.
  -v, --version           Show Fluid's version and the library versions it runs with.
  --config FILE           Use FILE instead of the default config.yaml.

Commands:
  audit verify            Check the audit log's hash chain and its checkpoint outside the
                          database. Exit 0 when intact, 1 when broken (the first broken row, or
                          the rows the checkpoint misses, are named).
  audit reanchor          After you looked at a broken or missing checkpoint: start a new one
                          at the newest row (only when every row verifies).
  audit list [--limit N] [--sandbox ID] [--kind PREFIX]
                          Print the newest audit events.
  config check            Validate config.yaml; print warnings and the effective settings.
                          Exit 0 when valid, 1 when not.%1%2
Environment:
  FLUID_SECRETS_PASSPHRASE  passphrase of the encrypted secrets file, when config.yaml chooses
                            secrets.backend: encrypted-file (the keychain is the default). Read
                            at start and removed from fluid's environment: no child process
                            inherits it.
  FLUID_CONFIG_DIR, FLUID_DATA_DIR  override where config.yaml and the SQLite store live.
)";

QString usage()
{
    return QString::fromUtf8(kUsage).arg(QString::fromUtf8(kSandboxUsage), QString::fromUtf8(kEgressUsage));
}

int printVersion()
{
    out() << "fluid " << fluidVersion() << "\n";
    for (const ComponentVersion& c : componentVersions())
        out() << "  " << c.name << " " << c.version << "\n";
    return Ok;
}

int auditVerify(const Parsed& p)
{
    bool missing = false;
    auto context = openStore(p, true, &missing);
    if (!context) {
        if (missing) {
            out() << context.error().message << ": nothing to verify.\n";
            return Ok;
        }
        return cannotRun(context.error());
    }
    store::Database* db = context->db;
    auto report = store::AuditLog(*db).verify();
    if (!report)
        return cannotRun(report.error());
    if (report->intact()) {
        out() << "Audit chain intact: " << report->rowsChecked << " row(s) verified in " << db->describe()
              << "\nCheckpoint: " << report->anchorNote << "\n";
        return Ok;
    }
    if (report->firstBrokenSeq) {
        out() << "Audit chain BROKEN at row " << *report->firstBrokenSeq << ": " << report->reason << "\n"
              << "Rows before " << *report->firstBrokenSeq << " verify; this row and every later one cannot "
              << "be trusted. Store: " << db->describe() << "\n";
        return Failed;
    }
    out() << "Audit chain BROKEN: its " << report->rowsChecked << " row(s) verify among themselves, but not "
          << "against the checkpoint outside the database: " << *report->anchorBroken << "\n"
          << "Store: " << db->describe() << ". When you have looked and trust the log as it now is, `fluid "
          << "audit reanchor` starts a new checkpoint at its newest row.\n";
    return Failed;
}

int auditReanchor(const Parsed& p)
{
    auto context = openStore(p, true);
    if (!context)
        return cannotRun(context.error());
    auto report = store::AuditLog(*context->db).reanchor();
    if (!report)
        return cannotRun(report.error());
    if (report->firstBrokenSeq) {
        out() << "Not anchored: row " << *report->firstBrokenSeq << " does not verify (" << report->reason
              << "), so there is no head to trust.\n";
        return Failed;
    }
    out() << "Audit log " << report->anchorNote << ", " << report->rowsChecked << " row(s) verified.\n";
    return Ok;
}

int auditList(const Parsed& p, const QStringList& rest)
{
    store::AuditFilter filter;
    filter.limit = 50;
    for (qsizetype i = 0; i < rest.size(); ++i) {
        const QString& a = rest.at(i);
        auto value = [&]() -> QString {
            return i + 1 < rest.size() ? rest.at(++i) : QString();
        };
        if (a == QLatin1String("--limit")) {
            bool ok = false;
            filter.limit = value().toInt(&ok);
            if (!ok || filter.limit < 1)
                return usageError(QStringLiteral("--limit needs a positive number"));
        } else if (a == QLatin1String("--sandbox")) {
            filter.sandboxId = value();
        } else if (a == QLatin1String("--kind")) {
            filter.kindPrefix = value();
        } else {
            return usageError(QStringLiteral("audit list: unknown option %1").arg(a));
        }
    }
    bool missing = false;
    auto context = openStore(p, true, &missing);
    if (!context) {
        if (missing) {
            out() << context.error().message << ".\n";
            return Ok;
        }
        return cannotRun(context.error());
    }
    auto events = store::AuditLog(*context->db).list(filter);
    if (!events)
        return cannotRun(events.error());
    for (const model::AuditEvent& e : *events) {
        out() << e.seq << "  " << e.time.toString(Qt::ISODate) << "  " << e.actor << "  " << e.kind << "  "
              << (e.sandboxId.isEmpty() ? QStringLiteral("-") : e.sandboxId) << "  " << e.summary << "\n";
    }
    return Ok;
}

int configCheck(const Parsed& p)
{
    auto loaded = services::loadSettings(p.configPath);
    if (!loaded) {
        err() << loaded.error().toString() << "\n";
        return loaded.error().code == ErrorCode::Config ? Failed : CannotRun;
    }
    for (const QString& w : loaded->warnings)
        err() << "warning: " << w << "\n";
    out() << "# " << (loaded->fromFile ? QStringLiteral("valid: ") : QStringLiteral("no file, defaults: "))
          << loaded->path << "\n"
          << QString::fromUtf8(config::toYaml(loaded->settings));
    return Ok;
}

} // namespace

bool Cli::handles(const QStringList& arguments)
{
    static const QStringList flags = {QStringLiteral("-h"), QStringLiteral("--help"), QStringLiteral("-v"),
                                      QStringLiteral("--version")};
    static const QStringList commands = {QStringLiteral("audit"),    QStringLiteral("config"),
                                         QStringLiteral("host"),     QStringLiteral("sandbox"),
                                         QStringLiteral("approval"), QStringLiteral("image"),
                                         QStringLiteral("egress")};
    const Parsed p = parse(arguments);
    if (!p.error.isEmpty())
        return true;
    for (const QString& w : p.words) {
        if (flags.contains(w))
            return true;
    }
    return !p.words.isEmpty() &&
           (commands.contains(p.words.first()) || !p.words.first().startsWith(QLatin1Char('-')));
}

int Cli::run(const QStringList& arguments)
{
    const Parsed p = parse(arguments);
    int code = Ok;
    if (!p.error.isEmpty()) {
        code = usageError(p.error);
    } else if (p.words.contains(QStringLiteral("-h")) || p.words.contains(QStringLiteral("--help"))) {
        out() << usage();
    } else if (p.words.contains(QStringLiteral("-v")) || p.words.contains(QStringLiteral("--version"))) {
        code = printVersion();
    } else if (p.words.value(0) == QLatin1String("audit") && p.words.value(1) == QLatin1String("verify")) {
        code = p.words.size() == 2 ? auditVerify(p)
                                   : usageError(QStringLiteral("audit verify takes no arguments"));
    } else if (p.words.value(0) == QLatin1String("audit") && p.words.value(1) == QLatin1String("reanchor")) {
        code = p.words.size() == 2 ? auditReanchor(p)
                                   : usageError(QStringLiteral("audit reanchor takes no arguments"));
    } else if (p.words.value(0) == QLatin1String("audit") && p.words.value(1) == QLatin1String("list")) {
        code = auditList(p, p.words.mid(2));
    } else if (p.words.value(0) == QLatin1String("config") && p.words.value(1) == QLatin1String("check")) {
        code = p.words.size() == 2 ? configCheck(p)
                                   : usageError(QStringLiteral("config check takes no arguments"));
    } else if (p.words.value(0) == QLatin1String("host")) {
        code = runHostCommand(p);
    } else if (p.words.value(0) == QLatin1String("sandbox")) {
        code = runSandboxCommand(p);
    } else if (p.words.value(0) == QLatin1String("image")) {
        code = runImageCommand(p);
    } else if (p.words.value(0) == QLatin1String("approval")) {
        code = runApprovalCommand(p);
    } else if (p.words.value(0) == QLatin1String("egress")) {
        code = runEgressCommand(p);
    } else {
        code = usageError(QStringLiteral("unknown command: %1").arg(p.words.join(QLatin1Char(' '))));
    }
    out().flush();
    err().flush();
    return code;
}

} // namespace fluid::app

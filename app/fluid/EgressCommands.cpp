// SPDX-License-Identifier: Apache-2.0
#include "EgressCommands.h"

#include "approval/ApprovalBroker.h"
#include "egress/Destination.h"
#include "egress/EgressGate.h"
#include "services/GateProcess.h"
#include "services/RemoteRelay.h"
#include "services/Services.h"
#include "services/Wiring.h"
#include "ssh/CommandAudit.h"
#include "ssh/SshConnection.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QCoreApplication>
#include <QFile>
#include <QLockFile>
#include <QSaveFile>
#include <QScopeGuard>
#include <QTimer>

namespace fluid::app {
using namespace cli;

const char kEgressUsage[] = R"(
  egress list [--sandbox NAME]
                          What sandboxes may reach through the egress gate (grants) and the
                          requests waiting for a person.
  egress allow NAME HOST:PORT [--once | --until ISO-TIME]
                          Let sandbox NAME reach HOST:PORT (by default for its life); a request
                          for it that waits in the inbox is approved.
  egress revoke NAME HOST:PORT
                          End what was allowed: new connections to HOST:PORT ask again.
  egress serve --host NAME --listen ADDRESS --port N --network CIDR
                          Run the host's egress gate (Fluid starts it on demand; it ends by itself
                          after 10 minutes without a live sandbox on its host). For a host reached
                          over SSH, ADDRESS is on that host: a relay started there over SSH passes
                          connections back to this process (python3 on the host; nothing installed).
)";

namespace {

constexpr int kIdleExitMs = 10 * 60 * 1000;

void audit(store::Database& db, const QString& kind, const QString& summary, const QJsonObject& data,
           const QString& sandboxId)
{
    if (auto r = store::AuditLog(db).append(model::Actor::localPerson().toString(), kind, summary, data,
                                            sandboxId);
        !r)
        err() << "warning: the audit record was not written: " << r.error().toString() << "\n";
}

int serve(const Parsed& p, const Options& o)
{
    const QString hostName = o.value(QStringLiteral("--host"));
    const QHostAddress address(o.value(QStringLiteral("--listen")));
    bool portOk = false;
    const int port = o.value(QStringLiteral("--port")).toInt(&portOk);
    const auto subnet = QHostAddress::parseSubnet(o.value(QStringLiteral("--network")));
    if (hostName.isEmpty() || address.isNull() || !portOk || port < 1 || port > 65535 ||
        subnet.first.isNull())
        return usageError(
            QStringLiteral("egress serve needs --host NAME --listen ADDRESS --port N --network CIDR"));
    auto context = openStore(p);
    if (!context)
        return cannotRun(context.error());
    const config::Settings& settings = context->services->settings();
    const config::HostSettings* hostSettings = settings.host(hostName);
    auto hostRow = store::hostNamed(*context->db, hostName);
    if (!hostRow)
        return cannotRun(hostRow.error());
    if (!hostSettings || !*hostRow)
        return cannotRun(
            makeError(ErrorCode::NotFound,
                      QStringLiteral("Host %1 is not configured or has no sandboxes yet").arg(hostName)));
    QLockFile lock(services::gateLockFile(hostName));
    if (!lock.tryLock(0)) {
        qint64 pid = 0;
        QString h, a;
        lock.getLockInfo(&pid, &h, &a);
        out() << "the egress gate of host " << hostName << " already runs (pid " << pid << ")\n";
        return Ok;
    }
    egress::GateOptions g;
    g.hostId = (*hostRow)->id;
    g.listenAddress = address;
    g.port = quint16(port);
    g.sandboxSubnet = subnet;
    g.holdMs = settings.egress.holdSeconds * 1000;
    g.allow = hostSettings->egressAllow;
    g.deny = settings.egress.deny;
    g.maxConnectionsPerSandbox = settings.egress.maxConnectionsPerSandbox;
    g.idleTimeoutMs = settings.egress.idleTimeoutS * 1000;
    // A remote host: the gate runs here and takes its connections from a relay on the host's bridge.
    const bool remote = config::isOverSsh(hostSettings->uri);
    std::shared_ptr<ssh::SshConnection> hostShell;
    std::unique_ptr<ssh::AuditWriter> hostAudit;
    std::unique_ptr<services::RemoteRelay> relay;
    if (remote) {
        QByteArray key;
        if (const services::LoginKeyLoader load = context->services->loginKeyLoader(*hostSettings)) {
            auto loaded = load();
            if (!loaded)
                return cannotRun(loaded.error());
            key = std::move(*loaded);
        }
        hostAudit = std::make_unique<ssh::AuditWriter>(*context->services->databaseOptions());
        auto shell =
            services::connectHostShell(hostSettings->uri, {}, key, hostAudit->sink(), hostAudit->gate());
        key.fill('\0');
        if (!shell)
            return cannotRun(shell.error());
        hostShell = *shell;
    }
    egress::EgressGate gate(*context->db, *context->services->approvals(), g);
    if (remote) {
        auto started =
            services::RemoteRelay::start(hostShell, address, quint16(port), gate.relayedAcceptor());
        if (!started)
            return cannotRun(started.error());
        relay = std::move(*started);
        gate.setRelayToken(relay->token());
        out() << "egress gate of host " << hostName << " serving " << address.toString() << ":" << port
              << " on that host through a relay\n";
    } else {
        if (auto r = gate.listen(); !r)
            return cannotRun(r.error());
        out() << "egress gate of host " << hostName << " listening on " << address.toString() << ":"
              << gate.port() << "\n";
    }
    out().flush();
    // Ready for whoever started it (services::ensureEgressGate); gone again when the gate ends.
    const QString readyPath = services::gateReadyFile(hostName);
    {
        QSaveFile ready(readyPath);
        if (!ready.open(QIODevice::WriteOnly) ||
            ready.write(QByteArray::number(QCoreApplication::applicationPid())) < 0 || !ready.commit())
            err() << "warning: cannot write " << readyPath << "\n";
    }
    const auto unready = qScopeGuard([readyPath] { QFile::remove(readyPath); });

    CancelToken stop;
    InterruptCancels interrupts(stop);
    QTimer watch;
    QElapsedTimer idle;
    idle.start();
    QObject::connect(&watch, &QTimer::timeout, [&] {
        if (stop.isCancelled()) {
            QCoreApplication::quit();
            return;
        }
        if (relay && !relay->running()) {
            out() << "the egress relay on host " << hostName << " ended (the connection to it was lost): the "
                  << "egress gate ends; the next sandbox start begins it again\n";
            QCoreApplication::exit(1);
            return;
        }
        auto live = store::liveSandboxes(*context->db, (*hostRow)->id);
        if (!live || !live->isEmpty() || gate.openConnections() > 0)
            idle.restart();
        else if (idle.elapsed() > kIdleExitMs) {
            out() << "no live sandbox on host " << hostName << " for " << kIdleExitMs / 60000
                  << " minutes: the egress gate ends\n";
            QCoreApplication::quit();
        }
    });
    watch.start(500);
    const int code = QCoreApplication::exec();
    out() << "egress gate of host " << hostName << " stopped\n";
    return code == 0 ? Ok : Failed;
}

QString grantState(const model::EgressGrant& g)
{
    if (g.revokedAt.isValid())
        return QStringLiteral("revoked");
    if (g.scope == model::EgressScope::Once)
        return g.usedAt.isValid() ? QStringLiteral("used") : QStringLiteral("once, unused");
    if (g.scope == model::EgressScope::Until)
        return QStringLiteral("until %1").arg(g.expiresAt.toLocalTime().toString(Qt::ISODate));
    return QStringLiteral("for the sandbox's life");
}

int list(const Parsed& p, const Options& o)
{
    auto context = openStore(p, true);
    if (!context)
        return cannotRun(context.error());
    QList<model::Sandbox> sandboxes;
    if (o.values.contains(QStringLiteral("--sandbox"))) {
        auto s = store::liveSandboxByIdOrName(*context->db, o.value(QStringLiteral("--sandbox")));
        if (!s)
            return cannotRun(s.error());
        sandboxes << *s;
    } else {
        auto hosts = store::HostRepository(*context->db).list();
        if (!hosts)
            return cannotRun(hosts.error());
        for (const model::Host& h : *hosts) {
            auto live = store::liveSandboxes(*context->db, h.id);
            if (!live)
                return cannotRun(live.error());
            sandboxes << *live;
        }
    }
    for (const model::Sandbox& s : std::as_const(sandboxes)) {
        auto grants = store::egressGrants(*context->db, s.id);
        auto requests = store::egressApprovals(*context->db, s.id);
        if (!grants || !requests)
            return cannotRun(!grants ? grants.error() : requests.error());
        out() << s.name << " (" << s.id << ")\n";
        for (const model::EgressGrant& g : *grants)
            out() << "  " << g.destination << "  " << grantState(g) << "  by " << g.grantedBy << "\n";
        for (const model::Approval& a : *requests) {
            if (a.status == model::ApprovalStatus::Pending)
                out() << "  " << a.context.value(QLatin1String("destination")).toString()
                      << "  waiting: request " << a.id << " hash " << a.contentHash << "\n";
        }
        if (grants->isEmpty() && requests->isEmpty())
            out() << "  nothing: every destination asks a person first\n";
    }
    return Ok;
}

int allowOrRevoke(const Parsed& p, const Options& o, bool allow)
{
    const QString verb = allow ? QStringLiteral("allow") : QStringLiteral("revoke");
    if (o.positional.size() != 2)
        return usageError(QStringLiteral("egress %1 needs a sandbox and a HOST:PORT").arg(verb));
    auto dest = egress::parseDestination(o.positional.at(1));
    if (!dest)
        return usageError(dest.error().message);
    const bool once = o.has(QStringLiteral("--once"));
    const QString untilText = o.value(QStringLiteral("--until"));
    QDateTime until;
    if (!untilText.isEmpty()) {
        until = QDateTime::fromString(untilText, Qt::ISODate);
        if (!until.isValid() || until <= QDateTime::currentDateTimeUtc())
            return usageError(
                QStringLiteral("--until needs a time in the future (ISO 8601), not '%1'").arg(untilText));
    }
    if (once && until.isValid())
        return usageError(QStringLiteral("choose --once or --until, not both"));
    auto context = openStore(p, true);
    if (!context)
        return cannotRun(context.error());
    auto sandbox = store::liveSandboxByIdOrName(*context->db, o.positional.first());
    if (!sandbox)
        return cannotRun(sandbox.error());
    const model::Actor who = model::Actor::localPerson();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (!allow) {
        auto n = store::revokeEgressGrants(*context->db, sandbox->id, dest->text(), now);
        if (!n)
            return cannotRun(n.error());
        audit(*context->db, QStringLiteral("egress.revoke"),
              QStringLiteral("%1 may no longer reach %2").arg(sandbox->name, dest->text()),
              {{QStringLiteral("destination"), dest->text()}, {QStringLiteral("revoked"), *n}}, sandbox->id);
        out() << "revoked " << *n << " grant(s): " << sandbox->name << " -> " << dest->text() << "\n";
        return Ok;
    }
    model::EgressGrant g;
    g.id = model::newId();
    g.sandboxId = sandbox->id;
    g.destination = dest->text();
    g.scope = once              ? model::EgressScope::Once
              : until.isValid() ? model::EgressScope::Until
                                : model::EgressScope::Sandbox;
    g.expiresAt = until;
    g.grantedBy = who.toString();
    g.createdAt = now;
    // A request for it that waits in the inbox is answered too, so a connection held for it goes through; the
    // grant names it, so the gate does not turn that approval into a second grant after a revoke.
    if (auto requests = store::egressApprovals(*context->db, sandbox->id)) {
        for (const model::Approval& a : *requests) {
            if (a.status != model::ApprovalStatus::Pending ||
                a.context.value(QLatin1String("destination")).toString() != g.destination)
                continue;
            auto decided = context->services->approvals()->decide(
                *context->db, a.id, true, who, QStringLiteral("allowed with fluid egress allow"),
                a.contentHash);
            if (decided)
                g.approvalId = a.id;
            else
                err() << "warning: request " << a.id << " stays pending: " << decided.error().toString()
                      << "\n";
        }
    }
    if (auto r = store::EgressGrantRepository(*context->db).insert(g); !r)
        return cannotRun(r.error());
    audit(
        *context->db, QStringLiteral("egress.grant"),
        QStringLiteral("%1 may reach %2 (%3)").arg(sandbox->name, g.destination, grantState(g)),
        {{QStringLiteral("destination"), g.destination}, {QStringLiteral("scope"), model::enumName(g.scope)}},
        sandbox->id);
    out() << "allowed: " << sandbox->name << " -> " << g.destination << " (" << grantState(g) << ")\n";
    return Ok;
}

} // namespace

int runEgressCommand(const Parsed& p)
{
    const QString verb = p.words.value(1);
    const Options o =
        parseOptions(p.words.mid(2),
                     {QStringLiteral("--sandbox"), QStringLiteral("--until"), QStringLiteral("--host"),
                      QStringLiteral("--listen"), QStringLiteral("--port"), QStringLiteral("--network")},
                     {QStringLiteral("--once")});
    if (!o.error.isEmpty())
        return usageError(o.error);
    if (verb == QLatin1String("list"))
        return list(p, o);
    if (verb == QLatin1String("allow") || verb == QLatin1String("revoke"))
        return allowOrRevoke(p, o, verb == QLatin1String("allow"));
    if (verb == QLatin1String("serve"))
        return serve(p, o);
    return usageError(QStringLiteral("unknown egress command: %1").arg(verb));
}

} // namespace fluid::app

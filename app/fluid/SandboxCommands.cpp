// SPDX-License-Identifier: Apache-2.0
#include "SandboxCommands.h"

#include "approval/ApprovalBroker.h"
#include "inspect/DiffEngine.h"
#include "inspect/SnapshotInspector.h"
#include "secrets/SecretStore.h"
#include "services/GoldenImage.h"
#include "services/Runtime.h"
#include "services/SandboxDiff.h"
#include "ssh/CertificateAuthority.h"
#include "store/Repository.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonDocument>

#include <chrono>
#include <csignal>
#include <thread>

namespace fluid::app {
using namespace cli;

const char kSandboxUsage[] = R"(
  host test [--host NAME]  Connect to a configured libvirt host and report its version, CPUs,
                          memory, storage and the accelerator that really works. A remote
                          host's SSH key must be in ~/.ssh/known_hosts; if not, its fingerprint
                          is shown.
  host trust --fingerprint SHA256:... [--host NAME]
                          Add a remote host's SSH key to ~/.ssh/known_hosts once you have
                          confirmed its fingerprint with the host's administrator.
  sandbox sources [--host NAME]
                          List the VMs that sandboxes can be cloned from, and why others cannot.
  sandbox create [SOURCE] [--name NAME] [--memory MIB] [--vcpus N] [--host NAME] [--no-wait]
                          Clone SOURCE (default: the host's golden VM) into a sandbox and wait
                          until SSH answers. Ctrl-C cancels and removes everything made so far.
  sandbox list [--host NAME] [--all]
  sandbox start|stop|destroy NAME [--host NAME]
  sandbox snapshot NAME SNAPSHOT [--description TEXT]
  sandbox snapshots NAME
  sandbox revert NAME SNAPSHOT
  sandbox diff NAME FROM [TO] [--json]
                          What changed between two snapshots, read from the disk on the host: a
                          unified patch (or the full JSON document). Without TO, a fresh snapshot
                          of the sandbox as it is now.
  sandbox reconcile [--host NAME]
                          Remove Fluid domains and volumes nobody owns; fix rows whose domain is gone.
  image build [--flavour fwcfg|cloudinit] [--define] [--host NAME]
                          Build (or reuse) Fluid's offline Debian 12 golden image; --define also
                          defines it as a shut-off source VM on the host.
  image path [--flavour fwcfg|cloudinit]
                          Print where the built image is.
  approval list           Pending approval requests.
  approval approve|reject ID [--comment TEXT] [--hash SHA256] [--by NAME]
)";

namespace {

std::atomic<bool> g_cancel{false};

void onInterrupt(int)
{
    g_cancel = true;
}

/// Everything a sandbox command needs: settings, store, the host's connection and a manager over them.
struct Context {
    config::Settings settings;
    config::HostSettings host;
    std::unique_ptr<store::Database> db;
    model::Host hostRow;
    std::unique_ptr<virt::Hypervisor> hv;
    std::unique_ptr<virt::SandboxManager> manager;
};

/// The host's login key from the secret store when its login_key is keychain.
services::LoginKeyLoader loginKey(const config::Settings& settings, const config::HostSettings& host)
{
    return services::loginKeyLoader(settings, host, qEnvironmentVariable(services::kPassphraseEnv));
}

Result<Context> open(const Parsed& p, const QString& hostName)
{
    Context c;
    auto loaded = loadSettings(p);
    if (!loaded)
        return loaded.error();
    c.settings = loaded->settings;
    auto host = services::hostSettings(c.settings, hostName);
    if (!host)
        return host.error();
    c.host = *host;
    auto db = openStore(p);
    if (!db)
        return db.error();
    c.db = std::move(*db);
    auto row = services::ensureHostRow(*c.db, c.host);
    if (!row)
        return row.error();
    c.hostRow = *row;
    auto hv = services::connectHypervisor(c.host.uri, {}, loginKey(c.settings, c.host));
    if (!hv)
        return hv.error();
    c.hv = std::move(*hv);
    c.manager = std::make_unique<virt::SandboxManager>(*c.hv, *c.db, services::managerOptions(c.settings));
    return c;
}

Result<model::Sandbox> findSandbox(Context& c, const QString& name)
{
    auto rows = store::SandboxRepository(*c.db).list(
        QStringLiteral("host_id = ? AND name = ? AND state <> 'destroyed'"), {c.hostRow.id, name});
    if (!rows)
        return rows.error();
    if (rows->isEmpty())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("No sandbox named %1 on host %2").arg(name, c.host.name));
    return rows->first();
}

void printSandbox(const model::Sandbox& s)
{
    out() << s.name << "  " << model::sandboxStateName(s.state) << "  "
          << (s.ip.isEmpty() ? QStringLiteral("-") : s.ip) << "  " << s.memoryMib << " MiB  " << s.vcpus
          << " vCPU  " << s.accelerator << "  " << s.id << "\n";
}

/// The settings and the host that --host names (the first configured one by default).
Result<std::pair<config::Settings, config::HostSettings>> settingsAndHost(const Parsed& p, const Options& o)
{
    auto loaded = loadSettings(p);
    if (!loaded)
        return loaded.error();
    auto host = services::hostSettings(loaded->settings, o.value(QStringLiteral("--host")));
    if (!host)
        return host.error();
    return std::pair{loaded->settings, *host};
}

int diff(Context& c, const Options& o)
{
    if (o.positional.size() < 2 || o.positional.size() > 3)
        return usageError(QStringLiteral("sandbox diff needs NAME FROM [TO]"));
    auto sandbox = findSandbox(c, o.positional.at(0));
    if (!sandbox)
        return cannotRun(sandbox.error());
    inspect::SnapshotInspector inspector;
    (void)inspector.cleanupLeftovers();
    // Ctrl-C stops the walk; the mounts are released on the way out.
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    auto d = services::diffSandbox(
        *c.manager, *c.db, inspector, *sandbox, o.positional.at(1), o.positional.value(2),
        [](const QString& stage, double fraction) {
            err() << "  " << int(fraction * 100) << "% " << stage << "\n" << Qt::flush;
        },
        []() { return g_cancel.load(); }, services::hostShellConnector({}, loginKey(c.settings, c.host)));
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (!d)
        return cannotRun(d.error());
    if (o.has(QStringLiteral("--json"))) {
        QTextStream(stdout) << d->content;
    } else {
        const QByteArray patch = inspect::toUnifiedPatch(QJsonDocument::fromJson(d->content).object());
        QTextStream(stdout) << patch;
    }
    err() << QJsonDocument(d->summary).toJson(QJsonDocument::Compact) << "\n";
    return Ok;
}

int hostTrust(const Parsed& p, const Options& o)
{
    const QString fingerprint = o.value(QStringLiteral("--fingerprint"));
    if (fingerprint.isEmpty())
        return usageError(
            QStringLiteral("host trust needs --fingerprint SHA256:... (run `fluid host test` to "
                           "see the host's fingerprint, and confirm it with its administrator)"));
    auto found = settingsAndHost(p, o);
    if (!found)
        return cannotRun(found.error());
    const config::HostSettings* host = &found->second;
    auto trusted = services::trustHypervisorHost(host->uri, fingerprint);
    if (!trusted)
        return cannotRun(trusted.error());
    out() << "trusted " << host->name << " (" << *trusted << ")\n";
    return Ok;
}

int hostTest(const Parsed& p, const Options& o)
{
    auto found = settingsAndHost(p, o);
    if (!found)
        return cannotRun(found.error());
    const config::HostSettings* host = &found->second;
    auto hv = services::connectHypervisor(host->uri, {}, loginKey(found->first, *host));
    if (!hv)
        return cannotRun(hv.error());
    const virt::CreateOptions defaults = services::createDefaults(found->first, *host, QString());
    auto info = (*hv)->hostInfo(defaults.accelerator);
    if (!info)
        return cannotRun(info.error());
    out() << "host:        " << host->name << " (" << info->uri << ")\n"
          << "hostname:    " << info->hostname << "\n"
          << "libvirt:     " << info->libvirtVersion << ", hypervisor " << info->hypervisorVersion << "\n"
          << "CPUs:        " << info->cpus << "\n"
          << "memory:      " << info->memoryFreeKib / 1024 << " MiB free of " << info->memoryTotalKib / 1024
          << " MiB\n"
          << "storage:     "
          << (info->poolName.isEmpty()
                  ? QStringLiteral("no active pool")
                  : QStringLiteral("%1, %2 MiB free").arg(info->poolName).arg(info->poolFreeBytes >> 20))
          << "\n"
          << "accelerator: " << virt::acceleratorName(info->accelerator) << " (" << info->acceleratorReason
          << ")\n";
    return Ok;
}

int sources(Context& c)
{
    auto list = c.manager->sources();
    if (!list)
        return cannotRun(list.error());
    for (const auto& s : *list) {
        out() << s.domain.name << "  " << virt::domainStateName(s.state) << "  " << s.domain.memoryKib / 1024
              << " MiB  " << s.domain.vcpus << " vCPU  "
              << (s.domain.disks.isEmpty() ? QString() : s.domain.disks.first().sourcePath) << "\n";
        if (!s.refusal.isEmpty())
            out() << "    cannot clone: " << s.refusal << "\n";
        if (!s.warning.isEmpty())
            out() << "    warning: " << s.warning << "\n";
    }
    return Ok;
}

int create(Context& c, const Options& o)
{
    if (o.positional.size() > 1)
        return usageError(QStringLiteral("sandbox create takes one SOURCE"));
    virt::CreateOptions options = services::createDefaults(c.settings, c.host, c.hostRow.id);
    options.sourceDomain = o.positional.isEmpty() ? c.host.golden : o.positional.first();
    if (options.sourceDomain.isEmpty())
        return usageError(QStringLiteral("sandbox create needs a SOURCE: host %1 has no golden VM "
                                         "(set hosts[].golden, or run the set-up wizard)")
                              .arg(c.host.name));
    options.name = o.value(QStringLiteral("--name"));
    bool ok = true;
    if (o.values.contains(QStringLiteral("--memory")))
        options.memoryMib = o.value(QStringLiteral("--memory")).toInt(&ok);
    if (!ok || options.memoryMib < 16)
        return usageError(QStringLiteral("--memory needs a number of MiB"));
    if (o.values.contains(QStringLiteral("--vcpus")))
        options.vcpus = o.value(QStringLiteral("--vcpus")).toInt(&ok);
    if (!ok || options.vcpus < 1)
        return usageError(QStringLiteral("--vcpus needs a positive number"));
    options.waitReady = !o.has(QStringLiteral("--no-wait"));
    // Each sandbox's SSH identity comes from Fluid's CA, whose keys live in the secret store.
    auto secretStore = secrets::openSecretStore(
        services::secretStoreOptions(c.settings, qEnvironmentVariable(services::kPassphraseEnv)));
    if (!secretStore)
        return cannotRun(secretStore.error());
    auto ca = ssh::CertificateAuthority::loadOrCreate(**secretStore);
    if (!ca)
        return cannotRun(ca.error());
    virt::ManagerOptions managerOptions = services::managerOptions(c.settings);
    managerOptions.issueIdentity = services::identityIssuer(*ca);
    c.manager = std::make_unique<virt::SandboxManager>(*c.hv, *c.db, managerOptions);
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    auto made = c.manager->create(
        options,
        [](virt::CreateStage, const QString& message) { err() << "  " << message << "\n"
                                                              << Qt::flush; },
        &g_cancel);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (!made)
        return made.error().code == ErrorCode::Cancelled ? (err() << made.error().message << "\n", Failed)
                                                         : cannotRun(made.error());
    printSandbox(*made);
    return Ok;
}

int list(Context& c, const Options& o)
{
    const QString where = o.has(QStringLiteral("--all"))
                              ? QStringLiteral("host_id = ?")
                              : QStringLiteral("host_id = ? AND state <> 'destroyed'");
    auto rows = store::SandboxRepository(*c.db).list(where, {c.hostRow.id}, QStringLiteral("created_at"));
    if (!rows)
        return cannotRun(rows.error());
    for (const model::Sandbox& s : *rows)
        printSandbox(s);
    return Ok;
}

} // namespace

int runHostCommand(const Parsed& p)
{
    const QString verb = p.words.value(1);
    const Options o =
        parseOptions(p.words.mid(2), {QStringLiteral("--host"), QStringLiteral("--fingerprint")}, {});
    if (!o.error.isEmpty())
        return usageError(o.error);
    if (verb == QLatin1String("test"))
        return hostTest(p, o);
    if (verb == QLatin1String("trust"))
        return hostTrust(p, o);
    return usageError(QStringLiteral("unknown host command: %1").arg(verb));
}

int runSandboxCommand(const Parsed& p)
{
    const QString verb = p.words.value(1);
    const Options o =
        parseOptions(p.words.mid(2),
                     {QStringLiteral("--host"), QStringLiteral("--name"), QStringLiteral("--memory"),
                      QStringLiteral("--vcpus"), QStringLiteral("--description")},
                     {QStringLiteral("--no-wait"), QStringLiteral("--all"), QStringLiteral("--json")});
    if (!o.error.isEmpty())
        return usageError(o.error);
    static const QStringList verbs = {
        QStringLiteral("sources"),   QStringLiteral("create"),    QStringLiteral("list"),
        QStringLiteral("start"),     QStringLiteral("stop"),      QStringLiteral("destroy"),
        QStringLiteral("snapshot"),  QStringLiteral("snapshots"), QStringLiteral("revert"),
        QStringLiteral("reconcile"), QStringLiteral("diff")};
    if (!verbs.contains(verb))
        return usageError(QStringLiteral("unknown sandbox command: %1").arg(verb));
    auto context = open(p, o.value(QStringLiteral("--host")));
    if (!context)
        return cannotRun(context.error());
    Context& c = *context;
    if (verb == QLatin1String("sources"))
        return sources(c);
    if (verb == QLatin1String("create"))
        return create(c, o);
    if (verb == QLatin1String("list"))
        return list(c, o);
    if (verb == QLatin1String("reconcile")) {
        auto report = c.manager->reconcile(c.hostRow.id);
        if (!report)
            return cannotRun(report.error());
        for (const QString& d : report->removedDomains)
            out() << "removed domain " << d << "\n";
        for (const QString& v : report->removedVolumes)
            out() << "removed volume " << v << "\n";
        for (const QString& r : report->updatedRows)
            out() << "updated " << r << "\n";
        for (const QString& e : report->problems)
            err() << "problem: " << e << "\n";
        return report->problems.isEmpty() ? Ok : Failed;
    }

    if (verb == QLatin1String("diff"))
        return diff(c, o);
    const int wanted = verb == QLatin1String("snapshot") || verb == QLatin1String("revert") ? 2 : 1;
    if (o.positional.size() != wanted)
        return usageError(
            QStringLiteral("sandbox %1 needs %2")
                .arg(verb, wanted == 2 ? QStringLiteral("NAME SNAPSHOT") : QStringLiteral("NAME")));
    auto sandbox = findSandbox(c, o.positional.first());
    if (!sandbox)
        return cannotRun(sandbox.error());
    const QString id = sandbox->id;
    if (verb == QLatin1String("snapshots")) {
        auto snaps = c.manager->snapshots(id);
        if (!snaps)
            return cannotRun(snaps.error());
        for (const virt::SnapshotInfo& s : *snaps) {
            out() << s.name << "  " << s.createdAt.toString(Qt::ISODate) << "  "
                  << virt::domainStateName(s.state) << (s.current ? QStringLiteral("  (current)") : QString())
                  << "  " << s.description << "\n";
        }
        return Ok;
    }
    Result<void> done;
    if (verb == QLatin1String("snapshot")) {
        auto s = c.manager->snapshot(id, o.positional.at(1), QStringLiteral("manual"),
                                     o.value(QStringLiteral("--description")));
        done = s ? Result<void>() : Result<void>(s.error());
    } else if (verb == QLatin1String("revert")) {
        done = c.manager->revert(id, o.positional.at(1));
    } else {
        auto s = verb == QLatin1String("start")  ? c.manager->start(id)
                 : verb == QLatin1String("stop") ? c.manager->stop(id)
                                                 : c.manager->destroy(id);
        if (s)
            printSandbox(*s);
        done = s ? Result<void>() : Result<void>(s.error());
    }
    return done ? Ok : cannotRun(done.error());
}

int runImageCommand(const Parsed& p)
{
    const QString verb = p.words.value(1);
    const Options o = parseOptions(p.words.mid(2), {QStringLiteral("--flavour"), QStringLiteral("--host")},
                                   {QStringLiteral("--define")});
    if (!o.error.isEmpty())
        return usageError(o.error);
    if (verb != QLatin1String("build") && verb != QLatin1String("path"))
        return usageError(QStringLiteral("unknown image command: %1").arg(verb));
    // Exit codes as when the script's own was passed on: 1 when it refused or failed, 3 when it could not
    // run at all.
    const auto failed = [](const Error& error, const QString& text) {
        err() << "fluid: " << text << "\n" << Qt::flush;
        return error.code == ErrorCode::NotFound || error.code == ErrorCode::Unavailable ? CannotRun : Failed;
    };
    // The same builder the test bed uses: from FLUID_SCRIPTS_DIR, the source tree beside a build, or the
    // installed share folder.
    services::GoldenImageBuild build;
    build.flavour = o.value(QStringLiteral("--flavour"), QStringLiteral("fwcfg"));
    build.exeDir = QCoreApplication::applicationDirPath();
    if (verb == QLatin1String("path")) {
        auto where = services::locateGoldenImage(build.flavour, build.exeDir);
        if (!where)
            return failed(where.error(), where.error().toString());
        out() << where->imageDir << "\n" << Qt::flush;
        return where->complete ? Ok : Failed;
    }
    if (o.has(QStringLiteral("--define"))) {
        auto loaded = loadSettings(p);
        if (!loaded)
            return cannotRun(loaded.error());
        auto host = services::hostSettings(loaded->settings, o.value(QStringLiteral("--host")));
        if (!host)
            return cannotRun(host.error());
        build.defineUri = host->uri;
    }
    // Ctrl-C and SIGTERM cancel the build, which stops the script's whole process group; the exit code is
    // then the one a shell reports for a command the signal ended (130 for Ctrl-C).
    static std::atomic<int> s_signal{0};
    s_signal = 0;
    std::signal(SIGINT, [](int signal) { s_signal = signal; });
    std::signal(SIGTERM, [](int signal) { s_signal = signal; });
    const CancelToken cancel;
    std::jthread watch([&cancel](std::stop_token stop) {
        while (!stop.stop_requested() && s_signal == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (s_signal != 0)
            cancel.cancel();
    });
    auto built = services::buildGoldenImage(
        build, {},
        [](const QString& line, bool isError) { (isError ? err() : out()) << line << "\n"
                                                                          << Qt::flush; },
        cancel);
    watch.request_stop();
    watch.join();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    if (!built && built.error().code == ErrorCode::Cancelled)
        return 128 + s_signal;
    // The script's own lines above already say what went wrong: the summary, not its tail again.
    return built ? Ok : failed(built.error(), built.error().message);
}

int runApprovalCommand(const Parsed& p)
{
    const QString verb = p.words.value(1);
    const Options o = parseOptions(
        p.words.mid(2), {QStringLiteral("--comment"), QStringLiteral("--hash"), QStringLiteral("--by")}, {});
    if (!o.error.isEmpty())
        return usageError(o.error);
    auto db = openStore(p);
    if (!db)
        return cannotRun(db.error());
    approval::ApprovalBroker broker(**db);
    if (verb == QLatin1String("list")) {
        auto pending = broker.pending();
        if (!pending)
            return cannotRun(pending.error());
        for (const model::Approval& a : *pending) {
            out() << a.id << "  " << a.kind << "  expires " << a.expiresAt.toLocalTime().toString(Qt::ISODate)
                  << "\n    " << a.request << "\n    hash " << a.contentHash << "\n    "
                  << QString::fromUtf8(QJsonDocument(a.context).toJson(QJsonDocument::Compact)) << "\n";
        }
        return Ok;
    }
    if (verb != QLatin1String("approve") && verb != QLatin1String("reject"))
        return usageError(QStringLiteral("unknown approval command: %1").arg(verb));
    if (o.positional.size() != 1)
        return usageError(QStringLiteral("approval %1 needs the request's ID").arg(verb));
    const QString who =
        o.value(QStringLiteral("--by"), qEnvironmentVariable("USER", QStringLiteral("person")));
    auto decided = broker.decide(o.positional.first(), verb == QLatin1String("approve"), who,
                                 o.value(QStringLiteral("--comment")), o.value(QStringLiteral("--hash")));
    if (!decided)
        return cannotRun(decided.error());
    out() << model::approvalStatusName(decided->status) << ": " << decided->request << "\n";
    return Ok;
}

} // namespace fluid::app

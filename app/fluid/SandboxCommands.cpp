// SPDX-License-Identifier: Apache-2.0
#include "SandboxCommands.h"

#include "approval/ApprovalBroker.h"
#include "base/Worker.h"
#include "inspect/DiffEngine.h"
#include "services/GoldenImage.h"
#include "services/Wiring.h"

#include <QCoreApplication>
#include <QJsonDocument>

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
  approval list           Pending approval requests, each with its content hash.
  approval approve|reject ID --hash SHA256 [--comment TEXT]
                          Decide a request as the account running fluid. --hash is the hash
                          `approval list` showed with what you reviewed; a request that changed
                          since is refused.
)";

namespace {

/// Everything a sandbox command needs: the services, the store, and a session of its own for the host.
struct HostContext {
    Context base;
    std::unique_ptr<services::HostSession> session;
    services::HostSession* operator->() const { return session.get(); }
};

Result<HostContext> openHost(const Parsed& p, const QString& hostName)
{
    auto context = openStore(p);
    if (!context)
        return context.error();
    auto session = context->services->openHostSession(hostName);
    if (!session)
        return session.error();
    return HostContext{std::move(*context), std::move(*session)};
}

/// Waits for an operation, printing its progress to stderr with `print` and cancelling it on Ctrl-C.
template <typename T>
Result<T> follow(const HostContext& c, const services::Operation<T>& op,
                 const std::function<void(const Progress&)>& print)
{
    QObject receiver; // progress is printed on this thread
    QObject::connect(c->operations(), &services::OperationRegistry::changed, &receiver,
                     [&op, &print](const services::OperationInfo& info) {
                         if (info.id == op.id() && print)
                             print(info.progress);
                     });
    const InterruptCancels interrupt(op.cancelToken());
    return await(op.future());
}

void printLine(const Progress& progress)
{
    err() << "  " << progress.text() << "\n" << Qt::flush;
}

Result<model::Sandbox> findSandbox(const HostContext& c, const QString& name)
{
    return await(c->findSandbox(name));
}

void printSandbox(const model::Sandbox& s)
{
    out() << s.name << "  " << model::enumName(s.state) << "  "
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

int diff(const HostContext& c, const Options& o)
{
    if (o.positional.size() < 2 || o.positional.size() > 3)
        return usageError(QStringLiteral("sandbox diff needs NAME FROM [TO]"));
    auto sandbox = findSandbox(c, o.positional.at(0));
    if (!sandbox)
        return cannotRun(sandbox.error());
    // Ctrl-C stops the walk; the mounts are released on the way out.
    auto d = follow(
        c, c->diff(sandbox->id, o.positional.at(1), o.positional.value(2), model::Actor::localPerson()),
        [](const Progress& progress) {
            err() << "  " << int(qMax(0.0, progress.fraction) * 100) << "% " << progress.text() << "\n"
                  << Qt::flush;
        });
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
    const services::LoginKeyLoader loginKey =
        services::loginKeyLoader(found->first, *host, services::passphraseFromEnvironment());
    auto hv = services::connectHypervisor(host->uri, {}, loginKey);
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

int sources(const HostContext& c)
{
    auto list = await(c->sources());
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

int create(const HostContext& c, const Options& o)
{
    if (o.positional.size() > 1)
        return usageError(QStringLiteral("sandbox create takes one SOURCE"));
    services::CreateRequest request;
    request.source = o.positional.isEmpty() ? c->golden() : o.positional.first();
    if (request.source.isEmpty())
        return usageError(QStringLiteral("sandbox create needs a SOURCE: host %1 has no golden VM "
                                         "(set hosts[].golden, or run the set-up wizard)")
                              .arg(c->hostName()));
    request.name = o.value(QStringLiteral("--name"));
    bool ok = true;
    if (o.values.contains(QStringLiteral("--memory"))) {
        request.memoryMib = o.value(QStringLiteral("--memory")).toInt(&ok);
        if (!ok || request.memoryMib < 16)
            return usageError(QStringLiteral("--memory needs a number of MiB"));
    }
    if (o.values.contains(QStringLiteral("--vcpus"))) {
        request.vcpus = o.value(QStringLiteral("--vcpus")).toInt(&ok);
        if (!ok || request.vcpus < 1)
            return usageError(QStringLiteral("--vcpus needs a positive number"));
    }
    request.waitReady = !o.has(QStringLiteral("--no-wait"));
    auto made = follow(c, c->create(request, model::Actor::localPerson()), printLine);
    if (!made)
        return made.error().code == ErrorCode::Cancelled ? (err() << made.error().message << "\n", Failed)
                                                         : cannotRun(made.error());
    printSandbox(*made);
    return Ok;
}

int list(const HostContext& c, const Options& o)
{
    auto rows = await(c->sandboxes(o.has(QStringLiteral("--all"))));
    if (!rows)
        return cannotRun(rows.error());
    for (const model::Sandbox& s : *rows)
        printSandbox(s);
    return Ok;
}

int reconcile(const HostContext& c)
{
    auto report = follow(c, c->reconcile(model::Actor::localPerson()), {});
    if (!report)
        return cannotRun(report.error());
    for (const QString& d : report->removedDomains)
        out() << "removed domain " << d << "\n";
    for (const QString& v : report->removedVolumes)
        out() << "removed volume " << v << "\n";
    for (const QString& r : report->updatedRows)
        out() << "updated " << r << "\n";
    for (const QString& l : report->leftAlone)
        out() << "left alone " << l << "\n";
    for (const QString& e : report->problems)
        err() << "problem: " << e << "\n";
    return report->problems.isEmpty() ? Ok : Failed;
}

/// start, stop, destroy, snapshot, snapshots and revert of one sandbox by name.
int onSandbox(const HostContext& c, const QString& verb, const Options& o)
{
    const int wanted = verb == QLatin1String("snapshot") || verb == QLatin1String("revert") ? 2 : 1;
    if (o.positional.size() != wanted)
        return usageError(
            QStringLiteral("sandbox %1 needs %2")
                .arg(verb, wanted == 2 ? QStringLiteral("NAME SNAPSHOT") : QStringLiteral("NAME")));
    auto sandbox = findSandbox(c, o.positional.first());
    if (!sandbox)
        return cannotRun(sandbox.error());
    const QString id = sandbox->id;
    const model::Actor me = model::Actor::localPerson();
    if (verb == QLatin1String("snapshots")) {
        auto snaps = await(c->snapshots(id));
        if (!snaps)
            return cannotRun(snaps.error());
        for (const virt::SnapshotInfo& s : *snaps) {
            out() << s.name << "  " << s.createdAt.toString(Qt::ISODate) << "  "
                  << virt::domainStateName(s.state) << (s.current ? QStringLiteral("  (current)") : QString())
                  << "  " << s.description << "\n";
        }
        return Ok;
    }
    if (verb == QLatin1String("snapshot")) {
        auto s =
            follow(c, c->snapshot(id, o.positional.at(1), me, o.value(QStringLiteral("--description"))), {});
        return s ? Ok : cannotRun(s.error());
    }
    if (verb == QLatin1String("revert")) {
        auto r = follow(c, c->revert(id, o.positional.at(1), me), {});
        return r ? Ok : cannotRun(r.error());
    }
    auto s = follow(c,
                    verb == QLatin1String("start")  ? c->start(id, me)
                    : verb == QLatin1String("stop") ? c->stop(id, me)
                                                    : c->destroy(id, me),
                    printLine);
    if (!s)
        return cannotRun(s.error());
    printSandbox(*s);
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
    auto context = openHost(p, o.value(QStringLiteral("--host")));
    if (!context)
        return cannotRun(context.error());
    const HostContext& c = *context;
    if (verb == QLatin1String("sources"))
        return sources(c);
    if (verb == QLatin1String("create"))
        return create(c, o);
    if (verb == QLatin1String("list"))
        return list(c, o);
    if (verb == QLatin1String("reconcile"))
        return reconcile(c);
    if (verb == QLatin1String("diff"))
        return diff(c, o);
    return onSandbox(c, verb, o);
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
    const CancelToken cancel;
    const InterruptCancels interrupt(cancel);
    auto built = services::buildGoldenImage(
        build, {},
        [](const QString& line, bool isError) { (isError ? err() : out()) << line << "\n"
                                                                          << Qt::flush; },
        cancel);
    if (!built && built.error().code == ErrorCode::Cancelled)
        return 128 + interrupt.signal();
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
    const bool list = verb == QLatin1String("list");
    if (!list && verb != QLatin1String("approve") && verb != QLatin1String("reject"))
        return usageError(QStringLiteral("unknown approval command: %1").arg(verb));
    // The approver is who runs fluid, never a name typed in: nobody records a decision as someone else.
    const model::Actor who = model::Actor::localPerson();
    const QString hash = o.value(QStringLiteral("--hash"));
    if (!list) {
        if (o.positional.size() != 1)
            return usageError(QStringLiteral("approval %1 needs the request's ID").arg(verb));
        if (o.values.contains(QStringLiteral("--by"))) {
            return usageError(QStringLiteral("approval %1 takes no --by: the decision is recorded as the "
                                             "account running fluid (%2); run it as the person who decides")
                                  .arg(verb, who.toString()));
        }
        // A decision binds to the content the person reviewed, so the hash they saw is required.
        if (hash.isEmpty()) {
            return usageError(QStringLiteral("approval %1 needs --hash SHA256, the content hash of the "
                                             "request you reviewed (`fluid approval list` shows each "
                                             "request with its hash)")
                                  .arg(verb));
        }
    }
    auto context = openStore(p);
    if (!context)
        return cannotRun(context.error());
    approval::ApprovalBroker& broker = *context->services->approvals();
    if (list) {
        auto pending = broker.pending(*context->db);
        if (!pending)
            return cannotRun(pending.error());
        for (const model::Approval& a : *pending) {
            out() << a.id << "  " << a.kind << "  expires " << a.expiresAt.toLocalTime().toString(Qt::ISODate)
                  << "\n    " << a.request << "\n    hash " << a.contentHash << "\n    "
                  << QString::fromUtf8(QJsonDocument(a.context).toJson(QJsonDocument::Compact)) << "\n";
        }
        return Ok;
    }
    auto decided = broker.decide(*context->db, o.positional.first(), verb == QLatin1String("approve"), who,
                                 o.value(QStringLiteral("--comment")), hash);
    if (!decided)
        return cannotRun(decided.error());
    out() << model::enumName(decided->status) << ": " << decided->request << "\n";
    return Ok;
}

} // namespace fluid::app

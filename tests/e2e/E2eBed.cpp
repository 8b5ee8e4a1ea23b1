// SPDX-License-Identifier: Apache-2.0
#include "E2eBed.h"

#include "services/GateProcess.h"
#include "services/Wiring.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QDir>
#include <QFile>
#include <QHostAddress>
#include <QLockFile>
#include <QNetworkInterface>

#include <unistd.h>

namespace fluid::test {

QHash<QString, QString> readTestbedEnv()
{
    QHash<QString, QString> env;
    QFile f(qEnvironmentVariable("FLUID_TESTBED_ENV", QStringLiteral("/run/fluid-testbed/env")));
    if (!f.open(QIODevice::ReadOnly))
        return env;
    for (const QByteArray& line : f.readAll().split('\n')) {
        const int eq = line.indexOf('=');
        if (eq > 0 && !line.startsWith('#'))
            env.insert(QString::fromUtf8(line.left(eq)), QString::fromUtf8(line.mid(eq + 1)).trimmed());
    }
    return env;
}

QString testbedUnavailableReason(const QHash<QString, QString>& env)
{
    // as-person.sh runs a test as the test bed's unprivileged person, in the namespace root entered.
    if (::geteuid() != 0 && qEnvironmentVariable("FLUID_TEST_PERSON") != QLatin1String("1"))
        return QStringLiteral("e2e work needs root (libvirt, network namespace)");
    if (env.isEmpty())
        return QStringLiteral("the test bed is not up (no %1): run scripts/testbed up, or ctest -L e2e")
            .arg(qEnvironmentVariable("FLUID_TESTBED_ENV", QStringLiteral("/run/fluid-testbed/env")));
    // The stand-in outside's address exists only inside the test bed's namespace.
    const QHostAddress outside(env.value(QStringLiteral("FLUID_TESTBED_OUTSIDE_IP")));
    if (!QNetworkInterface::allAddresses().contains(outside))
        return QStringLiteral("%1 is not an address here: run inside namespace %2 (tests/e2e/in-testbed.sh)")
            .arg(outside.toString(), env.value(QStringLiteral("FLUID_TESTBED_NS")));
    return {};
}

void makeCa(Bed& bed)
{
    bed.userCaKey = must(ssh::KeyPair::generate(QStringLiteral("user-ca")));
    bed.hostCaKey = must(ssh::KeyPair::generate(QStringLiteral("host-ca")));
    bed.ca = std::make_shared<ssh::CertificateAuthority>(bed.userCaKey, bed.hostCaKey);
}

Result<void> Bed::open(const QString& dirPrefix)
{
    env = readTestbedEnv();
    dir = makeTempDir(dirPrefix);
    auto connected = virt::LibvirtHypervisor::connect(value("FLUID_TESTBED_LIBVIRT_URI"));
    if (!connected)
        return connected.error();
    hv = std::move(*connected);
    makeCa(*this);
    return {};
}

void EngineBed::start(const QString& dirPrefix)
{
    const QString why = testbedUnavailableReason(readTestbedEnv());
    if (!why.isEmpty())
        skipWholeTest(why);
    must(open(dirPrefix));
    db = must(store::openAndMigrate(dbOptions()));
    hostId = must(services::ensureHostRow(*db, host())).id;
    manager = std::make_unique<virt::SandboxManager>(*hv, *db, options());
    must(manager->reconcile(hostId));
}

Result<void> EngineBed::writeConfig(const QString& egressAllow, int holdSeconds,
                                    const QList<config::HostSettings>& more)
{
    QDir().mkpath(dir + QStringLiteral("/config"));
    QFile f(configFile());
    QByteArray yaml = "hosts:\n  - name: testbed\n    uri: " + hv->uri().toUtf8() + "\n    egress_allow: '" +
                      egressAllow.toUtf8() + "'\n";
    for (const config::HostSettings& h : more)
        yaml += "  - name: " + h.name.toUtf8() + "\n    uri: '" + h.uri.toUtf8() + "'\n";
    yaml += "egress:\n  hold_seconds: " + QByteArray::number(holdSeconds) + "\n";
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(yaml) != yaml.size())
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write %1").arg(configFile()));
    f.close();
    qputenv("FLUID_DATA_DIR", dir.toUtf8());
    qputenv("FLUID_CONFIG_DIR", (dir + QStringLiteral("/config")).toUtf8());
    return {};
}

Result<void> EngineBed::launchEgressGate(const QString& program, const QString& hostName, bool remote)
{
    const services::GateLaunch launch =
        services::gateLaunchFor(options().network, program, configFile(), hostName, remote);
    if (auto r = services::ensureEgressGate(launch); !r)
        return r;
    gateHosts << hostName;
    QLockFile lock(services::gateLockFile(hostName));
    if (lock.tryLock(0))
        return makeError(ErrorCode::Unavailable, QStringLiteral("The egress gate runs but holds no lock"));
    return {};
}

Result<void> EngineBed::startEgressGate(const QString& program, const QString& egressAllow, int holdSeconds)
{
    if (auto r = hv->ensureNetwork(options().network); !r)
        return r;
    if (auto r = writeConfig(egressAllow, holdSeconds); !r)
        return r;
    return launchEgressGate(program, QStringLiteral("testbed"), false);
}

void EngineBed::removeLeftovers()
{
    for (const QString& h : std::as_const(gateHosts)) // the gates this bed started, by their locks' pids
        if (auto r = services::stopEgressGate(h); !r)
            qWarning("%s", qPrintable(r.error().toString()));
    gateHosts.clear();
    if (!manager)
        return;
    if (auto rows = store::liveSandboxes(*db, hostId)) {
        for (const model::Sandbox& s : *rows)
            (void)manager->destroy(s.id, model::Actor::system());
    }
    (void)manager->reconcile(hostId);
}

virt::ManagerOptions Bed::options() const
{
    virt::ManagerOptions o;
    o.poolName = QStringLiteral("fluid-e2e");
    o.poolPath = QStringLiteral("/var/lib/libvirt/images/fluid-e2e");
    o.localFileDir = dir + QStringLiteral("/hostfiles");
    o.issueIdentity = services::identityIssuer(ca);
    o.stopTimeoutS = 60;
    return o;
}

config::HostSettings Bed::host() const
{
    config::HostSettings h;
    h.name = QStringLiteral("testbed");
    h.uri = hv->uri();
    return h;
}

store::DatabaseOptions Bed::dbOptions() const
{
    store::DatabaseOptions o;
    o.sqlitePath = dir + QStringLiteral("/fluid.sqlite");
    return o;
}

virt::CreateOptions createOptions(const QString& hostId, const QString& golden, const QString& name)
{
    virt::CreateOptions c;
    c.hostId = hostId;
    c.sourceDomain = golden;
    c.name = name;
    c.memoryMib = 512;
    c.vcpus = 1;
    c.readyTimeoutS = 600; // generous: TCG guests on a loaded 2-core machine
    return c;
}

std::unique_ptr<ssh::SandboxShell> shellFor(const std::shared_ptr<ssh::CertificateAuthority>& ca,
                                            const model::Sandbox& s)
{
    ssh::SandboxEndpoint endpoint;
    endpoint.sandboxId = s.id;
    endpoint.sandboxName = s.name;
    endpoint.principal = model::principalOf(s);
    endpoint.host = s.ip;
    endpoint.hostKey = must(ssh::PublicKey::fromOpenSshLine(s.hostPublicKey));
    return std::make_unique<ssh::SandboxShell>(ca, endpoint);
}

ssh::ExecResult execIn(ssh::RemoteShell& shell, const QByteArray& command, int seconds)
{
    ssh::ExecRequest r;
    r.command = command;
    r.timeout = std::chrono::seconds(seconds);
    auto future = shell.exec(r);
    future.waitForFinished();
    return must(future.result());
}

} // namespace fluid::test

// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the e2e tests and the create benchmark share: the test bed's env file, a hypervisor connection,
// a throw-away SSH CA, a store in a temp folder, and SandboxManager set up the way the app sets it up.
#include "config/Settings.h"
#include "ssh/CertificateAuthority.h"
#include "ssh/SandboxShell.h"
#include "store/Database.h"
#include "virt/LibvirtHypervisor.h"
#include "virt/SandboxManager.h"

#include <QHash>

#include <memory>

namespace fluid::test {

/// KEY=VALUE lines of the test bed's env file ($FLUID_TESTBED_ENV, default /run/fluid-testbed/env);
/// empty when the test bed is not up.
QHash<QString, QString> readTestbedEnv();

/// Why e2e work cannot run here (not root, not inside the test bed's namespace, no env file), or empty.
QString testbedUnavailableReason(const QHash<QString, QString>& env);

struct Bed {
    QHash<QString, QString> env;
    QString dir;
    std::unique_ptr<virt::LibvirtHypervisor> hv;
    ssh::KeyPair userCaKey;
    ssh::KeyPair hostCaKey;
    std::shared_ptr<ssh::CertificateAuthority> ca;

    /// Reads the env, makes `dir`, connects and makes a CA. Fails the caller's test with the reason.
    Result<void> open(const QString& dirPrefix);
    QString value(const char* key) const { return env.value(QString::fromLatin1(key)); }
    virt::ManagerOptions options() const;
    store::DatabaseOptions dbOptions() const;
    /// The test bed's libvirt as a configured host named "testbed".
    config::HostSettings host() const;
};

/// A Bed with the store and the manager an e2e test drives, set up the way the app starts: the host row,
/// and whatever an earlier, crashed run left reconciled away first.
struct EngineBed : Bed {
    std::unique_ptr<store::Database> db;
    std::unique_ptr<virt::SandboxManager> manager;
    QString hostId;

    /// Skips the whole test (exit 77) when the test bed cannot be used here; fails it when setup fails.
    void start(const QString& dirPrefix);
    /// Destroys every sandbox still alive and reconciles: for cleanupTestCase after a failed check (and stops
    /// the egress gates started below).
    void removeLeftovers();

    /// Starts the test bed host's egress gate the way the app does (services::ensureEgressGate, the fluid
    /// executable `program` as its own process) over this bed's store, after making sure Fluid's sandbox
    /// network exists (the gate listens on its gateway). `egressAllow` is the host's allow list,
    /// `holdSeconds` how long a connection waits for a decision. Writes the config the gate and `fluid`
    /// commands read (writeConfig()) and points FLUID_DATA_DIR / FLUID_CONFIG_DIR at this bed.
    Result<void> startEgressGate(const QString& program, const QString& egressAllow, int holdSeconds);
    /// configFile(): the test bed host (with `egressAllow`), `more` hosts, and the egress hold.
    Result<void> writeConfig(const QString& egressAllow, int holdSeconds,
                             const QList<config::HostSettings>& more = {});
    /// Starts the gate of host `hostName` of configFile() (a relay on the host when `remote`); stopped by
    /// removeLeftovers().
    Result<void> launchEgressGate(const QString& program, const QString& hostName, bool remote);
    QString configFile() const { return dir + QStringLiteral("/config/config.yaml"); }
    QStringList gateHosts; ///< the hosts whose gates this bed started
};

/// A fresh CA; its keys are kept so tests can make a second CA object with the same keys on another clock.
void makeCa(Bed& bed);

virt::CreateOptions createOptions(const QString& hostId, const QString& golden, const QString& name);

/// A SandboxShell for `s` (pinned host key, certificates from `ca`).
std::unique_ptr<ssh::SandboxShell> shellFor(const std::shared_ptr<ssh::CertificateAuthority>& ca,
                                            const model::Sandbox& s);

/// Runs `command` through `shell` (timeout `seconds`), failing the test when it cannot run at all.
ssh::ExecResult execIn(ssh::RemoteShell& shell, const QByteArray& command, int seconds = 120);

} // namespace fluid::test

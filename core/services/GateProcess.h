// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "virt/Hypervisor.h"

#include <QHostAddress>
#include <QString>

namespace fluid::services {

/// How to start the egress gate (core/egress) of one host as a process of its own: `fluid egress serve`.
struct GateLaunch {
    QString program;    ///< the fluid executable
    QString configPath; ///< passed as --config; empty: the default config.yaml
    QString hostName;   ///< the host in config.yaml whose sandboxes it serves
    QHostAddress address;
    quint16 port = 3128;
    QString subnet; ///< the sandbox network, CIDR
    /// The host is reached over SSH: address:port is on that host, served by a relay the gate starts there
    /// (services::RemoteRelay); the gate is ready once it says so in readyFile(), not when the address
    /// answers here.
    bool remote = false;
    int startTimeoutMs = 20000;
};

/// The launch of host `hostName`'s gate on its sandbox network: listening on the network's gateway at its
/// gate port, serving its subnet.
GateLaunch gateLaunchFor(const virt::NetworkSpec& network, const QString& program, const QString& configPath,
                         const QString& hostName, bool remote = false);

/// The lock file a host's gate holds while it runs (in Fluid's data folder): one gate per host and store.
QString gateLockFile(const QString& hostName);
/// The file a host's gate writes its pid to once it serves (beside the lock), and removes when it ends.
QString gateReadyFile(const QString& hostName);

/// Makes sure the host's egress gate runs: when no process holds its lock, starts `fluid egress serve`
/// detached (it outlives the front end that started it, so sandboxes keep their way out whichever front end
/// runs, and it ends by itself once its host has had no live sandbox for a while) and waits until it
/// listens. Its output goes to egress-<host>.log beside the lock. Blocks up to startTimeoutMs: call it from
/// a worker. Unavailable, with the gate's last log lines, when it does not come up.
Result<void> ensureEgressGate(const GateLaunch& launch);

/// Ends the host's egress gate, if one runs (the process holding its lock): SIGTERM, then waits up to
/// `timeoutMs` for it to end (its relay on a remote host ends with it). Unavailable when it does not end.
Result<void> stopEgressGate(const QString& hostName, int timeoutMs = 10000);

} // namespace fluid::services

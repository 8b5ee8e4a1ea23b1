// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "ssh/Exec.h"

#include <QFuture>
#include <QHostAddress>

#include <functional>
#include <memory>

namespace fluid::ssh {
class SshConnection;
} // namespace fluid::ssh

namespace fluid::services {

/// The half of a remote host's egress gate that runs on that host, for as long as this object lives. A
/// relay listens on the host's side of the sandbox network (where the sandboxes' filter lets them connect).
/// It passes each connection back to this machine through a remote forward on the host's loopback. Each
/// connection is led by a line holding a per-run secret and the sandbox's address, for
/// egress::EgressGate::acceptRelayed().
///
/// Nothing is installed on the host: the relay is a python3 program sent over the SSH connection each
/// time. It runs as the connection's user, ends when this object is destroyed (its process group is
/// killed), and ends by itself once the forward is gone (Fluid's connection dropped). The host needs
/// python3 and sshd's remote forwarding (AllowTcpForwarding yes or remote, the default).
///
/// Thread: create and destroy on one thread; `accept` runs on the connection's thread.
class RemoteRelay {
public:
    /// Opens the forward and starts the relay on `host`, listening on listen:port. `accept` gets each
    /// relayed connection as one end of a local socket pair (the callee owns it). Fails when the forward is
    /// refused or the relay ends at once (no python3, the address cannot be bound), saying why.
    static Result<std::unique_ptr<RemoteRelay>> start(std::shared_ptr<ssh::SshConnection> host,
                                                      const QHostAddress& listen, quint16 port,
                                                      std::function<void(int fd)> accept);
    ~RemoteRelay();
    RemoteRelay(const RemoteRelay&) = delete;
    RemoteRelay& operator=(const RemoteRelay&) = delete;

    /// The secret every relayed connection starts with (egress::GateOptions::relayToken).
    QByteArray token() const { return m_token; }
    /// False once the relay's command has ended (the host connection dropped, or it was killed).
    bool running() const;

    /// The shell command that runs the relay (for tests and docs): python3 reading its program from a
    /// here-document, run with ExecRequest::hideFromProcessList, so the secret never shows in a process
    /// list; it is also registered with the redactor, so the audit record of the command does not hold it.
    static QByteArray command(const QHostAddress& listen, quint16 port, quint16 forwardPort,
                              const QByteArray& token);

private:
    RemoteRelay() = default;

    std::shared_ptr<ssh::SshConnection> m_host;
    QByteArray m_token;
    QFuture<Result<ssh::ExecResult>> m_relay;
};

} // namespace fluid::services

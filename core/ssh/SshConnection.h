// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "Certificate.h"
#include "CommandAudit.h"
#include "HostTrust.h"
#include "RemoteShell.h"

#include <QFuture>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace fluid::ssh {

class SshConnection;
namespace detail {
class ConnectionImpl;
}

/// The key a connection authenticates with, and the certificate that goes with it (sandboxes).
struct Identity {
    KeyPair key;
    std::optional<Certificate> certificate;
};

struct ConnectionOptions {
    /// Address or name; with useSshConfig, also a Host alias of the ssh config file.
    QString host;
    /// 0: from the ssh config when used, else 22.
    int port = 0;
    /// Empty: from the ssh config when used, else the local user name.
    QString user;
    HostKeyCheck hostKeyCheck;
    /// Empty: libssh's automatic public key authentication (ssh-agent, IdentityFile from the config, the
    /// default key files), for hypervisor hosts.
    std::optional<Identity> identity;
    /// Without an identity: a private key text (any type libssh reads, unencrypted) to log in with instead
    /// of the automatic keys, for hypervisor hosts whose login key Fluid keeps in its secret store.
    QByteArray loginKey;
    /// Honour an ssh config file (Host, HostName, Port, User, IdentityFile, UserKnownHostsFile, ...). For
    /// hypervisor hosts; sandboxes never read it, so a person's config cannot redirect them.
    bool useSshConfig = false;
    QString sshConfigFile; ///< empty: ~/.ssh/config
    /// ProxyJump: reach host:port through a direct-tcpip channel of this (hypervisor host) connection.
    std::shared_ptr<SshConnection> jump;
    std::chrono::milliseconds connectTimeout{15000};
    /// Concurrent channels on this connection; OpenSSH's sshd allows MaxSessions (default 10). Work beyond
    /// it waits in order.
    int maxChannels = 10;
    /// After a timed-out command's process group was sent SIGKILL, how long to wait for its channel to close.
    std::chrono::milliseconds killGrace{5000};
    /// Keepalive: when the server has sent nothing for this long, ask it for an answer (an OpenSSH
    /// keepalive@openssh.com request). After keepaliveMisses unanswered requests, one interval apart, the
    /// connection counts as lost, so a peer that silently stopped (no FIN or RST) is noticed within
    /// interval × (misses + 1). 0: never.
    std::chrono::milliseconds keepaliveInterval{10000};
    int keepaliveMisses = 2;
    AuditContext audit;
    AuditSink auditSink;
    /// When set, a command starts only once its command.start record was stored through it; otherwise it
    /// fails without running ("its audit record could not be stored").
    AuditGate auditGate;
    /// Where commands' and terminals' start and finish times come from (ExecResult, audit records).
    /// Timeouts and durations are measured on a monotonic clock, not this one. Must outlive the connection.
    std::reference_wrapper<const Clock> clock = Clock::system();
    /// Stop once the host key has been checked (no authentication); see SshConnection::checkHostKey().
    bool hostKeyOnly = false;
};

/// A connection the server accepted on a remote forward (SshConnection::listenForward()).
struct ForwardedConnection {
    int fd = -1; ///< one end of a local socket pair bridged to the forwarded channel; owned by the callee
    QString originAddress; ///< the connecting peer, as the server reported it
    int originPort = 0;
};
using ForwardAccept = std::function<void(ForwardedConnection)>;

/// One authenticated SSH connection (libssh 0.10) and the thread that owns it. libssh sessions are not
/// thread-safe, so the session and all its channels live on this connection's own thread, which drives them
/// with non-blocking polling; callers on any thread post work through a thread-safe queue and get QFutures
/// back. Many commands run at once as channels of the one connection: a command costs a channel, not a
/// handshake. SFTP operations run one at a time on the same thread (bounded by their size caps).
///
/// Commands: the command text travels on the channel's stdin to a fixed wrapper (execWrapper()), so it
/// arrives byte for byte; the wrapper reports its process group, and on timeout or cancel a second channel
/// sends SIGKILL to that whole group, so the remote processes really end.
///
/// A server that stops answering keepalives (see ConnectionOptions::keepaliveInterval), or whose socket
/// breaks, loses the connection: unfinished and later work fails with ErrorCode::ConnectionLost.
///
/// Thread: create and use from any thread; the object is thread-safe. Destroying it closes the connection
/// and fails unfinished work with ErrorCode::Cancelled (do not destroy it from one of its own callbacks).
class SshConnection final : public RemoteShell {
public:
    enum class State { Connecting, Ready, Failed, Closed };

    /// Starts connecting on the connection's thread and returns at once; work posted before the connection
    /// is ready waits for it (and fails with the connection's error if it cannot be made).
    static std::shared_ptr<SshConnection> open(ConnectionOptions options);
    ~SshConnection() override;
    SshConnection(const SshConnection&) = delete;
    SshConnection& operator=(const SshConnection&) = delete;

    /// Resolves when the connection is authenticated, or with the reason it could not be.
    QFuture<Result<void>> ready() const;
    State state() const;
    /// "root@127.0.0.1:2222", for messages.
    QString describe() const;
    /// The server's host key (valid once ready).
    PublicKey serverHostKey() const;
    /// Operations posted and not yet finished.
    int inFlight() const;

    QFuture<Result<ExecResult>> exec(ExecRequest request) override;
    QFuture<Result<QByteArray>> readFile(const QString& path, qint64 maxBytes = kDefaultReadCap) override;
    QFuture<Result<void>> writeFile(const QString& path, const QByteArray& content,
                                    const WriteOptions& options = {}) override;
    QFuture<Result<EditResult>> editFile(const QString& path, const QByteArray& oldText,
                                         const QByteArray& newText) override;
    std::unique_ptr<PtySession> openPty(const PtyOptions& options = {}) override;

    /// Opens a direct-tcpip channel to host:port as seen from this connection's server, and returns one end
    /// of a local socket pair bridged to it (the caller owns and closes the descriptor). This is how
    /// ProxyJump works: the sandbox's connection runs its SSH session over that descriptor.
    QFuture<Result<int>> openTunnel(const QString& host, int port);

    /// Remote forwarding (`ssh -R`): asks the server to listen on address:port on its side (port 0: any free
    /// one; sshd binds loopback only unless its GatewayPorts allows more) and hands each connection it
    /// accepts there to `accept`, on this connection's thread, as one end of a local socket pair bridged to
    /// it (the callee owns the descriptor) with the peer's address as the server reported it. Resolves
    /// with the port the server listens on; Refused when it will not. Lasts as long as the connection.
    QFuture<Result<int>> listenForward(const QString& address, int port, ForwardAccept accept);

    /// Takes no new work; closes once the work in flight has finished. Used when a renewed connection takes
    /// over, so running commands are not cut.
    void retire();

    /// Closes now, as destroying it would, for connections others still hold: unfinished work fails with
    /// ErrorCode::Cancelled (an open terminal emits its pty.close audit record) and new work fails. Returns
    /// once the connection's thread has ended, so every audit record it had to emit has been handed to the
    /// sink.
    void close();

    /// Connects without authenticating and returns the server's Ed25519 host key, for a person to confirm
    /// its fingerprint before it goes into known_hosts. Blocks (call it off the GUI thread).
    static Result<PublicKey> fetchHostKey(const QString& host, int port, std::chrono::milliseconds timeout);

    /// Connects, checks the server's host key as `options.hostKeyCheck` says (ssh config honoured when
    /// asked), and disconnects without authenticating. Returns the key, or the check's error (an unknown
    /// key: NotFound naming its fingerprint; a changed key: Tampered). For tools that reach a host over
    /// their own SSH transport (libvirt's qemu+ssh://), so Fluid's strict check runs first. Blocks.
    static Result<PublicKey> checkHostKey(ConnectionOptions options);

private:
    explicit SshConnection(ConnectionOptions options);
    std::shared_ptr<detail::ConnectionImpl> d;
};

} // namespace fluid::ssh

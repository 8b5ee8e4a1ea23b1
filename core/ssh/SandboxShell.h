// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "CertificateAuthority.h"
#include "SshConnection.h"

#include <QMutex>

#include <list>

namespace fluid::ssh {

/// Where a sandbox's sshd is and which host key Fluid injected into it.
struct SandboxEndpoint {
    QString sandboxId;   ///< model::Sandbox::id, for the audit log and the commands table
    QString sandboxName; ///< for messages and the certificate's key id
    QString principal;   ///< the certificate principal (model::principalOf); empty: the sandbox name
    QString host;        ///< address as seen from here, or from the jump host when `jump` is set
    int port = 22;
    QString user = QStringLiteral("root");
    PublicKey hostKey; ///< pinned: the server must present exactly this key
    /// ProxyJump: an established connection to the hypervisor host the sandbox is reachable from.
    std::shared_ptr<SshConnection> jump;
};

struct SandboxShellOptions {
    QString sessionId;
    model::Actor actor = model::Actor::system();
    std::chrono::seconds certificateValidity = CertificateAuthority::kDefaultUserValidity;
    QStringList sourceAddresses; ///< optional source-address critical option
    AuditSink auditSink;
    AuditGate auditGate; ///< see ConnectionOptions::auditGate
    int maxChannels = 10;
    std::chrono::milliseconds connectTimeout{15000};
    std::chrono::milliseconds killGrace{5000};
    /// See ConnectionOptions::keepaliveInterval.
    std::chrono::milliseconds keepaliveInterval{10000};
    int keepaliveMisses = 2;
};

/// The RemoteShell of one sandbox. Each connection authenticates with a fresh Ed25519 key and a short-lived
/// user certificate from Fluid's CA (principal = the sandbox name), and pins the injected host key. One
/// connection serves all work; when two thirds of its certificate's validity have passed (by the injected
/// Clock), a new key and certificate are issued and a new connection is authenticated in the background; new
/// work moves to it once it is ready, and the old connection finishes its running commands before it closes,
/// so nothing in flight is cut. A connection whose certificate has expired takes no new work. A lost
/// connection is replaced on the next call.
///
/// Time: the CA's Clock (CertificateAuthority's constructor) is this shell's clock, for issuing, for renewal
/// and for its commands' and terminals' start and finish times, so certificates and renewals never disagree.
///
/// Thread: any; thread-safe. Work runs on the connections' own threads.
class SandboxShell final : public RemoteShell {
public:
    SandboxShell(std::shared_ptr<const CertificateAuthority> ca, SandboxEndpoint endpoint,
                 SandboxShellOptions options = {});
    ~SandboxShell() override;
    SandboxShell(const SandboxShell&) = delete;
    SandboxShell& operator=(const SandboxShell&) = delete;

    /// Connects now instead of on first use; resolves when the connection is ready.
    QFuture<Result<void>> connect();

    QFuture<Result<ExecResult>> exec(ExecRequest request) override;
    QFuture<Result<QByteArray>> readFile(const QString& path, qint64 maxBytes = kDefaultReadCap) override;
    QFuture<Result<void>> writeFile(const QString& path, const QByteArray& content,
                                    const WriteOptions& options = {}) override;
    QFuture<Result<EditResult>> editFile(const QString& path, const QByteArray& oldText,
                                         const QByteArray& newText) override;
    std::unique_ptr<PtySession> openPty(const PtyOptions& options = {}) override;

    /// Closes every connection of this shell now and waits for their threads to end: running commands fail
    /// with ErrorCode::Cancelled, open terminals end and have emitted their pty.close audit records when this
    /// returns, and later work fails saying the shell was closed. Blocks only for the threads to wind down.
    void close();

    /// How many connections (handshakes) this shell has started; renewals add one each.
    int connectionsStarted() const;
    /// The certificate of the connection new work goes to (empty before the first connection).
    std::optional<Certificate> currentCertificate() const;

private:
    struct Slot {
        std::shared_ptr<SshConnection> connection;
        Certificate certificate;
        QDateTime renewAt;
        QDateTime expiresAt;
    };

    /// The connection new work goes to, renewing or replacing connections as their certificates age.
    Result<std::shared_ptr<SshConnection>> connectionForWork();
    Result<Slot> startConnection();
    void retire(Slot slot);

    std::shared_ptr<const CertificateAuthority> m_ca;
    SandboxEndpoint m_endpoint;
    SandboxShellOptions m_options;

    mutable QMutex m_mutex;
    std::optional<Slot> m_current;
    std::optional<Slot> m_next;
    std::list<std::shared_ptr<SshConnection>> m_retired;
    int m_started = 0;
    bool m_closed = false;
};

} // namespace fluid::ssh

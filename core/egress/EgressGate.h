// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "base/Result.h"
#include "egress/Destination.h"

#include <QHash>
#include <QObject>

#include <functional>

class QTcpServer;

namespace fluid::store {
class Database;
}
namespace fluid::approval {
class ApprovalBroker;
}

namespace fluid::egress {

struct GateOptions {
    QString hostId; ///< whose sandboxes this gate serves (store row)
    QHostAddress listenAddress;
    quint16 port = 3128; ///< 0: any free port (tests)
    std::pair<QHostAddress, int> sandboxSubnet;
    int holdMs = 30000; ///< how long a connection waits for a person's approval
    QString allow;      ///< destination patterns reached without asking (config: hosts[].egress_allow)
    QString deny;       ///< destination patterns never reached (config: egress.deny); always wins
    int maxConnectionsPerSandbox = 32;
    int maxHeldPerSandbox = 8;
    int idleTimeoutMs = 300000;
    int headTimeoutMs = 10000;
    int connectTimeoutMs = 15000;
    qint64 approvalTtlMs = 24LL * 3600 * 1000; ///< how long a request stays in the inbox
    bool allowLoopbackDestinations = false;    ///< tests only: their "outside" servers are on loopback
    /// The secret a relay on a remote host puts in front of each connection it passes on (acceptRelayed());
    /// empty: relayed connections are refused.
    QByteArray relayToken;
};

/// Fluid's egress gate: the only way out of a sandbox (docs/security.md). An HTTP proxy on the host side
/// of the sandbox network that serves `CONNECT host:port` and absolute-URI requests (`GET http://...`).
///
/// For each connection: the sandbox is the live sandbox of this host with the client's address (anyone
/// else gets 403); the destination is checked against the deny list (403, always), then the sandbox's
/// grants, the host's allow list and approved egress requests; failing those, an approval request
/// ("sandbox web-1 wants to reach deb.debian.org:443") is filed (or the pending one for that destination
/// joined) and the connection held for holdMs: approved in time, it goes through (and the approval becomes
/// a grant for the sandbox's life); otherwise 403 with a body that says why and that a retry after
/// approval will work. Names are resolved here; an address the gate never connects to (refusedAddress) is
/// skipped, and a destination with no other address is refused. Every decision and every connection
/// (bytes each way, duration) is audited.
///
/// Lives on one thread with an event loop; store calls are short and run on that thread.
class EgressGate : public QObject {
    Q_OBJECT
public:
    EgressGate(store::Database& db, approval::ApprovalBroker& broker, GateOptions options,
               const Clock& clock = Clock::system(), QObject* parent = nullptr);
    ~EgressGate() override;

    /// Starts listening; Unavailable (with the reason) when the address cannot be bound.
    Result<void> listen();
    quint16 port() const;
    /// Takes a connection a relay on a remote host passed on (one end of a local socket pair; the gate owns
    /// it from now on). It is served like a TCP client once its first line, "FLUID-RELAY <relayToken>
    /// <sandbox IPv4 address>\n", arrives within the head timeout; anything else closes it. Call on the
    /// gate's thread.
    void acceptRelayed(int fd);
    /// acceptRelayed() for callers on other threads (a relay's connection thread): the descriptor is
    /// queued to the application's main thread, where the gate must live; closed if the gate is gone.
    std::function<void(int fd)> relayedAcceptor();
    /// Sets the relay's secret once it is known (the relay is started after the gate exists).
    void setRelayToken(const QByteArray& token) { m_options.relayToken = token; }
    /// Client connections open now (held, connecting or tunnelling).
    int openConnections() const { return int(m_sessions.size()); }

Q_SIGNALS:
    /// A client connection ended (after its audit record was written).
    void connectionEnded();

private:
    class Session;
    friend class Session;

    enum class Verdict { Allowed, Denied, Ask };
    struct Decision {
        Verdict verdict = Verdict::Denied;
        QString reason;     ///< for the audit record and a 403 body
        QString grantId;    ///< Allowed by a grant
        QString approvalId; ///< Ask: the pending request to wait on (empty: file one)
    };
    Decision decide(const QString& sandboxId, const Destination& d);
    /// Files (or finds) the pending request for `d` and returns it.
    Result<QString> requestApproval(const QString& sandboxId, const QString& sandboxName,
                                    const Destination& d);
    /// After a hold: what became of request `approvalId` (approved: a grant is made).
    Decision afterHold(const QString& sandboxId, const Destination& d, const QString& approvalId);
    void audit(const QString& kind, const QString& summary, const QJsonObject& data,
               const QString& sandboxId);
    void onNewConnection();

    store::Database& m_db;
    approval::ApprovalBroker& m_broker;
    GateOptions m_options;
    const Clock& m_clock;
    QTcpServer* m_server = nullptr;
    QHash<Session*, QString> m_sessions; ///< open session -> its sandbox (empty until known)
    QHash<QString, int> m_held;          ///< sandbox -> connections waiting for approval
};

} // namespace fluid::egress

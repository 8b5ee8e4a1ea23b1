// SPDX-License-Identifier: Apache-2.0
#include "EgressGate.h"

#include "approval/ApprovalBroker.h"
#include "base/Logging.h"
#include "model/Actor.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHostInfo>
#include <QJsonObject>
#include <QLocalSocket>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrl>

#include <openssl/crypto.h>

#include <unistd.h>

namespace fluid::egress {
namespace {

constexpr int kMaxHead = 16 * 1024;
constexpr qint64 kPumpBuffer = 256 * 1024; ///< bytes waiting to be written before reading pauses

QByteArray reasonPhrase(int code)
{
    switch (code) {
    case 200:
        return "Connection established";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 408:
        return "Request Timeout";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Error";
    }
}

/// Headers that belong to this hop (RFC 9110 7.6.1) or to the proxy, never forwarded.
bool hopByHop(const QByteArray& name)
{
    static const QList<QByteArray> names = {
        "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
        "te",         "trailer",          "upgrade"};
    return names.contains(name.trimmed().toLower());
}

} // namespace

/// One client connection: reads the request head, asks the gate, holds, resolves, connects, then pumps
/// bytes both ways until either side closes or it idles out. Deletes itself when done.
class EgressGate::Session : public QObject {
public:
    /// `client` is a TCP connection from the sandbox network, or a relayed one from a remote host (a local
    /// socket); `peer` is the sandbox's address (the TCP peer, or what the relay vouched for).
    Session(EgressGate* gate, QIODevice* client, const QHostAddress& peer)
        : QObject(gate)
        , m_gate(gate)
        , m_client(client)
        , m_peer(peer)
    {
        m_started.start();
        gate->m_sessions.insert(this, QString());
        client->setParent(this);
        connect(client, &QIODevice::readyRead, this, &Session::onClientData);
        connect(client, &QIODevice::bytesWritten, this, &Session::pump);
        if (auto* tcp = qobject_cast<QAbstractSocket*>(client)) {
            tcp->setReadBufferSize(kPumpBuffer);
            connect(tcp, &QAbstractSocket::disconnected, this, [this] { finish(); });
        } else if (auto* local = qobject_cast<QLocalSocket*>(client)) {
            local->setReadBufferSize(kPumpBuffer);
            connect(local, &QLocalSocket::disconnected, this, [this] { finish(); });
        }
        m_idle.setSingleShot(true);
        connect(&m_idle, &QTimer::timeout, this, [this] {
            if (m_state == State::Tunnel)
                finish(QStringLiteral("idle for %1 s").arg(m_gate->m_options.idleTimeoutMs / 1000));
            else if (m_state == State::Connecting)
                fail(504, QStringLiteral("%1 did not answer within %2 s.")
                              .arg(m_dest.text())
                              .arg(m_gate->m_options.connectTimeoutMs / 1000));
            else if (m_state == State::Head)
                fail(408, QStringLiteral("The request did not arrive in time."));
        });
        m_idle.start(m_gate->m_options.headTimeoutMs);
        onClientData();
    }

private:
    enum class State { Head, Holding, Resolving, Connecting, Tunnel, Done };

    void onClientData()
    {
        if (m_closing)
            return;
        if (m_state == State::Tunnel) {
            pump();
            return;
        }
        if (m_state != State::Head)
            return; // held back in the socket until the tunnel opens
        m_head += m_client->read(kMaxHead + 1 - m_head.size());
        const int end = m_head.indexOf("\r\n\r\n");
        if (end < 0) {
            if (m_head.size() > kMaxHead)
                fail(400, QStringLiteral("The request head is larger than %1 bytes.").arg(kMaxHead));
            return;
        }
        m_rest = m_head.mid(end + 4);
        m_head.truncate(end + 2);
        parseHead();
    }

    void parseHead()
    {
        const int eol = m_head.indexOf("\r\n");
        const QList<QByteArray> parts = m_head.left(eol).split(' ');
        if (parts.size() != 3 || !parts[2].startsWith("HTTP/1.")) {
            fail(400,
                 QStringLiteral("This is an HTTP proxy: send CONNECT host:port or an absolute http:// URL."));
            return;
        }
        const QByteArray method = parts[0];
        Result<Destination> d = makeError(ErrorCode::InvalidArgument, QString());
        if (method == "CONNECT") {
            m_connect = true;
            d = parseDestination(QString::fromLatin1(parts[1]));
        } else {
            const QUrl url(QString::fromLatin1(parts[1]), QUrl::StrictMode);
            if (!url.isValid() || url.scheme() != QLatin1String("http") || url.host().isEmpty() ||
                !url.userInfo().isEmpty()) {
                fail(400, QStringLiteral("Only CONNECT and absolute http:// URLs go through the egress gate; "
                                         "for https use CONNECT (set https_proxy)."));
                return;
            }
            const QString host = url.host(QUrl::FullyEncoded);
            d = parseDestination(
                host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host, 80);
            if (d && url.port() > 0)
                d->port = quint16(url.port());
            // Origin form for the server; this hop's headers dropped; one request per connection, so a
            // client cannot send a request for another host down this one's tunnel.
            QByteArray path = url.path(QUrl::FullyEncoded).toLatin1();
            if (path.isEmpty())
                path = "/";
            if (url.hasQuery())
                path += '?' + url.query(QUrl::FullyEncoded).toLatin1();
            m_forward = method + ' ' + path + ' ' + parts[2] + "\r\n";
            for (const QByteArray& line : m_head.mid(eol + 2).split('\n')) {
                const QByteArray l = line.trimmed();
                if (l.isEmpty())
                    continue;
                if (!hopByHop(l.left(l.indexOf(':'))))
                    m_forward += l + "\r\n";
            }
            m_forward += "Connection: close\r\n\r\n";
        }
        if (!d) {
            fail(400, d.error().message);
            return;
        }
        m_dest = *d;
        identifyAndDecide();
    }

    void identifyAndDecide()
    {
        QHostAddress peer = m_peer;
        bool mapped = false;
        if (const quint32 v4 = peer.toIPv4Address(&mapped); mapped)
            peer = QHostAddress(v4);
        auto sandbox = store::liveSandboxAt(m_gate->m_db, m_gate->m_options.hostId, peer.toString());
        if (!sandbox || !*sandbox) {
            m_gate->audit(
                QStringLiteral("egress.deny"),
                QStringLiteral("%1 asked for %2: not a sandbox Fluid knows")
                    .arg(peer.toString(), m_dest.text()),
                {{QStringLiteral("from"), peer.toString()}, {QStringLiteral("destination"), m_dest.text()}},
                {});
            fail(403, QStringLiteral("%1 is not a sandbox Fluid knows on this host.").arg(peer.toString()));
            return;
        }
        m_sandboxId = (*sandbox)->id;
        m_sandboxName = (*sandbox)->name;
        m_gate->m_sessions[this] = m_sandboxId;
        const int open = int(std::count(m_gate->m_sessions.cbegin(), m_gate->m_sessions.cend(), m_sandboxId));
        if (open > m_gate->m_options.maxConnectionsPerSandbox) {
            denied(503, QStringLiteral("too many connections"),
                   QStringLiteral(
                       "Sandbox %1 has %2 connections open through the egress gate, the most it may have.")
                       .arg(m_sandboxName)
                       .arg(open - 1));
            return;
        }
        const Decision decision = m_gate->decide(m_sandboxId, m_dest);
        if (decision.verdict == Verdict::Denied) {
            denied(403, decision.reason, decision.reason);
            return;
        }
        if (decision.verdict == Verdict::Allowed) {
            allowed(decision.reason);
            return;
        }
        hold(decision.approvalId);
    }

    void hold(QString approvalId)
    {
        int& held = m_gate->m_held[m_sandboxId];
        if (held >= m_gate->m_options.maxHeldPerSandbox) {
            denied(403, QStringLiteral("too many waiting"),
                   QStringLiteral("Sandbox %1 already has %2 connections waiting for approval.")
                       .arg(m_sandboxName)
                       .arg(held));
            return;
        }
        if (approvalId.isEmpty()) {
            auto filed = m_gate->requestApproval(m_sandboxId, m_sandboxName, m_dest);
            if (!filed) {
                fail(
                    503,
                    QStringLiteral("The approval request could not be filed: %1").arg(filed.error().message));
                return;
            }
            approvalId = *filed;
        }
        m_approvalId = approvalId;
        ++held;
        m_holding = true;
        m_state = State::Holding;
        m_idle.stop();
        QPointer<Session> self(this);
        m_gate->m_broker.decision(approvalId, m_holdCancel)
            .then(this, [self](const Result<model::Approval>&) {
                if (self)
                    self->endHold();
            });
        QTimer::singleShot(m_gate->m_options.holdMs, this, [this] { m_holdCancel.cancel(); });
    }

    void endHold()
    {
        if (m_state != State::Holding)
            return;
        releaseHold();
        const Decision decision = m_gate->afterHold(m_sandboxId, m_dest, m_approvalId);
        if (decision.verdict == Verdict::Allowed)
            allowed(decision.reason);
        else
            denied(403, decision.reason, decision.reason);
    }

    void releaseHold()
    {
        if (m_holding) {
            m_holding = false;
            if (--m_gate->m_held[m_sandboxId] <= 0)
                m_gate->m_held.remove(m_sandboxId);
        }
    }

    void allowed(const QString& why)
    {
        m_gate->audit(QStringLiteral("egress.allow"),
                      QStringLiteral("%1 may reach %2 (%3)").arg(m_sandboxName, m_dest.text(), why),
                      {{QStringLiteral("destination"), m_dest.text()}, {QStringLiteral("reason"), why}},
                      m_sandboxId);
        m_state = State::Resolving;
        const QHostAddress literal(m_dest.host);
        if (!literal.isNull()) {
            connectTo({literal});
            return;
        }
        QPointer<Session> self(this);
        QHostInfo::lookupHost(m_dest.host, this, [self](const QHostInfo& info) {
            if (!self)
                return;
            if (info.error() != QHostInfo::NoError) {
                self->fail(502, QStringLiteral("%1 could not be resolved: %2")
                                    .arg(self->m_dest.host, info.errorString()));
                return;
            }
            self->connectTo(info.addresses());
        });
    }

    void connectTo(const QList<QHostAddress>& addresses)
    {
        AddressRules rules;
        rules.gate = m_gate->m_options.listenAddress;
        rules.sandboxSubnet = m_gate->m_options.sandboxSubnet;
        rules.allowLoopback = m_gate->m_options.allowLoopbackDestinations;
        QStringList refused;
        for (const QHostAddress& a : addresses) {
            const QString why = refusedAddress(a, rules);
            if (why.isEmpty()) {
                m_address = a;
                break;
            }
            refused << QStringLiteral("%1 (%2)").arg(a.toString(), why);
        }
        if (m_address.isNull()) {
            denied(403, QStringLiteral("refused address"),
                   QStringLiteral("%1 leads only to addresses the egress gate never connects to: %2.")
                       .arg(m_dest.host, refused.join(QStringLiteral(", "))));
            return;
        }
        m_state = State::Connecting;
        m_upstream = new QTcpSocket(this);
        m_upstream->setReadBufferSize(kPumpBuffer);
        connect(m_upstream, &QTcpSocket::connected, this, &Session::onUpstreamConnected);
        connect(m_upstream, &QTcpSocket::readyRead, this, &Session::pump);
        connect(m_upstream, &QTcpSocket::bytesWritten, this, &Session::pump);
        // pump() ends the session once the server closed and everything it sent reached the client.
        connect(m_upstream, &QTcpSocket::disconnected, this, &Session::pump);
        connect(m_upstream, &QTcpSocket::errorOccurred, this, [this](QAbstractSocket::SocketError) {
            if (m_state == State::Connecting)
                fail(502, QStringLiteral("%1 (%2) did not accept the connection: %3")
                              .arg(m_dest.text(), m_address.toString(), m_upstream->errorString()));
            else
                pump();
        });
        m_idle.start(m_gate->m_options.connectTimeoutMs);
        m_upstream->connectToHost(m_address, m_dest.port);
    }

    void onUpstreamConnected()
    {
        m_state = State::Tunnel;
        m_idle.start(m_gate->m_options.idleTimeoutMs);
        if (m_connect) {
            m_client->write("HTTP/1.1 200 Connection established\r\n\r\n");
        } else {
            m_upstream->write(m_forward);
        }
        if (!m_rest.isEmpty()) {
            m_up += m_rest.size();
            m_upstream->write(m_rest);
            m_rest.clear();
        }
        pump();
    }

    /// Moves what each side has read to the other while the other's write buffer has room.
    void pump()
    {
        if (m_state != State::Tunnel || !m_upstream)
            return;
        bool moved = false;
        while (m_client->bytesAvailable() > 0 && m_upstream->bytesToWrite() < kPumpBuffer) {
            const QByteArray b = m_client->read(64 * 1024);
            m_up += b.size();
            m_upstream->write(b);
            moved = true;
        }
        while (m_upstream->bytesAvailable() > 0 && m_client->bytesToWrite() < kPumpBuffer) {
            const QByteArray b = m_upstream->read(64 * 1024);
            m_down += b.size();
            m_client->write(b);
            moved = true;
        }
        if (moved)
            m_idle.start(m_gate->m_options.idleTimeoutMs);
        if (m_upstream->state() == QAbstractSocket::UnconnectedState && m_upstream->bytesAvailable() == 0)
            finish();
    }

    void denied(int code, const QString& reason, const QString& body)
    {
        m_gate->audit(QStringLiteral("egress.deny"),
                      QStringLiteral("%1 may not reach %2: %3").arg(m_sandboxName, m_dest.text(), reason),
                      {{QStringLiteral("destination"), m_dest.text()}, {QStringLiteral("reason"), reason}},
                      m_sandboxId);
        fail(code, body);
    }

    /// Answers `code` with `body` and closes once the answer is out (the client's `disconnected` ends the
    /// session; a client that does not read it is cut off after 5 s).
    void fail(int code, const QString& body)
    {
        if (m_state == State::Done || m_closing)
            return;
        m_closing = true;
        releaseHold();
        m_holdCancel.cancel();
        m_idle.stop();
        if (m_upstream)
            m_upstream->abort();
        const QByteArray text = body.toUtf8() + '\n';
        m_client->write("HTTP/1.1 " + QByteArray::number(code) + ' ' + reasonPhrase(code) +
                        "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                        QByteArray::number(text.size()) + "\r\nConnection: close\r\n\r\n" + text);
        QTimer::singleShot(5000, this, [this] {
            closeClient(true);
            finish();
        });
        closeClient(false);
    }

    /// Closes the client connection: gracefully (what was written still goes out), or at once.
    void closeClient(bool now)
    {
        if (auto* tcp = qobject_cast<QAbstractSocket*>(m_client)) {
            if (now)
                tcp->abort();
            else if (tcp->state() != QAbstractSocket::UnconnectedState)
                tcp->disconnectFromHost();
        } else if (auto* local = qobject_cast<QLocalSocket*>(m_client)) {
            if (now)
                local->abort();
            else if (local->state() != QLocalSocket::UnconnectedState)
                local->disconnectFromServer();
        } else {
            m_client->close();
        }
    }

    void finish(const QString& why = {})
    {
        if (m_state == State::Done)
            return;
        const bool tunnelled = m_state == State::Tunnel;
        m_state = State::Done;
        releaseHold();
        m_holdCancel.cancel();
        m_idle.stop();
        if (tunnelled) {
            m_gate->audit(QStringLiteral("egress.connection"),
                          QStringLiteral("%1 to %2: %3 bytes up, %4 down%5")
                              .arg(m_sandboxName, m_dest.text())
                              .arg(m_up)
                              .arg(m_down)
                              .arg(why.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(why)),
                          {{QStringLiteral("destination"), m_dest.text()},
                           {QStringLiteral("address"), m_address.toString()},
                           {QStringLiteral("bytes_up"), m_up},
                           {QStringLiteral("bytes_down"), m_down},
                           {QStringLiteral("duration_ms"), m_started.elapsed()}},
                          m_sandboxId);
        }
        if (m_upstream)
            m_upstream->disconnectFromHost();
        closeClient(false);
        m_gate->m_sessions.remove(this);
        Q_EMIT m_gate->connectionEnded();
        deleteLater();
    }

    EgressGate* m_gate;
    QIODevice* m_client;
    QHostAddress m_peer;
    QTcpSocket* m_upstream = nullptr;
    State m_state = State::Head;
    QByteArray m_head;
    QByteArray m_rest;    ///< bytes after the head, sent once the tunnel opens
    QByteArray m_forward; ///< the request head for the server (absolute-URI requests)
    bool m_connect = false;
    bool m_closing = false; ///< an error answer is on its way out
    bool m_holding = false;
    Destination m_dest;
    QString m_sandboxId;
    QString m_sandboxName;
    QString m_approvalId;
    QHostAddress m_address;
    CancelToken m_holdCancel;
    QTimer m_idle;
    QElapsedTimer m_started;
    qint64 m_up = 0;
    qint64 m_down = 0;
};

EgressGate::EgressGate(store::Database& db, approval::ApprovalBroker& broker, GateOptions options,
                       const Clock& clock, QObject* parent)
    : QObject(parent)
    , m_db(db)
    , m_broker(broker)
    , m_options(std::move(options))
    , m_clock(clock)
{
}

EgressGate::~EgressGate() = default;

Result<void> EgressGate::listen()
{
    m_server = new QTcpServer(this);
    m_server->setMaxPendingConnections(256);
    if (!m_server->listen(m_options.listenAddress, m_options.port))
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("The egress gate cannot listen on %1:%2")
                             .arg(m_options.listenAddress.toString())
                             .arg(m_options.port),
                         m_server->errorString());
    connect(m_server, &QTcpServer::newConnection, this, &EgressGate::onNewConnection);
    qCInfo(lcEgress).noquote() << "egress gate listening on" << m_options.listenAddress.toString() << port();
    return {};
}

quint16 EgressGate::port() const
{
    return m_server ? m_server->serverPort() : 0;
}

void EgressGate::onNewConnection()
{
    while (QTcpSocket* c = m_server->nextPendingConnection())
        new Session(this, c, c->peerAddress()); // owned by the gate, deletes itself when done
}

std::function<void(int fd)> EgressGate::relayedAcceptor()
{
    QPointer<EgressGate> self(this);
    return [self](int fd) {
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [self, fd] {
                if (self)
                    self->acceptRelayed(fd);
                else
                    ::close(fd);
            },
            Qt::QueuedConnection);
    };
}

void EgressGate::acceptRelayed(int fd)
{
    auto* socket = new QLocalSocket(this);
    if (!socket->setSocketDescriptor(fd)) {
        ::close(fd);
        delete socket;
        return;
    }
    // The first line is the relay's: "FLUID-RELAY <token> <sandbox address>". Only then is it a session.
    auto* deadline = new QTimer(socket);
    deadline->setSingleShot(true);
    connect(deadline, &QTimer::timeout, socket, [socket] { socket->abort(); });
    connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
    deadline->start(m_options.headTimeoutMs);
    auto vouch = std::make_shared<QMetaObject::Connection>();
    *vouch = connect(socket, &QIODevice::readyRead, this, [this, socket, deadline, vouch] {
        if (!socket->canReadLine()) {
            if (socket->bytesAvailable() > 256)
                socket->abort();
            return;
        }
        const QList<QByteArray> words = socket->readLine(257).trimmed().split(' ');
        const QHostAddress peer(QString::fromLatin1(words.value(2)));
        const QByteArray token = words.value(1);
        const QByteArray expected = m_options.relayToken;
        const bool vouched =
            words.size() == 3 && words.value(0) == "FLUID-RELAY" && !expected.isEmpty() &&
            token.size() == expected.size() &&
            CRYPTO_memcmp(token.constData(), expected.constData(), size_t(token.size())) == 0 &&
            peer.protocol() == QAbstractSocket::IPv4Protocol;
        QObject::disconnect(*vouch);
        deadline->stop();
        deadline->deleteLater();
        if (!vouched) {
            qCWarning(lcEgress) << "refused a relayed connection without the relay's token";
            socket->abort();
            return;
        }
        disconnect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
        new Session(this, socket, peer);
    });
}

EgressGate::Decision EgressGate::decide(const QString& sandboxId, const Destination& d)
{
    if (matchesAny(d, m_options.deny))
        return {
            Verdict::Denied, QStringLiteral("%1 is on the deny list (egress.deny)").arg(d.text()), {}, {}};
    const QDateTime now = m_clock.now();
    auto grants = store::egressGrants(m_db, sandboxId);
    if (!grants)
        return {Verdict::Denied,
                QStringLiteral("the grants could not be read: %1").arg(grants.error().message),
                {},
                {}};
    QStringList converted;
    for (const model::EgressGrant& g : *grants) {
        if (!g.approvalId.isEmpty())
            converted << g.approvalId;
        if (g.destination != d.text() || g.revokedAt.isValid())
            continue;
        if (g.scope == model::EgressScope::Until && g.expiresAt <= now)
            continue;
        if (g.scope == model::EgressScope::Once) {
            auto used = store::useEgressGrant(m_db, g.id, now);
            if (!used || !*used)
                continue;
            return {Verdict::Allowed, QStringLiteral("allowed once by %1").arg(g.grantedBy), g.id, {}};
        }
        return {Verdict::Allowed, QStringLiteral("allowed by %1").arg(g.grantedBy), g.id, {}};
    }
    if (matchesAny(d, m_options.allow))
        return {Verdict::Allowed, QStringLiteral("on this host's allow list (egress_allow)"), {}, {}};
    auto requests = store::egressApprovals(m_db, sandboxId);
    if (!requests)
        return {Verdict::Denied,
                QStringLiteral("the requests could not be read: %1").arg(requests.error().message),
                {},
                {}};
    for (const model::Approval& a : *requests) {
        if (a.context.value(QLatin1String("destination")).toString() != d.text())
            continue;
        if (a.status == model::ApprovalStatus::Pending && (!a.expiresAt.isValid() || a.expiresAt > now))
            return {Verdict::Ask, {}, {}, a.id};
        if (a.status == model::ApprovalStatus::Approved && !converted.contains(a.id))
            return afterHold(sandboxId, d, a.id);
        if (a.status == model::ApprovalStatus::Rejected)
            return {Verdict::Denied,
                    QStringLiteral(
                        "%1 rejected the request to reach %2%3 (request %4); ask a person to allow it: "
                        "fluid egress allow SANDBOX %2")
                        .arg(a.decidedBy, d.text(),
                             a.comment.isEmpty() ? QString() : QStringLiteral(": \"%1\"").arg(a.comment),
                             a.id),
                    {},
                    {}};
        break; // expired, or approved and since revoked: ask again
    }
    return {Verdict::Ask, {}, {}, {}};
}

Result<QString> EgressGate::requestApproval(const QString& sandboxId, const QString& sandboxName,
                                            const Destination& d)
{
    model::Approval a;
    a.kind = QStringLiteral("egress");
    a.sandboxId = sandboxId;
    a.request = QStringLiteral("sandbox %1 wants to reach %2").arg(sandboxName, d.text());
    a.context = QJsonObject{{QStringLiteral("sandbox_id"), sandboxId},
                            {QStringLiteral("sandbox"), sandboxName},
                            {QStringLiteral("destination"), d.text()}};
    auto filed = m_broker.request(m_db, a, model::Actor::system(), m_options.approvalTtlMs);
    if (!filed)
        return filed.error();
    return filed->id;
}

EgressGate::Decision EgressGate::afterHold(const QString& sandboxId, const Destination& d,
                                           const QString& approvalId)
{
    auto a = store::ApprovalRepository(m_db).get(approvalId);
    if (!a)
        return {Verdict::Denied,
                QStringLiteral("request %1 could not be read: %2").arg(approvalId, a.error().message),
                {},
                {}};
    switch (a->status) {
    case model::ApprovalStatus::Approved: {
        // The approval becomes a grant for the sandbox's life (revocable with `fluid egress revoke`).
        model::EgressGrant g;
        g.id = model::newId();
        g.sandboxId = sandboxId;
        g.destination = d.text();
        g.scope = model::EgressScope::Sandbox;
        g.grantedBy = a->decidedBy;
        g.approvalId = a->id;
        g.createdAt = m_clock.now();
        if (auto r = store::EgressGrantRepository(m_db).insert(g); !r)
            qCWarning(lcEgress) << "egress grant not recorded:" << r.error().toString();
        return {Verdict::Allowed, QStringLiteral("approved by %1").arg(a->decidedBy), g.id, {}};
    }
    case model::ApprovalStatus::Rejected:
        return {Verdict::Denied,
                QStringLiteral("%1 rejected the request to reach %2%3 (request %4)")
                    .arg(a->decidedBy, d.text(),
                         a->comment.isEmpty() ? QString() : QStringLiteral(": \"%1\"").arg(a->comment),
                         a->id),
                {},
                {}};
    case model::ApprovalStatus::Expired:
        return {Verdict::Denied,
                QStringLiteral("request %1 to reach %2 expired undecided; retry to ask again")
                    .arg(a->id, d.text()),
                {},
                {}};
    case model::ApprovalStatus::Pending:
        break;
    }
    return {Verdict::Denied,
            QStringLiteral(
                "Waiting for a person to approve request %1 (sandbox %2 wants to reach %3, content hash "
                "%4). Once approved (the inbox, `fluid approval approve %1 --hash %4`, or `fluid egress "
                "allow`), retry and the connection will go through.")
                .arg(a->id, a->context.value(QLatin1String("sandbox")).toString(), d.text(), a->contentHash),
            {},
            {}};
}

void EgressGate::audit(const QString& kind, const QString& summary, const QJsonObject& data,
                       const QString& sandboxId)
{
    if (auto r = store::AuditLog(m_db, m_clock)
                     .append(model::Actor::system().toString(), kind, summary, data, sandboxId);
        !r)
        qCWarning(lcEgress) << "egress audit record not written:" << r.error().toString();
}

} // namespace fluid::egress

// SPDX-License-Identifier: Apache-2.0
// Sockets for the egress gate tests: the "outside" server, a "sandbox" client bound to its address, and
// reading what the gate answers while the event loop spins.
#pragma once

#include "store/Repository.h"
#include "TestSupport.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QTcpServer>
#include <QTcpSocket>

#include <memory>

namespace fluid::test {

inline const QHostAddress kSandboxIp(QStringLiteral("127.0.0.2"));
inline const QHostAddress kOutsideIp(QStringLiteral("127.0.0.3"));

/// An "outside" server on kOutsideIp: echoes what it receives; with `http`, answers one request with the
/// request head it saw.
class Outside : public QObject {
public:
    explicit Outside(bool http = false)
        : m_http(http)
    {
        if (!m_server.listen(kOutsideIp))
            qFatal("the outside server cannot listen on %s", qPrintable(kOutsideIp.toString()));
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket* s = m_server.nextPendingConnection()) {
                ++accepted;
                connect(s, &QTcpSocket::readyRead, s, [this, s] {
                    const QByteArray b = s->readAll();
                    if (!m_http) {
                        s->write(b);
                        return;
                    }
                    seen += b;
                    if (seen.contains("\r\n\r\n")) {
                        const QByteArray body = seen;
                        s->write("HTTP/1.1 200 OK\r\nContent-Length: " + QByteArray::number(body.size()) +
                                 "\r\n\r\n" + body);
                        s->disconnectFromHost();
                    }
                });
                connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
    }
    quint16 port() const { return m_server.serverPort(); }
    QString destination() const { return QStringLiteral("127.0.0.3:%1").arg(port()); }
    int accepted = 0;
    QByteArray seen;

private:
    bool m_http;
    QTcpServer m_server;
};

/// A client bound to `from` that connects to the gate on loopback:`port` and sends `request`.
inline std::unique_ptr<QTcpSocket> connectFrom(const QHostAddress& from, quint16 port,
                                               const QByteArray& request)
{
    auto s = std::make_unique<QTcpSocket>();
    if (!s->bind(from))
        qFatal("cannot bind %s", qPrintable(from.toString()));
    s->connectToHost(QHostAddress::LocalHost, port);
    s->write(request);
    return s;
}

/// What arrived on `s` until `marker` (or until it closed, without one), spinning the event loop.
inline QByteArray answer(QTcpSocket& s, const QByteArray& marker = {}, int timeoutMs = 5000)
{
    QByteArray got;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        got += s.readAll();
        if (!marker.isEmpty() && got.contains(marker))
            break;
        if (marker.isEmpty() && s.state() == QAbstractSocket::UnconnectedState)
            break;
    }
    return got + s.readAll();
}

/// A host and its running sandbox at kSandboxIp, in `db`: the sandbox the gate serves.
inline model::Sandbox seedLiveSandbox(store::Database& db, const QString& hostName, const QString& uri,
                                      const QString& sandboxName)
{
    model::Host host{model::newId(), hostName, uri, {}, QDateTime::currentDateTimeUtc()};
    must(store::HostRepository(db).insert(host));
    model::Sandbox sandbox;
    sandbox.id = model::newId();
    sandbox.name = sandboxName;
    sandbox.hostId = host.id;
    sandbox.domainName = QStringLiteral("fluid-") + sandboxName;
    sandbox.state = model::SandboxState::Running;
    sandbox.ip = kSandboxIp.toString();
    sandbox.createdAt = sandbox.updatedAt = QDateTime::currentDateTimeUtc();
    must(store::SandboxRepository(db).insert(sandbox));
    return sandbox;
}

/// An HTTP CONNECT request for host:port.
inline QByteArray connectTo(const QString& destination)
{
    return "CONNECT " + destination.toUtf8() + " HTTP/1.1\r\nHost: " + destination.toUtf8() + "\r\n\r\n";
}

} // namespace fluid::test

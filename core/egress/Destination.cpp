// SPDX-License-Identifier: Apache-2.0
#include "Destination.h"

#include <QRegularExpression>

namespace fluid::egress {

QString Destination::text() const
{
    const bool v6 = host.contains(QLatin1Char(':'));
    return (v6 ? QLatin1Char('[') + host + QLatin1Char(']') : host) + QLatin1Char(':') +
           QString::number(port);
}

Result<Destination> parseDestination(const QString& hostPort, quint16 defaultPort)
{
    auto invalid = [&](const QString& why) {
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("'%1' is not a destination (host:port): %2").arg(hostPort.left(200), why));
    };
    QString host;
    QString port;
    if (hostPort.startsWith(QLatin1Char('['))) {
        const int end = hostPort.indexOf(QLatin1Char(']'));
        if (end < 0)
            return invalid(QStringLiteral("an IPv6 address without its closing bracket"));
        host = hostPort.mid(1, end - 1);
        const QString rest = hostPort.mid(end + 1);
        if (!rest.isEmpty() && !rest.startsWith(QLatin1Char(':')))
            return invalid(QStringLiteral("text after the address"));
        port = rest.mid(1);
        if (QHostAddress(host).protocol() != QAbstractSocket::IPv6Protocol)
            return invalid(QStringLiteral("not an IPv6 address in brackets"));
    } else {
        const int colon = hostPort.lastIndexOf(QLatin1Char(':'));
        host = colon < 0 ? hostPort : hostPort.left(colon);
        port = colon < 0 ? QString() : hostPort.mid(colon + 1);
        static const QRegularExpression name(
            QStringLiteral("^[a-z0-9]([a-z0-9-]{0,62})(\\.[a-z0-9]([a-z0-9-]{0,62}))*\\.?$"));
        host = host.toLower();
        if (host.size() > 253 || !name.match(host).hasMatch())
            return invalid(QStringLiteral("the host is not a host name or an IPv4 address"));
        if (host.endsWith(QLatin1Char('.')))
            host.chop(1);
    }
    Destination d;
    d.host = QHostAddress(host).isNull() ? host : QHostAddress(host).toString();
    if (port.isEmpty()) {
        if (defaultPort == 0)
            return invalid(QStringLiteral("no port"));
        d.port = defaultPort;
        return d;
    }
    bool ok = false;
    const int n = port.toInt(&ok);
    static const QRegularExpression digits(QStringLiteral("^[0-9]{1,5}$"));
    if (!ok || !digits.match(port).hasMatch() || n < 1 || n > 65535)
        return invalid(QStringLiteral("the port must be 1 to 65535"));
    d.port = quint16(n);
    return d;
}

bool matchesAny(const Destination& d, const QString& patterns)
{
    for (const QString& item : patterns.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QString p = item.trimmed().toLower();
        const int colon = p.lastIndexOf(QLatin1Char(':'));
        if (colon <= 0)
            continue;
        const QString host = p.left(colon);
        const QString port = p.mid(colon + 1);
        if (port != QLatin1String("*") && port != QString::number(d.port))
            continue;
        if (host == QLatin1String("*") || host == d.host)
            return true;
        if (host.startsWith(QLatin1String("*.")) && d.host.endsWith(host.mid(1)) &&
            QHostAddress(d.host).isNull())
            return true;
    }
    return false;
}

QString refusedAddress(const QHostAddress& address, const AddressRules& rules)
{
    QHostAddress a = address;
    bool mapped = false;
    const quint32 v4 = a.toIPv4Address(&mapped);
    if (mapped)
        a = QHostAddress(v4); // an IPv4-mapped IPv6 address is judged as the IPv4 address it carries
    if (a.isNull() || a == QHostAddress::AnyIPv4 || a == QHostAddress::AnyIPv6)
        return QStringLiteral("an unspecified address");
    if (a.isLoopback() && !rules.allowLoopback)
        return QStringLiteral("the host's loopback");
    if (a.isLinkLocal())
        return QStringLiteral("a link-local address");
    if (a.isMulticast() || a.isBroadcast())
        return QStringLiteral("a multicast or broadcast address");
    if (!rules.gate.isNull() && a.isEqual(rules.gate, QHostAddress::TolerantConversion))
        return QStringLiteral("the egress gate itself");
    if (!rules.sandboxSubnet.first.isNull() && a.isInSubnet(rules.sandboxSubnet))
        return QStringLiteral("the sandbox network");
    return {};
}

} // namespace fluid::egress

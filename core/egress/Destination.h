// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QHostAddress>
#include <QString>

namespace fluid::egress {

/// Where a sandbox asks to go: a host name or an IP literal, and a port.
struct Destination {
    QString host; ///< lower case; an IPv6 literal without brackets
    quint16 port = 0;

    /// "host:port" ("[::1]:443" for IPv6): the form grants, patterns and approvals use.
    QString text() const;
    bool operator==(const Destination&) const = default;
};

/// "host:port" (or "[v6]:port") as a CONNECT target or a URL's authority gives it. InvalidArgument for
/// anything else: user info, an empty or over-long host, characters a host name cannot have, port 0 or
/// beyond 65535.
Result<Destination> parseDestination(const QString& hostPort, quint16 defaultPort = 0);

/// Whether `d` matches one comma-separated pattern list ("deb.debian.org:80, *.example.org:443, *:*").
/// `*.example.org` matches the subdomains of example.org, not example.org itself; `*` any host; a `*` port
/// any port. Patterns follow config's DestinationPatterns rule.
bool matchesAny(const Destination& d, const QString& patterns);

/// What the gate refuses to connect to, whatever a person allowed: no open relay into the host or the
/// sandbox network.
struct AddressRules {
    QHostAddress gate;                          ///< the gate's own listen address
    std::pair<QHostAddress, int> sandboxSubnet; ///< the sandbox network
    bool allowLoopback = false;                 ///< only for tests that stand an "outside" server on loopback
};

/// Empty when the gate may connect to `address`; otherwise why not: loopback, unspecified, link-local,
/// multicast or broadcast addresses, the gate itself, the sandbox network.
QString refusedAddress(const QHostAddress& address, const AddressRules& rules);

} // namespace fluid::egress

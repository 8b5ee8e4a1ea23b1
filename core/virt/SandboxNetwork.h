// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "Hypervisor.h"

namespace fluid::virt {

/// How Fluid contains a sandbox's network, with libvirt's own mechanisms only:
/// - the network: no <forward> (no route out), <dns enable='no'/> (dnsmasq serves DHCP only, resolves
///   nothing), <port isolated='yes'/> (guests on the bridge cannot reach each other);
/// - the filter kFilterName (nwfilter), bound to each sandbox's interface with the parameters GATEWAY and
///   GATE_PORT, its address learned from DHCP (CTRL_IP_LEARNING=dhcp): a guest may send DHCP, ARP from its
///   own MAC, and TCP from its own MAC and address to GATEWAY:GATE_PORT (the egress gate); the host side
///   may open TCP to the guest's port 22 (Fluid's SSH). Everything else is dropped (IPv6, other hosts, other
///   ports of the host, other protocols). The rules sit twice: stateless in ebtables (a guest cannot spoof
///   its MAC or address) and stateful in iptables (replies only for connections the rule allows), so the
///   ebtables half still holds where bridged traffic does not pass iptables (br_netfilter not loaded).
inline constexpr const char* kFilterName = "fluid-sandbox-v1";

/// The network definition Fluid writes for `spec`.
QString sandboxNetworkXml(const NetworkSpec& spec);

/// The nwfilter definition of kFilterName.
QString sandboxFilterXml();

/// Empty when `xml` (a network's current definition) is the one Fluid writes for `spec` today; otherwise
/// what differs, in words ("it lets guests resolve names", "its ports are not isolated", ...), for a
/// message that says why the network must be upgraded.
QStringList sandboxNetworkDifferences(const QString& xml, const NetworkSpec& spec);

/// Whether a domain definition has an interface on network `networkName`.
bool domainUsesNetwork(const QString& domainXml, const QString& networkName);

} // namespace fluid::virt

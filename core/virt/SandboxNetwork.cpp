// SPDX-License-Identifier: Apache-2.0
#include "SandboxNetwork.h"

#include <QDomDocument>

namespace fluid::virt {

namespace {

QString escape(const QString& s)
{
    return s.toHtmlEscaped().replace(QLatin1Char('\''), QLatin1String("&apos;"));
}

} // namespace

QString sandboxNetworkXml(const NetworkSpec& spec)
{
    // No <forward>: no route out. No DNS at all: the egress gate resolves names, the guest needs none.
    return QStringLiteral("<network><name>%1</name><bridge name='%2' stp='on' delay='0'/>"
                          "<port isolated='yes'/><dns enable='no'/>"
                          "<ip address='%3' netmask='%4'><dhcp><range start='%5' end='%6'/></dhcp></ip>"
                          "</network>")
        .arg(escape(spec.name), escape(spec.bridge), escape(spec.gatewayAddress), escape(spec.netmask),
             escape(spec.dhcpStart), escape(spec.dhcpEnd));
}

QString sandboxFilterXml()
{
    // Priorities order the rules; ebtables rules (arp, ip, no protocol) come before iptables ones (tcp,
    // udp, all). libvirt makes iptables rules stateful: an accepted direction lets the replies back.
    return QStringLiteral(
               "<filter name='%1' chain='root'>"
               // Layer 2, stateless: the guest's own MAC and address only, DHCP, and TCP with the gateway
               // on the gate's port (guest to host) or SSH (host to guest). Nothing else passes.
               "<rule action='accept' direction='out' priority='100'>"
               "<arp srcmacaddr='$MAC' arpsrcmacaddr='$MAC'/></rule>"
               "<rule action='accept' direction='in' priority='100'><arp/></rule>"
               "<rule action='accept' direction='out' priority='110'>"
               "<ip srcmacaddr='$MAC' protocol='udp' srcportstart='68' dstportstart='67'/></rule>"
               "<rule action='accept' direction='in' priority='110'>"
               "<ip protocol='udp' srcportstart='67' dstportstart='68'/></rule>"
               "<rule action='accept' direction='out' priority='120'><ip srcmacaddr='$MAC' srcipaddr='$IP' "
               "dstipaddr='$GATEWAY' protocol='tcp' dstportstart='$GATE_PORT'/></rule>"
               "<rule action='accept' direction='out' priority='121'><ip srcmacaddr='$MAC' srcipaddr='$IP' "
               "dstipaddr='$GATEWAY' protocol='tcp' srcportstart='22'/></rule>"
               "<rule action='accept' direction='in' priority='120'>"
               "<ip srcipaddr='$GATEWAY' protocol='tcp' srcportstart='$GATE_PORT'/></rule>"
               "<rule action='accept' direction='in' priority='121'>"
               "<ip srcipaddr='$GATEWAY' protocol='tcp' dstportstart='22'/></rule>"
               "<rule action='drop' direction='inout' priority='200'/>"
               // Layer 3, stateful: the guest opens connections only to the gate; the host opens SSH.
               "<rule action='accept' direction='out' priority='500'>"
               "<tcp dstipaddr='$GATEWAY' dstportstart='$GATE_PORT'/></rule>"
               "<rule action='accept' direction='in' priority='500'>"
               "<tcp srcipaddr='$GATEWAY' dstportstart='22'/></rule>"
               "<rule action='accept' direction='out' priority='510'>"
               "<udp srcportstart='68' dstportstart='67'/></rule>"
               "<rule action='accept' direction='in' priority='510'>"
               "<udp srcportstart='67' dstportstart='68'/></rule>"
               "<rule action='drop' direction='inout' priority='1000'><all/></rule>"
               "</filter>")
        .arg(QLatin1String(kFilterName));
}

QStringList sandboxNetworkDifferences(const QString& xml, const NetworkSpec& spec)
{
    QDomDocument doc;
    if (!doc.setContent(xml))
        return {QStringLiteral("its definition cannot be read")};
    const QDomElement net = doc.documentElement();
    QStringList out;
    if (!net.firstChildElement(QStringLiteral("forward")).isNull())
        out << QStringLiteral("it forwards traffic out of the host");
    if (net.firstChildElement(QStringLiteral("dns")).attribute(QStringLiteral("enable")) !=
        QLatin1String("no"))
        out << QStringLiteral("it answers DNS queries");
    if (net.firstChildElement(QStringLiteral("port")).attribute(QStringLiteral("isolated")) !=
        QLatin1String("yes"))
        out << QStringLiteral("its guests can reach each other");
    if (net.firstChildElement(QStringLiteral("bridge")).attribute(QStringLiteral("name")) != spec.bridge)
        out << QStringLiteral("its bridge is not %1").arg(spec.bridge);
    int ips = 0;
    bool ipMatches = false;
    for (QDomElement ip = net.firstChildElement(QStringLiteral("ip")); !ip.isNull();
         ip = ip.nextSiblingElement(QStringLiteral("ip"))) {
        ++ips;
        const QDomElement range =
            ip.firstChildElement(QStringLiteral("dhcp")).firstChildElement(QStringLiteral("range"));
        ipMatches = ip.attribute(QStringLiteral("address")) == spec.gatewayAddress &&
                    ip.attribute(QStringLiteral("netmask")) == spec.netmask &&
                    range.attribute(QStringLiteral("start")) == spec.dhcpStart &&
                    range.attribute(QStringLiteral("end")) == spec.dhcpEnd;
    }
    if (ips != 1 || !ipMatches)
        out << QStringLiteral("its addresses are not %1/%2 with DHCP %3-%4")
                   .arg(spec.gatewayAddress, spec.netmask, spec.dhcpStart, spec.dhcpEnd);
    return out;
}

bool domainUsesNetwork(const QString& domainXml, const QString& networkName)
{
    QDomDocument doc;
    if (!doc.setContent(domainXml))
        return false;
    const QDomNodeList nics = doc.elementsByTagName(QStringLiteral("interface"));
    for (int i = 0; i < nics.size(); ++i) {
        const QDomElement nic = nics.at(i).toElement();
        if (nic.attribute(QStringLiteral("type")) == QLatin1String("network") &&
            nic.firstChildElement(QStringLiteral("source")).attribute(QStringLiteral("network")) ==
                networkName)
            return true;
    }
    return false;
}

} // namespace fluid::virt

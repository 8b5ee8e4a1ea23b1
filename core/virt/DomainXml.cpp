// SPDX-License-Identifier: Apache-2.0
#include "DomainXml.h"
#include "DomainAllowlist.h"
#include "SandboxNetwork.h"

#include "DomainMark.h"

#include <QDomDocument>
#include <QRandomGenerator>

namespace fluid::virt {
namespace {

QList<QDomElement> children(const QDomElement& parent, const QString& tag)
{
    QList<QDomElement> list;
    for (QDomElement e = parent.firstChildElement(tag); !e.isNull(); e = e.nextSiblingElement(tag))
        list.append(e);
    return list;
}

QDomElement ensureChild(QDomDocument& doc, QDomElement parent, const QString& tag)
{
    QDomElement e = parent.firstChildElement(tag);
    if (e.isNull()) {
        e = doc.createElement(tag);
        parent.appendChild(e);
    }
    return e;
}

void setText(QDomDocument& doc, QDomElement e, const QString& text)
{
    while (!e.firstChild().isNull())
        e.removeChild(e.firstChild());
    e.appendChild(doc.createTextNode(text));
}

DiskInfo diskFrom(const QDomElement& disk)
{
    DiskInfo d;
    d.type = disk.attribute(QStringLiteral("type"), QStringLiteral("file"));
    d.device = disk.attribute(QStringLiteral("device"), QStringLiteral("disk"));
    d.target = disk.firstChildElement(QStringLiteral("target")).attribute(QStringLiteral("dev"));
    d.format = disk.firstChildElement(QStringLiteral("driver")).attribute(QStringLiteral("type"));
    const QDomElement source = disk.firstChildElement(QStringLiteral("source"));
    for (const char* attr : {"file", "dev", "volume", "name", "dir"}) {
        if (source.hasAttribute(QLatin1String(attr))) {
            d.sourcePath = source.attribute(QLatin1String(attr));
            break;
        }
    }
    d.readOnly = !disk.firstChildElement(QStringLiteral("readonly")).isNull() ||
                 d.device == QLatin1String("cdrom") || d.device == QLatin1String("floppy");
    d.shareable = !disk.firstChildElement(QStringLiteral("shareable")).isNull();
    return d;
}

} // namespace

QList<DiskInfo> SourceDomain::writableDisks() const
{
    QList<DiskInfo> list;
    for (const DiskInfo& d : disks) {
        if (!d.readOnly)
            list.append(d);
    }
    return list;
}

Result<SourceDomain> parseDomainXml(const QString& xml)
{
    auto doc = parseDomainDocument(xml);
    if (!doc)
        return doc.error();
    const QDomElement root = doc->documentElement();
    SourceDomain s;
    s.domainType = root.attribute(QStringLiteral("type"));
    s.name = root.firstChildElement(QStringLiteral("name")).text();
    s.uuid = root.firstChildElement(QStringLiteral("uuid")).text();
    const QDomElement memory = root.firstChildElement(QStringLiteral("memory"));
    const QString unit = memory.attribute(QStringLiteral("unit"), QStringLiteral("KiB"));
    const qint64 amount = memory.text().toLongLong();
    s.memoryKib = unit == QLatin1String("MiB")                                   ? amount * 1024
                  : unit == QLatin1String("GiB")                                 ? amount * 1024 * 1024
                  : unit == QLatin1String("b") || unit == QLatin1String("bytes") ? amount / 1024
                                                                                 : amount;
    s.vcpus = root.firstChildElement(QStringLiteral("vcpu")).text().toInt();
    const QDomElement os = root.firstChildElement(QStringLiteral("os"));
    const QDomElement loader = os.firstChildElement(QStringLiteral("loader"));
    s.uefi = os.attribute(QStringLiteral("firmware")) == QLatin1String("efi") ||
             loader.attribute(QStringLiteral("type")) == QLatin1String("pflash");
    s.nvramPath = os.firstChildElement(QStringLiteral("nvram")).text().trimmed();
    const QDomElement devices = root.firstChildElement(QStringLiteral("devices"));
    for (const QDomElement& disk : children(devices, QStringLiteral("disk"))) {
        s.disks.append(diskFrom(disk));
    }
    for (QDomElement e = root.firstChildElement(QStringLiteral("metadata")).firstChildElement(); !e.isNull();
         e = e.nextSiblingElement()) {
        if (e.namespaceURI() != QLatin1String(kMetadataNamespace))
            continue;
        if (e.localName() == QLatin1String("sandbox"))
            s.sandboxId = e.firstChildElement(QStringLiteral("id")).text();
        else if (e.localName() == QLatin1String("identity"))
            s.identity = e.text().trimmed();
    }
    return s;
}

Result<void> checkCloneable(const SourceDomain& source)
{
    if (source.disks.isEmpty() || source.writableDisks().isEmpty()) {
        return makeError(ErrorCode::Refused,
                         QStringLiteral("%1 has no writable disk to clone").arg(source.name));
    }
    for (const DiskInfo& d : source.writableDisks()) {
        const QString which = QStringLiteral("disk %1 of %2").arg(d.target, source.name);
        if (d.shareable) {
            return makeError(ErrorCode::Refused,
                             QStringLiteral("%1 is shareable: a sandbox would write to the same disk as its "
                                            "source. Make it read-only or remove it from the source.")
                                 .arg(which));
        }
        if (d.type != QLatin1String("file")) {
            return makeError(
                ErrorCode::Refused,
                QStringLiteral("%1 is a %2 disk (%3); Fluid clones only file-backed qcow2 or raw "
                               "images")
                    .arg(which, d.type, d.sourcePath));
        }
        if (d.format != QLatin1String("qcow2") && d.format != QLatin1String("raw")) {
            return makeError(
                ErrorCode::Refused,
                QStringLiteral("%1 is in %2 format (%3); Fluid clones only qcow2 or raw images")
                    .arg(which, d.format.isEmpty() ? QStringLiteral("an unknown") : d.format, d.sourcePath));
        }
        if (d.sourcePath.isEmpty())
            return makeError(ErrorCode::Refused, QStringLiteral("%1 has no image file").arg(which));
    }
    return {};
}

QString randomMac()
{
    const quint32 r = QRandomGenerator::global()->generate();
    return QStringLiteral("52:54:00:%1:%2:%3")
        .arg((r >> 16) & 0xff, 2, 16, QLatin1Char('0'))
        .arg((r >> 8) & 0xff, 2, 16, QLatin1Char('0'))
        .arg(r & 0xff, 2, 16, QLatin1Char('0'));
}

Result<DerivedXml> deriveSandboxXml(const QString& sourceXml, const SandboxXmlSpec& spec)
{
    auto parsedSource = parseDomainXml(sourceXml);
    if (!parsedSource)
        return parsedSource.error();
    if (auto ok = checkCloneable(*parsedSource); !ok)
        return ok.error();
    auto parsed = parseDomainDocument(sourceXml);
    if (!parsed)
        return parsed.error();
    QDomDocument doc = *parsed;
    QDomElement root = doc.documentElement();
    DerivedXml out;
    auto contained = containSourceDomain(doc);
    if (!contained)
        return contained.error();
    out.notes = *contained;

    root.removeAttribute(QStringLiteral("id"));
    if (spec.domainType)
        root.setAttribute(QStringLiteral("type"), *spec.domainType);
    setText(doc, ensureChild(doc, root, QStringLiteral("name")), spec.domainName);
    for (const char* tag : {"uuid", "title", "description", "genid"}) {
        for (QDomElement e : children(root, QLatin1String(tag)))
            root.removeChild(e);
    }
    if (spec.memoryMib > 0) {
        for (const char* tag : {"memory", "currentMemory"}) {
            QDomElement e = ensureChild(doc, root, QLatin1String(tag));
            e.setAttribute(QStringLiteral("unit"), QStringLiteral("KiB"));
            setText(doc, e, QString::number(qint64(spec.memoryMib) * 1024));
        }
    }
    if (spec.vcpus > 0)
        setText(doc, ensureChild(doc, root, QStringLiteral("vcpu")), QString::number(spec.vcpus));

    // Firmware: the sandbox gets its own NVRAM; sharing the source's would let it change the source's boot.
    QDomElement os = root.firstChildElement(QStringLiteral("os"));
    QDomElement nvram = os.firstChildElement(QStringLiteral("nvram"));
    if (!nvram.isNull()) {
        if (spec.nvramPath.isEmpty()) {
            return makeError(
                ErrorCode::InvalidArgument,
                QStringLiteral("%1 boots UEFI with its own NVRAM; the sandbox needs a copy of it")
                    .arg(parsedSource->name));
        }
        nvram.removeAttribute(QStringLiteral("template"));
        setText(doc, nvram, spec.nvramPath);
    }

    QDomElement devices = ensureChild(doc, root, QStringLiteral("devices"));
    for (QDomElement disk : children(devices, QStringLiteral("disk"))) {
        const DiskInfo d = diskFrom(disk);
        if (d.readOnly)
            continue;
        const QString overlay = spec.overlays.value(d.target);
        if (overlay.isEmpty()) {
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("No overlay was made for writable disk %1").arg(d.target));
        }
        disk.setAttribute(QStringLiteral("type"), QStringLiteral("file"));
        QDomElement source = ensureChild(doc, disk, QStringLiteral("source"));
        QStringList attributeNames;
        const QDomNamedNodeMap attrs = source.attributes();
        for (int i = 0; i < attrs.count(); ++i)
            attributeNames << attrs.item(i).nodeName();
        for (const QString& n : attributeNames)
            source.removeAttribute(n);
        source.setAttribute(QStringLiteral("file"), overlay);
        QDomElement driver = ensureChild(doc, disk, QStringLiteral("driver"));
        driver.setAttribute(QStringLiteral("name"), QStringLiteral("qemu"));
        driver.setAttribute(QStringLiteral("type"), spec.overlayFormat);
        for (QDomElement e : children(disk, QStringLiteral("backingStore")))
            disk.removeChild(e);
        for (QDomElement e : children(disk, QStringLiteral("serial")))
            disk.removeChild(e);
    }

    // Network: exactly one NIC, on the isolated network. A source NIC bridged to a production network
    // must never carry over.
    for (QDomElement nic : children(devices, QStringLiteral("interface")))
        devices.removeChild(nic);
    if (!spec.networkName.isEmpty()) {
        QDomElement nic = doc.createElement(QStringLiteral("interface"));
        nic.setAttribute(QStringLiteral("type"), QStringLiteral("network"));
        QDomElement mac = doc.createElement(QStringLiteral("mac"));
        mac.setAttribute(QStringLiteral("address"), spec.macAddress);
        nic.appendChild(mac);
        QDomElement source = doc.createElement(QStringLiteral("source"));
        source.setAttribute(QStringLiteral("network"), spec.networkName);
        nic.appendChild(source);
        // The filter that lets the guest reach only DHCP and the egress gate (SandboxNetwork.h).
        if (spec.gatewayAddress.isEmpty() || spec.gatePort <= 0 || spec.gatePort > 65535)
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("The sandbox network has no gateway address or gate port"));
        QDomElement filter = doc.createElement(QStringLiteral("filterref"));
        filter.setAttribute(QStringLiteral("filter"), QLatin1String(kFilterName));
        const QList<std::pair<QString, QString>> parameters = {
            {QStringLiteral("GATEWAY"), spec.gatewayAddress},
            {QStringLiteral("GATE_PORT"), QString::number(spec.gatePort)},
            {QStringLiteral("CTRL_IP_LEARNING"), QStringLiteral("dhcp")}};
        for (const auto& [name, value] : parameters) {
            QDomElement p = doc.createElement(QStringLiteral("parameter"));
            p.setAttribute(QStringLiteral("name"), name);
            p.setAttribute(QStringLiteral("value"), value);
            filter.appendChild(p);
        }
        nic.appendChild(filter);
        QDomElement model = doc.createElement(QStringLiteral("model"));
        model.setAttribute(QStringLiteral("type"), QStringLiteral("virtio"));
        nic.appendChild(model);
        devices.appendChild(nic);
    }

    for (QDomElement g : children(devices, QStringLiteral("graphics"))) {
        g.setAttribute(QStringLiteral("listen"), QStringLiteral("127.0.0.1"));
        for (QDomElement l : children(g, QStringLiteral("listen")))
            g.removeChild(l);
        QDomElement listen = doc.createElement(QStringLiteral("listen"));
        listen.setAttribute(QStringLiteral("type"), QStringLiteral("address"));
        listen.setAttribute(QStringLiteral("address"), QStringLiteral("127.0.0.1"));
        g.appendChild(listen);
        if (g.hasAttribute(QStringLiteral("port")) &&
            g.attribute(QStringLiteral("port")) != QLatin1String("-1")) {
            g.setAttribute(QStringLiteral("port"), QStringLiteral("-1"));
            g.setAttribute(QStringLiteral("autoport"), QStringLiteral("yes"));
        }
    }

    bool hasAgentChannel = false;
    for (const QDomElement& c : children(devices, QStringLiteral("channel"))) {
        if (c.firstChildElement(QStringLiteral("target")).attribute(QStringLiteral("name")) ==
            QLatin1String("org.qemu.guest_agent.0"))
            hasAgentChannel = true;
    }
    if (!hasAgentChannel && root.attribute(QStringLiteral("type")) != QLatin1String("test")) {
        QDomElement channel = doc.createElement(QStringLiteral("channel"));
        channel.setAttribute(QStringLiteral("type"), QStringLiteral("unix"));
        QDomElement target = doc.createElement(QStringLiteral("target"));
        target.setAttribute(QStringLiteral("type"), QStringLiteral("virtio"));
        target.setAttribute(QStringLiteral("name"), QStringLiteral("org.qemu.guest_agent.0"));
        channel.appendChild(target);
        devices.appendChild(channel);
    }

    if (!spec.seedIsoPath.isEmpty()) {
        QDomElement disk = doc.createElement(QStringLiteral("disk"));
        disk.setAttribute(QStringLiteral("type"), QStringLiteral("file"));
        disk.setAttribute(QStringLiteral("device"), QStringLiteral("cdrom"));
        QDomElement driver = doc.createElement(QStringLiteral("driver"));
        driver.setAttribute(QStringLiteral("name"), QStringLiteral("qemu"));
        driver.setAttribute(QStringLiteral("type"), QStringLiteral("raw"));
        disk.appendChild(driver);
        QDomElement source = doc.createElement(QStringLiteral("source"));
        source.setAttribute(QStringLiteral("file"), spec.seedIsoPath);
        disk.appendChild(source);
        QDomElement target = doc.createElement(QStringLiteral("target"));
        target.setAttribute(QStringLiteral("dev"), QStringLiteral("sdz"));
        target.setAttribute(QStringLiteral("bus"), QStringLiteral("sata"));
        disk.appendChild(target);
        disk.appendChild(doc.createElement(QStringLiteral("readonly")));
        devices.appendChild(disk);
    }

    // fw_cfg identity replaces whatever fw_cfg entries the source carried.
    for (QDomElement s : children(root, QStringLiteral("sysinfo"))) {
        if (s.attribute(QStringLiteral("type")) == QLatin1String("fwcfg"))
            root.removeChild(s);
    }
    if (!spec.fwcfg.isEmpty()) {
        QDomElement sysinfo = doc.createElement(QStringLiteral("sysinfo"));
        sysinfo.setAttribute(QStringLiteral("type"), QStringLiteral("fwcfg"));
        for (const FwCfgEntry& entry : spec.fwcfg) {
            QDomElement e = doc.createElement(QStringLiteral("entry"));
            e.setAttribute(QStringLiteral("name"), entry.name);
            if (!entry.file.isEmpty())
                e.setAttribute(QStringLiteral("file"), entry.file);
            else
                e.appendChild(doc.createTextNode(entry.value));
            sysinfo.appendChild(e);
        }
        root.insertBefore(sysinfo, os);
    }

    // Fluid's mark: the source list tells sandboxes apart by it, reconcile and destroy their owner.
    QDomElement metadata = ensureChild(doc, root, QStringLiteral("metadata"));
    for (QDomElement old = metadata.firstChildElement(); !old.isNull();) {
        QDomElement next = old.nextSiblingElement();
        if (old.namespaceURI() == QLatin1String(kMetadataNamespace))
            metadata.removeChild(old);
        old = next;
    }
    QDomDocument mark;
    mark.setContent(domainMarkXml({spec.sandboxId, spec.sourceName, spec.storeId}, true), true);
    metadata.appendChild(doc.importNode(mark.documentElement(), true));

    out.xml = doc.toString(2);
    return out;
}

} // namespace fluid::virt

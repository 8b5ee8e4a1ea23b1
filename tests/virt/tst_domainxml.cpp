// SPDX-License-Identifier: Apache-2.0
// Sandbox XML derived from fixture source XMLs (BIOS, UEFI + multi-disk, refused sources), the sandbox
// allowlist (what stays, what is dropped with a note, what refuses the source), ownership marks, and names.
#include "TestSupport.h"
#include "virt/DomainAllowlist.h"
#include "virt/DomainMark.h"
#include "virt/DomainXml.h"
#include "virt/Names.h"
#include "virt/SandboxNetwork.h"

#include <QDomDocument>
#include <QFile>
#include <QTest>

using namespace fluid;
using namespace fluid::virt;

namespace {
QString fixture(const char* name)
{
    QFile f(QStringLiteral(FIXTURE_DIR "/") + QLatin1String(name));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("missing fixture %s", name);
    return QString::fromUtf8(f.readAll());
}

QDomDocument dom(const QString& xml)
{
    QDomDocument doc;
    if (!doc.setContent(xml, true))
        qFatal("derived XML does not parse");
    return doc;
}

QList<QDomElement> all(const QDomDocument& doc, const QString& tag)
{
    QList<QDomElement> out;
    const QDomNodeList nodes = doc.elementsByTagName(tag);
    for (int i = 0; i < nodes.count(); ++i)
        out << nodes.at(i).toElement();
    return out;
}

SandboxXmlSpec baseSpec()
{
    SandboxXmlSpec s;
    s.domainName = QStringLiteral("fluid-sbx-0001");
    s.sandboxId = QStringLiteral("id-1");
    s.sourceName = QStringLiteral("golden-web");
    s.storeId = QStringLiteral("0123456789abcdef");
    s.overlays = {
        {QStringLiteral("vda"), QStringLiteral("/var/lib/libvirt/images/fluid-sbx-0001-vda.qcow2")}};
    s.macAddress = QStringLiteral("52:54:00:12:34:56");
    s.networkName = QStringLiteral("fluid-sandbox");
    s.gatewayAddress = QStringLiteral("10.213.0.1");
    s.gatePort = 3128;
    s.domainType = QStringLiteral("qemu");
    s.memoryMib = 512;
    s.vcpus = 1;
    s.fwcfg = {
        {QStringLiteral("opt/fluid/hostname"), QStringLiteral("sbx-0001"), {}},
        {QStringLiteral("opt/fluid/host_key"), {}, QStringLiteral("/var/lib/fluid/sbx-0001/host_key")}};
    return s;
}

// A minimal golden VM with `snippet` added inside <os>, at the top level or inside <devices>.
QString goldenWith(const QString& where, const QString& snippet)
{
    const auto at = [&](const char* place) {
        return where == QLatin1String(place) ? snippet : QString();
    };
    return QStringLiteral(
               "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
               "<name>golden-x</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>"
               "<os><type arch='x86_64'>hvm</type>%1</os>%2<devices>"
               "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
               "<source file='/var/lib/fluid/images/x/disk.qcow2'/><target dev='vda' bus='virtio'/>"
               "</disk>%3</devices></domain>")
        .arg(at("os"), at("top"), at("devices"));
}

// The domain scripts/golden-image.sh defines, with its shell variables filled in as the script does.
QString goldenImageScriptXml()
{
    QFile f(QStringLiteral(FIXTURE_DIR "/../../../scripts/golden-image.sh"));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("scripts/golden-image.sh is missing");
    const QString script = QString::fromUtf8(f.readAll());
    const qsizetype begin = script.indexOf(QLatin1String("<domain "));
    const qsizetype end = script.indexOf(QLatin1String("</domain>"), begin);
    if (begin < 0 || end < 0)
        qFatal("no domain XML in scripts/golden-image.sh");
    QString xml = script.mid(begin, end - begin + int(strlen("</domain>")));
    xml.replace(QLatin1String("$image_dir"), QLatin1String("/var/lib/fluid/images/debian12-fwcfg"))
        .replace(QLatin1String("$uuid_line"), QString())
        .replace(QLatin1String("$dom"), QLatin1String("golden-debian12-fwcfg"))
        .replace(QLatin1String("$name"), QLatin1String("debian12-fwcfg"))
        .replace(QLatin1String("$identity"), QLatin1String("fwcfg"));
    if (xml.contains(QLatin1Char('$')))
        qFatal("scripts/golden-image.sh has a variable this test does not fill in");
    return xml;
}
} // namespace

class TestDomainXml : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parsesSource()
    {
        auto s = parseDomainXml(fixture("uefi-multidisk.xml"));
        QVERIFY(s.ok());
        QCOMPARE(s->name, QStringLiteral("golden-db"));
        QCOMPARE(s->memoryKib, 4194304);
        QCOMPARE(s->vcpus, 4);
        QVERIFY(s->uefi);
        QCOMPARE(s->nvramPath, QStringLiteral("/var/lib/libvirt/qemu/nvram/golden-db_VARS.fd"));
        QCOMPARE(s->disks.size(), 3);
        QCOMPARE(s->writableDisks().size(), 2);
        QCOMPARE(s->identity, QStringLiteral("cloud-init"));
        QVERIFY(checkCloneable(*s).ok());
        auto bios = parseDomainXml(fixture("bios-single.xml"));
        QVERIFY(bios.ok());
        QCOMPARE(bios->memoryKib, 2048 * 1024);
        QVERIFY(!bios->uefi);
        QCOMPARE(bios->writableDisks().size(), 1); // the cdrom is read-only
    }

    void refusesUncloneableSources_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("why");
        QTest::newRow("block") << "refused-block.xml"
                               << "block disk";
        QTest::newRow("shareable") << "refused-shareable.xml"
                                   << "shareable";
    }
    void refusesUncloneableSources()
    {
        QFETCH(QString, file);
        QFETCH(QString, why);
        auto s = parseDomainXml(fixture(file.toLatin1().constData()));
        QVERIFY(s.ok());
        auto r = checkCloneable(*s);
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, ErrorCode::Refused);
        QVERIFY2(r.error().message.contains(why), qPrintable(r.error().message));
        SandboxXmlSpec spec = baseSpec();
        QVERIFY(!deriveSandboxXml(fixture(file.toLatin1().constData()), spec).ok());
    }

    /// A sandbox NIC without the gate's address cannot be filtered: no XML is made.
    void aNicWithoutItsFilterIsRefused()
    {
        SandboxXmlSpec spec = baseSpec();
        spec.gatewayAddress.clear();
        const auto derived = deriveSandboxXml(goldenWith(QStringLiteral("devices"), {}), spec);
        QVERIFY(!derived);
        QCOMPARE(derived.error().code, ErrorCode::InvalidArgument);
    }

    /// The network Fluid writes passes its own check; each weaker variant says what is wrong with it.
    void networkChecksNameEachWeakness()
    {
        NetworkSpec spec{QStringLiteral("fluid-sandbox"), QStringLiteral("fluidbr0"),
                         QStringLiteral("10.213.0.1"),    QStringLiteral("255.255.255.0"),
                         QStringLiteral("10.213.0.100"),  QStringLiteral("10.213.0.200")};
        const QString ours = sandboxNetworkXml(spec);
        QCOMPARE(sandboxNetworkDifferences(ours, spec), QStringList());
        auto without = [&](const QString& from, const QString& to) {
            QString x = ours;
            return sandboxNetworkDifferences(x.replace(from, to), spec).join(QLatin1Char('|'));
        };
        QVERIFY(without(QStringLiteral("<dns enable='no'/>"), {}).contains(QLatin1String("DNS")));
        QVERIFY(without(QStringLiteral("<port isolated='yes'/>"), {}).contains(QLatin1String("each other")));
        QVERIFY(without(QStringLiteral("<port isolated='yes'/>"), QStringLiteral("<forward mode='nat'/>"))
                    .contains(QLatin1String("forwards")));
        QVERIFY(without(QStringLiteral("10.213.0.200"), QStringLiteral("10.213.0.250"))
                    .contains(QLatin1String("DHCP")));
        QVERIFY(without(QStringLiteral("</network>"),
                        QStringLiteral("<ip family='ipv6' address='fd00::1' prefix='64'/></network>"))
                    .contains(QLatin1String("addresses")));
        // The filter is well-formed, named as the NICs name it, and ends in drops at both layers.
        QDomDocument filter;
        QVERIFY(filter.setContent(sandboxFilterXml()));
        QCOMPARE(filter.documentElement().attribute(QStringLiteral("name")), QLatin1String(kFilterName));
        const QString text = sandboxFilterXml();
        QVERIFY(text.contains(QLatin1String("<rule action='drop' direction='inout' priority='200'/>")));
        QVERIFY(text.contains(
            QLatin1String("<rule action='drop' direction='inout' priority='1000'><all/></rule>")));
    }

    void refusesNonDomainXml()
    {
        QCOMPARE(parseDomainXml(QStringLiteral("<network/>")).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(parseDomainXml(QStringLiteral("<domain><name>")).error().code, ErrorCode::InvalidArgument);
    }

    void derivesBiosSandbox()
    {
        auto derived = deriveSandboxXml(fixture("bios-single.xml"), baseSpec());
        QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
        const QDomDocument doc = dom(derived->xml);
        const QDomElement root = doc.documentElement();
        QCOMPARE(root.attribute(QStringLiteral("type")), QStringLiteral("qemu"));
        QVERIFY(!root.hasAttribute(QStringLiteral("id")));
        QCOMPARE(root.firstChildElement(QStringLiteral("name")).text(), QStringLiteral("fluid-sbx-0001"));
        QVERIFY(root.firstChildElement(QStringLiteral("uuid")).isNull());
        QVERIFY(root.firstChildElement(QStringLiteral("title")).isNull());
        QCOMPARE(root.firstChildElement(QStringLiteral("memory")).text(), QStringLiteral("524288"));
        QCOMPARE(root.firstChildElement(QStringLiteral("vcpu")).text(), QStringLiteral("1"));

        // The writable disk is the overlay; the empty cdrom drive stays; no backing chain or serial copied.
        const QList<QDomElement> disks = all(doc, QStringLiteral("disk"));
        QCOMPARE(disks.size(), 2);
        const QDomElement vda = disks.at(0);
        QCOMPARE(vda.firstChildElement(QStringLiteral("source")).attribute(QStringLiteral("file")),
                 QStringLiteral("/var/lib/libvirt/images/fluid-sbx-0001-vda.qcow2"));
        QCOMPARE(vda.firstChildElement(QStringLiteral("driver")).attribute(QStringLiteral("type")),
                 QStringLiteral("qcow2"));
        QVERIFY(vda.firstChildElement(QStringLiteral("backingStore")).isNull());
        QVERIFY(vda.firstChildElement(QStringLiteral("serial")).isNull());
        QVERIFY(!derived->xml.contains(QLatin1String("/var/lib/libvirt/images/golden-web.qcow2")));
        QCOMPARE(disks.at(1).attribute(QStringLiteral("device")), QStringLiteral("cdrom"));
        QVERIFY(disks.at(1).firstChildElement(QStringLiteral("source")).isNull());

        // One NIC, on the isolated network, with the new MAC: the source's network is gone.
        const QList<QDomElement> nics = all(doc, QStringLiteral("interface"));
        QCOMPARE(nics.size(), 1);
        QCOMPARE(nics.first().attribute(QStringLiteral("type")), QStringLiteral("network"));
        QCOMPARE(
            nics.first().firstChildElement(QStringLiteral("source")).attribute(QStringLiteral("network")),
            QStringLiteral("fluid-sandbox"));
        QCOMPARE(nics.first().firstChildElement(QStringLiteral("mac")).attribute(QStringLiteral("address")),
                 QStringLiteral("52:54:00:12:34:56"));
        QVERIFY(!derived->xml.contains(QLatin1String("'default'")));
        QVERIFY(!derived->xml.contains(QLatin1String("52:54:00:aa:bb:cc")));
        // Bound to Fluid's filter: DHCP and the egress gate on the gateway, nothing else (SandboxNetwork.h).
        const QDomElement filter = nics.first().firstChildElement(QStringLiteral("filterref"));
        QCOMPARE(filter.attribute(QStringLiteral("filter")), QLatin1String(kFilterName));
        QMap<QString, QString> parameters;
        for (QDomElement p = filter.firstChildElement(QStringLiteral("parameter")); !p.isNull();
             p = p.nextSiblingElement(QStringLiteral("parameter")))
            parameters.insert(p.attribute(QStringLiteral("name")), p.attribute(QStringLiteral("value")));
        QCOMPARE(parameters,
                 (QMap<QString, QString>{{QStringLiteral("GATEWAY"), QStringLiteral("10.213.0.1")},
                                         {QStringLiteral("GATE_PORT"), QStringLiteral("3128")},
                                         {QStringLiteral("CTRL_IP_LEARNING"), QStringLiteral("dhcp")}}));

        // Graphics on localhost only, on an automatic port.
        const QDomElement graphics = all(doc, QStringLiteral("graphics")).first();
        QCOMPARE(graphics.attribute(QStringLiteral("listen")), QStringLiteral("127.0.0.1"));
        QCOMPARE(graphics.attribute(QStringLiteral("autoport")), QStringLiteral("yes"));

        // No sound or tablet, each with a note; the agent channel is added.
        QVERIFY(all(doc, QStringLiteral("sound")).isEmpty());
        QVERIFY(all(doc, QStringLiteral("input")).isEmpty());
        QCOMPARE(derived->notes.size(), 2);
        QVERIFY2(derived->notes.at(0).startsWith(QLatin1String("<sound model='ich9'> removed")),
                 qPrintable(derived->notes.join(QLatin1Char('\n'))));
        QVERIFY2(derived->notes.at(1).startsWith(QLatin1String("<input type='tablet'> removed")),
                 qPrintable(derived->notes.join(QLatin1Char('\n'))));
        bool agent = false;
        for (const QDomElement& t : all(doc, QStringLiteral("target")))
            agent |= t.attribute(QStringLiteral("name")) == QLatin1String("org.qemu.guest_agent.0");
        QVERIFY(agent);

        // fw_cfg identity and Fluid's mark.
        const QList<QDomElement> entries = all(doc, QStringLiteral("entry"));
        QCOMPARE(entries.size(), 2);
        QCOMPARE(entries.at(0).text(), QStringLiteral("sbx-0001"));
        QCOMPARE(entries.at(1).attribute(QStringLiteral("file")),
                 QStringLiteral("/var/lib/fluid/sbx-0001/host_key"));
        auto reparsed = parseDomainXml(derived->xml);
        QVERIFY(reparsed.ok());
        QCOMPARE(reparsed->sandboxId, QStringLiteral("id-1"));
        // The mark names the store that made it, in Fluid's namespace.
        const QDomNodeList store = doc.documentElement().elementsByTagNameNS(
            QLatin1String(kMetadataNamespace), QStringLiteral("store"));
        QCOMPARE(store.count(), 1);
        QCOMPARE(store.at(0).toElement().text(), QStringLiteral("0123456789abcdef"));
    }

    /// The mark as the domain XML carries it and as libvirt's metadata API hands it back (no prefix).
    void marksReadBack()
    {
        const DomainMark mark{QStringLiteral("id-<1>"), QStringLiteral("golden & web"),
                              QStringLiteral("0123456789abcdef")};
        for (bool withNamespace : {true, false}) {
            const DomainMark back = parseDomainMark(domainMarkXml(mark, withNamespace));
            QCOMPARE(back.sandboxId, mark.sandboxId);
            QCOMPARE(back.sourceName, mark.sourceName);
            QCOMPARE(back.storeId, mark.storeId);
        }
        QVERIFY(domainMarkXml(mark, true).contains(QLatin1String(kMetadataNamespace)));
        QVERIFY(!parseDomainMark(QStringLiteral("<identity>fwcfg</identity>")).isSandbox());
        QVERIFY(!parseDomainMark(QString()).isSandbox());
    }

    void derivesUefiMultiDiskSandbox()
    {
        SandboxXmlSpec spec = baseSpec();
        spec.overlays = {{QStringLiteral("vda"), QStringLiteral("/pool/fluid-x-vda.qcow2")},
                         {QStringLiteral("vdb"), QStringLiteral("/pool/fluid-x-vdb.qcow2")}};
        spec.domainType.reset();
        spec.memoryMib = 0;
        spec.vcpus = 0;
        spec.fwcfg.clear();
        spec.seedIsoPath = QStringLiteral("/pool/fluid-x-seed.iso");

        // Without its own NVRAM the clone would share the source's: refused.
        QVERIFY(!deriveSandboxXml(fixture("uefi-multidisk.xml"), spec).ok());
        spec.nvramPath = QStringLiteral("/pool/fluid-x-nvram.fd");
        auto derived = deriveSandboxXml(fixture("uefi-multidisk.xml"), spec);
        QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
        const QDomDocument doc = dom(derived->xml);
        QCOMPARE(doc.documentElement().attribute(QStringLiteral("type")), QStringLiteral("kvm"));
        QCOMPARE(doc.documentElement().firstChildElement(QStringLiteral("memory")).text(),
                 QStringLiteral("4194304"));
        const QDomElement nvram = all(doc, QStringLiteral("nvram")).first();
        QCOMPARE(nvram.text(), QStringLiteral("/pool/fluid-x-nvram.fd"));
        QVERIFY(!nvram.hasAttribute(QStringLiteral("template")));
        QVERIFY(!derived->xml.contains(QLatin1String("golden-db_VARS.fd")));

        QStringList sources;
        for (const QDomElement& d : all(doc, QStringLiteral("disk")))
            sources << d.firstChildElement(QStringLiteral("source")).attribute(QStringLiteral("file"));
        QCOMPARE(sources, QStringList({QStringLiteral("/pool/fluid-x-vda.qcow2"),
                                       QStringLiteral("/pool/fluid-x-vdb.qcow2"),
                                       QString(), // the empty cdrom drive
                                       QStringLiteral("/pool/fluid-x-seed.iso")}));
        // Both writable disks are qcow2 overlays now, whatever format their sources had.
        QCOMPARE(all(doc, QStringLiteral("driver")).at(0).attribute(QStringLiteral("type")),
                 QStringLiteral("qcow2"));
        // The source's NIC on "default" is replaced; the existing agent channel is not duplicated.
        QCOMPARE(all(doc, QStringLiteral("interface")).size(), 1);
        QCOMPARE(all(doc, QStringLiteral("channel")).size(), 1);
        QVERIFY(all(doc, QStringLiteral("sysinfo")).isEmpty());
        // The golden's identity mark is not carried over; the sandbox mark is.
        auto reparsed = parseDomainXml(derived->xml);
        QCOMPARE(reparsed->identity, QString());
        QCOMPARE(reparsed->sandboxId, QStringLiteral("id-1"));
    }

    void refusesWhatReachesOutOrIn_data()
    {
        QTest::addColumn<QString>("where");
        QTest::addColumn<QString>("snippet");
        QTest::addColumn<QString>("names");
        const auto row = [](const char* name, const char* where, const char* snippet, const char* names) {
            QTest::newRow(name) << where << snippet << names;
        };
        row("qemu:commandline", "top",
            "<qemu:commandline><qemu:arg value='-netdev'/><qemu:arg value='user,id=x'/></qemu:commandline>",
            "<qemu:commandline>");
        row("qemu:capabilities", "top",
            "<qemu:capabilities><qemu:add capability='blockdev'/></qemu:capabilities>",
            "<qemu:capabilities>");
        row("qemu element in a device", "devices",
            "<interface type='network'><source network='default'/>"
            "<qemu:override/></interface>",
            "<qemu:override>");
        row("vsock", "devices", "<vsock model='virtio'><cid auto='yes'/></vsock>", "<vsock model='virtio'>");
        for (const char* type : {"tcp", "udp", "file", "dev", "pipe", "unix", "spiceport", "nmdm", "stdio"}) {
            const QByteArray name = QByteArray("serial ") + type;
            QTest::newRow(name.constData())
                << "devices"
                << QStringLiteral("<serial type='%1'><source path='/tmp/x' host='192.0.2.1' service='4555'/>"
                                  "<target port='0'/></serial>")
                       .arg(QLatin1String(type))
                << QStringLiteral("<serial type='%1'>").arg(QLatin1String(type));
        }
        row("console tcp", "devices",
            "<console type='tcp'><source mode='connect' host='192.0.2.1' service='23'/></console>",
            "<console type='tcp'>");
        row("parallel file", "devices", "<parallel type='file'><source path='/tmp/out'/></parallel>",
            "<parallel type='file'>");
        row("unix channel other than the agent's", "devices",
            "<channel type='unix'><source mode='connect' path='/run/docker.sock'/>"
            "<target type='virtio' name='org.example.0'/></channel>",
            "<channel type='unix'>");
        row("guestfwd channel", "devices",
            "<channel type='pty'><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>",
            "<channel type='pty'> forwards guest connections");
        row("pty console logged to a host file", "devices",
            "<serial type='pty'><log file='/var/log/x.log'/><target port='0'/></serial>",
            "<serial type='pty'><log file='/var/log/x.log'> writes guest output");
        row("shmem", "devices",
            "<shmem name='s0'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>", "<shmem>");
        row("ivshmem doorbell", "devices",
            "<shmem name='s1'><model type='ivshmem-doorbell'/><server path='/tmp/ivshmem'/></shmem>",
            "<shmem>");
        row("tpm passthrough", "devices",
            "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>",
            "<tpm><backend type='passthrough'>");
        row("tpm external", "devices",
            "<tpm model='tpm-crb'><backend type='external'><source type='unix' mode='connect' "
            "path='/tmp/swtpm.sock'/></backend></tpm>",
            "<tpm><backend type='external'>");
        row("tpm emulator with a host secret", "devices",
            "<tpm model='tpm-crb'><backend type='emulator' version='2.0'><encryption secret='6dd3e4a5'/>"
            "</backend></tpm>",
            "<encryption>");
        row("hostdev", "devices",
            "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' "
            "slot='0x00' function='0x0'/></source></hostdev>",
            "<hostdev type='pci'> passes a host device");
        row("virtiofs", "devices",
            "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='/home'/>"
            "<target dir='home'/></filesystem>",
            "<filesystem type='mount'> shares a host folder");
        row("9p", "devices",
            "<filesystem type='mount' accessmode='mapped'><source dir='/srv'/><target "
            "dir='srv'/></filesystem>",
            "<filesystem type='mount'>");
        row("smartcard passthrough", "devices",
            "<smartcard mode='passthrough' type='tcp'><source mode='bind' host='0.0.0.0' service='2001'/>"
            "</smartcard>",
            "<smartcard type='tcp'>");
        row("smartcard of the host", "devices", "<smartcard mode='host'/>", "<smartcard mode='host'>");
        row("seclabel none", "top", "<seclabel type='none'/>", "<seclabel type='none'> turns off");
        row("seclabel relabel no", "top", "<seclabel type='dynamic' model='selinux' relabel='no'/>",
            "<seclabel relabel='no'> turns off");
        row("static seclabel", "top",
            "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c1"
            "</label></seclabel>",
            "<seclabel type='static'>");
        row("network disk", "devices",
            "<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' "
            "name='prod'><host name='192.0.2.5' port='10809'/></source><target dev='vdb' bus='virtio'/>"
            "<readonly/></disk>",
            "<disk type='network'> vdb reads a disk over the network");
        row("cdrom with a host file", "devices",
            "<disk type='file' device='cdrom'><source file='/root/secrets.iso'/><target dev='sda' "
            "bus='sata'/>"
            "<readonly/></disk>",
            "<disk type='file'> sda attaches a host file or device to the guest as is (/root/secrets.iso)");
        row("read-only host block device", "devices",
            "<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdc' bus='virtio'/>"
            "<readonly/></disk>",
            "<disk type='block'> vdc");
        row("scsi lun", "devices",
            "<disk type='block' device='lun'><source dev='/dev/sdc'/><target dev='sdd' bus='scsi'/>"
            "<readonly/></disk>",
            "<disk type='block'> sdd passes a host SCSI device");
        row("disk with a host secret", "devices",
            "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/fluid/"
            "images/x/data.qcow2'/><target dev='vdb' bus='virtio'/><encryption format='luks'><secret "
            "type='passphrase' uuid='1'/></encryption></disk>",
            "<disk type='file'> vdb <encryption>");
        row("bridge", "devices", "<interface type='bridge'><source bridge='br-prod'/></interface>",
            "<interface type='bridge'>");
        row("macvtap", "devices", "<interface type='direct'><source dev='eth0' mode='bridge'/></interface>",
            "<interface type='direct'>");
        row("user networking", "devices", "<interface type='user'/>", "<interface type='user'>");
        row("vhost-user", "devices",
            "<interface type='vhostuser'><source type='unix' path='/tmp/vu' mode='client'/></interface>",
            "<interface type='vhostuser'>");
        row("vnc on every address", "devices", "<graphics type='vnc' port='5900' listen='0.0.0.0'/>",
            "<graphics type='vnc' listen='0.0.0.0'> listens beyond the host's loopback");
        row("spice on a LAN address", "devices",
            "<graphics type='spice' autoport='yes'><listen type='address' address='192.168.1.5'/></graphics>",
            "<listen type='address' address='192.168.1.5'>");
        row("graphics on a network", "devices",
            "<graphics type='vnc'><listen type='network' network='default'/></graphics>",
            "<listen type='network' network='default'>");
        row("rdp", "devices", "<graphics type='rdp' autoport='yes'/>", "<graphics type='rdp'>");
        row("sdl on the host display", "devices", "<graphics type='sdl' display=':0'/>",
            "<graphics type='sdl'>");
        row("evdev passthrough", "devices",
            "<input type='passthrough' bus='virtio'><source evdev='/dev/input/event1'/></input>",
            "<input type='passthrough'>");
        row("rng from a host device", "devices",
            "<rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>", "/dev/hwrng");
        row("rng over egd", "devices",
            "<rng model='virtio'><backend model='egd' type='tcp'><source mode='connect' host='192.0.2.1' "
            "service='1024'/></backend></rng>",
            "<rng><backend model='egd'> reads");
        row("emulator from elsewhere", "devices", "<emulator>/tmp/qemu-system-x86_64</emulator>",
            "<emulator>/tmp/qemu-system-x86_64</emulator>");
        row("unknown device", "devices", "<pstore backend='acpi-erst'><path>/tmp/erst</path></pstore>",
            "<pstore> is not a device Fluid knows");
        row("unknown top-level element", "top", "<bootloader>/usr/bin/pygrub</bootloader>",
            "<bootloader> is not an element Fluid knows");
        row("kernel from elsewhere", "os", "<kernel>/root/vmlinuz</kernel>",
            "<kernel>/root/vmlinuz</kernel>");
        row("host initrd", "os", "<initrd>/boot/initrd.img-6.1.0</initrd>",
            "<initrd>/boot/initrd.img-6.1.0</initrd>");
        row("kernel path that climbs out", "os",
            "<kernel>/var/lib/fluid/images/x/../../../../etc/shadow</kernel>", "<kernel>");
        row("loader from elsewhere", "os", "<loader readonly='yes' type='pflash'>/home/me/OVMF.fd</loader>",
            "<loader>/home/me/OVMF.fd</loader>");
        row("loader path that climbs out", "os",
            "<loader readonly='yes' type='pflash'>/usr/share/OVMF/../../../etc/shadow</loader>", "<loader>");
        row("nvram from elsewhere", "os", "<nvram>/etc/shadow</nvram>", "<nvram>/etc/shadow</nvram>");
        row("nvram template from elsewhere", "os",
            "<nvram template='/home/me/VARS.fd'>/var/lib/libvirt/qemu/nvram/x_VARS.fd</nvram>",
            "<nvram template='/home/me/VARS.fd'>");
        row("network nvram", "os",
            "<nvram type='network'><source protocol='iscsi' name='iqn.2013-07.com.example:iscsi-nopool/0'>"
            "<host name='192.0.2.9' port='3260'/></source></nvram>",
            "<nvram type='network'>");
        row("acpi table from the host", "os", "<acpi><table type='slic'>/root/slic.dat</table></acpi>",
            "<acpi>");
        row("host smbios", "os", "<smbios mode='host'/>", "<smbios mode='host'>");
        row("unknown sysinfo", "top", "<sysinfo type='other'/>", "<sysinfo type='other'>");
    }
    void refusesWhatReachesOutOrIn()
    {
        QFETCH(QString, where);
        QFETCH(QString, snippet);
        QFETCH(QString, names);
        const QString xml = goldenWith(where, snippet);
        auto derived = deriveSandboxXml(xml, baseSpec());
        QVERIFY2(!derived.ok(), qPrintable(QStringLiteral("derived from: ") + snippet));
        QCOMPARE(derived.error().code, ErrorCode::Refused);
        const QString message = derived.error().message;
        QVERIFY2(message.startsWith(QLatin1String("golden-x cannot be a sandbox source: ")),
                 qPrintable(message));
        QVERIFY2(message.contains(names), qPrintable(message));
        // The source list shows the same reason before anything is made.
        auto checked = checkSourceContainment(xml);
        QVERIFY(!checked.ok());
        QCOMPARE(checked.error().message, message);
    }

    void dropsHarmlessDevicesWithANote_data()
    {
        QTest::addColumn<QString>("snippet");
        QTest::addColumn<QString>("gone");
        QTest::addColumn<QString>("note");
        QTest::newRow("sound") << "<sound model='ich9'/>"
                               << "<sound"
                               << "<sound model='ich9'> removed";
        QTest::newRow("audio to the host") << "<audio id='1' type='pulseaudio'/>"
                                           << "pulseaudio"
                                           << "<audio type='pulseaudio'> removed";
        QTest::newRow("usb tablet") << "<input type='tablet' bus='usb'/>"
                                    << "tablet"
                                    << "<input type='tablet'> removed";
        QTest::newRow("usb redirection") << "<redirdev bus='usb' type='spicevmc'/>"
                                         << "redirdev"
                                         << "<redirdev type='spicevmc'> removed";
        QTest::newRow("redirection filter") << "<redirfilter><usbdev allow='yes'/></redirfilter>"
                                            << "redirfilter"
                                            << "<redirfilter> removed";
        QTest::newRow("watchdog") << "<watchdog model='i6300esb' action='dump'/>"
                                  << "watchdog"
                                  << "<watchdog model='i6300esb'> removed";
        QTest::newRow("panic") << "<panic model='isa'/>"
                               << "panic"
                               << "<panic model='isa'> removed";
        QTest::newRow("spice agent channel") << "<channel type='spicevmc'><target type='virtio' "
                                                "name='com.redhat.spice.0'/></channel>"
                                             << "spicevmc"
                                             << "<channel type='spicevmc'> removed";
        QTest::newRow("qemu clipboard")
            << "<channel type='qemu-vdagent'><source><clipboard copypaste='yes'/>"
               "</source><target type='virtio' name='com.redhat.spice.0'/></channel>"
            << "qemu-vdagent"
            << "<channel type='qemu-vdagent'> removed";
    }
    void dropsHarmlessDevicesWithANote()
    {
        QFETCH(QString, snippet);
        QFETCH(QString, gone);
        QFETCH(QString, note);
        auto derived = deriveSandboxXml(goldenWith(QStringLiteral("devices"), snippet), baseSpec());
        QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
        QVERIFY2(!derived->xml.contains(gone), qPrintable(derived->xml));
        QCOMPARE(derived->notes.size(), 1);
        QVERIFY2(derived->notes.first().startsWith(note), qPrintable(derived->notes.first()));
    }

    void keepsWhatIsSafe_data()
    {
        QTest::addColumn<QString>("where");
        QTest::addColumn<QString>("snippet");
        QTest::addColumn<QString>("kept");
        const auto row = [](const char* name, const char* where, const char* snippet, const char* kept) {
            QTest::newRow(name) << where << snippet << kept;
        };
        row("pty serial and console", "devices",
            "<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' "
            "port='0'/></console>",
            "<console type=\"pty\"");
        row("vnc on a socket", "devices", "<graphics type='vnc'><listen type='socket'/></graphics>",
            "<graphics");
        row("vnc on loopback", "devices", "<graphics type='vnc' listen='127.0.0.1'/>", "<graphics");
        row("spice with no address (libvirt's loopback default)", "devices",
            "<graphics type='spice' autoport='yes'><listen type='address'/></graphics>", "<graphics");
        row("vnc on ipv6 loopback", "devices",
            "<graphics type='vnc'><listen type='address' address='::1'/>"
            "</graphics>",
            "<graphics");
        row("headless gl", "devices", "<graphics type='egl-headless'/>", "egl-headless");
        row("video", "devices", "<video><model type='virtio' heads='1' primary='yes'/></video>", "<video>");
        row("controllers", "devices", "<controller type='usb' model='qemu-xhci'/><controller type='sata'/>",
            "qemu-xhci");
        row("ps2 input", "devices", "<input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/>",
            "keyboard");
        row("memballoon", "devices", "<memballoon model='virtio'/>", "memballoon");
        row("rng from /dev/urandom", "devices",
            "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>", "/dev/urandom");
        row("rng with the default backend", "devices", "<rng model='virtio'><backend model='random'/></rng>",
            "<rng");
        row("rng built into qemu", "devices", "<rng model='virtio'><backend model='builtin'/></rng>",
            "builtin");
        row("no audio", "devices", "<audio id='1' type='none'/>", "<audio");
        row("qemu from the system", "devices", "<emulator>/usr/bin/qemu-system-x86_64</emulator>",
            "/usr/bin/qemu-system-x86_64");
        row("qemu-kvm from the system", "devices", "<emulator>/usr/libexec/qemu-kvm</emulator>", "qemu-kvm");
        row("direct boot beside the disk", "os",
            "<kernel>/var/lib/fluid/images/x/vmlinuz</kernel><initrd>/var/lib/fluid/images/x/initrd.img"
            "</initrd><cmdline>root=/dev/vda</cmdline>",
            "/var/lib/fluid/images/x/vmlinuz");
        row("firmware from the standard folder", "os",
            "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>",
            "OVMF_CODE_4M.fd");
        row("dynamic seclabel", "top", "<seclabel type='dynamic' model='selinux' relabel='yes'/>",
            "seclabel");
        row("smbios strings", "top",
            "<sysinfo type='smbios'><system><entry name='manufacturer'>Fluid</entry></system></sysinfo>",
            "manufacturer");
        row("cpu, clock, features, pm", "top",
            "<cpu mode='host-passthrough'/><clock offset='utc'/><features><acpi/></features><pm>"
            "<suspend-to-mem enabled='no'/></pm>",
            "host-passthrough");
    }
    void keepsWhatIsSafe()
    {
        QFETCH(QString, where);
        QFETCH(QString, snippet);
        QFETCH(QString, kept);
        auto derived = deriveSandboxXml(goldenWith(where, snippet), baseSpec());
        QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
        QVERIFY2(derived->xml.contains(kept), qPrintable(derived->xml));
        QCOMPARE(derived->notes, QStringList());
    }

    void agentChannelGetsLibvirtsOwnSocket()
    {
        // A source's agent channel bound to a host socket of its choosing would carry over as is.
        auto derived = deriveSandboxXml(
            goldenWith(
                QStringLiteral("devices"),
                QStringLiteral("<channel type='unix'><source mode='connect' path='/run/some-daemon.sock'/>"
                               "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>")),
            baseSpec());
        QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
        QVERIFY(!derived->xml.contains(QLatin1String("some-daemon")));
        const QDomDocument doc = dom(derived->xml);
        const QList<QDomElement> channels = all(doc, QStringLiteral("channel"));
        QCOMPARE(channels.size(), 1);
        QVERIFY(channels.first().firstChildElement(QStringLiteral("source")).isNull());
    }

    void overlaidDiskKeepsNothingOfItsSource()
    {
        auto derived = deriveSandboxXml(
            QString(goldenWith(QStringLiteral("devices"), {}))
                .replace(QLatin1String("<source file='/var/lib/fluid/images/x/disk.qcow2'/>"),
                         QLatin1String("<source file='/var/lib/fluid/images/x/disk.qcow2'><reservations "
                                       "managed='no'><source type='unix' path='/run/pr-helper.sock' "
                                       "mode='client'/></reservations></source>")),
            baseSpec());
        QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
        QVERIFY(!derived->xml.contains(QLatin1String("pr-helper")));
    }

    void goldenSourcesStillDerive()
    {
        // What golden-image.sh defines, as written and as libvirt's qemu driver shows it back.
        for (const QString& xml : {goldenImageScriptXml(), fixture("golden-expanded.xml"),
                                   QString::fromLatin1(test::kTestDriverGoldenXml)}) {
            QVERIFY(checkSourceContainment(xml).ok());
            auto derived = deriveSandboxXml(xml, baseSpec());
            QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
            QCOMPARE(derived->notes, QStringList());
        }
        auto expanded = deriveSandboxXml(fixture("golden-expanded.xml"), baseSpec());
        const QDomDocument doc = dom(expanded->xml);
        QCOMPARE(all(doc, QStringLiteral("kernel")).first().text(),
                 QStringLiteral("/var/lib/fluid/images/debian12-fwcfg/vmlinuz"));
        QCOMPARE(all(doc, QStringLiteral("console")).size(), 1);
        QCOMPARE(all(doc, QStringLiteral("rng")).size(), 1);
        QCOMPARE(all(doc, QStringLiteral("channel")).size(), 1);
        QVERIFY(
            all(doc, QStringLiteral("channel")).first().firstChildElement(QStringLiteral("source")).isNull());
        QCOMPARE(all(doc, QStringLiteral("sysinfo")).first().attribute(QStringLiteral("type")),
                 QStringLiteral("fwcfg"));
    }

    void virtManagerDesktopDerivesWithNotes()
    {
        // A typical virt-manager VM: SPICE extras and sound go, each with a note; the rest stays.
        SandboxXmlSpec spec = baseSpec();
        spec.nvramPath = QStringLiteral("/pool/fluid-x-nvram.fd");
        auto derived = deriveSandboxXml(fixture("virt-manager-uefi.xml"), spec);
        QVERIFY2(derived.ok(), qPrintable(derived.ok() ? QString() : derived.error().toString()));
        QStringList kinds;
        for (const QString& n : derived->notes)
            kinds << n.section(QLatin1Char('>'), 0, 0) + QLatin1Char('>');
        QCOMPARE(
            kinds,
            QStringList({QStringLiteral("<channel type='spicevmc'>"), QStringLiteral("<input type='tablet'>"),
                         QStringLiteral("<sound model='ich9'>"), QStringLiteral("<audio type='spice'>"),
                         QStringLiteral("<redirdev type='spicevmc'>"),
                         QStringLiteral("<redirdev type='spicevmc'>"),
                         QStringLiteral("<watchdog model='itco'>"), QStringLiteral("<tpm>")}));
        QVERIFY(!derived->xml.contains(QLatin1String("spicevmc")));
        const QDomDocument doc = dom(derived->xml);
        QCOMPARE(all(doc, QStringLiteral("tpm")).size(), 1);
        QCOMPARE(all(doc, QStringLiteral("video")).size(), 1);
        QCOMPARE(all(doc, QStringLiteral("input")).size(), 2);
        QCOMPARE(all(doc, QStringLiteral("graphics")).first().attribute(QStringLiteral("listen")),
                 QStringLiteral("127.0.0.1"));
        QCOMPARE(all(doc, QStringLiteral("loader")).first().text(),
                 QStringLiteral("/usr/share/OVMF/OVMF_CODE_4M.fd"));
        QCOMPARE(all(doc, QStringLiteral("nvram")).first().text(), QStringLiteral("/pool/fluid-x-nvram.fd"));
    }

    void everyWritableDiskNeedsAnOverlay()
    {
        SandboxXmlSpec spec = baseSpec();
        spec.nvramPath = QStringLiteral("/pool/n.fd");
        // vdb is missing: a clone must never write to the source's data disk.
        auto r = deriveSandboxXml(fixture("uefi-multidisk.xml"), spec);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message.contains(QLatin1String("vdb")));
    }

    void specValuesAreEscaped()
    {
        SandboxXmlSpec spec = baseSpec();
        spec.fwcfg = {{QStringLiteral("opt/fluid/hostname"), QStringLiteral("a'b\"<c>&"), {}}};
        auto derived = deriveSandboxXml(fixture("bios-single.xml"), spec);
        QVERIFY(derived.ok());
        const QDomDocument doc = dom(derived->xml);
        QCOMPARE(all(doc, QStringLiteral("entry")).first().text(), QStringLiteral("a'b\"<c>&"));
        QCOMPARE(all(doc, QStringLiteral("entry")).size(), 1);
    }

    void sandboxNames_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("valid");
        QTest::newRow("simple") << "web-1" << true;
        QTest::newRow("digits") << "0" << true;
        QTest::newRow("max") << QString(40, QLatin1Char('a')) << true;
        QTest::newRow("too long") << QString(41, QLatin1Char('a')) << false;
        QTest::newRow("empty") << "" << false;
        QTest::newRow("upper") << "Web" << false;
        QTest::newRow("leading dash") << "-oProxyCommand=x" << false;
        QTest::newRow("space") << "a b" << false;
        QTest::newRow("slash") << "../etc" << false;
        QTest::newRow("dot") << "a.b" << false;
        QTest::newRow("quote") << "a'b" << false;
        QTest::newRow("xml") << "a<b>" << false;
        QTest::newRow("semicolon") << "a;rm -rf" << false;
        QTest::newRow("dollar") << "$(id)" << false;
        QTest::newRow("backtick") << "`id`" << false;
        QTest::newRow("newline") << "a\nb" << false;
        QTest::newRow("nul") << QString::fromLatin1("a\0b", 3) << false;
        QTest::newRow("unicode") << QString::fromUtf8("caf\xc3\xa9") << false;
    }
    void sandboxNames()
    {
        QFETCH(QString, name);
        QFETCH(bool, valid);
        const auto r = validateSandboxName(name);
        QCOMPARE(r.ok(), valid);
        if (!valid) {
            QCOMPARE(r.error().code, ErrorCode::InvalidArgument);
            QVERIFY(!r.error().message.contains(QLatin1Char('\n')));
            QVERIFY(!r.error().message.contains(QChar(0)));
        }
    }

    void generatedNamesAndDomainNames()
    {
        const QString a = generateSandboxName();
        QVERIFY(validateSandboxName(a).ok());
        QVERIFY(a.startsWith(QLatin1String("sbx-")));
        QVERIFY(a != generateSandboxName());
        QCOMPARE(domainNameFor(QStringLiteral("web")), QStringLiteral("fluid-web"));
        QCOMPARE(sandboxNameFromDomain(QStringLiteral("fluid-web")), QStringLiteral("web"));
        QCOMPARE(sandboxNameFromDomain(QStringLiteral("golden-web")), QString());
        QCOMPARE(sandboxNameFromDomain(QStringLiteral("fluid-Bad Name")), QString());
        QVERIFY(randomMac().startsWith(QLatin1String("52:54:00:")));
        QCOMPARE(randomMac().size(), 17);
    }
};

QTEST_GUILESS_MAIN(TestDomainXml)
#include "tst_domainxml.moc"

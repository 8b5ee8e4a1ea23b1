// SPDX-License-Identifier: Apache-2.0
// Sandbox XML derived from fixture source XMLs (BIOS, UEFI + multi-disk, refused sources), and names.
#include "virt/DomainMark.h"
#include "virt/DomainXml.h"
#include "virt/Names.h"

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
    s.domainType = QStringLiteral("qemu");
    s.memoryMib = 512;
    s.vcpus = 1;
    s.fwcfg = {
        {QStringLiteral("opt/fluid/hostname"), QStringLiteral("sbx-0001"), {}},
        {QStringLiteral("opt/fluid/host_key"), {}, QStringLiteral("/var/lib/fluid/sbx-0001/host_key")}};
    return s;
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

        // The writable disk is the overlay; the read-only cdrom stays; no backing chain or serial copied.
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
        QCOMPARE(disks.at(1).firstChildElement(QStringLiteral("source")).attribute(QStringLiteral("file")),
                 QStringLiteral("/var/lib/libvirt/images/debian.iso"));

        // One NIC, on the isolated network, with the new MAC: the production bridge is gone.
        const QList<QDomElement> nics = all(doc, QStringLiteral("interface"));
        QCOMPARE(nics.size(), 1);
        QCOMPARE(nics.first().attribute(QStringLiteral("type")), QStringLiteral("network"));
        QCOMPARE(
            nics.first().firstChildElement(QStringLiteral("source")).attribute(QStringLiteral("network")),
            QStringLiteral("fluid-sandbox"));
        QCOMPARE(nics.first().firstChildElement(QStringLiteral("mac")).attribute(QStringLiteral("address")),
                 QStringLiteral("52:54:00:12:34:56"));
        QVERIFY(!derived->xml.contains(QLatin1String("br-prod")));
        QVERIFY(!derived->xml.contains(QLatin1String("52:54:00:aa:bb:cc")));

        // Graphics on localhost only, on an automatic port.
        const QDomElement graphics = all(doc, QStringLiteral("graphics")).first();
        QCOMPARE(graphics.attribute(QStringLiteral("listen")), QStringLiteral("127.0.0.1"));
        QCOMPARE(graphics.attribute(QStringLiteral("autoport")), QStringLiteral("yes"));
        QVERIFY(!derived->xml.contains(QLatin1String("0.0.0.0")));

        // No sound, passthrough or host folders; the agent channel is added.
        QVERIFY(all(doc, QStringLiteral("sound")).isEmpty());
        QVERIFY(all(doc, QStringLiteral("hostdev")).isEmpty());
        QVERIFY(all(doc, QStringLiteral("filesystem")).isEmpty());
        QCOMPARE(derived->notes.size(), 2);
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
                                       QStringLiteral("/var/lib/libvirt/images/reference.img"),
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

// SPDX-License-Identifier: Apache-2.0
// bench_create [--rounds N]: create-to-SSH-ready time of a sandbox, Fluid's engine next to the same steps
// done the way the original fluid.sh does them, on the same golden image (the cloud-init flavour), in
// one run. Not a ctest test; run it inside the test bed:
//   scripts/testbed up && tests/e2e/in-testbed.sh build/tests/bench/bench_create --rounds 3
//
// Fluid: SandboxManager::create through the libvirt C API (overlay volume through the storage API,
// derived XML, identity seed, start), lifecycle events and the DHCP lease / guest agent for the address,
// then the SSH banner.
// fluid.sh style: `qemu-img create` for the overlay, a seed ISO, `virsh dumpxml` + edits, `virsh define`,
// `virsh start`, then `virsh domifaddr --source lease` every 2 s until an address shows, then the SSH
// banner (tried every 0.5 s, which is kinder to it than an ssh retry loop).
#include "E2eBed.h"
#include "services/Wiring.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QCoreApplication>
#include <QDir>
#include <QDomDocument>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QThread>

#include <algorithm>
#include <cstdio>

using namespace fluid;

namespace {

struct Proc {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    bool ok() const { return exitCode == 0; }
};

Proc run(const QString& program, const QStringList& args, int timeoutMs = 120000)
{
    QProcess p;
    p.start(program, args);
    Proc r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.err = "timed out";
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

Proc virsh(const test::Bed& bed, const QStringList& args)
{
    return run(QStringLiteral("virsh"),
               QStringList{QStringLiteral("-c"), bed.value("FLUID_TESTBED_LIBVIRT_URI")} + args);
}

bool writeFile(const QString& path, const QByteArray& content)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(content) == content.size();
}

bool sshBanner(const QString& ip)
{
    QTcpSocket sock;
    sock.connectToHost(ip, 22);
    return sock.waitForConnected(2000) && sock.waitForReadyRead(3000) && sock.readLine().startsWith("SSH-");
}

/// The golden domain's XML with a new name, no UUID, a fresh MAC, `overlay` as its disk and `seed` as a
/// read-only cdrom: what fluid.sh's clone does to the XML it gets from virsh.
QString cloneXml(const QByteArray& golden, const QString& name, const QString& overlay, const QString& seed)
{
    QDomDocument doc;
    if (!doc.setContent(golden))
        return {};
    QDomElement dom = doc.documentElement();
    for (const QString& tag : {QStringLiteral("uuid"), QStringLiteral("metadata")})
        while (!dom.firstChildElement(tag).isNull())
            dom.removeChild(dom.firstChildElement(tag));
    QDomElement n = dom.firstChildElement(QStringLiteral("name"));
    n.replaceChild(doc.createTextNode(name), n.firstChild());
    QDomElement devices = dom.firstChildElement(QStringLiteral("devices"));
    for (QDomElement d = devices.firstChildElement(QStringLiteral("disk")); !d.isNull();
         d = d.nextSiblingElement(QStringLiteral("disk")))
        if (d.attribute(QStringLiteral("device")) == QLatin1String("disk"))
            d.firstChildElement(QStringLiteral("source")).setAttribute(QStringLiteral("file"), overlay);
    QDomElement mac =
        devices.firstChildElement(QStringLiteral("interface")).firstChildElement(QStringLiteral("mac"));
    auto byte = []() {
        return QString::number(QRandomGenerator::global()->bounded(256), 16)
            .rightJustified(2, QLatin1Char('0'));
    };
    mac.setAttribute(QStringLiteral("address"),
                     QStringLiteral("52:54:00:%1:%2:%3").arg(byte(), byte(), byte()));
    QDomElement cdrom = doc.createElement(QStringLiteral("disk"));
    cdrom.setAttribute(QStringLiteral("type"), QStringLiteral("file"));
    cdrom.setAttribute(QStringLiteral("device"), QStringLiteral("cdrom"));
    QDomElement driver = doc.createElement(QStringLiteral("driver"));
    driver.setAttribute(QStringLiteral("name"), QStringLiteral("qemu"));
    driver.setAttribute(QStringLiteral("type"), QStringLiteral("raw"));
    cdrom.appendChild(driver);
    QDomElement source = doc.createElement(QStringLiteral("source"));
    source.setAttribute(QStringLiteral("file"), seed);
    cdrom.appendChild(source);
    QDomElement target = doc.createElement(QStringLiteral("target"));
    target.setAttribute(QStringLiteral("dev"), QStringLiteral("sda"));
    target.setAttribute(QStringLiteral("bus"), QStringLiteral("sata"));
    cdrom.appendChild(target);
    cdrom.appendChild(doc.createElement(QStringLiteral("readonly")));
    devices.appendChild(cdrom);
    return doc.toString(2);
}

/// One create the fluid.sh way; returns milliseconds to the SSH banner, or -1 with `error` set. Removes
/// what it made either way.
qint64 createTheFluidShWay(const test::Bed& bed, int round, QString* error)
{
    const QString name = QStringLiteral("fluid-bench-sh-%1").arg(round);
    const QString images = bed.value("FLUID_TESTBED_IMAGES_DIR");
    const QString overlay = images + QLatin1Char('/') + name + QStringLiteral(".qcow2");
    const QString seed = images + QLatin1Char('/') + name + QStringLiteral("-seed.iso");
    const QString work = bed.dir + QLatin1Char('/') + name;
    QDir().mkpath(work);
    auto cleanup = qScopeGuard([&]() {
        virsh(bed, {QStringLiteral("destroy"), name});
        virsh(bed, {QStringLiteral("undefine"), name, QStringLiteral("--snapshots-metadata")});
        QFile::remove(overlay);
        QFile::remove(seed);
        QDir(work).removeRecursively();
    });

    // The identity files the seed carries, from the same CA Fluid uses (not timed: Fluid issues them in
    // memory, fluid.sh would have them ready too).
    const ssh::KeyPair hostKey = test::must(ssh::KeyPair::generate());
    ssh::HostCertificateRequest hreq;
    hreq.key = hostKey.publicKey();
    hreq.sandboxName = name;
    const ssh::Certificate hostCert = test::must(bed.ca->issueHostCertificate(hreq));
    writeFile(work + QStringLiteral("/host_key"), hostKey.toOpenSshPrivateKey());
    QFile::setPermissions(work + QStringLiteral("/host_key"),
                          QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    writeFile(work + QStringLiteral("/host_key-cert.pub"), hostCert.toOpenSshLine().toUtf8() + '\n');
    writeFile(work + QStringLiteral("/user_ca.pub"), bed.ca->userCaOpenSshLine().toUtf8() + '\n');

    QElapsedTimer t;
    t.start();
    const QString goldenDisk = bed.value("FLUID_GOLDEN_CLOUDINIT_DIR") + QStringLiteral("/disk.qcow2");
    Proc r =
        run(QStringLiteral("qemu-img"),
            {QStringLiteral("create"), QStringLiteral("-q"), QStringLiteral("-f"), QStringLiteral("qcow2"),
             QStringLiteral("-b"), goldenDisk, QStringLiteral("-F"), QStringLiteral("qcow2"), overlay});
    if (r.ok())
        r = run(QStringLiteral(FLUID_SOURCE_DIR "/scripts/golden/make-seed.sh"),
                {seed, name, name, work + QStringLiteral("/host_key"),
                 work + QStringLiteral("/host_key-cert.pub"), work + QStringLiteral("/user_ca.pub")});
    if (r.ok())
        r = virsh(bed, {QStringLiteral("dumpxml"), bed.value("FLUID_GOLDEN_CLOUDINIT_DOMAIN")});
    if (!r.ok()) {
        *error = QString::fromUtf8(r.err);
        return -1;
    }
    const QString xml = cloneXml(r.out, name, overlay, seed);
    writeFile(work + QStringLiteral("/domain.xml"), xml.toUtf8());
    r = virsh(bed, {QStringLiteral("define"), work + QStringLiteral("/domain.xml")});
    if (r.ok())
        r = virsh(bed, {QStringLiteral("start"), name});
    if (!r.ok()) {
        *error = QString::fromUtf8(r.err);
        return -1;
    }
    static const QRegularExpression ipRe(QStringLiteral("(\\d+\\.\\d+\\.\\d+\\.\\d+)/\\d+"));
    QString ip;
    while (ip.isEmpty() && t.elapsed() < 300000) {
        r = virsh(bed,
                  {QStringLiteral("domifaddr"), name, QStringLiteral("--source"), QStringLiteral("lease")});
        const auto m = ipRe.match(QString::fromUtf8(r.out));
        if (m.hasMatch())
            ip = m.captured(1);
        else
            QThread::msleep(2000);
    }
    while (!ip.isEmpty() && t.elapsed() < 300000) {
        if (sshBanner(ip))
            return t.elapsed();
        QThread::msleep(500);
    }
    *error = ip.isEmpty() ? QStringLiteral("no DHCP lease within 300 s")
                          : QStringLiteral("no SSH banner within 300 s");
    return -1;
}

qint64 median(QList<qint64> v)
{
    std::sort(v.begin(), v.end());
    return v.isEmpty() ? -1 : v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    int rounds = 1;
    for (int i = 1; i + 1 < argc; ++i)
        if (qstrcmp(argv[i], "--rounds") == 0)
            rounds = qBound(1, QByteArray(argv[i + 1]).toInt(), 10);
    const QString why = test::testbedUnavailableReason(test::readTestbedEnv());
    if (!why.isEmpty()) {
        std::fprintf(stderr, "SKIPPED: %s\n", qPrintable(why));
        return 77;
    }
    test::Bed bed;
    if (auto r = bed.open(QStringLiteral("bench-create")); !r) {
        std::fprintf(stderr, "%s\n", qPrintable(r.error().toString()));
        return 1;
    }
    auto db = test::must(store::openAndMigrate(bed.dbOptions()));
    const QString hostId = test::must(services::ensureHostRow(*db, bed.host())).id;
    virt::SandboxManager manager(*bed.hv, *db, bed.options());
    const QString golden = bed.value("FLUID_GOLDEN_CLOUDINIT_DOMAIN");

    QList<qint64> fluidMs;
    QList<qint64> shMs;
    for (int round = 0; round < rounds; ++round) {
        QElapsedTimer t;
        t.start();
        auto s = manager.createWithinLimits(
            test::createOptions(hostId, golden, QStringLiteral("bench-%1").arg(round)));
        if (!s) {
            std::fprintf(stderr, "Fluid create failed: %s\n", qPrintable(s.error().toString()));
            return 1;
        }
        fluidMs << t.elapsed();
        test::must(manager.destroy(s->id, model::Actor::system()));

        QString error;
        const qint64 ms = createTheFluidShWay(bed, round, &error);
        if (ms < 0) {
            std::fprintf(stderr, "fluid.sh-style create failed: %s\n", qPrintable(error));
            return 1;
        }
        shMs << ms;
        std::printf("round %d: fluid %lld ms, fluid.sh-style %lld ms\n", round + 1, fluidMs.last(),
                    shMs.last());
        std::fflush(stdout);
    }
    std::printf("\ncreate to SSH ready (cloud-init golden image, %s, %d round(s), median)\n",
                qPrintable(bed.hv->uri()), rounds);
    std::printf("  %-40s %8lld ms\n", "Fluid (libvirt C API, events)", median(fluidMs));
    std::printf("  %-40s %8lld ms\n", "fluid.sh style (virsh, qemu-img, 2 s poll)", median(shMs));
    return 0;
}

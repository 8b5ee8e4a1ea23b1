// SPDX-License-Identifier: Apache-2.0
// End-to-end on real VMs: sandboxes cloned from the golden images (scripts/golden-image.sh) in the
// contained test bed (scripts/testbed), driven with virsh, qemu-img, ssh-keygen and ssh for now.
// Runs inside the test bed's network namespace (tests/e2e/in-testbed.sh); every sandbox it creates is
// destroyed and its files deleted on every exit path (QScopeGuard, cleanup(), cleanupTestCase()).
#include "TestSupport.h"

#include <QDir>
#include <QDomDocument>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QNetworkInterface>
#include <QProcess>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

using namespace fluid;

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    bool ok() const { return exitCode == 0; }
    QString describe() const
    {
        return QStringLiteral("exit %1\n--- stdout\n%2\n--- stderr\n%3")
            .arg(exitCode)
            .arg(QString::fromUtf8(out.right(3000)), QString::fromUtf8(err.right(3000)));
    }
};

Run run(const QString& program, const QStringList& args, int timeoutMs = 60000, const QByteArray& input = {})
{
    QProcess p;
    p.setProgram(program);
    p.setArguments(args);
    p.start();
    if (!p.waitForStarted(10000))
        return {-1, {}, QStringLiteral("cannot start %1: %2").arg(program, p.errorString()).toUtf8()};
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(5000);
        return {-1, p.readAllStandardOutput(),
                p.readAllStandardError() + QStringLiteral("\n(timed out after %1 s: %2 %3)")
                                               .arg(timeoutMs / 1000)
                                               .arg(program, args.join(QLatin1Char(' ')))
                                               .toUtf8()};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

QString randomHex(int bytes)
{
    QString s;
    for (int i = 0; i < bytes; ++i)
        s += QStringLiteral("%1").arg(QRandomGenerator::global()->bounded(256), 2, 16, QLatin1Char('0'));
    return s;
}

QString readText(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(f.readAll());
}

bool writeText(const QString& path, const QString& text)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) &&
           f.write(text.toUtf8()) == text.toUtf8().size();
}

void measure(const char* what, double seconds)
{
    // Grep-able timing lines for the CI log: "MEASURE <what> <seconds> s".
    std::printf("MEASURE %s %.1f s\n", what, seconds);
    std::fflush(stdout);
}

enum class Flavour { FwCfg, CloudInit };

struct Sandbox {
    QString name;
    Flavour flavour = Flavour::FwCfg;
    QString keyDir;
    QString overlay;
    QString seed;
    QString mac;
    QString ip;
    QString knownHosts;
};

} // namespace

class TestE2eSandbox : public QObject {
    Q_OBJECT

    QMap<QString, QString> m_env;
    QString m_uri;
    QString m_work;
    QString m_hostCa;
    QString m_userCa;
    QString m_userKey;
    QList<Sandbox> m_sandboxes; // every sandbox created and not yet destroyed
    Sandbox m_fw;               // the fwcfg sandbox shared by the tests that follow its boot

    QString env(const char* key) const { return m_env.value(QString::fromLatin1(key)); }

    Run virsh(const QStringList& args, int timeoutMs = 60000)
    {
        return run(QStringLiteral("virsh"),
                   QStringList{QStringLiteral("-q"), QStringLiteral("-c"), m_uri} + args, timeoutMs);
    }

    // A new ed25519 key pair PATH and PATH.pub, no passphrase.
    static Run makeKey(const QString& path)
    {
        return run(QStringLiteral("ssh-keygen"),
                   {QStringLiteral("-q"), QStringLiteral("-t"), QStringLiteral("ed25519"),
                    QStringLiteral("-N"), QString(), QStringLiteral("-C"), QFileInfo(path).fileName(),
                    QStringLiteral("-f"), path});
    }

    // Signs PUBKEY (a .pub file) with CA for PRINCIPAL (-h: a host certificate); writes PUBKEY's
    // -cert.pub sibling. VALIDITY as ssh-keygen -V.
    static Run signKey(const QString& ca, const QString& pubKey, const QString& principal,
                       const QString& validity, bool host = false)
    {
        QStringList args{QStringLiteral("-q"),
                         QStringLiteral("-s"),
                         ca,
                         QStringLiteral("-I"),
                         QStringLiteral("fluid-e2e-") + principal,
                         QStringLiteral("-n"),
                         principal,
                         QStringLiteral("-V"),
                         validity};
        if (host)
            args << QStringLiteral("-h");
        return run(QStringLiteral("ssh-keygen"), args << pubKey);
    }

    // A certificate for the test user key, from CA (default: the user CA the sandboxes trust), for
    // PRINCIPAL. The validity starts 2 minutes back so that a guest clock a little behind the host's
    // (TCG, a reverted snapshot) still accepts it, and ends 5 minutes from now.
    QString signUserCert(const QString& principal, const QString& validity = QStringLiteral("-2m:+5m"),
                         const QString& ca = {})
    {
        const QString base = m_work + QStringLiteral("/user-") + randomHex(4);
        QFile::copy(m_userKey + QStringLiteral(".pub"), base + QStringLiteral(".pub"));
        const Run r =
            signKey(ca.isEmpty() ? m_userCa : ca, base + QStringLiteral(".pub"), principal, validity);
        if (!r.ok())
            qWarning("ssh-keygen (user certificate) failed: %s", qPrintable(r.describe()));
        return base + QStringLiteral("-cert.pub");
    }

    QStringList sshArgs(const QString& knownHosts, const QString& alias, const QString& cert) const
    {
        return {QStringLiteral("-F"), QStringLiteral("/dev/null"),
                QStringLiteral("-o"), QStringLiteral("BatchMode=yes"),
                QStringLiteral("-o"), QStringLiteral("StrictHostKeyChecking=yes"),
                QStringLiteral("-o"), QStringLiteral("UserKnownHostsFile=") + knownHosts,
                QStringLiteral("-o"), QStringLiteral("GlobalKnownHostsFile=/dev/null"),
                QStringLiteral("-o"), QStringLiteral("HostKeyAlias=") + alias,
                QStringLiteral("-o"), QStringLiteral("IdentitiesOnly=yes"),
                QStringLiteral("-o"), QStringLiteral("IdentityAgent=none"),
                QStringLiteral("-o"), QStringLiteral("PreferredAuthentications=publickey"),
                QStringLiteral("-o"), QStringLiteral("ConnectTimeout=20"),
                QStringLiteral("-o"), QStringLiteral("ServerAliveInterval=15"),
                QStringLiteral("-o"), QStringLiteral("LogLevel=ERROR"),
                QStringLiteral("-i"), m_userKey,
                QStringLiteral("-o"), QStringLiteral("CertificateFile=") + cert};
    }

    Run ssh(const Sandbox& s, const QString& command, const QString& cert = {}, int timeoutMs = 120000,
            const QByteArray& input = {})
    {
        const QString c = cert.isEmpty() ? signUserCert(s.name) : cert;
        QStringList args = sshArgs(s.knownHosts, s.name, c);
        args << QStringLiteral("root@") + s.ip << QStringLiteral("--") << command;
        return run(QStringLiteral("ssh"), args, timeoutMs, input);
    }

    QString goldenDir(Flavour f) const
    {
        return f == Flavour::FwCfg ? env("FLUID_GOLDEN_FWCFG_DIR") : env("FLUID_GOLDEN_CLOUDINIT_DIR");
    }
    QString goldenDomain(Flavour f) const
    {
        return f == Flavour::FwCfg ? env("FLUID_GOLDEN_FWCFG_DOMAIN") : env("FLUID_GOLDEN_CLOUDINIT_DOMAIN");
    }

    // The sandbox's domain XML, cloned from the golden domain the way Fluid's engine clones a source VM:
    // new name, no UUID, a fresh MAC, the overlay as its disk, a serial log, and the identity (fw_cfg
    // entries, or the NoCloud seed as a read-only cdrom).
    QString cloneGoldenXml(const Sandbox& s, QString* error)
    {
        const Run dump = virsh({QStringLiteral("dumpxml"), goldenDomain(s.flavour)});
        QDomDocument doc;
        if (!dump.ok() || !doc.setContent(dump.out)) {
            *error = QStringLiteral("cannot read the golden domain %1: ").arg(goldenDomain(s.flavour)) +
                     dump.describe();
            return {};
        }
        QDomElement dom = doc.documentElement();
        auto element = [&](QDomElement parent, const QString& tag, const QString& text = {}) {
            QDomElement e = doc.createElement(tag);
            if (!text.isEmpty())
                e.appendChild(doc.createTextNode(text));
            parent.appendChild(e);
            return e;
        };
        for (const QString& tag :
             {QStringLiteral("uuid"), QStringLiteral("title"), QStringLiteral("description")})
            while (!dom.firstChildElement(tag).isNull())
                dom.removeChild(dom.firstChildElement(tag));
        QDomElement name = dom.firstChildElement(QStringLiteral("name"));
        name.replaceChild(doc.createTextNode(s.name), name.firstChild());

        QDomElement devices = dom.firstChildElement(QStringLiteral("devices"));
        bool diskSet = false;
        for (QDomElement d = devices.firstChildElement(QStringLiteral("disk")); !d.isNull();
             d = d.nextSiblingElement(QStringLiteral("disk"))) {
            if (d.attribute(QStringLiteral("device")) == QStringLiteral("disk")) {
                d.firstChildElement(QStringLiteral("source")).setAttribute(QStringLiteral("file"), s.overlay);
                diskSet = true;
            }
        }
        QDomElement mac =
            devices.firstChildElement(QStringLiteral("interface")).firstChildElement(QStringLiteral("mac"));
        QDomElement serial = devices.firstChildElement(QStringLiteral("serial"));
        if (!diskSet || mac.isNull() || serial.isNull()) {
            *error = QStringLiteral("the golden domain lacks a disk, an interface MAC or a serial port:\n") +
                     QString::fromUtf8(dump.out);
            return {};
        }
        mac.setAttribute(QStringLiteral("address"), s.mac);
        QDomElement log = doc.createElement(QStringLiteral("log"));
        log.setAttribute(QStringLiteral("file"), serialLog(s));
        log.setAttribute(QStringLiteral("append"), QStringLiteral("off"));
        serial.insertBefore(log, serial.firstChild());

        if (s.flavour == Flavour::FwCfg) {
            QDomElement sysinfo = element(dom, QStringLiteral("sysinfo"));
            sysinfo.setAttribute(QStringLiteral("type"), QStringLiteral("fwcfg"));
            const QList<QPair<QString, QString>> entries = {
                {QStringLiteral("hostname"), {}},
                {QStringLiteral("principal"), {}},
                {QStringLiteral("host_key"), s.keyDir + QStringLiteral("/host_key")},
                {QStringLiteral("host_cert"), s.keyDir + QStringLiteral("/host_key-cert.pub")},
                {QStringLiteral("user_ca"), m_userCa + QStringLiteral(".pub")},
            };
            for (const auto& [key, file] : entries) {
                QDomElement e =
                    element(sysinfo, QStringLiteral("entry"), file.isEmpty() ? s.name : QString());
                e.setAttribute(QStringLiteral("name"), QStringLiteral("opt/fluid/") + key);
                if (!file.isEmpty())
                    e.setAttribute(QStringLiteral("file"), file);
            }
        } else {
            QDomElement cdrom = element(devices, QStringLiteral("disk"));
            cdrom.setAttribute(QStringLiteral("type"), QStringLiteral("file"));
            cdrom.setAttribute(QStringLiteral("device"), QStringLiteral("cdrom"));
            QDomElement driver = element(cdrom, QStringLiteral("driver"));
            driver.setAttribute(QStringLiteral("name"), QStringLiteral("qemu"));
            driver.setAttribute(QStringLiteral("type"), QStringLiteral("raw"));
            element(cdrom, QStringLiteral("source")).setAttribute(QStringLiteral("file"), s.seed);
            QDomElement target = element(cdrom, QStringLiteral("target"));
            target.setAttribute(QStringLiteral("dev"), QStringLiteral("sda"));
            target.setAttribute(QStringLiteral("bus"), QStringLiteral("sata"));
            element(cdrom, QStringLiteral("readonly"));
        }
        return doc.toString(2);
    }

    static QString serialLog(const Sandbox& s)
    {
        return QStringLiteral("/var/log/libvirt/qemu/") + s.name + QStringLiteral("-serial.log");
    }

    // Defines and starts a sandbox; it is registered for cleanup before anything is created.
    bool createSandbox(Sandbox& s, Flavour flavour, QString* error)
    {
        s.flavour = flavour;
        s.name = QStringLiteral("sbx-e2e-") + randomHex(3);
        s.keyDir = m_work + QLatin1Char('/') + s.name;
        s.overlay = env("FLUID_TESTBED_IMAGES_DIR") + QLatin1Char('/') + s.name + QStringLiteral(".qcow2");
        if (flavour == Flavour::CloudInit)
            s.seed =
                env("FLUID_TESTBED_IMAGES_DIR") + QLatin1Char('/') + s.name + QStringLiteral("-seed.iso");
        s.mac = QStringLiteral("52:54:00:%1:%2:%3").arg(randomHex(1), randomHex(1), randomHex(1));
        s.knownHosts = s.keyDir + QStringLiteral("/known_hosts");
        m_sandboxes.append(s);

        QDir().mkpath(s.keyDir);
        const QString hostKey = s.keyDir + QStringLiteral("/host_key");
        Run r = makeKey(hostKey);
        if (r.ok())
            r = signKey(m_hostCa, hostKey + QStringLiteral(".pub"), s.name, QStringLiteral("-5m:+1d"), true);
        if (!r.ok()) {
            *error = QStringLiteral("ssh-keygen (host key/certificate) failed: ") + r.describe();
            return false;
        }
        writeText(
            s.knownHosts,
            QStringLiteral("@cert-authority %1 %2").arg(s.name, readText(m_hostCa + QStringLiteral(".pub"))));

        const QString golden = goldenDir(flavour);
        r = run(QStringLiteral("qemu-img"),
                {QStringLiteral("create"), QStringLiteral("-q"), QStringLiteral("-f"),
                 QStringLiteral("qcow2"), QStringLiteral("-b"), golden + QStringLiteral("/disk.qcow2"),
                 QStringLiteral("-F"), QStringLiteral("qcow2"), s.overlay});
        if (!r.ok()) {
            *error = QStringLiteral("qemu-img create (overlay) failed: ") + r.describe();
            return false;
        }
        if (flavour == Flavour::CloudInit) {
            r = run(QStringLiteral(FLUID_SOURCE_DIR "/scripts/golden/make-seed.sh"),
                    {s.seed, s.name, s.name, hostKey, hostKey + QStringLiteral("-cert.pub"),
                     m_userCa + QStringLiteral(".pub")});
            if (!r.ok()) {
                *error = QStringLiteral("make-seed.sh failed: ") + r.describe();
                return false;
            }
        }
        const QString xml = cloneGoldenXml(s, error);
        if (xml.isEmpty())
            return false;
        const QString xmlPath = s.keyDir + QStringLiteral("/domain.xml");
        writeText(xmlPath, xml);
        r = virsh({QStringLiteral("define"), xmlPath});
        if (r.ok())
            r = virsh({QStringLiteral("start"), s.name});
        if (!r.ok()) {
            *error = QStringLiteral("virsh define/start %1 failed: ").arg(s.name) + r.describe();
            return false;
        }
        for (Sandbox& known : m_sandboxes)
            if (known.name == s.name)
                known = s;
        return true;
    }

    // Waits for the DHCP lease of the sandbox's MAC, then for the SSH banner on its port 22.
    bool waitForSsh(Sandbox& s, int timeoutSec, QString* error)
    {
        QElapsedTimer t;
        t.start();
        static const QRegularExpression ipRe(QStringLiteral("(\\d+\\.\\d+\\.\\d+\\.\\d+)/\\d+"));
        while (s.ip.isEmpty() && t.elapsed() < timeoutSec * 1000) {
            const Run r = virsh({QStringLiteral("net-dhcp-leases"), env("FLUID_TESTBED_NETWORK"),
                                 QStringLiteral("--mac"), s.mac});
            const QRegularExpressionMatch m = ipRe.match(QString::fromUtf8(r.out));
            if (m.hasMatch())
                s.ip = m.captured(1);
            else
                QThread::msleep(1000);
        }
        for (Sandbox& known : m_sandboxes)
            if (known.name == s.name)
                known.ip = s.ip;
        if (s.ip.isEmpty()) {
            *error =
                QStringLiteral("no DHCP lease for %1 (%2) within %3 s").arg(s.name, s.mac).arg(timeoutSec);
            return false;
        }
        while (t.elapsed() < timeoutSec * 1000) {
            QTcpSocket sock;
            sock.connectToHost(s.ip, 22);
            if (sock.waitForConnected(3000) && sock.waitForReadyRead(5000) &&
                sock.readLine().startsWith("SSH-"))
                return true;
            QThread::msleep(500);
        }
        *error = QStringLiteral("no SSH banner from %1 at %2 within %3 s").arg(s.name, s.ip).arg(timeoutSec);
        return false;
    }

    void dumpSerial(const Sandbox& s)
    {
        const QString log = readText(serialLog(s));
        qWarning("serial console of %s (last lines):\n%s", qPrintable(s.name), qPrintable(log.right(4000)));
    }

    // Destroys the domain (with its snapshots' metadata), deletes its overlay, seed and logs, and checks
    // that nothing is left. Safe to call for a half-created sandbox and more than once.
    QString destroySandbox(const Sandbox& s)
    {
        if (s.name.isEmpty())
            return {};
        virsh({QStringLiteral("destroy"), s.name});
        if (virsh({QStringLiteral("dominfo"), s.name}).ok()) {
            const Run u = virsh({QStringLiteral("undefine"), s.name, QStringLiteral("--snapshots-metadata")});
            if (!u.ok())
                virsh({QStringLiteral("undefine"), s.name});
        }
        for (const QString& f : {s.overlay, s.seed, serialLog(s),
                                 QStringLiteral("/var/log/libvirt/qemu/") + s.name + QStringLiteral(".log")})
            if (!f.isEmpty())
                QFile::remove(f);
        m_sandboxes.erase(std::remove_if(m_sandboxes.begin(), m_sandboxes.end(),
                                         [&](const Sandbox& x) { return x.name == s.name; }),
                          m_sandboxes.end());
        QStringList left;
        if (virsh({QStringLiteral("dominfo"), s.name}).ok())
            left << QStringLiteral("domain ") + s.name;
        for (const QString& f : {s.overlay, s.seed})
            if (!f.isEmpty() && QFileInfo::exists(f))
                left << f;
        return left.join(QStringLiteral(", "));
    }

    QString shared() const { return m_fw.name; }

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0)
            test::skipWholeTest(QStringLiteral("e2e tests need root (libvirt, network namespace)"));
        if (QStandardPaths::findExecutable(QStringLiteral("qemu-system-x86_64")).isEmpty())
            test::skipWholeTest(
                QStringLiteral("qemu-system-x86_64 is not installed (scripts/setup-deps.sh)"));
        const QString envFile = qEnvironmentVariable("FLUID_TESTBED_ENV");
        if (envFile.isEmpty())
            test::skipWholeTest(
                QStringLiteral("FLUID_TESTBED_ENV is not set: run through ctest -L e2e, which starts "
                               "the test bed first"));
        QFile f(envFile);
        QVERIFY2(
            f.open(QIODevice::ReadOnly),
            qPrintable(QStringLiteral("test bed env file %1 is missing: testbed_up failed or did not run "
                                      "(scripts/testbed up)")
                           .arg(envFile)));
        for (const QByteArray& line : f.readAll().split('\n')) {
            const int eq = line.indexOf('=');
            if (eq > 0 && !line.startsWith('#'))
                m_env.insert(QString::fromUtf8(line.left(eq)), QString::fromUtf8(line.mid(eq + 1)).trimmed());
        }
        m_uri = env("FLUID_TESTBED_LIBVIRT_URI");
        QVERIFY2(!m_uri.isEmpty(), "FLUID_TESTBED_LIBVIRT_URI missing in the env file");
        for (const char* key : {"FLUID_GOLDEN_FWCFG_DIR", "FLUID_GOLDEN_CLOUDINIT_DIR"})
            QVERIFY2(QFileInfo::exists(env(key) + QStringLiteral("/disk.qcow2")),
                     qPrintable(QStringLiteral(
                                    "%1 (%2) has no disk.qcow2: build it with scripts/golden-image.sh build")
                                    .arg(QString::fromLatin1(key), env(key))));
        const QHostAddress bridge(env("FLUID_TESTBED_BRIDGE_IP"));
        QVERIFY2(QNetworkInterface::allAddresses().contains(bridge),
                 qPrintable(QStringLiteral("%1 is not an address here: the test must run inside namespace %2 "
                                           "(tests/e2e/in-testbed.sh)")
                                .arg(bridge.toString(), env("FLUID_TESTBED_NS"))));
        for (const Flavour f : {Flavour::FwCfg, Flavour::CloudInit}) {
            const Run golden = virsh({QStringLiteral("domstate"), goldenDomain(f)});
            QVERIFY2(
                golden.ok() && golden.out.trimmed() == "shut off",
                qPrintable(
                    QStringLiteral("golden domain %1 is not defined and shut off: ").arg(goldenDomain(f)) +
                    golden.describe()));
            const Run xml = virsh({QStringLiteral("dumpxml"), goldenDomain(f)});
            QVERIFY2(
                xml.out.contains(goldenDir(f).toUtf8() + "/disk.qcow2"),
                qPrintable(
                    QStringLiteral("golden domain %1 does not use %2: ").arg(goldenDomain(f), goldenDir(f)) +
                    xml.describe()));
        }

        m_work = test::makeTempDir(QStringLiteral("e2e-sandbox"));
        m_hostCa = m_work + QStringLiteral("/host_ca");
        m_userCa = m_work + QStringLiteral("/user_ca");
        m_userKey = m_work + QStringLiteral("/user_key");
        for (const QString& key : {m_hostCa, m_userCa, m_userKey}) {
            const Run r = makeKey(key);
            QVERIFY2(r.ok(), qPrintable(r.describe()));
        }
    }

    void cleanup()
    {
        // Sandboxes a test left behind. The shared fwcfg sandbox lives until destroyLeavesNothingBehind,
        // unless it never came up: then it goes at once and the tests that need it fail fast.
        const bool bootFailed = QTest::currentTestFailed() &&
                                qstrcmp(QTest::currentTestFunction(), "fwcfgSandboxBootsToSsh") == 0;
        const QList<Sandbox> left = m_sandboxes;
        for (const Sandbox& s : left) {
            if (s.name == m_fw.name && !bootFailed)
                continue;
            if (QTest::currentTestFailed())
                dumpSerial(s);
            const QString rest = destroySandbox(s);
            if (!rest.isEmpty())
                qWarning("cleanup could not remove: %s", qPrintable(rest));
            if (s.name == m_fw.name)
                m_fw = {};
        }
    }

    void cleanupTestCase()
    {
        const QList<Sandbox> left = m_sandboxes;
        for (const Sandbox& s : left)
            destroySandbox(s);
        if (!m_work.isEmpty())
            QDir(m_work).removeRecursively();
    }

    void productionStandInTrustsOnlyProductionPrincipal()
    {
        const QString caFile = env("FLUID_TESTBED_PROD_USER_CA");
        QVERIFY2(QFile::remove(caFile) || !QFileInfo::exists(caFile), qPrintable(caFile));
        QVERIFY(QFile::copy(m_userCa + QStringLiteral(".pub"), caFile));
        const QString kh = m_work + QStringLiteral("/prod_known_hosts");
        const QString port = env("FLUID_TESTBED_PROD_PORT");
        writeText(kh,
                  QStringLiteral("fluid-production %1").arg(readText(env("FLUID_TESTBED_PROD_HOST_KEY"))));
        auto login = [&](const QString& principal) {
            QStringList args = sshArgs(kh, QStringLiteral("fluid-production"), signUserCert(principal));
            args << QStringLiteral("-p") << port << QStringLiteral("root@127.0.0.1") << QStringLiteral("--")
                 << QStringLiteral("echo production-ok");
            return run(QStringLiteral("ssh"), args);
        };
        const Run good = login(env("FLUID_TESTBED_PROD_PRINCIPAL"));
        QVERIFY2(good.ok() && good.out.trimmed() == "production-ok", qPrintable(good.describe()));
        const Run bad = login(QStringLiteral("sbx-not-production"));
        QVERIFY2(!bad.ok() && bad.err.contains("Permission denied"), qPrintable(bad.describe()));
    }

    void fwcfgSandboxBootsToSsh()
    {
        QString error;
        QElapsedTimer t;
        t.start();
        if (!createSandbox(m_fw, Flavour::FwCfg, &error))
            QFAIL(qPrintable(error));
        measure("create_and_start_fwcfg", t.elapsed() / 1000.0);
        if (!waitForSsh(m_fw, 180, &error))
            QFAIL(qPrintable(error));
        measure("boot_to_ssh_banner_fwcfg", t.elapsed() / 1000.0);

        const Run r = ssh(
            m_fw, QStringLiteral("hostname; id -u; cat /etc/ssh/fluid_principals/root; cat /etc/machine-id; "
                                 "systemctl is-active fluid-identity.service ssh.service; "
                                 "stat -c %a /etc/ssh/ssh_host_ed25519_key"));
        measure("boot_to_first_command_fwcfg", t.elapsed() / 1000.0);
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        const QStringList lines = QString::fromUtf8(r.out).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.value(0), m_fw.name);
        QCOMPARE(lines.value(1), QStringLiteral("0"));
        QCOMPARE(lines.value(2), m_fw.name);
        QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-f]{32}$")).match(lines.value(3)).hasMatch(),
                 qPrintable(QStringLiteral("machine-id: ") + lines.value(3)));
        QCOMPARE(lines.value(4), QStringLiteral("active"));
        QCOMPARE(lines.value(5), QStringLiteral("active"));
        QCOMPARE(lines.value(6), QStringLiteral("600"));
    }

    void hostCertificateIsVerifiedStrictly()
    {
        QVERIFY2(!shared().isEmpty(), "the fwcfg sandbox did not boot");
        const QString cert = signUserCert(m_fw.name);
        // A known_hosts that trusts another host CA: no trust on first use, the connection fails.
        const QString otherCa = m_work + QStringLiteral("/other_host_ca");
        QVERIFY(makeKey(otherCa).ok());
        const QString otherKh = m_work + QStringLiteral("/other_known_hosts");
        writeText(otherKh, QStringLiteral("@cert-authority %1 %2")
                               .arg(m_fw.name, readText(otherCa + QStringLiteral(".pub"))));
        QStringList args = sshArgs(otherKh, m_fw.name, cert);
        args << QStringLiteral("root@") + m_fw.ip << QStringLiteral("true");
        Run r = run(QStringLiteral("ssh"), args);
        QVERIFY2(!r.ok() && r.err.contains("Host key verification failed"), qPrintable(r.describe()));
        // The right CA, but the host certificate names another sandbox.
        const QString aliasKh = m_work + QStringLiteral("/alias_known_hosts");
        writeText(aliasKh, QStringLiteral("@cert-authority sbx-someone-else %1")
                               .arg(readText(m_hostCa + QStringLiteral(".pub"))));
        args = sshArgs(aliasKh, QStringLiteral("sbx-someone-else"), cert);
        args << QStringLiteral("root@") + m_fw.ip << QStringLiteral("true");
        r = run(QStringLiteral("ssh"), args);
        QVERIFY2(!r.ok() && r.err.contains("Host key verification failed"), qPrintable(r.describe()));
    }

    void wrongPrincipalAndExpiredCertificatesAreRefused()
    {
        QVERIFY2(!shared().isEmpty(), "the fwcfg sandbox did not boot");
        const Run wrong = ssh(m_fw, QStringLiteral("true"), signUserCert(QStringLiteral("sbx-e2e-other")));
        QVERIFY2(!wrong.ok() && wrong.err.contains("Permission denied"), qPrintable(wrong.describe()));
        const Run expired =
            ssh(m_fw, QStringLiteral("true"), signUserCert(m_fw.name, QStringLiteral("20200101:20200102")));
        QVERIFY2(!expired.ok() && expired.err.contains("Permission denied"), qPrintable(expired.describe()));
        // Another CA's certificate for the right principal.
        const QString otherCa = m_work + QStringLiteral("/other_user_ca");
        QVERIFY(makeKey(otherCa).ok());
        const Run foreign =
            ssh(m_fw, QStringLiteral("true"), signUserCert(m_fw.name, QStringLiteral("-2m:+5m"), otherCa));
        QVERIFY2(!foreign.ok() && foreign.err.contains("Permission denied"), qPrintable(foreign.describe()));
        // The server refused them for the right reasons (and a valid certificate still works).
        const Run journal = ssh(m_fw, QStringLiteral("journalctl -b -u ssh.service --no-pager -o cat"));
        QVERIFY2(journal.ok(), qPrintable(journal.describe()));
        QVERIFY2(journal.out.contains("expired"), qPrintable(QString::fromUtf8(journal.out.right(3000))));
        QVERIFY2(journal.out.contains("principal"), qPrintable(QString::fromUtf8(journal.out.right(3000))));
    }

    void installsPackageFromTestBedRepository()
    {
        QVERIFY2(!shared().isEmpty(), "the fwcfg sandbox did not boot");
        QElapsedTimer t;
        t.start();
        const Run r =
            ssh(m_fw,
                QStringLiteral("echo 'deb [trusted=yes] %1 ./' > /etc/apt/sources.list.d/fluid-testbed.list "
                               "&& apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y hello "
                               "&& hello")
                    .arg(env("FLUID_TESTBED_APT_URL")),
                {}, 300000);
        measure("apt_install_hello", t.elapsed() / 1000.0);
        QVERIFY2(r.ok() && r.out.contains("Hello, world!"), qPrintable(r.describe()));
    }

    void snapshotRevertDiscardsChanges()
    {
        QVERIFY2(!shared().isEmpty(), "the fwcfg sandbox did not boot");
        Run r = ssh(m_fw, QStringLiteral("echo before > /root/marker && sync"));
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        QElapsedTimer t;
        t.start();
        r = virsh({QStringLiteral("snapshot-create-as"), m_fw.name, QStringLiteral("baseline")}, 120000);
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        measure("snapshot_create_running", t.elapsed() / 1000.0);
        r = ssh(m_fw, QStringLiteral("echo after > /root/marker && sync && cat /root/marker"));
        QVERIFY2(r.ok() && r.out.trimmed() == "after", qPrintable(r.describe()));

        t.restart();
        r = virsh({QStringLiteral("snapshot-revert"), m_fw.name, QStringLiteral("baseline")}, 120000);
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        measure("snapshot_revert", t.elapsed() / 1000.0);
        // The guest clock is back at the snapshot's time: set it from the host (guest agent).
        virsh({QStringLiteral("domtime"), m_fw.name, QStringLiteral("--sync")});
        QString error;
        if (!waitForSsh(m_fw, 120, &error))
            QFAIL(qPrintable(error));
        r = ssh(m_fw, QStringLiteral("cat /root/marker"));
        measure("revert_to_command", t.elapsed() / 1000.0);
        QVERIFY2(r.ok() && r.out.trimmed() == "before", qPrintable(r.describe()));
        r = virsh({QStringLiteral("snapshot-list"), m_fw.name, QStringLiteral("--name")});
        QVERIFY2(r.ok() && r.out.trimmed() == "baseline", qPrintable(r.describe()));
    }

    void sandboxIsIsolated()
    {
        QVERIFY2(!shared().isEmpty(), "the fwcfg sandbox did not boot");
        const QString br = env("FLUID_TESTBED_BRIDGE_IP");
        // Services in the namespace: one on its loopback, one on the bridge address itself.
        QTcpServer onLoopback;
        QTcpServer onBridge;
        QVERIFY(onLoopback.listen(QHostAddress::LocalHost));
        QVERIFY(onBridge.listen(QHostAddress(br)));
        const QString aptPort = env("FLUID_TESTBED_APT_URL").section(QLatin1Char(':'), -1);
        const QList<QPair<QString, QString>> blocked = {
            {br, QString::number(onLoopback.serverPort())}, // a 127.0.0.1 service, via the bridge address
            {br, QString::number(onBridge.serverPort())},   // a service listening on the bridge address
            {br, env("FLUID_TESTBED_PROD_PORT")},           // the production stand-in's port
            {br, QStringLiteral("22")},
            {br, QStringLiteral("16509")}, // libvirt's TCP port (not listening; must be refused either way)
            {QStringLiteral("10.213.1.1"), QStringLiteral("80")},  // beyond the bridge (never leaves the ns)
            {QStringLiteral("169.254.1.1"), QStringLiteral("80")}, // link-local beyond the bridge
        };
        QString probe = QStringLiteral("import socket\n"
                                       "def probe(h, p):\n"
                                       "    s = socket.socket(); s.settimeout(4)\n"
                                       "    try:\n"
                                       "        s.connect((h, int(p))); print(h, p, 'OPEN')\n"
                                       "    except Exception as e:\n"
                                       "        print(h, p, 'blocked', type(e).__name__)\n"
                                       "    finally:\n"
                                       "        s.close()\n");
        probe += QStringLiteral("probe('%1', %2)\n").arg(br, aptPort); // the control: the package source
        for (const auto& [h, p] : blocked)
            probe += QStringLiteral("probe('%1', %2)\n").arg(h, p);
        // As root in the sandbox, an agent could add a default route: do it, so "blocked" is the host's
        // doing and not just a missing route in the guest.
        const Run r = ssh(m_fw,
                          QStringLiteral("ip route replace default via %1 && python3 - ; rc=$?; "
                                         "ip route del default; exit $rc")
                              .arg(br),
                          {}, 120000, probe.toUtf8());
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        const QStringList lines = QString::fromUtf8(r.out).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), blocked.size() + 1);
        QVERIFY2(lines.value(0) == QStringLiteral("%1 %2 OPEN").arg(br, aptPort), qPrintable(r.out));
        for (int i = 0; i < blocked.size(); ++i)
            QVERIFY2(lines.value(i + 1).startsWith(
                         QStringLiteral("%1 %2 blocked").arg(blocked[i].first, blocked[i].second)),
                     qPrintable(QString::fromUtf8(r.out)));
        QVERIFY(!onLoopback.waitForNewConnection(200) && !onLoopback.hasPendingConnections());
        QVERIFY(!onBridge.waitForNewConnection(200) && !onBridge.hasPendingConnections());
    }

    void destroyLeavesNothingBehind()
    {
        QVERIFY2(!shared().isEmpty(), "the fwcfg sandbox did not boot");
        const Sandbox s = m_fw;
        m_fw = {};
        QElapsedTimer t;
        t.start();
        const QString left = destroySandbox(s);
        measure("destroy_and_undefine", t.elapsed() / 1000.0);
        QVERIFY2(left.isEmpty(), qPrintable(QStringLiteral("left behind: ") + left));
        QVERIFY(!QFileInfo::exists(s.overlay));
        const Run list = virsh({QStringLiteral("list"), QStringLiteral("--all"), QStringLiteral("--name")});
        QVERIFY2(list.ok() && !list.out.contains(s.name.toUtf8()), qPrintable(list.describe()));
    }

    void cloudinitSandboxBootsWithSeed()
    {
        Sandbox s;
        auto guard = qScopeGuard([&] {
            if (QTest::currentTestFailed() && !s.name.isEmpty())
                dumpSerial(s);
            const QString left = destroySandbox(s);
            if (!left.isEmpty())
                qWarning("cloudinit sandbox left behind: %s", qPrintable(left));
        });
        QString error;
        QElapsedTimer t;
        t.start();
        if (!createSandbox(s, Flavour::CloudInit, &error))
            QFAIL(qPrintable(error));
        if (!waitForSsh(s, 240, &error))
            QFAIL(qPrintable(error));
        measure("boot_to_ssh_banner_cloudinit", t.elapsed() / 1000.0);
        const Run r =
            ssh(s, QStringLiteral("hostname; cat /etc/ssh/fluid_principals/root; cloud-init status"));
        QVERIFY2(r.ok(), qPrintable(r.describe()));
        const QStringList lines = QString::fromUtf8(r.out).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.value(0), s.name);
        QCOMPARE(lines.value(1), s.name);
        const Run wrong = ssh(s, QStringLiteral("true"), signUserCert(QStringLiteral("sbx-e2e-other")));
        QVERIFY2(!wrong.ok() && wrong.err.contains("Permission denied"), qPrintable(wrong.describe()));
        guard.dismiss();
        const QString left = destroySandbox(s);
        QVERIFY2(left.isEmpty(), qPrintable(QStringLiteral("left behind: ") + left));
        QVERIFY(!QFileInfo::exists(s.seed));
    }
};

QTEST_GUILESS_MAIN(TestE2eSandbox)
#include "tst_e2e_sandbox.moc"

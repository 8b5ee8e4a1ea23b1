// SPDX-License-Identifier: Apache-2.0
// End-to-end on real VMs in the contained test bed (scripts/testbed), entirely on Fluid's own code paths:
// SandboxManager clones both golden flavours (fw_cfg identity and a cloud-init NoCloud seed), and every SSH
// connection - to sandboxes and to the production stand-in - goes through Fluid's libssh layer with
// short-lived certificates and pinned host keys.
#include "E2eBed.h"
#include "LoopbackSshd.h"
#include "services/GateProcess.h"
#include "services/HostSession.h"
#include "services/Wiring.h"
#include "ssh/HostTrust.h"
#include "ssh/LoginKey.h"
#include "ssh/SshConnection.h"
#include "SshTestEnv.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QProcess>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

#include <future>

using namespace fluid;
using namespace fluid::test;

class TestE2eSandbox : public QObject {
    Q_OBJECT

    EngineBed m_bed;
    std::optional<model::Sandbox> m_fw; ///< fw_cfg flavour, shared by the tests until destroyed
    std::optional<model::Sandbox> m_ci; ///< cloud-init flavour

    static QStringList lines(const ssh::ExecResult& r)
    {
        return QString::fromUtf8(r.stdoutData.text()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    }

    static QString describe(const ssh::ExecResult& r)
    {
        return QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3")
            .arg(r.exitCode ? QString::number(*r.exitCode) : QStringLiteral("none"),
                 QString::fromUtf8(r.stdoutData.text().right(3000)),
                 QString::fromUtf8(r.stderrData.text().right(3000)));
    }

    /// A connection to host:port as root with `cert` (for key `key`), pinning `hostKey`; the result of
    /// authenticating.
    static Result<void> loginWith(const QString& host, int port, const ssh::PublicKey& hostKey,
                                  const ssh::KeyPair& key, const ssh::Certificate& cert)
    {
        ssh::ConnectionOptions o;
        o.host = host;
        o.port = port;
        o.user = QStringLiteral("root");
        o.hostKeyCheck = ssh::HostKeyCheck::pinned(hostKey);
        o.identity = ssh::Identity{key, cert};
        auto connection = ssh::SshConnection::open(std::move(o));
        auto ready = connection->ready();
        ready.waitForFinished();
        return ready.result();
    }

    ssh::Certificate userCert(const ssh::CertificateAuthority& ca, const ssh::KeyPair& key,
                              const QString& principal)
    {
        ssh::UserCertificateRequest req;
        req.key = key.publicKey();
        req.sandboxName = m_fw->name;
        req.principal = principal;
        return must(ca.issueUserCertificate(req));
    }

    /// The attacker's view: root in a sandbox (`shell`), after adding a default route, probes everything it
    /// might reach. Only the egress gate on the gateway answers. Nothing in the test bed filters: Fluid's own
    /// network and filter do this (the namespace even routes, as many hosts do).
    void checkReachesNothingButTheGate(ssh::RemoteShell& shell, const QString& otherSandbox)
    {
        const virt::NetworkSpec net = m_bed.options().network;
        const QString gw = net.gatewayAddress;
        // Services in the namespace: one on its loopback, two on the bridge address itself (one where
        // PostgreSQL would listen).
        QTcpServer onLoopback;
        QTcpServer onBridge;
        QTcpServer onPostgresPort;
        QVERIFY(onLoopback.listen(QHostAddress::LocalHost));
        QVERIFY(onBridge.listen(QHostAddress(gw)));
        QVERIFY(onPostgresPort.listen(QHostAddress(gw), 5432));
        const QString outside = m_bed.value("FLUID_TESTBED_OUTSIDE_IP");
        const QList<QPair<QString, QString>> blocked = {
            {gw, QString::number(onLoopback.serverPort())}, // a 127.0.0.1 service, via the bridge address
            {gw, QString::number(onBridge.serverPort())},   // a service listening on the bridge address
            {gw, QStringLiteral("5432")},
            {gw, QStringLiteral("22")},
            {gw, m_bed.value("FLUID_TESTBED_PROD_PORT")}, // the production stand-in's port
            {gw, QStringLiteral("16509")},                // libvirt's TCP port
            {otherSandbox, QStringLiteral("22")},         // the other sandbox's sshd
            {outside, QStringLiteral("80")},              // the outside web server (the package source)
            {QStringLiteral("10.213.1.1"), QStringLiteral("80")},  // beyond the bridge
            {QStringLiteral("169.254.1.1"), QStringLiteral("80")}, // link-local beyond the bridge
        };
        QString probe =
            QStringLiteral(
                "import socket, struct, threading\n"
                "out = {}\n"
                "def tcp(h, p):\n"
                "    s = socket.socket(); s.settimeout(5)\n"
                "    try:\n"
                "        s.connect((h, int(p))); out[(h, str(p))] = 'OPEN'\n"
                "    except Exception as e:\n"
                "        out[(h, str(p))] = 'blocked ' + type(e).__name__\n"
                "    finally:\n"
                "        s.close()\n"
                "def dns(server):\n"
                "    q = struct.pack('!HHHHHH', 7, 0x100, 1, 0, 0, 0) + "
                "b'\\x07outside\\x05fluid\\x04test\\x00' "
                "+ struct.pack('!HH', 1, 1)\n"
                "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)\n"
                "    try:\n"
                "        s.sendto(q, (server, 53)); s.recv(512); out[('dns', server)] = 'ANSWERED'\n"
                "    except Exception as e:\n"
                "        out[('dns', server)] = 'blocked ' + type(e).__name__\n"
                "def resolve():\n"
                "    try:\n"
                "        socket.getaddrinfo('%1', 80); out[('resolve', '%1')] = 'RESOLVED'\n"
                "    except Exception as e:\n"
                "        out[('resolve', '%1')] = 'blocked ' + type(e).__name__\n"
                "jobs = [threading.Thread(target=resolve)]\n")
                .arg(m_bed.value("FLUID_TESTBED_OUTSIDE_NAME"));
        probe += QStringLiteral("jobs.append(threading.Thread(target=tcp, args=('%1', %2)))\n")
                     .arg(gw, QString::number(net.gatePort));
        for (const auto& [h, p] : blocked)
            probe += QStringLiteral("jobs.append(threading.Thread(target=tcp, args=('%1', %2)))\n").arg(h, p);
        for (const QString& server : {gw, m_bed.value("FLUID_TESTBED_OUTSIDE_DNS")})
            probe += QStringLiteral("jobs.append(threading.Thread(target=dns, args=('%1',)))\n").arg(server);
        probe += QStringLiteral("[j.start() for j in jobs]; [j.join() for j in jobs]\n"
                                "for k in sorted(out): print(k[0], k[1], out[k])\n");
        // As root in the sandbox, an agent could add a default route and a resolver: do both, so
        // "blocked" is the host's doing and not just a missing route in the guest.
        const ssh::ExecResult r = execIn(
            shell,
            QStringLiteral("ip route replace default via %1 && cp /etc/resolv.conf /tmp/resolv.saved; "
                           "echo 'nameserver %2' > /etc/resolv.conf; python3 - <<'PROBE'\n%3PROBE\n"
                           "rc=$?; ip route del default; cp /tmp/resolv.saved /etc/resolv.conf; exit $rc\n")
                .arg(gw, m_bed.value("FLUID_TESTBED_OUTSIDE_DNS"), probe)
                .toUtf8());
        QVERIFY2(r.succeeded(), qPrintable(describe(r)));
        const QStringList out = lines(r);
        const QString all = out.join(QLatin1Char('\n'));
        qInfo().noquote() << all;
        QCOMPARE(out.size(), blocked.size() + 4);
        // The control: the gate's port answers (the filter lets it through).
        QVERIFY2(out.contains(QStringLiteral("%1 %2 OPEN").arg(gw).arg(net.gatePort)), qPrintable(all));
        for (const auto& [h, p] : blocked)
            QVERIFY2(out.filter(QStringLiteral("%1 %2 blocked").arg(h, p)).size() == 1, qPrintable(all));
        QVERIFY2(out.filter(QLatin1String("dns ")).filter(QLatin1String(" blocked")).size() == 2,
                 qPrintable(all));
        QVERIFY2(out.filter(QLatin1String("resolve ")).filter(QLatin1String(" blocked")).size() == 1,
                 qPrintable(all));
        for (QTcpServer* server : {&onLoopback, &onBridge, &onPostgresPort})
            QVERIFY(!server->waitForNewConnection(200) && !server->hasPendingConnections());
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_bed.start(QStringLiteral("e2e-sandbox"));
        // The gate as the app starts it; nothing is allowed by default here: every destination asks.
        must(m_bed.startEgressGate(QStringLiteral(FLUID_BIN), {}, 5));
    }

    void cleanupTestCase() { m_bed.removeLeftovers(); }

    void bothFlavoursBootToSshWithTheirIdentity()
    {
        QElapsedTimer t;
        t.start();
        // Each create on its own thread, with its own store connection (a connection belongs to one thread).
        const auto createOn = [this](const char* golden, const QString& name) {
            return std::async(std::launch::async, [this, golden, name]() -> Result<model::Sandbox> {
                auto db = store::Database::open(m_bed.dbOptions());
                if (!db)
                    return db.error();
                virt::SandboxManager manager(*m_bed.hv, **db, m_bed.options());
                return manager.createWithinLimits(createOptions(m_bed.hostId, m_bed.value(golden), name));
            });
        };
        auto fw = createOn("FLUID_GOLDEN_FWCFG_DOMAIN", QStringLiteral("e2e-fw"));
        auto ci = createOn("FLUID_GOLDEN_CLOUDINIT_DOMAIN", QStringLiteral("e2e-ci"));
        m_fw = must(fw.get());
        m_ci = must(ci.get());
        qInfo("both flavours created and answering SSH after %lld ms", t.elapsed());

        auto shell = shellFor(m_bed.ca, *m_fw);
        ssh::ExecResult r = execIn(*shell, "hostname; id -u; cat /etc/ssh/fluid_principals/root; "
                                           "cat /etc/machine-id; systemctl is-active fluid-identity.service "
                                           "ssh.service; stat -c %a /etc/ssh/ssh_host_ed25519_key");
        QVERIFY2(r.succeeded(), qPrintable(describe(r)));
        const QStringList fwLines = lines(r);
        QCOMPARE(fwLines.value(0), QStringLiteral("e2e-fw"));
        QCOMPARE(fwLines.value(1), QStringLiteral("0"));
        // The principal is in Fluid's namespace, never the chosen name.
        QCOMPARE(fwLines.value(2), QStringLiteral("fluid-sbx-") + m_fw->id);
        QCOMPARE(m_fw->principal, fwLines.value(2));
        QVERIFY2(QRegularExpression(QStringLiteral("^[0-9a-f]{32}$")).match(fwLines.value(3)).hasMatch(),
                 qPrintable(fwLines.value(3)));
        QCOMPARE(fwLines.value(4), QStringLiteral("active"));
        QCOMPARE(fwLines.value(5), QStringLiteral("active"));
        QCOMPARE(fwLines.value(6), QStringLiteral("600"));

        auto ciShell = shellFor(m_bed.ca, *m_ci);
        r = execIn(*ciShell, "hostname; cat /etc/ssh/fluid_principals/root; cat /etc/machine-id; "
                             "timeout 300 cloud-init status --wait");
        QVERIFY2(r.succeeded(), qPrintable(describe(r)));
        const QStringList ciLines = lines(r);
        QCOMPARE(ciLines.value(0), QStringLiteral("e2e-ci"));
        QCOMPARE(ciLines.value(1), QStringLiteral("fluid-sbx-") + m_ci->id);
        QVERIFY2(ciLines.value(2) != fwLines.value(3), "two clones share a machine-id");
        QVERIFY2(ciLines.last().contains(QLatin1String("status: done")),
                 qPrintable(ciLines.join(QLatin1Char('\n'))));

        // Both flavours send apt and the proxy variables to the egress gate, their only way out.
        const virt::NetworkSpec net = m_bed.options().network;
        const QString proxy = QStringLiteral("http://%1:%2/").arg(net.gatewayAddress).arg(net.gatePort);
        for (ssh::SandboxShell* sh : {shell.get(), ciShell.get()}) {
            r = execIn(*sh,
                       "apt-config dump Acquire::http::Proxy; . /etc/environment; echo \"$https_proxy\"");
            QVERIFY2(r.succeeded(), qPrintable(describe(r)));
            QCOMPARE(lines(r),
                     QStringList({QStringLiteral("Acquire::http::Proxy \"%1\";").arg(proxy), proxy}));
        }
    }

    void aHostKeyOtherThanTheInjectedOneIsRefused()
    {
        QVERIFY2(m_fw, "the fw_cfg sandbox did not come up");
        ssh::SandboxEndpoint endpoint;
        endpoint.sandboxId = m_fw->id;
        endpoint.sandboxName = m_fw->name;
        endpoint.principal = m_fw->principal;
        endpoint.host = m_fw->ip;
        endpoint.hostKey = must(ssh::KeyPair::generate()).publicKey();
        ssh::SandboxShell shell(m_bed.ca, endpoint);
        ssh::ExecRequest req;
        req.command = "true";
        auto f = shell.exec(req);
        f.waitForFinished();
        QVERIFY(!f.result());
        QCOMPARE(f.result().error().code, ErrorCode::Tampered);
    }

    void wrongPrincipalExpiredAndForeignCertificatesAreRefused()
    {
        QVERIFY2(m_fw, "the fw_cfg sandbox did not come up");
        const ssh::PublicKey hostKey = must(ssh::PublicKey::fromOpenSshLine(m_fw->hostPublicKey));
        const ssh::KeyPair key = must(ssh::KeyPair::generate());

        // Another sandbox's principal, and the sandbox's own chosen name: neither is its principal.
        for (const QString& principal : {m_ci->principal, m_fw->name}) {
            const auto wrong = loginWith(m_fw->ip, 22, hostKey, key, userCert(*m_bed.ca, key, principal));
            QVERIFY(!wrong);
            QCOMPARE(wrong.error().code, ErrorCode::Refused);
        }

        // The same CA keys on a clock an hour behind: a certificate that expired 55 minutes ago.
        ManualClock past(QDateTime::currentDateTimeUtc().addSecs(-3600));
        const ssh::CertificateAuthority pastCa(m_bed.userCaKey, m_bed.hostCaKey, past);
        const auto expired = loginWith(m_fw->ip, 22, hostKey, key, userCert(pastCa, key, m_fw->principal));
        QVERIFY(!expired);
        QCOMPARE(expired.error().code, ErrorCode::Refused);

        Bed other;
        makeCa(other);
        const auto foreign = loginWith(m_fw->ip, 22, hostKey, key, userCert(*other.ca, key, m_fw->principal));
        QVERIFY(!foreign);
        QCOMPARE(foreign.error().code, ErrorCode::Refused);

        // A valid certificate still works, and the guest's sshd refused the others for the right reasons.
        QVERIFY(loginWith(m_fw->ip, 22, hostKey, key, userCert(*m_bed.ca, key, m_fw->principal)));
        auto shell = shellFor(m_bed.ca, *m_fw);
        const ssh::ExecResult journal = execIn(*shell, "journalctl -b -u ssh.service --no-pager -o cat");
        const QByteArray text = journal.stdoutData.text();
        QVERIFY2(text.contains("expired"), text.right(3000).constData());
        QVERIFY2(text.contains("principal"), text.right(3000).constData());
    }

    /// A package from the outside package source, through the egress gate: the first try is held and
    /// refused (403) while the request waits; a person approves it from the command line; the retry works;
    /// all audited. A connection to a destination nobody approved never opens.
    void installsAPackageThroughTheGateOnceAPersonApproves()
    {
        QVERIFY2(m_fw, "the fw_cfg sandbox did not come up");
        auto shell = shellFor(m_bed.ca, *m_fw);
        const QByteArray update =
            QStringLiteral("echo 'deb [trusted=yes] %1 ./' > /etc/apt/sources.list.d/fluid-testbed.list && "
                           "apt-get -o Acquire::Retries=0 update")
                .arg(m_bed.value("FLUID_TESTBED_APT_URL"))
                .toUtf8();
        QElapsedTimer t;
        t.start();
        ssh::ExecResult r = execIn(*shell, update, 300);
        const QString first = QString::fromUtf8(r.stdoutData.text() + r.stderrData.text());
        QVERIFY2(first.contains(QLatin1String("403")), qPrintable(describe(r)));
        QVERIFY2(t.elapsed() >= 4000, "refused before the hold ended");

        // The request waits in the inbox; a person approves it with the hash they were shown.
        const QString destination = m_bed.value("FLUID_TESTBED_APT_DESTINATION");
        model::Approval request;
        for (const model::Approval& a : must(store::egressApprovals(*m_bed.db, m_fw->id)))
            if (a.context.value(QLatin1String("destination")).toString() == destination)
                request = a;
        QCOMPARE(request.status, model::ApprovalStatus::Pending);
        QCOMPARE(request.request,
                 QStringLiteral("sandbox %1 wants to reach %2").arg(m_fw->name, destination));
        QProcess cli;
        cli.start(QStringLiteral(FLUID_BIN),
                  {QStringLiteral("--config"), m_bed.configFile(), QStringLiteral("approval"),
                   QStringLiteral("approve"), request.id, QStringLiteral("--hash"), request.contentHash});
        QVERIFY(cli.waitForFinished(60000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());

        t.restart();
        r = execIn(*shell, update + " && DEBIAN_FRONTEND=noninteractive apt-get install -y hello && hello",
                   300);
        qInfo("apt-get update and install hello through the gate: %lld ms", t.elapsed());
        QVERIFY2(r.succeeded() && r.stdoutData.text().contains("Hello, world!"), qPrintable(describe(r)));

        // Audited: the refusal while it waited, the approval, the connections with their byte counts.
        store::AuditFilter filter;
        filter.sandboxId = m_fw->id;
        filter.kindPrefix = QStringLiteral("egress.");
        const QList<model::AuditEvent> events = must(store::AuditLog(*m_bed.db).list(filter));
        QStringList kinds;
        qint64 down = 0;
        for (const model::AuditEvent& e : events) {
            kinds << e.kind;
            if (e.kind == QLatin1String("egress.connection"))
                down += e.data.value(QLatin1String("bytes_down")).toInteger();
        }
        QVERIFY2(kinds.contains(QStringLiteral("egress.deny")) &&
                     kinds.contains(QStringLiteral("egress.allow")) &&
                     kinds.contains(QStringLiteral("egress.connection")),
                 qPrintable(kinds.join(QLatin1Char(' '))));
        QVERIFY2(down > 10000, qPrintable(QString::number(down))); // the package lists and the .deb came down

        // Nobody approved this one: the gate holds it, refuses it, and never connects.
        QTcpServer unapproved;
        QVERIFY(unapproved.listen(QHostAddress(m_bed.value("FLUID_TESTBED_OUTSIDE_IP"))));
        r = execIn(*shell,
                   QStringLiteral("python3 -c \"import socket; s = socket.create_connection(('%1', %2)); "
                                  "s.sendall(b'CONNECT %3:%4 HTTP/1.1\\r\\n\\r\\n'); "
                                  "print(s.recv(200).split(b'\\r\\n')[0].decode())\"")
                       .arg(m_bed.options().network.gatewayAddress)
                       .arg(m_bed.options().network.gatePort)
                       .arg(m_bed.value("FLUID_TESTBED_OUTSIDE_IP"))
                       .arg(unapproved.serverPort())
                       .toUtf8());
        QVERIFY2(r.succeeded() && lines(r).value(0) == QLatin1String("HTTP/1.1 403 Forbidden"),
                 qPrintable(describe(r)));
        QVERIFY(!unapproved.waitForNewConnection(200) && !unapproved.hasPendingConnections());
    }

    void theSandboxReachesNothingButTheGate()
    {
        QVERIFY2(m_fw && m_ci, "the sandboxes did not come up");
        checkReachesNothingButTheGate(*shellFor(m_bed.ca, *m_fw), m_ci->ip);
    }

    void productionStandInTrustsOnlyTheProductionPrincipal()
    {
        QVERIFY2(m_fw, "the fw_cfg sandbox did not come up");
        const QString caFile = m_bed.value("FLUID_TESTBED_PROD_USER_CA");
        QFile ca(caFile);
        QVERIFY2(ca.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(caFile));
        ca.write(m_bed.ca->userCaOpenSshLine().toUtf8() + '\n');
        ca.close();
        QFile hostKeyFile(m_bed.value("FLUID_TESTBED_PROD_HOST_KEY"));
        QVERIFY(hostKeyFile.open(QIODevice::ReadOnly));
        const ssh::PublicKey hostKey =
            must(ssh::PublicKey::fromOpenSshLine(QString::fromUtf8(hostKeyFile.readAll()).trimmed()));
        const QString host = m_bed.value("FLUID_TESTBED_PROD_HOST");
        const int port = m_bed.value("FLUID_TESTBED_PROD_PORT").toInt();
        const ssh::KeyPair key = must(ssh::KeyPair::generate());

        QVERIFY(loginWith(host, port, hostKey, key,
                          userCert(*m_bed.ca, key, m_bed.value("FLUID_TESTBED_PROD_PRINCIPAL"))));
        // A sandbox's certificate (principal fluid-sbx-<id>, whatever the sandbox is called) does not open
        // production.
        const auto sandboxCert =
            loginWith(host, port, hostKey, key, userCert(*m_bed.ca, key, m_fw->principal));
        QVERIFY(!sandboxCert);
        QCOMPARE(sandboxCert.error().code, ErrorCode::Refused);
    }

    /// The test bed's libvirt again, now as a remote host reached over SSH (a loopback sshd in the
    /// namespace), driven the way every front end drives a host (services::HostSession): a sandbox created
    /// there is up once its SSH answers through the host, is as contained as a local one (the same attacker's
    /// probe), and goes out only through the gate, which serves it through a relay Fluid starts on the host
    /// over SSH.
    void aSandboxOnARemoteHostIsContainedAndGoesOutThroughTheRelay()
    {
        QVERIFY2(m_fw, "the fw_cfg sandbox did not come up");
        // One gate per bridge address: the local host's gate makes way for the remote host's relay.
        must(services::stopEgressGate(QStringLiteral("testbed")));
        m_bed.gateHosts.removeAll(QStringLiteral("testbed"));

        // A remote host knows a source disk only as a volume in one of its storage pools.
        const QString golden = m_bed.value("FLUID_GOLDEN_FWCFG_DOMAIN");
        const QRegularExpressionMatch disk = QRegularExpression(QStringLiteral("<source file='([^']+)'"))
                                                 .match(must(m_bed.hv->domainXml(golden)));
        QVERIFY2(disk.hasMatch(), "the golden VM names no disk file");
        must(m_bed.hv->ensurePool(QStringLiteral("fluid-e2e-golden"),
                                  QFileInfo(disk.captured(1)).absolutePath()));

        const ssh::LoginKey login = must(ssh::generateLoginKey(QStringLiteral("fluid@e2e-far")));
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("far-host");
        o.authorizedKeyLines = {login.publicKeyLine};
        LoopbackSshd sshd(makeTestCa(), o);
        QVERIFY(sshd.start().ok());
        // Whatever fails below, the host's sshd and the gate with its relay there end with this test.
        const auto stopFar = qScopeGuard([&sshd] {
            if (auto r = services::stopEgressGate(QStringLiteral("far")); !r)
                qWarning("%s", qPrintable(r.error().toString()));
            sshd.stop();
        });
        const QString knownHosts = m_bed.dir + QStringLiteral("/far_known_hosts");
        QVERIFY(ssh::trustHostKey(knownHosts, sshd.host(), sshd.port(), sshd.hostKey().publicKey()).ok());
        const QString keyFile = m_bed.dir + QStringLiteral("/far_login_key");
        {
            QFile f(keyFile);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            QVERIFY(f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
            QVERIFY(f.write(login.privateKey) == login.privateKey.size());
        }
        // config.yaml names the host with its key and known_hosts (what `fluid egress serve` reads);
        // libvirt's own ssh gets the same through a wrapper (a `command` config.yaml may not name), set in
        // code here.
        config::HostSettings far;
        far.name = QStringLiteral("far");
        far.uri = QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system?keyfile=%2&known_hosts=%3")
                      .arg(sshd.port())
                      .arg(keyFile, knownHosts);
        // Over SSH, auto trusts libvirt's word that KVM works; a person sets TCG for a host whose KVM cannot
        // run ordinary guests (this machine's PVM kernel, which Fluid itself detects only locally).
        const auto here = m_bed.hv->hostInfo(virt::AcceleratorChoice::Auto);
        QVERIFY(here.ok());
        if (here->accelerator == virt::Accelerator::Tcg)
            far.accelerator = config::Accelerator::Tcg;
        QVERIFY(m_bed.writeConfig({}, 5, {far}).ok());
        const QString wrapper = m_bed.dir + QStringLiteral("/far-ssh");
        QVERIFY(writeIsolatedSshCommand(wrapper, knownHosts).ok());
        config::HostSettings farForLibvirt = far;
        farForLibvirt.uri =
            QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system?no_tty=1&command=%2&keyfile=%3")
                .arg(sshd.port())
                .arg(wrapper, keyFile);

        config::Settings settings;
        services::HostSession::Setup setup = services::HostSession::setupFor(
            settings, farForLibvirt, m_bed.dbOptions(),
            [ca = m_bed.ca]() -> Result<std::shared_ptr<const ssh::CertificateAuthority>> {
                return std::shared_ptr<const ssh::CertificateAuthority>(ca);
            },
            {});
        setup.knownHostsFile = knownHosts;
        const virt::IdentityIssuer issuer = setup.manager.issueIdentity;
        setup.manager = m_bed.options();
        setup.manager.issueIdentity = issuer;
        const services::GateLaunch launch = services::gateLaunchFor(
            setup.manager.network, QStringLiteral(FLUID_BIN), m_bed.configFile(), far.name, true);
        setup.ensureEgressGate = [launch] {
            return services::ensureEgressGate(launch);
        };
        services::HostSession session(setup);
        QSignalSpy opened(&session, &services::HostSession::opened);
        session.open();
        QVERIFY(opened.wait(120000) || !opened.isEmpty());
        QVERIFY2(opened.first().at(0).toBool(), qPrintable(opened.first().at(1).toString()));

        services::CreateRequest request;
        request.source = golden;
        request.name = QStringLiteral("e2e-far");
        request.memoryMib = 512;
        request.vcpus = 1;
        QElapsedTimer t;
        t.start();
        auto created = session.create(request, model::Actor::localPerson()).future();
        QTRY_VERIFY_WITH_TIMEOUT(created.isFinished(), 900000);
        QVERIFY2(created.result().ok(),
                 qPrintable(created.result().ok() ? QString() : created.result().error().toString()));
        const model::Sandbox farSandbox = *created.result();
        qInfo("a sandbox on the remote host, created and answering SSH through the host: %lld ms",
              t.elapsed());
        bool destroyed = false;
        const auto destroyFar = qScopeGuard([&] {
            if (!destroyed)
                session.destroy(farSandbox.id, model::Actor::localPerson()).future().waitForFinished();
        });
        QVERIFY2(QFile::exists(services::gateReadyFile(far.name)), "the remote host's gate did not come up");

        // Its shell, through the host (ProxyJump), as the app opens it.
        std::shared_ptr<ssh::RemoteShell> shell;
        QString shellError;
        session.openShell(farSandbox.id, model::Actor::localPerson(), this,
                          [&](Result<std::shared_ptr<ssh::RemoteShell>> r) {
                              if (r)
                                  shell = *r;
                              else
                                  shellError = r.error().toString();
                          });
        QTRY_VERIFY_WITH_TIMEOUT(shell || !shellError.isEmpty(), 120000);
        QVERIFY2(shell, qPrintable(shellError));

        // Contained: the same probe as on the local host, with the local host's sandbox as the neighbour.
        checkReachesNothingButTheGate(*shell, m_fw->ip);
        if (QTest::currentTestFailed())
            return;

        // Out only through the gate, by the relay on the host: held and refused until a person allows the
        // destination, then connected.
        QTcpServer outside;
        QVERIFY(outside.listen(QHostAddress(m_bed.value("FLUID_TESTBED_OUTSIDE_IP"))));
        const QString destination =
            QStringLiteral("%1:%2").arg(m_bed.value("FLUID_TESTBED_OUTSIDE_IP")).arg(outside.serverPort());
        const QByteArray ask =
            QStringLiteral("python3 -c \"import socket; s = socket.create_connection(('%1', %2)); "
                           "s.sendall(b'CONNECT %3 HTTP/1.1\\r\\n\\r\\n'); "
                           "print(s.recv(200).split(b'\\r\\n')[0].decode())\"")
                .arg(m_bed.options().network.gatewayAddress)
                .arg(m_bed.options().network.gatePort)
                .arg(destination)
                .toUtf8();
        ssh::ExecResult r = execIn(*shell, ask);
        QVERIFY2(r.succeeded() && lines(r).value(0) == QLatin1String("HTTP/1.1 403 Forbidden"),
                 qPrintable(describe(r)));
        QVERIFY(!outside.waitForNewConnection(200) && !outside.hasPendingConnections());
        QProcess cli;
        cli.start(QStringLiteral(FLUID_BIN),
                  {QStringLiteral("--config"), m_bed.configFile(), QStringLiteral("egress"),
                   QStringLiteral("allow"), farSandbox.name, destination});
        QVERIFY(cli.waitForFinished(60000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        r = execIn(*shell, ask);
        QVERIFY2(r.succeeded() && lines(r).value(0) == QLatin1String("HTTP/1.1 200 Connection established"),
                 qPrintable(describe(r)));
        QVERIFY(outside.waitForNewConnection(5000) || outside.hasPendingConnections());

        // Audited as this sandbox's, like a local one's.
        store::AuditFilter filter;
        filter.sandboxId = farSandbox.id;
        filter.kindPrefix = QStringLiteral("egress.");
        QStringList kinds;
        const auto events = store::AuditLog(*m_bed.db).list(filter);
        QVERIFY(events.ok());
        for (const model::AuditEvent& e : *events)
            kinds << e.kind;
        QVERIFY2(kinds.contains(QStringLiteral("egress.deny")) &&
                     kinds.contains(QStringLiteral("egress.allow")),
                 qPrintable(kinds.join(QLatin1Char(' '))));

        // Destroyed through the remote host: nothing of it stays there.
        shell.reset();
        destroyed = true;
        auto gone = session.destroy(farSandbox.id, model::Actor::localPerson()).future();
        QTRY_VERIFY_WITH_TIMEOUT(gone.isFinished(), 300000);
        QVERIFY2(gone.result().ok(),
                 qPrintable(gone.result().ok() ? QString() : gone.result().error().toString()));
        const auto left = m_bed.hv->volumes(m_bed.options().poolName);
        QVERIFY(left.ok());
        for (const virt::VolumeInfo& v : *left)
            QVERIFY2(!v.name.contains(QLatin1String("e2e-far")), qPrintable(v.name));
    }

    void destroyLeavesNothingBehind()
    {
        QVERIFY2(m_fw && m_ci, "the sandboxes did not come up");
        for (const model::Sandbox& s : {*m_fw, *m_ci})
            must(m_bed.manager->destroy(s.id, model::Actor::localPerson()));
        for (const virt::DomainSummary& d : must(m_bed.hv->domains()))
            QVERIFY2(!d.name.startsWith(QLatin1String("fluid-e2e-")), qPrintable(d.name));
        for (const virt::VolumeInfo& v : must(m_bed.hv->volumes(m_bed.options().poolName)))
            QVERIFY2(!v.name.startsWith(QLatin1String("fluid-")), qPrintable(v.name));
        QVERIFY(QDir(m_bed.options().localFileDir).entryList(QDir::Files).isEmpty());
        QCOMPARE(must(store::liveSandboxes(*m_bed.db, m_bed.hostId)).size(), 0);
    }
};

QTEST_GUILESS_MAIN(TestE2eSandbox)
#include "tst_e2e_sandbox.moc"

// SPDX-License-Identifier: Apache-2.0
// The egress gate of a host reached over SSH, with everything real but the VMs: a real sshd stands for the
// host, the relay runs there under python3 (started over the SSH connection, as Fluid does), connections
// come back through a remote forward into the gate, and the gate reaches an "outside" echo server.
#include "approval/ApprovalBroker.h"
#include "base/Redact.h"
#include "egress/EgressGate.h"
#include "GateSockets.h"
#include "services/RemoteRelay.h"
#include "ssh/LoginKey.h"
#include "ssh/SshConnection.h"
#include "SshTestEnv.h"
#include "store/AuditLog.h"
#include "store/Repository.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QPointer>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <unistd.h>

using namespace fluid;
using namespace fluid::test;

namespace {

const QHostAddress kStrangerIp(QStringLiteral("127.0.0.4"));

quint16 freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost))
        qFatal("no free port");
    return probe.serverPort();
}

} // namespace

class TestEgressRelay : public QObject {
    Q_OBJECT

    QString m_dir;
    store::DatabaseOptions m_store;
    std::unique_ptr<store::Database> m_db;
    model::Sandbox m_sandbox;
    QString m_hostId;
    std::unique_ptr<LoopbackSshd> m_sshd;
    std::shared_ptr<ssh::SshConnection> m_host;
    std::unique_ptr<Outside> m_outside;

    QByteArray connectToOutside() const { return connectTo(m_outside->destination()); }

private Q_SLOTS:
    void initTestCase()
    {
        requireLoopbackSshd();
        if (QStandardPaths::findExecutable(QStringLiteral("python3")).isEmpty())
            QSKIP("no python3 here: the relay needs it on the host (here: this machine)");
        m_dir = makeTempDir(QStringLiteral("egress-relay"));
        m_store.sqlitePath = m_dir + QStringLiteral("/fluid.sqlite");
        m_db = must(store::openAndMigrate(m_store));
        m_sandbox = seedLiveSandbox(*m_db, QStringLiteral("far"),
                                    QStringLiteral("qemu+ssh://root@far/system"), QStringLiteral("far-1"));
        m_hostId = m_sandbox.hostId;
        model::EgressGrant g;
        g.id = model::newId();
        g.sandboxId = m_sandbox.id;
        m_outside = std::make_unique<Outside>();
        g.destination = m_outside->destination();
        g.scope = model::EgressScope::Sandbox;
        g.grantedBy = QStringLiteral("person:alice");
        g.createdAt = QDateTime::currentDateTimeUtc();
        must(store::EgressGrantRepository(*m_db).insert(g));

        const auto login = must(ssh::generateLoginKey(QStringLiteral("fluid-relay-test")));
        LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("far-host");
        o.authorizedKeyLines = {login.publicKeyLine};
        m_sshd = std::make_unique<LoopbackSshd>(makeTestCa(), o);
        QVERIFY(m_sshd->start().ok());
        const QString knownHosts = m_dir + QStringLiteral("/known_hosts");
        QVERIFY(ssh::trustHostKey(knownHosts, m_sshd->host(), m_sshd->port(), m_sshd->hostKey().publicKey())
                    .ok());
        ssh::ConnectionOptions c;
        c.host = m_sshd->host();
        c.port = m_sshd->port();
        c.user = QStringLiteral("root");
        c.hostKeyCheck = ssh::HostKeyCheck::knownHosts(knownHosts);
        c.loginKey = login.privateKey;
        m_host = ssh::SshConnection::open(c);
        QVERIFY(await(m_host->ready()).ok());
    }

    void cleanupTestCase()
    {
        if (m_host)
            m_host->close();
        if (m_sshd)
            m_sshd->stop();
    }

    void aSandboxReachesItsGrantThroughTheRelay()
    {
        approval::ApprovalBroker broker(m_store, Clock::system(), 100);
        egress::GateOptions g;
        g.hostId = m_hostId;
        g.sandboxSubnet = QHostAddress::parseSubnet(QStringLiteral("127.0.0.2/32"));
        g.allowLoopbackDestinations = true;
        egress::EgressGate gate(*m_db, broker, g);
        const quint16 port = freePort();
        auto relay =
            must(services::RemoteRelay::start(m_host, QHostAddress::LocalHost, port, gate.relayedAcceptor()));
        gate.setRelayToken(relay->token());
        QVERIFY(relay->running());
        // The secret is in no process's arguments on the host (this machine), and never in a log or record.
        for (const QFileInfo& proc : QDir(QStringLiteral("/proc")).entryInfoList(QDir::Dirs)) {
            QFile cmdline(proc.filePath() + QStringLiteral("/cmdline"));
            if (cmdline.open(QIODevice::ReadOnly))
                QVERIFY2(!cmdline.readAll().contains(relay->token()), qPrintable(proc.filePath()));
        }
        QVERIFY(!redact(QString::fromLatin1(relay->token())).contains(QString::fromLatin1(relay->token())));

        // The sandbox (by its address on the host's side) reaches the granted destination.
        auto s = connectFrom(kSandboxIp, port, connectToOutside());
        const QByteArray first = answer(*s, "\r\n\r\n", 10000);
        QVERIFY2(first.startsWith("HTTP/1.1 200 Connection established"), first.constData());
        s->write("ping");
        QCOMPARE(answer(*s, "ping", 10000), QByteArray("ping"));
        s->disconnectFromHost();
        QTRY_COMPARE_WITH_TIMEOUT(gate.openConnections(), 0, 10000);
        QList<model::AuditEvent> events = must(store::AuditLog(*m_db).list());
        const auto connection = std::find_if(events.begin(), events.end(), [](const model::AuditEvent& e) {
            return e.kind == QLatin1String("egress.connection");
        });
        QVERIFY(connection != events.end());
        QCOMPARE(connection->sandboxId, m_sandbox.id);

        // Anyone else on the host's side of the network is no sandbox: refused.
        auto stranger = connectFrom(kStrangerIp, port, connectToOutside());
        QVERIFY(answer(*stranger, {}, 10000).startsWith("HTTP/1.1 403"));

        // Gone with its object: the host stops listening.
        relay.reset();
        QTRY_VERIFY_WITH_TIMEOUT(([port] {
                                     QTcpSocket probe;
                                     probe.connectToHost(QHostAddress::LocalHost, port);
                                     return !probe.waitForConnected(300);
                                 }()),
                                 10000);
    }

    void aRelayThatCannotListenSaysWhy()
    {
        QTcpServer taken;
        QVERIFY(taken.listen(QHostAddress::LocalHost));
        auto relay = services::RemoteRelay::start(m_host, QHostAddress::LocalHost, taken.serverPort(),
                                                  [](int fd) { ::close(fd); });
        QVERIFY(!relay.ok());
        QVERIFY2(relay.error().toString().contains(QLatin1String("cannot listen")),
                 qPrintable(relay.error().toString()));
    }
};

QTEST_GUILESS_MAIN(TestEgressRelay)
#include "tst_egressrelay.moc"

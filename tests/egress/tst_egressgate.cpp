// SPDX-License-Identifier: Apache-2.0
// The egress gate over real sockets on loopback: the "sandbox" is a client bound to 127.0.0.2 (a live
// sandbox row with that address), the "outside" a server on 127.0.0.3 (reachable only because these tests
// let the gate connect to loopback; noOpenRelay checks the default refuses it). Decisions come from a
// second store connection and broker, as from the CLI or the window in another process.
#include "approval/ApprovalBroker.h"
#include "egress/Destination.h"
#include "egress/EgressGate.h"
#include "GateSockets.h"
#include "store/AuditLog.h"
#include "store/Database.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QLocalSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <sys/socket.h>

using namespace fluid;
using namespace fluid::egress;
using namespace fluid::test;

class TestEgressGate : public QObject {
    Q_OBJECT

    QString m_dir;
    store::DatabaseOptions m_store;
    std::unique_ptr<store::Database> m_db;
    std::unique_ptr<approval::ApprovalBroker> m_broker;
    std::unique_ptr<EgressGate> m_gate;
    model::Sandbox m_sandbox;
    QString m_hostId;

    GateOptions options() const
    {
        GateOptions o;
        o.hostId = m_hostId;
        o.listenAddress = QHostAddress::LocalHost;
        o.port = 0;
        o.sandboxSubnet = QHostAddress::parseSubnet(QStringLiteral("10.213.0.0/24"));
        o.holdMs = 400;
        o.allowLoopbackDestinations = true;
        return o;
    }

    void startGate(const GateOptions& o)
    {
        m_gate = std::make_unique<EgressGate>(*m_db, *m_broker, o);
        must(m_gate->listen());
    }

    /// A client connection from the sandbox's address (or `from`) that sends `request`.
    std::unique_ptr<QTcpSocket> send(const QByteArray& request, const QHostAddress& from = kSandboxIp)
    {
        return test::connectFrom(from, m_gate->port(), request);
    }

    void grant(const QString& destination, model::EgressScope scope = model::EgressScope::Sandbox,
               const QDateTime& until = {})
    {
        model::EgressGrant g;
        g.id = model::newId();
        g.sandboxId = m_sandbox.id;
        g.destination = destination;
        g.scope = scope;
        g.expiresAt = until;
        g.grantedBy = QStringLiteral("person:alice");
        g.createdAt = QDateTime::currentDateTimeUtc();
        must(store::EgressGrantRepository(*m_db).insert(g));
    }

    QStringList auditKinds()
    {
        QStringList kinds;
        for (const model::AuditEvent& e : must(store::AuditLog(*m_db).list()))
            kinds << e.kind;
        return kinds;
    }

    QList<model::AuditEvent> audits(const QString& kind)
    {
        QList<model::AuditEvent> out;
        for (const model::AuditEvent& e : must(store::AuditLog(*m_db).list()))
            if (e.kind == kind)
                out << e;
        return out;
    }

    /// Decides the pending request from another store connection and broker, as `fluid approval` would.
    void decideFromElsewhere(bool approve, const QString& comment = {})
    {
        auto other = must(store::Database::open(m_store));
        approval::ApprovalBroker broker;
        QList<model::Approval> pending;
        QTRY_VERIFY((pending = must(store::pendingApprovals(*other))).size() == 1);
        QCOMPARE(pending.first().kind, QStringLiteral("egress"));
        must(broker.decide(*other, pending.first().id, approve, model::Actor::person(QStringLiteral("alice")),
                           comment, pending.first().contentHash));
    }

private Q_SLOTS:
    void init()
    {
        m_dir = test::makeTempDir(QStringLiteral("egress"));
        m_store.sqlitePath = m_dir + QStringLiteral("/fluid.sqlite");
        m_db = must(store::openAndMigrate(m_store));
        m_sandbox = seedLiveSandbox(*m_db, QStringLiteral("local"), QStringLiteral("test:///default"),
                                    QStringLiteral("web-1"));
        m_hostId = m_sandbox.hostId;
        m_broker = std::make_unique<approval::ApprovalBroker>(m_store, Clock::system(), 100);
    }

    void cleanup()
    {
        m_gate.reset();
        m_broker.reset();
        m_db.reset();
    }

    void parsesAndMatchesDestinations()
    {
        QCOMPARE(must(parseDestination(QStringLiteral("Deb.Debian.org:443"))).text(),
                 QStringLiteral("deb.debian.org:443"));
        QCOMPARE(must(parseDestination(QStringLiteral("[::1]:22"))).host, QStringLiteral("::1"));
        QCOMPARE(must(parseDestination(QStringLiteral("example.org"), 80)).port, quint16(80));
        for (const char* bad : {"user@host:80", "host:0", "host:65536", "host:", "ho st:80", "[::1:22",
                                "::1:22", "host:80x", ""})
            QVERIFY2(!parseDestination(QString::fromLatin1(bad)), bad);
        const Destination d = must(parseDestination(QStringLiteral("a.example.org:443")));
        QVERIFY(matchesAny(d, QStringLiteral("x:1, *.example.org:443")));
        QVERIFY(matchesAny(d, QStringLiteral("a.example.org:*")));
        QVERIFY(matchesAny(d, QStringLiteral("*:*")));
        QVERIFY(!matchesAny(d, QStringLiteral("*.example.org:80")));
        QVERIFY(!matchesAny(must(parseDestination(QStringLiteral("example.org:443"))),
                            QStringLiteral("*.example.org:443")));
        QVERIFY(!matchesAny(must(parseDestination(QStringLiteral("badexample.org:443"))),
                            QStringLiteral("*.example.org:443")));
    }

    void connectTunnelsBytesBothWaysAndIsAudited()
    {
        Outside outside;
        startGate(options());
        grant(outside.destination());
        auto c = send(connectTo(outside.destination()));
        QVERIFY(answer(*c, "\r\n\r\n").startsWith("HTTP/1.1 200 Connection established\r\n\r\n"));
        c->write("ping");
        QCOMPARE(answer(*c, "ping"), QByteArray("ping"));
        c->disconnectFromHost();
        QTRY_COMPARE(m_gate->openConnections(), 0);
        const auto conn = audits(QStringLiteral("egress.connection"));
        QCOMPARE(conn.size(), 1);
        QCOMPARE(conn.first().data.value(QLatin1String("bytes_up")).toInt(), 4);
        QCOMPARE(conn.first().data.value(QLatin1String("bytes_down")).toInt(), 4);
        QCOMPARE(conn.first().sandboxId, m_sandbox.id);
        QVERIFY(auditKinds().contains(QStringLiteral("egress.allow")));
    }

    void absoluteUriRequestIsForwardedInOriginForm()
    {
        Outside outside(true);
        startGate(options());
        grant(outside.destination());
        auto c = send(
            "GET http://" + outside.destination().toUtf8() +
            "/dists/x/Release?a=1 HTTP/1.1\r\nHost: " + outside.destination().toUtf8() +
            "\r\nProxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n");
        const QByteArray got = answer(*c);
        QVERIFY2(got.startsWith("HTTP/1.1 200 OK"), got.constData());
        QVERIFY2(outside.seen.startsWith("GET /dists/x/Release?a=1 HTTP/1.1\r\n"), outside.seen.constData());
        QVERIFY(outside.seen.contains("Accept: */*\r\n"));
        QVERIFY(outside.seen.contains("Connection: close\r\n"));
        QVERIFY(!outside.seen.contains("Proxy-"));
    }

    void aClientThatIsNoSandboxIsRefused()
    {
        Outside outside;
        startGate(options());
        grant(outside.destination());
        auto c = send(connectTo(outside.destination()), QHostAddress(QStringLiteral("127.0.0.9")));
        const QByteArray got = answer(*c);
        QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("not a sandbox Fluid knows"),
                 got.constData());
        QCOMPARE(outside.accepted, 0);
    }

    void theDenyListWinsOverAGrant()
    {
        Outside outside;
        GateOptions o = options();
        o.deny = QStringLiteral("127.0.0.3:*");
        o.allow = QStringLiteral("127.0.0.3:*");
        startGate(o);
        grant(outside.destination());
        const QByteArray got = answer(*send(connectTo(outside.destination())));
        QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("deny list"), got.constData());
        QCOMPARE(outside.accepted, 0);
        QVERIFY(auditKinds().contains(QStringLiteral("egress.deny")));
    }

    void theHostAllowListNeedsNoApproval()
    {
        Outside outside;
        GateOptions o = options();
        o.allow = QStringLiteral("127.0.0.3:*");
        startGate(o);
        QVERIFY(answer(*send(connectTo(outside.destination())), "\r\n\r\n").startsWith("HTTP/1.1 200"));
        QVERIFY(must(store::pendingApprovals(*m_db)).isEmpty());
    }

    void anApprovalWithinTheHoldLetsItThrough()
    {
        Outside outside;
        GateOptions o = options();
        o.holdMs = 10000;
        startGate(o);
        auto c = send(connectTo(outside.destination()));
        QElapsedTimer t;
        t.start();
        decideFromElsewhere(true);
        QVERIFY(answer(*c, "\r\n\r\n").startsWith("HTTP/1.1 200 Connection established"));
        QVERIFY2(t.elapsed() < 5000, "the approval was noticed only after the hold");
        const auto pending = must(store::egressApprovals(*m_db, m_sandbox.id));
        QCOMPARE(pending.first().request,
                 QStringLiteral("sandbox web-1 wants to reach %1").arg(outside.destination()));
        QCOMPARE(pending.first().requestedBy, QStringLiteral("system"));
        // The approval became a grant for the sandbox's life: the next connection does not ask.
        const auto grants = must(store::egressGrants(*m_db, m_sandbox.id));
        QCOMPARE(grants.size(), 1);
        QCOMPARE(grants.first().scope, model::EgressScope::Sandbox);
        QCOMPARE(grants.first().grantedBy, QStringLiteral("person:alice"));
        QVERIFY(answer(*send(connectTo(outside.destination())), "\r\n\r\n").startsWith("HTTP/1.1 200"));
        QCOMPARE(must(store::egressApprovals(*m_db, m_sandbox.id)).size(), 1);
    }

    void noDecisionGets403AfterTheHoldAndARetryAfterApprovalWorks()
    {
        Outside outside;
        startGate(options());
        QElapsedTimer t;
        t.start();
        auto c1 = send(connectTo(outside.destination()));
        auto c2 = send(connectTo(outside.destination())); // joins the same request
        const QByteArray got = answer(*c1);
        QVERIFY2(t.elapsed() >= 350, "answered before the hold ended");
        QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("Waiting for a person to approve request") &&
                     got.contains("retry"),
                 got.constData());
        QVERIFY(answer(*c2).startsWith("HTTP/1.1 403"));
        const auto pending = must(store::pendingApprovals(*m_db));
        QCOMPARE(pending.size(), 1);
        QVERIFY(got.contains(pending.first().contentHash.toUtf8()));
        QCOMPARE(outside.accepted, 0);
        decideFromElsewhere(true);
        QVERIFY(answer(*send(connectTo(outside.destination())), "\r\n\r\n").startsWith("HTTP/1.1 200"));
    }

    void aRejectionAnswers403WithTheComment()
    {
        Outside outside;
        GateOptions o = options();
        o.holdMs = 10000;
        startGate(o);
        auto c = send(connectTo(outside.destination()));
        decideFromElsewhere(false, QStringLiteral("use the mirror"));
        const QByteArray got = answer(*c);
        QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("rejected") && got.contains("use the mirror"),
                 got.constData());
        // And a retry is refused at once, without a new request in the inbox.
        QVERIFY(answer(*send(connectTo(outside.destination()))).contains("use the mirror"));
        QVERIFY(must(store::pendingApprovals(*m_db)).isEmpty());
        QCOMPARE(outside.accepted, 0);
    }

    void onceUntilAndRevokedGrants()
    {
        Outside outside;
        startGate(options());
        grant(outside.destination(), model::EgressScope::Once);
        QVERIFY(answer(*send(connectTo(outside.destination())), "\r\n\r\n").startsWith("HTTP/1.1 200"));
        QVERIFY(answer(*send(connectTo(outside.destination()))).startsWith("HTTP/1.1 403"));
        must(store::revokeEgressGrants(*m_db, m_sandbox.id, outside.destination(),
                                       QDateTime::currentDateTimeUtc()));

        Outside second;
        grant(second.destination(), model::EgressScope::Until, QDateTime::currentDateTimeUtc().addSecs(-1));
        QVERIFY(answer(*send(connectTo(second.destination()))).startsWith("HTTP/1.1 403"));

        Outside third;
        grant(third.destination());
        QVERIFY(answer(*send(connectTo(third.destination())), "\r\n\r\n").startsWith("HTTP/1.1 200"));
        QCOMPARE(must(store::revokeEgressGrants(*m_db, m_sandbox.id, third.destination(),
                                                QDateTime::currentDateTimeUtc())),
                 1);
        QVERIFY(answer(*send(connectTo(third.destination()))).startsWith("HTTP/1.1 403"));
        QCOMPARE(third.accepted, 1);
    }

    void noOpenRelay()
    {
        Outside outside;
        GateOptions o = options();
        o.allowLoopbackDestinations = false;
        o.allow = QStringLiteral("*:*"); // allowed by policy: the address rules must still refuse them
        startGate(o);
        const QString self = QStringLiteral("127.0.0.1:%1").arg(m_gate->port());
        for (const QString& d :
             {outside.destination(), QStringLiteral("localhost:%1").arg(outside.port()), self,
              QStringLiteral("10.213.0.7:22"), QStringLiteral("169.254.1.1:80"),
              QStringLiteral("[::1]:%1").arg(outside.port()), QStringLiteral("0.0.0.0:80")}) {
            const QByteArray got = answer(*send(connectTo(d)));
            QVERIFY2(got.startsWith("HTTP/1.1 403") && got.contains("never connects to"),
                     qPrintable(d + QLatin1Char(' ') + QString::fromUtf8(got)));
        }
        QCOMPARE(outside.accepted, 0);
        AddressRules rules;
        rules.gate = QHostAddress(QStringLiteral("10.213.0.1"));
        QVERIFY(!refusedAddress(QHostAddress(QStringLiteral("::ffff:127.0.0.1")), rules).isEmpty());
        QVERIFY(refusedAddress(QHostAddress(QStringLiteral("192.0.2.1")), rules).isEmpty());
    }

    void connectionsPerSandboxAreCapped()
    {
        Outside outside;
        GateOptions o = options();
        o.maxConnectionsPerSandbox = 2;
        startGate(o);
        grant(outside.destination());
        auto a = send(connectTo(outside.destination()));
        auto b = send(connectTo(outside.destination()));
        QVERIFY(answer(*a, "\r\n\r\n").startsWith("HTTP/1.1 200"));
        QVERIFY(answer(*b, "\r\n\r\n").startsWith("HTTP/1.1 200"));
        const QByteArray third = answer(*send(connectTo(outside.destination())));
        QVERIFY2(third.startsWith("HTTP/1.1 503") && third.contains("the most it may have"),
                 third.constData());
        a->disconnectFromHost();
        QTRY_COMPARE(m_gate->openConnections(), 1);
        QVERIFY(answer(*send(connectTo(outside.destination())), "\r\n\r\n").startsWith("HTTP/1.1 200"));
    }

    void anIdleTunnelIsClosed()
    {
        Outside outside;
        GateOptions o = options();
        o.idleTimeoutMs = 300;
        startGate(o);
        grant(outside.destination());
        auto c = send(connectTo(outside.destination()));
        QVERIFY(answer(*c, "\r\n\r\n").startsWith("HTTP/1.1 200"));
        QTRY_COMPARE_WITH_TIMEOUT(c->state(), QAbstractSocket::UnconnectedState, 5000);
        QTRY_COMPARE(audits(QStringLiteral("egress.connection")).size(), 1);
        QVERIFY(audits(QStringLiteral("egress.connection")).first().summary.contains(QLatin1String("idle")));
    }

    /// A relay on a remote host passes connections on as local sockets: with the relay's token and a
    /// sandbox's address in front, it is served as that sandbox; without the token, or from no sandbox,
    /// it is not.
    void relayedConnectionsNeedTheRelaysToken()
    {
        Outside outside;
        GateOptions o = options();
        o.relayToken = "0123456789abcdef0123456789abcdef";
        startGate(o);
        grant(outside.destination());
        const auto relayed = [&](const QByteArray& line) {
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
                qFatal("socketpair failed");
            m_gate->acceptRelayed(sv[0]);
            auto s = std::make_unique<QLocalSocket>();
            s->setSocketDescriptor(sv[1]);
            s->write(line + connectTo(outside.destination()));
            return s;
        };
        const auto answerOf = [](QLocalSocket& s, const QByteArray& marker) {
            QByteArray got;
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < 5000 && (marker.isEmpty() || !got.contains(marker))) {
                QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
                got += s.readAll();
                if (marker.isEmpty() && s.state() == QLocalSocket::UnconnectedState)
                    break;
            }
            return got + s.readAll();
        };

        auto good = relayed("FLUID-RELAY " + o.relayToken + ' ' + kSandboxIp.toString().toLatin1() + '\n');
        QVERIFY(answerOf(*good, "\r\n\r\n").startsWith("HTTP/1.1 200 Connection established"));
        good->write("ping");
        QCOMPARE(answerOf(*good, "ping"), QByteArray("ping"));
        good->disconnectFromServer();
        QTRY_COMPARE(m_gate->openConnections(), 0);
        QCOMPARE(audits(QStringLiteral("egress.connection")).first().sandboxId, m_sandbox.id);

        // A wrong token, a missing one, garbage: closed without an answer, and no session.
        for (const QByteArray& bad : {QByteArray("FLUID-RELAY ffffffffffffffffffffffffffffffff ") +
                                          kSandboxIp.toString().toLatin1() + '\n',
                                      QByteArray("FLUID-RELAY ") + kSandboxIp.toString().toLatin1() + '\n',
                                      QByteArray("GET / HTTP/1.1\n")}) {
            auto s = relayed(bad);
            QCOMPARE(answerOf(*s, {}), QByteArray());
            QCOMPARE(m_gate->openConnections(), 0);
        }
        // The right token for an address that is no sandbox: served as that address, so refused.
        auto stranger = relayed("FLUID-RELAY " + o.relayToken + " 10.213.0.99\n");
        QVERIFY(answerOf(*stranger, {}).startsWith("HTTP/1.1 403"));

        // A gate without a token takes no relayed connection at all.
        m_gate.reset();
        startGate(options());
        auto untrusted =
            relayed("FLUID-RELAY " + QByteArray() + ' ' + kSandboxIp.toString().toLatin1() + '\n');
        QCOMPARE(answerOf(*untrusted, {}), QByteArray());
    }

    void garbageAndOversizedHeadsAreRefused()
    {
        startGate(options());
        QVERIFY(answer(*send("GET /relative HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400"));
        QVERIFY(answer(*send("hello\r\n\r\n")).startsWith("HTTP/1.1 400"));
        QVERIFY(answer(*send("CONNECT a@b:80 HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400"));
        QVERIFY(answer(*send("GET ftp://x/ HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400"));
        QVERIFY(answer(*send("CONNECT x:80 HTTP/1.1\r\nX: " + QByteArray(20000, 'a')))
                    .startsWith("HTTP/1.1 400"));
    }
};

QTEST_GUILESS_MAIN(TestEgressGate)
#include "tst_egressgate.moc"

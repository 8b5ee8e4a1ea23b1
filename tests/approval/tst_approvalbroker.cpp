// SPDX-License-Identifier: Apache-2.0
// Who may decide an approval request, over a real SQLite store: an agent session or an API token never
// approves a request it filed itself; a person may approve their own.
#include "approval/ApprovalBroker.h"
#include "base/Clock.h"
#include "store/Database.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QTest>

using namespace fluid;
using model::Actor;
using model::Approval;
using model::ApprovalStatus;

class TestApprovalBroker : public QObject {
    Q_OBJECT

    std::unique_ptr<store::Database> m_db;
    ManualClock m_clock;
    std::unique_ptr<approval::ApprovalBroker> m_broker;

    Approval file(const Actor& by)
    {
        Approval a;
        a.kind = QStringLiteral("resources");
        a.request = QStringLiteral("Create sandbox s beyond its limits");
        a.context = QJsonObject{{QStringLiteral("memoryMib"), 8192}};
        return test::must(m_broker->request(*m_db, a, by, 60 * 60 * 1000));
    }

    Approval stored(const QString& id) { return test::must(store::ApprovalRepository(*m_db).get(id)); }

    /// `filer` files a request and tries to approve it (with the hash it was shown): refused, and the request
    /// is still pending, undecided, for a person to decide.
    void refusedToApproveItsOwn(const Actor& filer)
    {
        const Approval filed = file(filer);
        QCOMPARE(stored(filed.id).requestedBy, filer.toString()); // stored as written, never redacted
        const auto refused = m_broker->decide(*m_db, filed.id, true, filer, {}, filed.contentHash);
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, ErrorCode::PermissionDenied);
        QVERIFY2(refused.error().message.contains(filer.toString()) &&
                     refused.error().message.contains(QLatin1String("cannot approve it itself")),
                 qPrintable(refused.error().message));
        const Approval after = stored(filed.id);
        QCOMPARE(after.status, ApprovalStatus::Pending);
        QVERIFY(after.decidedBy.isEmpty());

        const Actor alice = Actor::person(QStringLiteral("alice"));
        QCOMPARE(test::must(m_broker->decide(*m_db, filed.id, true, alice, {}, filed.contentHash)).status,
                 ApprovalStatus::Approved);
        QCOMPARE(stored(filed.id).decidedBy, QStringLiteral("person:alice"));

        // Withdrawing its own request is not approving it.
        const Approval withdrawn = file(filer);
        QCOMPARE(test::must(m_broker->decide(*m_db, withdrawn.id, false, filer, QStringLiteral("not needed"),
                                             withdrawn.contentHash))
                     .status,
                 ApprovalStatus::Rejected);
    }

private Q_SLOTS:
    void init()
    {
        m_db = test::must(
            store::Database::open(test::migratedStore(test::makeTempDir(QStringLiteral("broker")))));
        m_broker = std::make_unique<approval::ApprovalBroker>(m_db->options(), m_clock);
    }

    void cleanup()
    {
        m_broker.reset();
        m_db.reset();
    }

    void agentCannotApproveItsOwnRequest() { refusedToApproveItsOwn(Actor::agent(QStringLiteral("X"))); }

    void tokenCannotApproveItsOwnRequest() { refusedToApproveItsOwn(Actor::apiToken(QStringLiteral("T"))); }

    void personMayApproveTheirOwnRequest()
    {
        // The admission of a person's own create: they asked, they decide.
        const Actor alice = Actor::person(QStringLiteral("alice"));
        const Approval filed = file(alice);
        const Approval decided =
            test::must(m_broker->decide(*m_db, filed.id, true, alice, {}, filed.contentHash));
        QCOMPARE(decided.status, ApprovalStatus::Approved);
        QCOMPARE(stored(filed.id).requestedBy, QStringLiteral("person:alice"));
        QCOMPARE(stored(filed.id).decidedBy, QStringLiteral("person:alice"));
    }
};

QTEST_GUILESS_MAIN(TestApprovalBroker)
#include "tst_approvalbroker.moc"

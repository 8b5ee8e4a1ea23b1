// SPDX-License-Identifier: Apache-2.0
// approval::readInbox over a real SQLite store: the pending requests every time, the history only when it
// was asked for or when a request the caller knew as pending has left the list, and never more than the
// limit.
#include "approval/ApprovalBroker.h"
#include "approval/ApprovalInbox.h"
#include "base/Clock.h"
#include "store/Database.h"
#include "TestSupport.h"

#include <QTest>

using namespace fluid;
using model::Approval;

namespace {

QSet<QString> idsOf(const QList<Approval>& approvals)
{
    QSet<QString> ids;
    for (const Approval& a : approvals)
        ids.insert(a.id);
    return ids;
}

} // namespace

class TestApprovalInbox : public QObject {
    Q_OBJECT

    std::unique_ptr<store::Database> m_db;
    ManualClock m_clock;
    std::unique_ptr<approval::ApprovalBroker> m_broker;

    Approval file(const QString& name)
    {
        Approval a;
        a.kind = QStringLiteral("resources");
        a.request = QStringLiteral("Create sandbox %1 beyond its limits").arg(name);
        a.context = QJsonObject{{QStringLiteral("sandbox"), name}};
        return test::must(
            m_broker->request(*m_db, a, model::Actor::agent(QStringLiteral("1")), 60 * 60 * 1000));
    }

private Q_SLOTS:
    void init()
    {
        m_db = test::must(
            store::Database::open(test::migratedStore(test::makeTempDir(QStringLiteral("inbox")))));
        m_broker = std::make_unique<approval::ApprovalBroker>(m_db->options(), m_clock);
    }

    void cleanup()
    {
        m_broker.reset();
        m_db.reset();
    }

    void historyOnlyWhenItMayHaveChanged()
    {
        const Approval a = file(QStringLiteral("a"));
        const Approval b = file(QStringLiteral("b"));

        auto quiet = test::must(approval::readInbox(*m_db, *m_broker, {}, false));
        QCOMPARE(idsOf(quiet.pending), (QSet<QString>{a.id, b.id}));
        QVERIFY(!quiet.history.has_value());

        auto forced = test::must(approval::readInbox(*m_db, *m_broker, idsOf(quiet.pending), true));
        QVERIFY(forced.history.has_value());
        QVERIFY(forced.history->isEmpty());

        // Nothing the caller knew has left: the history cannot have changed.
        auto same = test::must(approval::readInbox(*m_db, *m_broker, {a.id}, false));
        QVERIFY(!same.history.has_value());

        test::must(m_broker->decide(*m_db, a.id, true, model::Actor::person(QStringLiteral("alice")),
                                    QStringLiteral("fine")));
        auto after = test::must(approval::readInbox(*m_db, *m_broker, {a.id, b.id}, false));
        QCOMPARE(idsOf(after.pending), QSet<QString>{b.id});
        QVERIFY(after.history.has_value());
        QCOMPARE(after.history->size(), 1);
        QCOMPARE(after.history->first().id, a.id);
        QCOMPARE(after.history->first().decidedBy, QStringLiteral("person:alice"));
    }

    void dueRequestsMoveToTheHistoryAsExpired()
    {
        const Approval a = file(QStringLiteral("late"));
        m_clock.advance(2 * 60 * 60 * 1000);
        auto inbox = test::must(approval::readInbox(*m_db, *m_broker, {a.id}, false));
        QVERIFY(inbox.pending.isEmpty());
        QVERIFY(inbox.history.has_value());
        QCOMPARE(inbox.history->size(), 1);
        QCOMPARE(inbox.history->first().status, model::ApprovalStatus::Expired);
    }

    void historyStopsAtTheLimit()
    {
        for (int i = 0; i < 3; ++i) {
            const Approval a = file(QStringLiteral("s%1").arg(i));
            test::must(m_broker->decide(*m_db, a.id, false, model::Actor::person(QStringLiteral("bob")),
                                        QStringLiteral("no")));
        }
        auto inbox = test::must(approval::readInbox(*m_db, *m_broker, {}, true, 2));
        QVERIFY(inbox.pending.isEmpty());
        QCOMPARE(inbox.history->size(), 2);
        QVERIFY(approval::kInboxHistoryLimit > 2);
    }
};

QTEST_GUILESS_MAIN(TestApprovalInbox)
#include "tst_approvalinbox.moc"

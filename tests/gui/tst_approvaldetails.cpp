// SPDX-License-Identifier: Apache-2.0
// ApprovalDetails on its own: request text is escaped, the content hash and its verdict are shown, a diff in
// the context gets its own marked section (and nothing else does), the status follows the clock, and what
// the pane does when the request it shows is read again.
#include "approval/ApprovalBroker.h"
#include "approvals/ApprovalDetails.h"
#include "base/Clock.h"

#include <QJsonArray>
#include <QPalette>
#include <QTest>
#include <QTextDocument>

using namespace fluid;
using model::Approval;
using model::ApprovalStatus;
using ui::ApprovalDetails;

namespace {

Approval makeApproval(const QDateTime& created)
{
    Approval a;
    a.id = QStringLiteral("req-1");
    a.kind = QStringLiteral("apply");
    a.request = QStringLiteral("Apply <b>nginx.yml</b> & restart");
    a.context = QJsonObject{{QStringLiteral("why"), QStringLiteral("needs <i>it</i>")},
                            {QStringLiteral("sandbox"), QStringLiteral("web-1")},
                            {QStringLiteral("memoryMib"), 4096},
                            {QStringLiteral("targets"), QJsonArray{QStringLiteral("web-prod-1")}}};
    a.requestedBy = QStringLiteral("agent:3");
    a.createdAt = created;
    a.expiresAt = created.addSecs(600);
    a.contentHash = approval::contentHash(a.kind, a.request, a.context);
    return a;
}

QString plainText(const QString& html)
{
    QTextDocument doc;
    doc.setHtml(html);
    return doc.toPlainText();
}

} // namespace

class TestApprovalDetails : public QObject {
    Q_OBJECT

    ManualClock m_clock;

private Q_SLOTS:
    void requestTextIsEscaped()
    {
        const QString html = ApprovalDetails(m_clock).html(makeApproval(m_clock.now()), QPalette());
        QVERIFY2(html.contains(QLatin1String("Apply &lt;b&gt;nginx.yml&lt;/b&gt; &amp; restart")),
                 qPrintable(html));
        QVERIFY(!html.contains(QLatin1String("<b>nginx.yml</b>")));
        QVERIFY(html.contains(QLatin1String("needs &lt;i&gt;it&lt;/i&gt;")));
        const QString text = plainText(html);
        QVERIFY(text.contains(QLatin1String("Apply <b>nginx.yml</b> & restart")));
        QVERIFY(text.contains(QLatin1String("web-1 (not created yet)")));
        QVERIFY(text.contains(QLatin1String("4096 MiB")));
        QVERIFY(text.contains(QLatin1String("web-prod-1")));
        QVERIFY(text.contains(QLatin1String("agent:3")));
    }

    void hashIsShownWithItsVerdict()
    {
        Approval a = makeApproval(m_clock.now());
        const ApprovalDetails details(m_clock);
        QString html = details.html(a, QPalette());
        QVERIFY(html.contains(QStringLiteral("<code>%1</code>").arg(a.contentHash)));
        QVERIFY(html.contains(QLatin1String("A decision binds to this hash")));
        QVERIFY(!html.contains(QLatin1String("no longer matches")));

        a.request = QStringLiteral("Apply something else");
        html = details.html(a, QPalette());
        QVERIFY(html.contains(QStringLiteral("<code>%1</code>").arg(a.contentHash)));
        QVERIFY(html.contains(QLatin1String("no longer matches this hash")));
    }

    void diffGetsItsOwnMarkedSection()
    {
        Approval a = makeApproval(m_clock.now());
        const ApprovalDetails details(m_clock);
        QPalette palette;
        palette.setColor(QPalette::Base, Qt::white);
        QString html = details.html(a, palette);
        QVERIFY(!html.contains(QLatin1String("Changes")));
        QVERIFY(!html.contains(QLatin1String("background-color")));

        a.context.insert(QStringLiteral("diff"),
                         QStringLiteral("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new <script>\n same"));
        a.contentHash = approval::contentHash(a.kind, a.request, a.context);
        html = details.html(a, palette);
        QVERIFY(html.contains(QLatin1String("<h4>Changes</h4>")));
        QCOMPARE(html.count(QLatin1String("background-color")), 5); // 3 header lines, one removed, one added
        QVERIFY(html.contains(QLatin1String("+new &lt;script&gt;")));
        QVERIFY(!html.contains(QLatin1String("<script>")));
        // The diff is shown in its section, not again in the list of other context.
        QCOMPARE(plainText(html).count(QLatin1String("+new <script>")), 1);
    }

    void statusFollowsTheClock()
    {
        ManualClock clock;
        const Approval a = makeApproval(clock.now());
        const ApprovalDetails details(clock);
        QVERIFY(plainText(details.html(a, QPalette())).contains(QLatin1String("pending")));
        clock.advance(601 * 1000);
        QVERIFY(plainText(details.html(a, QPalette())).contains(QLatin1String("expired")));
    }

    void followDecidesWhatThePaneDoes()
    {
        const Approval shown = makeApproval(m_clock.now());
        QCOMPARE(ApprovalDetails::follow(shown, shown), ApprovalDetails::Follow::Keep);

        Approval changed = shown;
        changed.request = QStringLiteral("Apply to every host");
        QCOMPARE(ApprovalDetails::follow(shown, changed), ApprovalDetails::Follow::Warn);

        Approval decided = shown;
        decided.status = ApprovalStatus::Approved;
        decided.decidedBy = QStringLiteral("person:bob");
        QCOMPARE(ApprovalDetails::follow(shown, decided), ApprovalDetails::Follow::Reshow);
        decided.request = changed.request;
        QCOMPARE(ApprovalDetails::follow(shown, decided), ApprovalDetails::Follow::Reshow);

        Approval commented = decided;
        commented.comment = QStringLiteral("later note");
        QCOMPARE(ApprovalDetails::follow(decided, commented), ApprovalDetails::Follow::Reshow);
        QCOMPARE(ApprovalDetails::follow(decided, decided), ApprovalDetails::Follow::Keep);
    }
};

QTEST_MAIN(TestApprovalDetails)
#include "tst_approvaldetails.moc"

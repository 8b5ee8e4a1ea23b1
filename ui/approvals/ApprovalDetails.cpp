// SPDX-License-Identifier: Apache-2.0
#include "ApprovalDetails.h"

#include "approval/ApprovalBroker.h"
#include "ApprovalModel.h"
#include "base/Clock.h"

#include <QColor>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPalette>

namespace fluid::ui {
using model::Approval;
using model::ApprovalStatus;

namespace {

QString esc(const QString& text)
{
    return text.toHtmlEscaped();
}

/// a moved towards b by t (0..1): diff backgrounds derived from the palette's base colour, so they stay
/// readable on dark and light themes alike.
QColor blend(const QColor& a, const QColor& b, qreal t)
{
    return QColor::fromRgbF(float(a.redF() + (b.redF() - a.redF()) * t),
                            float(a.greenF() + (b.greenF() - a.greenF()) * t),
                            float(a.blueF() + (b.blueF() - a.blueF()) * t));
}

bool sameContent(const Approval& a, const Approval& b)
{
    return a.kind == b.kind && a.request == b.request && a.context == b.context &&
           a.contentHash == b.contentHash;
}

QString jsonValueText(const QJsonValue& v)
{
    switch (v.type()) {
    case QJsonValue::String:
        return v.toString();
    case QJsonValue::Bool:
        return v.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
    case QJsonValue::Double:
        return QString::number(v.toDouble());
    case QJsonValue::Array: {
        QStringList parts;
        for (const QJsonValue& item : v.toArray()) {
            if (!item.isString() && !item.isDouble())
                return QString::fromUtf8(QJsonDocument(v.toArray()).toJson(QJsonDocument::Indented));
            parts << jsonValueText(item);
        }
        return parts.join(QStringLiteral(", "));
    }
    case QJsonValue::Object:
        return QString::fromUtf8(QJsonDocument(v.toObject()).toJson(QJsonDocument::Indented));
    default:
        return QString();
    }
}

/// Context keys rendered in their own sections; the rest are listed as they are.
const QStringList& presentedKeys()
{
    static const QStringList keys = {
        QStringLiteral("sandbox"), QStringLiteral("host"),    QStringLiteral("why"),
        QStringLiteral("reason"),  QStringLiteral("over"),    QStringLiteral("memoryMib"),
        QStringLiteral("vcpus"),   QStringLiteral("diskGib"), QStringLiteral("diff")};
    return keys;
}

QString section(const QString& title, const QString& body)
{
    return body.isEmpty() ? QString() : QStringLiteral("<h4>%1</h4>").arg(title) + body;
}

QString table(const QString& rows)
{
    return rows.isEmpty() ? QString() : QStringLiteral("<table>%1</table>").arg(rows);
}

} // namespace

ApprovalDetails::ApprovalDetails(const Clock& clock)
    : m_clock(clock)
{
}

QString ApprovalDetails::html(const Approval& approval, const QPalette& palette) const
{
    return QStringLiteral("<h3>%1</h3>").arg(esc(approval.request)) + facts(approval) + why(approval) +
           resources(approval) + otherContext(approval) + diff(approval, palette) + hash(approval);
}

ApprovalDetails::Follow ApprovalDetails::follow(const Approval& shown, const Approval& current)
{
    const bool contentChanged = !sameContent(current, shown);
    // Never swap what a person is reading under them: they approve what they saw, or look again.
    if (current.status == ApprovalStatus::Pending && shown.status == ApprovalStatus::Pending &&
        contentChanged)
        return Follow::Warn;
    if (current.status != shown.status || current.decidedBy != shown.decidedBy ||
        current.comment != shown.comment || contentChanged)
        return Follow::Reshow;
    return Follow::Keep;
}

QString ApprovalDetails::facts(const Approval& a) const
{
    QString rows;
    const auto fact = [&rows](const QString& label, const QString& value) {
        if (!value.isEmpty())
            rows += QStringLiteral("<tr><td><b>%1</b>&nbsp;&nbsp;</td><td>%2</td></tr>")
                        .arg(esc(label), esc(value));
    };
    fact(tr("Status"), ApprovalModel::statusTextAt(a, m_clock.now()));
    fact(tr("Kind"), a.kind);
    const QJsonValue named = a.context.value(QStringLiteral("sandbox"));
    QString sandbox = ApprovalModel::sandboxOf(a);
    if (!a.sandboxId.isEmpty() && named.isString() && named.toString() != a.sandboxId)
        sandbox = tr("%1 (id %2)").arg(named.toString(), a.sandboxId);
    else if (a.sandboxId.isEmpty() && !sandbox.isEmpty())
        sandbox = tr("%1 (not created yet)").arg(sandbox);
    fact(tr("Sandbox"), sandbox);
    fact(tr("Host"), a.context.value(QStringLiteral("host")).toString());
    fact(tr("Requested by"), a.requestedBy);
    fact(tr("Agent session"), a.sessionId);
    fact(tr("Asked at"), ApprovalModel::localTime(a.createdAt));
    if (a.status == ApprovalStatus::Pending)
        fact(tr("Expires at"), ApprovalModel::localTime(a.expiresAt));
    fact(tr("Decided by"), a.decidedBy);
    fact(tr("Decided at"), ApprovalModel::localTime(a.decidedAt));
    fact(tr("Comment"), a.comment);
    fact(tr("Request id"), a.id);
    return table(rows);
}

QString ApprovalDetails::why(const Approval& a)
{
    QString body;
    for (const QString& key : {QStringLiteral("why"), QStringLiteral("reason")})
        if (a.context.value(key).isString())
            body += QStringLiteral("<p>%1</p>").arg(esc(a.context.value(key).toString()));
    const QJsonArray over = a.context.value(QStringLiteral("over")).toArray();
    if (!over.isEmpty()) {
        QString items;
        for (const QJsonValue& v : over)
            items += QStringLiteral("<li>%1</li>").arg(esc(jsonValueText(v)));
        body += tr("<p>It goes beyond the host's limits:</p>") + QStringLiteral("<ul>%1</ul>").arg(items);
    }
    return section(tr("Why it needs a decision"), body);
}

QString ApprovalDetails::resources(const Approval& a)
{
    QString rows;
    const auto resource = [&](const QString& key, const QString& label, const QString& unit) {
        const QJsonValue v = a.context.value(key);
        if (v.isDouble())
            rows += QStringLiteral("<tr><td><b>%1</b>&nbsp;&nbsp;</td><td>%2 %3</td></tr>")
                        .arg(esc(label), QString::number(v.toDouble()), esc(unit));
    };
    resource(QStringLiteral("memoryMib"), tr("Memory"), tr("MiB"));
    resource(QStringLiteral("vcpus"), tr("vCPUs"), QString());
    resource(QStringLiteral("diskGib"), tr("Disk"), tr("GiB"));
    return section(tr("Resources asked"), table(rows));
}

QString ApprovalDetails::otherContext(const Approval& a)
{
    QString rows;
    for (auto it = a.context.begin(); it != a.context.end(); ++it) {
        if (presentedKeys().contains(it.key()))
            continue;
        const QString text = jsonValueText(it.value());
        const bool block = text.contains(QLatin1Char('\n'));
        rows += QStringLiteral("<tr><td valign=\"top\"><b>%1</b>&nbsp;&nbsp;</td><td>%2</td></tr>")
                    .arg(esc(it.key()), block ? QStringLiteral("<pre>%1</pre>").arg(esc(text)) : esc(text));
    }
    return section(tr("Details"), table(rows));
}

QString ApprovalDetails::diff(const Approval& a, const QPalette& palette)
{
    const QString diff = a.context.value(QStringLiteral("diff")).toString();
    if (diff.isEmpty())
        return QString();
    const QColor base = palette.color(QPalette::Base);
    const QString added = blend(base, QColor(0, 170, 0), 0.25).name();
    const QString removed = blend(base, QColor(220, 0, 0), 0.25).name();
    const QString header = blend(base, palette.color(QPalette::Highlight), 0.2).name();
    QString lines;
    for (const QString& line : diff.split(QLatin1Char('\n'))) {
        QString bg;
        if (line.startsWith(QLatin1String("+++")) || line.startsWith(QLatin1String("---")) ||
            line.startsWith(QLatin1String("@@")))
            bg = header;
        else if (line.startsWith(QLatin1Char('+')))
            bg = added;
        else if (line.startsWith(QLatin1Char('-')))
            bg = removed;
        lines += bg.isEmpty()
                     ? esc(line) + QLatin1Char('\n')
                     : QStringLiteral("<span style=\"background-color:%1\">%2</span>\n").arg(bg, esc(line));
    }
    return section(tr("Changes"), QStringLiteral("<pre>%1</pre>").arg(lines));
}

QString ApprovalDetails::hash(const Approval& a)
{
    const bool intact = approval::contentHash(a.kind, a.request, a.context) == a.contentHash;
    const QString note =
        intact
            ? tr("<p>A decision binds to this hash: if anything above changes, the decision does not "
                 "apply.</p>")
            : tr("<p><b>The stored request no longer matches this hash: it was changed after it was filed. "
                 "It cannot be approved; reject it and have it asked again.</b></p>");
    return section(tr("Content hash"),
                   QStringLiteral("<p><code>%1</code></p>").arg(esc(a.contentHash)) + note);
}

} // namespace fluid::ui

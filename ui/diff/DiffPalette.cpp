// SPDX-License-Identifier: Apache-2.0
#include "DiffPalette.h"

#include <QPainter>
#include <QPixmap>

namespace fluid::ui {

namespace {
QColor blend(const QColor& a, const QColor& b, double t)
{
    return QColor::fromRgbF(float(a.redF() * (1 - t) + b.redF() * t),
                            float(a.greenF() * (1 - t) + b.greenF() * t),
                            float(a.blueF() * (1 - t) + b.blueF() * t));
}

enum class Kind { Added, Removed, Modified, Other };

Kind kindOf(const QString& change)
{
    static const QStringList added{QStringLiteral("added"), QStringLiteral("installed"),
                                   QStringLiteral("enabled"), QStringLiteral("unmasked")};
    static const QStringList removed{QStringLiteral("removed"), QStringLiteral("disabled"),
                                     QStringLiteral("masked")};
    if (added.contains(change))
        return Kind::Added;
    if (removed.contains(change))
        return Kind::Removed;
    if (change.isEmpty())
        return Kind::Other;
    return Kind::Modified;
}
} // namespace

DiffPalette DiffPalette::from(const QPalette& palette)
{
    const QColor base = palette.color(QPalette::Base);
    const QColor text = palette.color(QPalette::Text);
    const bool dark = base.lightnessF() < 0.5;
    const QColor green = dark ? QColor(60, 200, 90) : QColor(40, 170, 70);
    const QColor red = dark ? QColor(230, 80, 80) : QColor(210, 50, 50);
    const QColor amber = dark ? QColor(230, 180, 60) : QColor(190, 120, 0);
    DiffPalette p;
    p.addedLine = blend(base, green, dark ? 0.22 : 0.16);
    p.addedSpan = blend(base, green, dark ? 0.50 : 0.42);
    p.removedLine = blend(base, red, dark ? 0.22 : 0.14);
    p.removedSpan = blend(base, red, dark ? 0.50 : 0.40);
    p.filler = blend(base, text, 0.06);
    p.header = blend(base, palette.color(QPalette::Highlight), 0.18);
    p.lineNumber = blend(base, text, 0.55);
    p.added = blend(text, green, 0.75);
    p.removed = blend(text, red, 0.75);
    p.modified = blend(text, amber, 0.75);
    return p;
}

QColor DiffPalette::forChange(const QString& change) const
{
    switch (kindOf(change)) {
    case Kind::Added:
        return added;
    case Kind::Removed:
        return removed;
    case Kind::Modified:
        return modified;
    case Kind::Other:
        break;
    }
    return {};
}

QIcon DiffPalette::iconForChange(const QString& change) const
{
    const QColor colour = forChange(change);
    if (!colour.isValid())
        return {};
    QPixmap pixmap(12, 12);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setPen(Qt::NoPen);
    painter.setBrush(colour);
    painter.drawRoundedRect(QRectF(1, 1, 10, 10), 2, 2);
    return QIcon(pixmap);
}

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#include "SideBySideModel.h"

#include <QJsonArray>
#include <QLocale>

namespace fluid::ui {

namespace {
QList<QPoint> spansOf(const QJsonObject& line)
{
    QList<QPoint> out;
    for (const QJsonValue& s : line.value(QStringLiteral("spans")).toArray()) {
        const QJsonArray pair = s.toArray();
        out.append(QPoint(pair.at(0).toInt(), pair.at(1).toInt()));
    }
    return out;
}

QString sideText(const QJsonObject& side)
{
    if (side.isEmpty())
        return QObject::tr("(none)");
    const QString type = side.value(QStringLiteral("type")).toString();
    QStringList parts{type};
    if (type == QLatin1String("file"))
        parts << QLocale().formattedDataSize(side.value(QStringLiteral("size")).toInteger(), 1,
                                             QLocale::DataSizeTraditionalFormat) +
                     QStringLiteral(" (%1 bytes)").arg(side.value(QStringLiteral("size")).toInteger());
    if (side.contains(QStringLiteral("target")))
        parts << QObject::tr("→ %1").arg(side.value(QStringLiteral("target")).toString());
    parts << QObject::tr("mode %1").arg(side.value(QStringLiteral("mode")).toString());
    parts << QObject::tr("owner %1:%2")
                 .arg(side.value(QStringLiteral("uid")).toInteger())
                 .arg(side.value(QStringLiteral("gid")).toInteger());
    QString text = parts.join(QStringLiteral(", "));
    if (side.contains(QStringLiteral("sha256")))
        text += QStringLiteral("\nsha256 %1").arg(side.value(QStringLiteral("sha256")).toString());
    return text;
}
} // namespace

SideBySideModel::SideBySideModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

QString SideBySideModel::describe(const QJsonObject& entry)
{
    const QString content = entry.value(QStringLiteral("content")).toString();
    QString why;
    if (content == QLatin1String("binary"))
        why = tr("Binary file: no line diff.");
    else if (content == QLatin1String("too-large"))
        why = tr("Too large for a line diff (text diffs stop at the document's textSizeCap).");
    else if (content == QLatin1String("sensitive"))
        why = tr("Sensitive file (keys, password hashes): its content is never read into a diff, only "
                 "its hash.");
    else {
        QStringList aspects;
        for (const QJsonValue& a : entry.value(QStringLiteral("aspects")).toArray())
            aspects << a.toString();
        const QString change = entry.value(QStringLiteral("change")).toString();
        if (change == QLatin1String("added"))
            why = tr("Added; nothing to compare line by line.");
        else if (change == QLatin1String("removed"))
            why = tr("Removed; nothing to compare line by line.");
        else if (aspects.contains(QStringLiteral("content")))
            why = tr("Content changed; no line diff available.");
        else
            why = tr("Content unchanged; changed: %1.").arg(aspects.join(QStringLiteral(", ")));
    }
    return tr("%1\n\nBefore: %2\n\nAfter: %3")
        .arg(why, sideText(entry.value(QStringLiteral("before")).toObject()),
             sideText(entry.value(QStringLiteral("after")).toObject()));
}

void SideBySideModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_path.clear();
    m_message.clear();
    endResetModel();
}

void SideBySideModel::setEntry(const QJsonObject& entry)
{
    beginResetModel();
    m_rows.clear();
    m_path = entry.value(QStringLiteral("path")).toString();
    const QJsonArray hunks = entry.value(QStringLiteral("hunks")).toArray();
    m_message = hunks.isEmpty() ? describe(entry) : QString();
    QList<Side> removed;
    QList<Side> added;
    const auto flush = [&]() {
        for (qsizetype i = 0; i < std::max(removed.size(), added.size()); ++i)
            m_rows.append(
                {i < removed.size() ? removed.at(i) : Side{}, i < added.size() ? added.at(i) : Side{}});
        removed.clear();
        added.clear();
    };
    for (const QJsonValue& hv : hunks) {
        const QJsonObject h = hv.toObject();
        const QString header = QStringLiteral("@@ -%1,%2 +%3,%4 @@")
                                   .arg(h.value(QStringLiteral("oldStart")).toInt())
                                   .arg(h.value(QStringLiteral("oldCount")).toInt())
                                   .arg(h.value(QStringLiteral("newStart")).toInt())
                                   .arg(h.value(QStringLiteral("newCount")).toInt());
        m_rows.append({Side{Kind::Header, 0, header, {}}, Side{Kind::Header, 0, header, {}}});
        for (const QJsonValue& lv : h.value(QStringLiteral("lines")).toArray()) {
            const QJsonObject l = lv.toObject();
            const QString kind = l.value(QStringLiteral("kind")).toString();
            const QString text = l.value(QStringLiteral("text")).toString();
            if (kind == QLatin1String("-")) {
                if (!added.isEmpty())
                    flush(); // a removal after additions starts a new pairing
                removed.append({Kind::Removed, l.value(QStringLiteral("old")).toInt(), text, spansOf(l)});
            } else if (kind == QLatin1String("+")) {
                added.append({Kind::Added, l.value(QStringLiteral("new")).toInt(), text, spansOf(l)});
            } else {
                flush();
                m_rows.append({Side{Kind::Context, l.value(QStringLiteral("old")).toInt(), text, {}},
                               Side{Kind::Context, l.value(QStringLiteral("new")).toInt(), text, {}}});
            }
        }
        flush();
    }
    endResetModel();
}

int SideBySideModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int SideBySideModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant SideBySideModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const bool left = index.column() == OldNumberColumn || index.column() == OldTextColumn;
    const bool number = index.column() == OldNumberColumn || index.column() == NewNumberColumn;
    const Side& side = left ? m_rows.at(index.row()).left : m_rows.at(index.row()).right;
    switch (role) {
    case Qt::DisplayRole:
        if (number)
            return side.number > 0 ? QString::number(side.number) : QString();
        return side.text;
    case Qt::TextAlignmentRole:
        return number ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                      : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    case KindRole:
        return int(side.kind);
    case SpansRole:
        return QVariant::fromValue(side.spans);
    case LineNumberRole:
        return side.number;
    case Qt::AccessibleTextRole:
        if (side.kind == Kind::Removed)
            return tr("removed line %1: %2").arg(side.number).arg(side.text);
        if (side.kind == Kind::Added)
            return tr("added line %1: %2").arg(side.number).arg(side.text);
        return side.text;
    default:
        return {};
    }
}

QVariant SideBySideModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case OldNumberColumn:
    case NewNumberColumn:
        return tr("Line");
    case OldTextColumn:
        return tr("Before");
    case NewTextColumn:
        return tr("After");
    default:
        return {};
    }
}

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#include "Semantic.h"

namespace fluid::inspect {
namespace {

int order(QChar c)
{
    if (c.isDigit())
        return 0;
    if (c.isLetter())
        return c.unicode();
    if (c == QLatin1Char('~'))
        return -1;
    if (c.isNull())
        return 0;
    return c.unicode() + 256;
}

/// dpkg's verrevcmp: alternating non-digit and digit runs.
int verrevcmp(const QString& a, const QString& b)
{
    qsizetype i = 0;
    qsizetype j = 0;
    auto at = [](const QString& s, qsizetype k) {
        return k < s.size() ? s[k] : QChar();
    };
    while (i < a.size() || j < b.size()) {
        int firstDiff = 0;
        while ((i < a.size() && !a[i].isDigit()) || (j < b.size() && !b[j].isDigit())) {
            const int ac = order(at(a, i));
            const int bc = order(at(b, j));
            if (ac != bc)
                return ac - bc;
            ++i;
            ++j;
        }
        while (at(a, i) == QLatin1Char('0'))
            ++i;
        while (at(b, j) == QLatin1Char('0'))
            ++j;
        while (at(a, i).isDigit() && at(b, j).isDigit()) {
            if (!firstDiff)
                firstDiff = at(a, i).unicode() - at(b, j).unicode();
            ++i;
            ++j;
        }
        if (at(a, i).isDigit())
            return 1;
        if (at(b, j).isDigit())
            return -1;
        if (firstDiff)
            return firstDiff;
    }
    return 0;
}

struct DebVersion {
    long epoch = 0;
    QString upstream;
    QString revision;
};

DebVersion splitVersion(const QString& v)
{
    DebVersion out;
    QString rest = v.trimmed();
    const qsizetype colon = rest.indexOf(QLatin1Char(':'));
    if (colon > 0) {
        out.epoch = rest.left(colon).toLong();
        rest = rest.mid(colon + 1);
    }
    const qsizetype dash = rest.lastIndexOf(QLatin1Char('-'));
    if (dash >= 0) {
        out.revision = rest.mid(dash + 1);
        rest = rest.left(dash);
    }
    out.upstream = rest;
    return out;
}

} // namespace

QMap<QString, DpkgPackage> parseDpkgStatus(const QByteArray& content)
{
    QMap<QString, DpkgPackage> out;
    DpkgPackage current;
    auto flush = [&] {
        if (!current.name.isEmpty())
            out.insert(current.name + QLatin1Char(':') + current.architecture, current);
        current = DpkgPackage();
    };
    for (const QByteArray& raw : content.split('\n')) {
        const QByteArray line = raw.endsWith('\r') ? raw.chopped(1) : raw;
        if (line.trimmed().isEmpty()) {
            flush();
            continue;
        }
        if (line.startsWith(' ') || line.startsWith('\t'))
            continue; // continuation of a multi-line field
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            continue;
        const QByteArray key = line.left(colon).trimmed();
        const QString value = QString::fromUtf8(line.mid(colon + 1)).trimmed();
        if (key == "Package")
            current.name = value;
        else if (key == "Architecture")
            current.architecture = value;
        else if (key == "Version")
            current.version = value;
        else if (key == "Status")
            current.status = value.section(QLatin1Char(' '), -1);
    }
    flush();
    return out;
}

int compareDebianVersions(const QString& a, const QString& b)
{
    const DebVersion x = splitVersion(a);
    const DebVersion y = splitVersion(b);
    if (x.epoch != y.epoch)
        return x.epoch < y.epoch ? -1 : 1;
    if (int r = verrevcmp(x.upstream, y.upstream))
        return r;
    return verrevcmp(x.revision, y.revision);
}

QMap<QString, QStringList> parseColonFile(const QByteArray& content)
{
    QMap<QString, QStringList> out;
    for (const QByteArray& raw : content.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (line.isEmpty() || line.startsWith(QLatin1Char('#')))
            continue;
        const QStringList fields = line.split(QLatin1Char(':'));
        if (!fields.first().isEmpty())
            out.insert(fields.first(), fields);
    }
    return out;
}

QStringList cronEntries(const QByteArray& content)
{
    QStringList out;
    for (const QByteArray& raw : content.split('\n')) {
        const QString line = QString::fromUtf8(raw).trimmed();
        if (!line.isEmpty() && !line.startsWith(QLatin1Char('#')))
            out.append(line);
    }
    return out;
}

} // namespace fluid::inspect

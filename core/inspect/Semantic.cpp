// SPDX-License-Identifier: Apache-2.0
#include "Semantic.h"

#include <cstring>

#include <cctype>

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

QMap<QString, RpmPackage> parseRpmList(const QByteArray& output)
{
    QMap<QString, RpmPackage> out;
    for (const QByteArray& line : output.split('\n')) {
        const QList<QByteArray> f = line.split('\t');
        if (f.size() != 3 || f[0].isEmpty() || f[0] == "gpg-pubkey")
            continue;
        RpmPackage p{QString::fromUtf8(f[0]), QString::fromUtf8(f[1]), QString::fromUtf8(f[2])};
        out.insert(p.name + QLatin1Char('.') + p.architecture, p);
    }
    return out;
}

namespace {

/// rpmvercmp: alternating digit and letter segments; digits compare numerically and beat letters.
int rpmSegmentCompare(const QByteArray& a, const QByteArray& b)
{
    if (a == b)
        return 0;
    const auto alnum = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0;
    };
    const auto digit = [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
    };
    const auto alpha = [](char c) {
        return std::isalpha(static_cast<unsigned char>(c)) != 0;
    };
    qsizetype i = 0;
    qsizetype j = 0;
    const qsizetype n = a.size();
    const qsizetype m = b.size();
    while (i < n || j < m) {
        while (i < n && !alnum(a[i]) && a[i] != '~' && a[i] != '^')
            ++i;
        while (j < m && !alnum(b[j]) && b[j] != '~' && b[j] != '^')
            ++j;
        const char ca = i < n ? a[i] : '\0';
        const char cb = j < m ? b[j] : '\0';
        if (ca == '~' || cb == '~') {
            if (ca != '~')
                return 1;
            if (cb != '~')
                return -1;
            ++i;
            ++j;
            continue;
        }
        if (ca == '^' || cb == '^') {
            if (i >= n)
                return -1;
            if (j >= m)
                return 1;
            if (ca != '^')
                return 1;
            if (cb != '^')
                return -1;
            ++i;
            ++j;
            continue;
        }
        if (i >= n || j >= m)
            break;
        const bool numeric = digit(ca);
        qsizetype ei = i;
        qsizetype ej = j;
        while (ei < n && (numeric ? digit(a[ei]) : alpha(a[ei])))
            ++ei;
        while (ej < m && (numeric ? digit(b[ej]) : alpha(b[ej])))
            ++ej;
        if (ej == j) // the other side has a segment of the other kind here
            return numeric ? 1 : -1;
        QByteArray x = a.mid(i, ei - i);
        QByteArray y = b.mid(j, ej - j);
        if (numeric) {
            while (x.size() > 1 && x.startsWith('0'))
                x.remove(0, 1);
            while (y.size() > 1 && y.startsWith('0'))
                y.remove(0, 1);
            if (x.size() != y.size())
                return x.size() > y.size() ? 1 : -1;
        }
        if (const int c = std::strcmp(x.constData(), y.constData()); c != 0)
            return c < 0 ? -1 : 1;
        i = ei;
        j = ej;
    }
    if (i >= n && j >= m)
        return 0;
    return i < n ? 1 : -1;
}

struct Evr {
    qint64 epoch = 0;
    QByteArray version;
    QByteArray release;
};

Evr splitEvr(const QString& text)
{
    Evr e;
    QString rest = text;
    const qsizetype colon = rest.indexOf(QLatin1Char(':'));
    if (colon >= 0) {
        e.epoch = rest.left(colon).toLongLong();
        rest = rest.mid(colon + 1);
    }
    const qsizetype dash = rest.lastIndexOf(QLatin1Char('-'));
    e.version = (dash >= 0 ? rest.left(dash) : rest).toUtf8();
    e.release = dash >= 0 ? rest.mid(dash + 1).toUtf8() : QByteArray();
    return e;
}

} // namespace

int compareRpmVersions(const QString& a, const QString& b)
{
    const Evr x = splitEvr(a);
    const Evr y = splitEvr(b);
    if (x.epoch != y.epoch)
        return x.epoch < y.epoch ? -1 : 1;
    if (const int v = rpmSegmentCompare(x.version, y.version); v != 0)
        return v;
    return rpmSegmentCompare(x.release, y.release);
}

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#include "TextDiff.h"

#include <QHash>
#include <QStringDecoder>

#include <dtl/dtl.hpp>

#include <algorithm>
#include <vector>

namespace fluid::inspect {
namespace {

struct Lines {
    std::vector<int> ids; ///< one id per distinct line (with its line break, if any)
    QList<QString> text;
    QList<bool> unterminated;
};

Lines splitLines(const QByteArray& content, QHash<QByteArray, int>& ids)
{
    Lines out;
    qsizetype at = 0;
    while (at < content.size()) {
        qsizetype nl = content.indexOf('\n', at);
        const bool terminated = nl >= 0;
        if (!terminated)
            nl = content.size();
        const QByteArray line = content.mid(at, nl - at + (terminated ? 1 : 0));
        auto it = ids.constFind(line);
        if (it == ids.cend())
            it = ids.insert(line, int(ids.size()));
        out.ids.push_back(it.value());
        out.text.append(QString::fromUtf8(content.constData() + at, nl - at));
        out.unterminated.append(!terminated);
        at = nl + 1;
    }
    return out;
}

/// Myers' greedy forward pass: the edit distance (insertions + deletions) between a and b when it is at
/// most maxD, otherwise -1. Time O((n + m) x D), memory O(maxD); nothing else is kept.
template <typename T>
int editDistanceAtMost(const T* a, qsizetype n, const T* b, qsizetype m, qsizetype maxD)
{
    maxD = std::min(maxD, n + m);
    std::vector<qsizetype> v(size_t(2 * maxD + 3), 0);
    const qsizetype offset = maxD + 1;
    for (qsizetype d = 0; d <= maxD; ++d) {
        for (qsizetype k = -d; k <= d; k += 2) {
            qsizetype x = (k == -d || (k != d && v[size_t(offset + k - 1)] < v[size_t(offset + k + 1)]))
                              ? v[size_t(offset + k + 1)]
                              : v[size_t(offset + k - 1)] + 1;
            qsizetype y = x - k;
            while (x < n && y < m && a[x] == b[y]) {
                ++x;
                ++y;
            }
            v[size_t(offset + k)] = x;
            if (x >= n && y >= m)
                return int(d);
        }
    }
    return -1;
}

/// Charges the work of diffing sequences of n and m items against the budget: false (nothing charged) when
/// their edit distance would need more than is left.
template <typename T>
bool withinBudget(const T* a, qsizetype n, const T* b, qsizetype m, qint64& budget)
{
    const qint64 width = qint64(n + m) + 1;
    const qint64 maxD = budget / width - 1;
    if (maxD < 0)
        return false;
    const int d = editDistanceAtMost(a, n, b, m, qsizetype(maxD));
    if (d < 0)
        return false;
    budget -= width * (qint64(d) + 1);
    return true;
}

/// Character spans that differ between two lines (dtl over UTF-16 units), merged into ranges.
void intraLine(DiffLine& removed, DiffLine& added, qint64& budget)
{
    constexpr int kMaxLine = 4000;
    if (removed.text.size() > kMaxLine || added.text.size() > kMaxLine ||
        !withinBudget(removed.text.utf16(), removed.text.size(), added.text.utf16(), added.text.size(),
                      budget)) {
        removed.spans = {{0, int(removed.text.size())}};
        added.spans = {{0, int(added.text.size())}};
        return;
    }
    const std::vector<char16_t> a(removed.text.utf16(), removed.text.utf16() + removed.text.size());
    const std::vector<char16_t> b(added.text.utf16(), added.text.utf16() + added.text.size());
    dtl::Diff<char16_t, std::vector<char16_t>> d(a, b);
    d.compose();
    auto addSpan = [](QList<Span>& spans, int index) {
        if (!spans.isEmpty() && spans.last().start + spans.last().length == index)
            ++spans.last().length;
        else
            spans.append({index, 1});
    };
    for (const auto& [elem, info] : d.getSes().getSequence()) {
        if (info.type == dtl::SES_DELETE)
            addSpan(removed.spans, int(info.beforeIdx - 1));
        else if (info.type == dtl::SES_ADD)
            addSpan(added.spans, int(info.afterIdx - 1));
    }
}

/// Pairs the i-th removed line with the i-th added line of each change block.
void pairChangeBlocks(QList<DiffLine>& lines, qint64& budget)
{
    qsizetype i = 0;
    while (i < lines.size()) {
        if (lines[i].kind == ' ') {
            ++i;
            continue;
        }
        qsizetype delStart = i;
        while (i < lines.size() && lines[i].kind == '-')
            ++i;
        const qsizetype addStart = i;
        while (i < lines.size() && lines[i].kind == '+')
            ++i;
        const qsizetype dels = addStart - delStart;
        const qsizetype adds = i - addStart;
        for (qsizetype k = 0; k < std::min(dels, adds); ++k)
            intraLine(lines[delStart + k], lines[addStart + k], budget);
    }
}

} // namespace

bool isBinary(const QByteArray& content)
{
    if (content.contains('\0'))
        return true;
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString decoded = decoder(content);
    return decoder.hasError();
}

std::optional<QList<Hunk>> diffText(const QByteArray& before, const QByteArray& after, int context,
                                    qint64 workBudget)
{
    QHash<QByteArray, int> ids;
    const Lines a = splitLines(before, ids);
    const Lines b = splitLines(after, ids);
    qint64 budget = workBudget;
    if (!withinBudget(a.ids.data(), qsizetype(a.ids.size()), b.ids.data(), qsizetype(b.ids.size()), budget))
        return std::nullopt;
    dtl::Diff<int, std::vector<int>> d(a.ids, b.ids);
    d.compose();

    // The whole script as lines, then cut into hunks around the changes.
    QList<DiffLine> all;
    for (const auto& [elem, info] : d.getSes().getSequence()) {
        DiffLine l;
        if (info.type == dtl::SES_COMMON) {
            l.kind = ' ';
            l.oldLine = int(info.beforeIdx);
            l.newLine = int(info.afterIdx);
            l.text = a.text[l.oldLine - 1];
            l.noNewline = a.unterminated[l.oldLine - 1];
        } else if (info.type == dtl::SES_DELETE) {
            l.kind = '-';
            l.oldLine = int(info.beforeIdx);
            l.text = a.text[l.oldLine - 1];
            l.noNewline = a.unterminated[l.oldLine - 1];
        } else {
            l.kind = '+';
            l.newLine = int(info.afterIdx);
            l.text = b.text[l.newLine - 1];
            l.noNewline = b.unterminated[l.newLine - 1];
        }
        all.append(l);
    }

    // dtl may interleave adds and deletes inside a change block; diff -u lists deletions first.
    for (qsizetype k = 0; k < all.size();) {
        qsizetype end = k;
        while (end < all.size() && all[end].kind != ' ')
            ++end;
        std::stable_partition(all.begin() + k, all.begin() + end,
                              [](const DiffLine& l) { return l.kind == '-'; });
        k = end == k ? k + 1 : end;
    }

    QList<Hunk> hunks;
    qsizetype i = 0;
    while (i < all.size()) {
        if (all[i].kind == ' ') {
            ++i;
            continue;
        }
        // A hunk spans changes closer than 2*context lines to each other.
        qsizetype start = std::max<qsizetype>(0, i - context);
        qsizetype end = i;
        qsizetype commonRun = 0;
        for (qsizetype j = i; j < all.size(); ++j) {
            if (all[j].kind == ' ') {
                if (++commonRun > 2 * context)
                    break;
            } else {
                commonRun = 0;
                end = j;
            }
        }
        const qsizetype stop = std::min<qsizetype>(all.size(), end + 1 + context);
        Hunk h;
        h.lines = all.mid(start, stop - start);
        for (const DiffLine& l : h.lines) {
            if (l.kind != '+') {
                ++h.oldCount;
                if (h.oldStart == 0)
                    h.oldStart = l.oldLine;
            }
            if (l.kind != '-') {
                ++h.newCount;
                if (h.newStart == 0)
                    h.newStart = l.newLine;
            }
        }
        // An empty side starts at the line before, as diff -u writes it.
        if (h.oldCount == 0) {
            int before = 0;
            for (qsizetype k = start - 1; k >= 0 && before == 0; --k)
                before = all[k].oldLine;
            h.oldStart = before;
        }
        if (h.newCount == 0) {
            int before = 0;
            for (qsizetype k = start - 1; k >= 0 && before == 0; --k)
                before = all[k].newLine;
            h.newStart = before;
        }
        pairChangeBlocks(h.lines, budget);
        hunks.append(h);
        i = stop;
    }
    return std::optional<QList<Hunk>>(std::move(hunks));
}

QByteArray hunksToUnified(const QList<Hunk>& hunks)
{
    QByteArray out;
    for (const Hunk& h : hunks) {
        out += "@@ -" + QByteArray::number(h.oldStart);
        if (h.oldCount != 1)
            out += ',' + QByteArray::number(h.oldCount);
        out += " +" + QByteArray::number(h.newStart);
        if (h.newCount != 1)
            out += ',' + QByteArray::number(h.newCount);
        out += " @@\n";
        for (const DiffLine& l : h.lines) {
            out += l.kind;
            out += l.text.toUtf8();
            out += '\n';
            if (l.noNewline)
                out += "\\ No newline at end of file\n";
        }
    }
    return out;
}

} // namespace fluid::inspect

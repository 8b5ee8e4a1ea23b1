// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>

namespace fluid::inspect {

/// A changed character range inside one line, in QString (UTF-16) units.
struct Span {
    int start = 0;
    int length = 0;
};

/// One line of a hunk. `kind` is ' ' (context), '-' (only in the old file) or '+' (only in the new one).
struct DiffLine {
    char kind = ' ';
    int oldLine = 0;        ///< 1-based; 0 for '+'
    int newLine = 0;        ///< 1-based; 0 for '-'
    QString text;           ///< without the line break
    bool noNewline = false; ///< the file's last line, without a final line break
    QList<Span> spans; ///< for '-'/'+' lines paired with a line on the other side: the characters that differ
};

/// A unified-diff hunk: "@@ -oldStart,oldCount +newStart,newCount @@".
struct Hunk {
    int oldStart = 0;
    int oldCount = 0;
    int newStart = 0;
    int newCount = 0;
    QList<DiffLine> lines;
};

/// Whether content is binary for diffing: it has a NUL byte or is not valid UTF-8.
bool isBinary(const QByteArray& content);

/// How much work one text diff may do, in steps of about (lines before + lines after) x edit distance: 50
/// million is well under a second here, and covers a few hundred changed lines in a 100,000-line file or
/// any change to a file of a few thousand lines.
inline constexpr qint64 kTextDiffWorkBudget = 50'000'000;

/// Line hunks between two texts (dtl's shortest edit script; `context` lines around each change), with
/// intra-line spans for each pair of removed/added lines in a change block, for a side-by-side view.
/// nullopt when the texts differ too much to diff within `workBudget` (found out by a bounded pass before
/// any real work: "changed, too large to show"); intra-line spans beyond the budget mark the whole line.
/// Pure; any thread.
std::optional<QList<Hunk>> diffText(const QByteArray& before, const QByteArray& after, int context = 3,
                                    qint64 workBudget = kTextDiffWorkBudget);

/// The hunks as unified-diff text (hunk headers and lines, no file headers).
QByteArray hunksToUnified(const QList<Hunk>& hunks);

} // namespace fluid::inspect

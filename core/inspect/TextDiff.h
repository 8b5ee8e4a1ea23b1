// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

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

/// Line hunks between two texts (dtl's shortest edit script; `context` lines around each change), with
/// intra-line spans for each pair of removed/added lines in a change block, for a side-by-side view.
/// Pure; any thread.
QList<Hunk> diffText(const QByteArray& before, const QByteArray& after, int context = 3);

/// The hunks as unified-diff text (hunk headers and lines, no file headers).
QByteArray hunksToUnified(const QList<Hunk>& hunks);

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QColor>
#include <QIcon>
#include <QPalette>

namespace fluid::ui {

/// Colours of the diff views, derived from the widget's palette so light and dark themes both read well:
/// added/removed tints are the base colour blended towards green/red, spans more strongly. Value type;
/// GUI thread (QIcon).
struct DiffPalette {
    QColor addedLine;
    QColor addedSpan;
    QColor removedLine;
    QColor removedSpan;
    QColor filler;
    QColor header;
    QColor lineNumber;
    QColor added;    ///< foreground for "added"/"installed" labels
    QColor removed;  ///< foreground for "removed" labels
    QColor modified; ///< foreground for "modified"/"changed"/"upgraded" labels

    static DiffPalette from(const QPalette& palette);
    /// The foreground colour for a change word of any layer (added, installed, removed, upgraded, ...).
    QColor forChange(const QString& change) const;
    /// A small filled square icon in the change's colour (an invalid icon for unknown words).
    QIcon iconForChange(const QString& change) const;
};

} // namespace fluid::ui

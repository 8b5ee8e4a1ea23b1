// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QColor>
#include <QObject>
#include <QPalette>
#include <QPoint>
#include <QString>

#include <deque>

class QKeyEvent;

struct VTerm;
struct VTermScreen;

namespace fluid::ui {

/// The model of one terminal: a libvterm VTerm + VTermScreen (UTF-8) that output bytes are fed into, the
/// keyboard encoder (keys and pastes become the bytes an xterm would send, honouring application cursor keys
/// and bracketed paste), a bounded scrollback, and a selection. Lines are addressed in one space: 0 is the
/// oldest scrollback line, scrollbackLines() is the screen's top row, the last is the screen's bottom row.
///
/// Thread: the GUI thread (it paints nothing itself; TerminalView paints it).
class TerminalScreen : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TerminalScreen)
public:
    static constexpr int kDefaultScrollback = 10000;

    /// One cell, colours resolved (default colours from the palette); reverse is left for the painter.
    struct Cell {
        QString text;  ///< empty for a blank cell and for the right half of a wide character
        int width = 1; ///< 2 for the left half of a wide character, 0 for its right half
        QColor fg;
        QColor bg;
        bool defaultBg = true;
        bool bold = false;
        bool italic = false;
        bool underline = false;
        bool reverse = false;
        bool strike = false;
    };

    explicit TerminalScreen(int cols = 80, int rows = 24, QObject* parent = nullptr);
    ~TerminalScreen() override;

    int cols() const { return m_cols; }
    int rows() const { return m_rows; }
    int scrollbackLines() const { return int(m_scrollback.size()); }
    int totalLines() const { return scrollbackLines() + m_rows; }
    void setScrollbackLimit(int lines);
    int scrollbackLimit() const { return m_scrollbackLimit; }

    /// Colours for the default foreground/background (text and base roles) and selection highlight.
    void setPalette(const QPalette& palette);
    const QPalette& palette() const { return m_palette; }

    /// Interprets output bytes from the remote side.
    void feed(const QByteArray& bytes);
    /// Resizes the screen; rows that no longer fit go to the scrollback, growing pulls them back.
    void resize(int cols, int rows);

    /// Encodes a key press; returns false when the key produces nothing (a lone modifier, unknown key).
    bool keyPressed(const QKeyEvent* event);
    /// Sends pasted text: newlines as CR, ESC removed (so a paste cannot end a bracket early), wrapped in
    /// ESC[200~ ... ESC[201~ while the application has asked for bracketed paste (DECSET 2004).
    void paste(const QString& text);
    bool bracketedPaste() const;

    Cell cell(int line, int col) const;
    /// The text of a line, trailing blanks removed.
    QString lineText(int line) const;
    /// The whole screen's text, one line per row, trailing blanks removed (for tests and copy-all).
    QString screenText() const;
    /// Screen coordinates (column, row) of the cursor.
    QPoint cursor() const { return m_cursor; }
    bool cursorVisible() const { return m_cursorVisible; }
    QString title() const { return m_title; }
    bool altScreen() const { return m_altScreen; }

    /// Selection between two (column, line) points in either order, inclusive of both cells.
    void setSelection(QPoint anchor, QPoint end);
    /// Selects the word (non-blank run of word characters) under (column, line).
    void selectWord(int line, int col);
    void clearSelection();
    bool hasSelection() const { return m_hasSelection; }
    bool isSelected(int line, int col) const;
    QString selectedText() const;

Q_SIGNALS:
    /// Bytes for the remote side: keys, pastes and the terminal's own replies (cursor reports...).
    void sendBytes(const QByteArray& bytes);
    /// The content, cursor or scrollback changed; repaint.
    void changed();
    void titleChanged(const QString& title);
    void bell();

private:
    /// libvterm's C callbacks, defined in the .cpp (libvterm's types are anonymous typedefs).
    struct Callbacks;
    friend struct Callbacks;

    /// A libvterm cell (VTermScreenCell) as a Cell.
    Cell convert(const void* vtermCell) const;
    /// A libvterm colour (VTermColor); default colours come from the palette.
    QColor resolveColour(const void* colour, bool foreground) const;
    /// Sends what libvterm produced during the last call as one sendBytes().
    void flushOutput();
    QPoint selStart() const;
    QPoint selEnd() const;

    VTerm* m_vt = nullptr;
    VTermScreen* m_screen = nullptr;
    int m_cols;
    int m_rows;
    QPalette m_palette;
    /// Scrollback lines, oldest first: each a packed array of libvterm cells, trailing blanks trimmed.
    std::deque<QByteArray> m_scrollback;
    int m_scrollbackLimit = kDefaultScrollback;
    QPoint m_cursor;
    bool m_cursorVisible = true;
    bool m_altScreen = false;
    QString m_title;
    bool m_hasSelection = false;
    QPoint m_selAnchor;
    QPoint m_selEnd;
    QByteArray m_output;
    bool m_damaged = false;
};

} // namespace fluid::ui

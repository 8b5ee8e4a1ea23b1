// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QAbstractScrollArea>
#include <QByteArray>
#include <QElapsedTimer>
#include <QTimer>

#include <deque>
#include <optional>

namespace fluid::ui {

class TerminalScreen;

/// Paints a TerminalScreen in a monospace font with a scroll bar over its scrollback, and turns keys, mouse
/// selection, copy (Ctrl+Shift+C) and paste (Ctrl+Shift+V, middle click) into bytes for the remote side
/// (sendBytes). Output given to feed() is interpreted in bounded chunks, one per event-loop turn, and the
/// view repaints at most about 60 times a second, so a flood of output never stalls the window.
/// GUI thread.
class TerminalView : public QAbstractScrollArea {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TerminalView)
public:
    /// Output is interpreted in slices of this size until kFeedBudgetMs have passed, then the event loop
    /// gets a turn (libvterm moves the whole screen for each scrolled line: ~1.5 MB/s at 120x40).
    static constexpr int kFeedSlice = 4 * 1024;
    static constexpr int kFeedBudgetMs = 8;
    /// Queued output beyond this is dropped (oldest first) with a note on the screen: the remote side cannot
    /// be slowed down, and the scrollback would not keep it anyway.
    static constexpr qsizetype kMaxPending = 32 * 1024 * 1024;

    explicit TerminalView(QWidget* parent = nullptr);
    ~TerminalView() override;

    TerminalScreen* screen() const { return m_screen; }

    /// The font to draw with; a proportional font is drawn on a grid of its widest cell. Not remembered.
    void setTerminalFont(const QFont& font);
    QFont terminalFont() const { return m_font; }
    /// The font a new terminal starts with: the one last chosen with "Font…", else the system's fixed font.
    static QFont defaultFont();
    static void rememberFont(const QFont& font);
    /// Asks for a monospace font starting at `current` (QFontDialog); remembers and returns the choice.
    static std::optional<QFont> askFont(QWidget* parent, const QFont& current);

    /// Queues output bytes for the screen.
    void feed(const QByteArray& bytes);
    /// Output still queued (not yet interpreted).
    qsizetype pendingBytes() const { return m_pendingBytes; }
    /// Output bytes dropped because more was queued than kMaxPending.
    qint64 droppedBytes() const { return m_dropped; }

    QSizeF cellSize() const { return m_cell; }
    /// The screen (columns, rows) that fits the viewport with the current font; the screen takes it while the
    /// view is visible.
    QSize gridSize() const;
    /// Paints that happened (for tests that check coalescing).
    int paintCount() const { return m_paints; }

public Q_SLOTS:
    void copy();
    /// Pastes the clipboard (or, with selection = true, the X11 primary selection) to the remote side.
    void paste(bool selection = false);
    /// Asks for a monospace font (QFontDialog), uses and remembers it.
    void chooseFont();

Q_SIGNALS:
    void sendBytes(const QByteArray& bytes);
    /// The grid changed size; the remote side should be told.
    void terminalResized(int cols, int rows);
    void titleChanged(const QString& title);

protected:
    bool event(QEvent* event) override;
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void showEvent(QShowEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;
    void changeEvent(QEvent* event) override;
    bool focusNextPrevChild(bool next) override;
    void scrollContentsBy(int dx, int dy) override;

private:
    void feedSome();
    void scheduleRepaint();
    void repaintNow();
    void updateGrid();
    void updateScrollBar();
    /// (column, line) of the cell under a viewport position.
    QPoint cellAt(const QPoint& pos) const;
    void scrollToBottom();

    TerminalScreen* m_screen;
    QFont m_font;
    QSizeF m_cell;
    qreal m_ascent = 0;
    // Queued output as the chunks it arrived in: appending to one multi-megabyte buffer reallocated and
    // copied it (fresh pages faulted in) inside a single event, stalling the loop for milliseconds.
    std::deque<QByteArray> m_pending;
    qsizetype m_pendingPos = 0; // bytes of m_pending.front() already interpreted
    qsizetype m_pendingBytes = 0;
    QTimer m_feedTimer;
    QTimer m_repaintTimer;
    QElapsedTimer m_sinceRepaint;
    bool m_stickToBottom = true;
    bool m_selecting = false;
    QPoint m_selAnchor;
    int m_paints = 0;
    qint64 m_dropped = 0;
};

} // namespace fluid::ui

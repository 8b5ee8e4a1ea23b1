// SPDX-License-Identifier: Apache-2.0
#include "TerminalView.h"

#include "base/Paths.h"
#include "TerminalScreen.h"

#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QFontDatabase>
#include <QFontDialog>
#include <QMenu>
#include <QPainter>
#include <QScrollBar>
#include <QSettings>

#include <cmath>

namespace fluid::ui {

namespace {

constexpr int kFrameMs = 16;

bool isCopy(const QKeyEvent* e)
{
    return e->key() == Qt::Key_C && (e->modifiers() & Qt::ControlModifier) &&
           (e->modifiers() & Qt::ShiftModifier);
}

bool isPaste(const QKeyEvent* e)
{
    return (e->key() == Qt::Key_V && (e->modifiers() & Qt::ControlModifier) &&
            (e->modifiers() & Qt::ShiftModifier)) ||
           (e->key() == Qt::Key_Insert && e->modifiers() == Qt::ShiftModifier);
}

} // namespace

TerminalView::TerminalView(QWidget* parent)
    : QAbstractScrollArea(parent)
    , m_screen(new TerminalScreen(80, 24, this))
{
    setObjectName(QStringLiteral("terminalView"));
    setAccessibleName(tr("Terminal"));
    setFocusPolicy(Qt::StrongFocus);
    setAttribute(Qt::WA_InputMethodEnabled, false);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOn);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    viewport()->setCursor(Qt::IBeamCursor);
    viewport()->setAutoFillBackground(false);
    m_screen->setPalette(palette());

    m_feedTimer.setSingleShot(true);
    m_feedTimer.setInterval(0);
    connect(&m_feedTimer, &QTimer::timeout, this, &TerminalView::feedSome);
    m_repaintTimer.setSingleShot(true);
    connect(&m_repaintTimer, &QTimer::timeout, this, &TerminalView::repaintNow);
    m_sinceRepaint.start();

    connect(m_screen, &TerminalScreen::changed, this, &TerminalView::scheduleRepaint);
    connect(m_screen, &TerminalScreen::sendBytes, this, &TerminalView::sendBytes);
    connect(m_screen, &TerminalScreen::titleChanged, this, &TerminalView::titleChanged);
    connect(m_screen, &TerminalScreen::bell, this, [] { QApplication::beep(); });

    setTerminalFont(defaultFont());
}

TerminalView::~TerminalView() = default;

QFont TerminalView::defaultFont()
{
    QSettings settings(paths::uiStateFile(), QSettings::IniFormat);
    QFont font = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    const QString saved = settings.value(QStringLiteral("terminal/font")).toString();
    if (!saved.isEmpty())
        font.fromString(saved);
    return font;
}

void TerminalView::rememberFont(const QFont& font)
{
    QSettings settings(paths::uiStateFile(), QSettings::IniFormat);
    settings.setValue(QStringLiteral("terminal/font"), font.toString());
}

void TerminalView::setTerminalFont(const QFont& font)
{
    m_font = font;
    m_font.setKerning(false);
    m_font.setStyleHint(QFont::Monospace, QFont::PreferDefault);
    setFont(m_font);
    const QFontMetricsF fm(m_font);
    m_cell = QSizeF(std::max<qreal>(1, fm.horizontalAdvance(QLatin1Char('M'))),
                    std::max<qreal>(1, std::ceil(fm.height())));
    m_ascent = fm.ascent();
    updateGrid();
    viewport()->update();
}

std::optional<QFont> TerminalView::askFont(QWidget* parent, const QFont& current)
{
    bool ok = false;
    const QFont chosen =
        QFontDialog::getFont(&ok, current, parent, tr("Terminal font"), QFontDialog::MonospacedFonts);
    if (!ok)
        return std::nullopt;
    rememberFont(chosen);
    return chosen;
}

void TerminalView::chooseFont()
{
    if (auto chosen = askFont(this, m_font))
        setTerminalFont(*chosen);
}

QSize TerminalView::gridSize() const
{
    const QSize vp = viewport()->size();
    return QSize(std::max(1, int(vp.width() / m_cell.width())),
                 std::max(1, int(vp.height() / m_cell.height())));
}

void TerminalView::updateGrid()
{
    // A hidden view (a background tab, a page not shown yet) has no meaningful size: shrinking the screen to
    // it would wrap and scroll away what arrives meanwhile. It keeps its grid until it is shown.
    if (!isVisible())
        return;
    const QSize grid = gridSize();
    if (grid.width() == m_screen->cols() && grid.height() == m_screen->rows())
        return;
    m_screen->resize(grid.width(), grid.height());
    updateScrollBar();
    Q_EMIT terminalResized(grid.width(), grid.height());
}

void TerminalView::feed(const QByteArray& bytes)
{
    if (bytes.isEmpty())
        return;
    m_pending.push_back(bytes);
    m_pendingBytes += bytes.size();
    if (pendingBytes() > kMaxPending) {
        const qsizetype drop = pendingBytes() - kMaxPending / 2;
        m_dropped += drop;
        for (qsizetype left = drop; left > 0;) {
            const qsizetype inFront = m_pending.front().size() - m_pendingPos;
            if (inFront <= left) {
                m_pending.pop_front();
                m_pendingPos = 0;
                left -= inFront;
            } else {
                m_pendingPos += left;
                left = 0;
            }
        }
        m_pendingBytes -= drop;
        if (m_pendingPos > 0) {
            m_pending.front() = m_pending.front().mid(m_pendingPos);
            m_pendingPos = 0;
        }
        const QByteArray note = QByteArrayLiteral("\x1b[0m\r\n") +
                                tr("[Fluid: %1 MiB of output skipped: it came faster than it could be shown]")
                                    .arg(double(drop) / (1024 * 1024), 0, 'f', 1)
                                    .toUtf8() +
                                QByteArrayLiteral("\r\n");
        m_pending.push_front(note);
        m_pendingBytes += note.size();
    }
    if (!m_feedTimer.isActive())
        m_feedTimer.start();
}

void TerminalView::feedSome()
{
    QElapsedTimer budget;
    budget.start();
    while (!m_pending.empty() && budget.elapsed() < kFeedBudgetMs) {
        const QByteArray chunk = m_pending.front(); // shared, not copied; feeding may emit signals
        const qsizetype n = std::min<qsizetype>(kFeedSlice, chunk.size() - m_pendingPos);
        m_screen->feed(QByteArray::fromRawData(chunk.constData() + m_pendingPos, n));
        m_pendingPos += n;
        m_pendingBytes -= n;
        if (m_pendingPos >= chunk.size()) {
            m_pending.pop_front();
            m_pendingPos = 0;
        }
    }
    if (!m_pending.empty())
        m_feedTimer.start();
}

void TerminalView::scheduleRepaint()
{
    if (m_repaintTimer.isActive())
        return;
    const qint64 since = m_sinceRepaint.elapsed();
    m_repaintTimer.start(since >= kFrameMs ? 0 : int(kFrameMs - since));
}

void TerminalView::repaintNow()
{
    m_sinceRepaint.restart();
    updateScrollBar();
    viewport()->update();
}

void TerminalView::updateScrollBar()
{
    QScrollBar* bar = verticalScrollBar();
    const int max = m_screen->scrollbackLines();
    const QSignalBlocker block(bar);
    const int oldValue = bar->value();
    bar->setRange(0, max);
    bar->setPageStep(m_screen->rows());
    bar->setSingleStep(1);
    bar->setValue(m_stickToBottom ? max : std::min(oldValue, max));
}

void TerminalView::scrollContentsBy(int, int)
{
    m_stickToBottom = verticalScrollBar()->value() >= verticalScrollBar()->maximum();
    viewport()->update();
}

void TerminalView::scrollToBottom()
{
    m_stickToBottom = true;
    verticalScrollBar()->setValue(verticalScrollBar()->maximum());
}

void TerminalView::paintEvent(QPaintEvent*)
{
    ++m_paints;
    QPainter p(viewport());
    const QPalette& pal = palette();
    p.fillRect(viewport()->rect(), pal.color(QPalette::Base));

    const int top = verticalScrollBar()->value();
    const int rows = m_screen->rows();
    const int cols = m_screen->cols();
    const qreal cw = m_cell.width();
    const qreal ch = m_cell.height();
    const QColor selBg = pal.color(QPalette::Highlight);
    const QColor selFg = pal.color(QPalette::HighlightedText);

    QFont fonts[4] = {m_font, m_font, m_font, m_font};
    fonts[1].setBold(true);
    fonts[2].setItalic(true);
    fonts[3].setBold(true);
    fonts[3].setItalic(true);

    const int cursorLine = m_screen->scrollbackLines() + m_screen->cursor().y();
    const int cursorCol = m_screen->cursor().x();

    for (int r = 0; r < rows + 1; ++r) {
        const int line = top + r;
        if (line >= m_screen->totalLines())
            break;
        const qreal y = r * ch;
        QString run;
        qreal runX = 0;
        QColor runFg;
        int runFont = 0;
        bool runUnderline = false;
        bool runStrike = false;
        auto flush = [&] {
            if (run.trimmed().isEmpty()) {
                run.clear();
                return;
            }
            QFont f = fonts[runFont];
            f.setUnderline(runUnderline);
            f.setStrikeOut(runStrike);
            p.setFont(f);
            p.setPen(runFg);
            p.drawText(QPointF(runX, y + m_ascent), run);
            run.clear();
        };
        for (int col = 0; col < cols; ++col) {
            const TerminalScreen::Cell c = m_screen->cell(line, col);
            if (c.width == 0)
                continue;
            QColor fg = c.fg;
            QColor bg = c.bg;
            bool bgSet = !c.defaultBg;
            if (c.reverse) {
                std::swap(fg, bg);
                bgSet = true;
            }
            if (m_screen->isSelected(line, col)) {
                fg = selFg;
                bg = selBg;
                bgSet = true;
            }
            const bool isCursor =
                line == cursorLine && col == cursorCol && m_screen->cursorVisible() && hasFocus();
            if (isCursor) {
                std::swap(fg, bg);
                bgSet = true;
            }
            const qreal x = col * cw;
            const qreal w = cw * std::max(1, c.width);
            if (bgSet)
                p.fillRect(QRectF(x, y, w, ch), bg);
            const int font = (c.bold ? 1 : 0) + (c.italic ? 2 : 0);
            const bool simple = c.width == 1 && c.text.size() == 1 && c.text.at(0).unicode() < 0x2500;
            const QString text = c.text.isEmpty() ? QStringLiteral(" ") : c.text;
            if (!simple || isCursor || fg != runFg || font != runFont || c.underline != runUnderline ||
                c.strike != runStrike || run.isEmpty()) {
                flush();
                runX = x;
                runFg = fg;
                runFont = font;
                runUnderline = c.underline;
                runStrike = c.strike;
            }
            run += text;
            if (!simple || isCursor)
                flush();
        }
        flush();
    }

    // An unfocused terminal shows where the cursor is with an outline.
    if (!hasFocus() && m_screen->cursorVisible() && cursorLine >= top && cursorLine < top + rows + 1) {
        p.setPen(pal.color(QPalette::Text));
        p.setBrush(Qt::NoBrush);
        p.drawRect(QRectF(cursorCol * cw, (cursorLine - top) * ch, cw - 1, ch - 1));
    }
}

void TerminalView::resizeEvent(QResizeEvent* event)
{
    QAbstractScrollArea::resizeEvent(event);
    updateGrid();
}

void TerminalView::showEvent(QShowEvent* event)
{
    QAbstractScrollArea::showEvent(event);
    updateGrid();
}

void TerminalView::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange)
        m_screen->setPalette(palette());
    QAbstractScrollArea::changeEvent(event);
}

bool TerminalView::event(QEvent* event)
{
    if (event->type() == QEvent::ShortcutOverride) {
        // Keys belong to the remote shell (Ctrl+C, Ctrl+D, ...), except Ctrl+Shift ones, which stay
        // shortcuts of the window and of this view (copy, paste).
        auto* key = static_cast<QKeyEvent*>(event);
        const auto mods = key->modifiers();
        const bool ctrlShift = (mods & Qt::ControlModifier) && (mods & Qt::ShiftModifier);
        if (!ctrlShift || isCopy(key) || isPaste(key)) {
            event->accept();
            return true;
        }
    }
    return QAbstractScrollArea::event(event);
}

bool TerminalView::focusNextPrevChild(bool)
{
    return false; // Tab goes to the shell
}

void TerminalView::keyPressEvent(QKeyEvent* event)
{
    if (isCopy(event)) {
        copy();
        return;
    }
    if (isPaste(event)) {
        paste(false);
        return;
    }
    if (event->key() == Qt::Key_PageUp && event->modifiers() == Qt::ShiftModifier) {
        verticalScrollBar()->triggerAction(QAbstractSlider::SliderPageStepSub);
        return;
    }
    if (event->key() == Qt::Key_PageDown && event->modifiers() == Qt::ShiftModifier) {
        verticalScrollBar()->triggerAction(QAbstractSlider::SliderPageStepAdd);
        return;
    }
    if (m_screen->keyPressed(event)) {
        m_screen->clearSelection();
        scrollToBottom();
        event->accept();
        return;
    }
    QAbstractScrollArea::keyPressEvent(event);
}

QPoint TerminalView::cellAt(const QPoint& pos) const
{
    const int col = std::clamp(int(pos.x() / m_cell.width()), 0, m_screen->cols() - 1);
    const int line = std::clamp(verticalScrollBar()->value() + int(std::floor(pos.y() / m_cell.height())), 0,
                                m_screen->totalLines() - 1);
    return QPoint(col, line);
}

void TerminalView::mousePressEvent(QMouseEvent* event)
{
    if (event->button() == Qt::LeftButton) {
        m_selecting = true;
        m_selAnchor = cellAt(event->position().toPoint());
        m_screen->clearSelection();
        event->accept();
        return;
    }
    if (event->button() == Qt::MiddleButton) {
        paste(true);
        event->accept();
        return;
    }
    QAbstractScrollArea::mousePressEvent(event);
}

void TerminalView::mouseMoveEvent(QMouseEvent* event)
{
    if (m_selecting && (event->buttons() & Qt::LeftButton)) {
        m_screen->setSelection(m_selAnchor, cellAt(event->position().toPoint()));
        event->accept();
        return;
    }
    QAbstractScrollArea::mouseMoveEvent(event);
}

void TerminalView::mouseReleaseEvent(QMouseEvent* event)
{
    if (event->button() == Qt::LeftButton && m_selecting) {
        m_selecting = false;
        if (m_screen->hasSelection() && QApplication::clipboard()->supportsSelection())
            QApplication::clipboard()->setText(m_screen->selectedText(), QClipboard::Selection);
        event->accept();
        return;
    }
    QAbstractScrollArea::mouseReleaseEvent(event);
}

void TerminalView::mouseDoubleClickEvent(QMouseEvent* event)
{
    if (event->button() == Qt::LeftButton) {
        const QPoint at = cellAt(event->position().toPoint());
        m_screen->selectWord(at.y(), at.x());
        m_selecting = false;
        if (QApplication::clipboard()->supportsSelection())
            QApplication::clipboard()->setText(m_screen->selectedText(), QClipboard::Selection);
        event->accept();
        return;
    }
    QAbstractScrollArea::mouseDoubleClickEvent(event);
}

void TerminalView::contextMenuEvent(QContextMenuEvent* event)
{
    QMenu menu(this);
    QAction* copyAction = menu.addAction(tr("&Copy"), this, &TerminalView::copy);
    copyAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
    copyAction->setEnabled(m_screen->hasSelection());
    QAction* pasteAction = menu.addAction(tr("&Paste"), this, [this] { paste(false); });
    pasteAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_V));
    menu.addSeparator();
    menu.addAction(tr("&Font…"), this, &TerminalView::chooseFont);
    menu.exec(event->globalPos());
}

void TerminalView::copy()
{
    if (m_screen->hasSelection())
        QApplication::clipboard()->setText(m_screen->selectedText());
}

void TerminalView::paste(bool selection)
{
    QClipboard* clip = QApplication::clipboard();
    QString text;
    if (selection && clip->supportsSelection())
        text = clip->text(QClipboard::Selection);
    if (text.isEmpty())
        text = clip->text();
    if (text.isEmpty())
        return;
    m_screen->paste(text);
    scrollToBottom();
}

} // namespace fluid::ui

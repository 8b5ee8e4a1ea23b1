// SPDX-License-Identifier: Apache-2.0
#include "TerminalScreen.h"

#include <QKeyEvent>

#include <vterm.h>

#include <algorithm>
#include <cstring>

namespace fluid::ui {

namespace {

constexpr uint32_t kWideContinuation = 0xffffffffu;

VTermModifier modifiersOf(Qt::KeyboardModifiers m)
{
    int mod = VTERM_MOD_NONE;
    if (m & Qt::ShiftModifier)
        mod |= VTERM_MOD_SHIFT;
    if (m & Qt::AltModifier)
        mod |= VTERM_MOD_ALT;
    if (m & Qt::ControlModifier)
        mod |= VTERM_MOD_CTRL;
    return VTermModifier(mod);
}

VTermKey vtermKey(int key)
{
    switch (key) {
    case Qt::Key_Return:
    case Qt::Key_Enter:
        return VTERM_KEY_ENTER;
    case Qt::Key_Tab:
    case Qt::Key_Backtab:
        return VTERM_KEY_TAB;
    case Qt::Key_Backspace:
        return VTERM_KEY_BACKSPACE;
    case Qt::Key_Escape:
        return VTERM_KEY_ESCAPE;
    case Qt::Key_Up:
        return VTERM_KEY_UP;
    case Qt::Key_Down:
        return VTERM_KEY_DOWN;
    case Qt::Key_Left:
        return VTERM_KEY_LEFT;
    case Qt::Key_Right:
        return VTERM_KEY_RIGHT;
    case Qt::Key_Insert:
        return VTERM_KEY_INS;
    case Qt::Key_Delete:
        return VTERM_KEY_DEL;
    case Qt::Key_Home:
        return VTERM_KEY_HOME;
    case Qt::Key_End:
        return VTERM_KEY_END;
    case Qt::Key_PageUp:
        return VTERM_KEY_PAGEUP;
    case Qt::Key_PageDown:
        return VTERM_KEY_PAGEDOWN;
    default:
        break;
    }
    if (key >= Qt::Key_F1 && key <= Qt::Key_F35)
        return VTermKey(VTERM_KEY_FUNCTION(key - Qt::Key_F1 + 1));
    return VTERM_KEY_NONE;
}

bool isWordChar(const QString& text)
{
    if (text.isEmpty())
        return false;
    const QChar c = text.at(0);
    return c.isLetterOrNumber() || QStringLiteral("_-.~/@+:%=").contains(c);
}

QString trimRight(QString s)
{
    int n = int(s.size());
    while (n > 0 && s.at(n - 1) == QLatin1Char(' '))
        --n;
    s.truncate(n);
    return s;
}

} // namespace

struct TerminalScreen::Callbacks {
    static TerminalScreen* self(void* user) { return static_cast<TerminalScreen*>(user); }

    static int damage(VTermRect, void* user)
    {
        self(user)->m_damaged = true;
        return 1;
    }

    static int moveCursor(VTermPos pos, VTermPos, int visible, void* user)
    {
        TerminalScreen* s = self(user);
        s->m_cursor = QPoint(pos.col, pos.row);
        s->m_cursorVisible = visible;
        s->m_damaged = true;
        return 1;
    }

    static int setTermProp(VTermProp prop, VTermValue* value, void* user)
    {
        TerminalScreen* s = self(user);
        switch (prop) {
        case VTERM_PROP_CURSORVISIBLE:
            s->m_cursorVisible = value->boolean;
            s->m_damaged = true;
            break;
        case VTERM_PROP_ALTSCREEN:
            s->m_altScreen = value->boolean;
            s->m_damaged = true;
            break;
        case VTERM_PROP_TITLE: {
            const QString title = QString::fromUtf8(value->string);
            if (title != s->m_title) {
                s->m_title = title;
                Q_EMIT s->titleChanged(title);
            }
            break;
        }
        default:
            break;
        }
        return 1;
    }

    static int bell(void* user)
    {
        Q_EMIT self(user)->bell();
        return 1;
    }

    static int pushLine(int cols, const VTermScreenCell* cells, void* user)
    {
        TerminalScreen* s = self(user);
        int n = cols;
        while (n > 0 && cells[n - 1].chars[0] == 0 && VTERM_COLOR_IS_DEFAULT_BG(&cells[n - 1].bg) &&
               !cells[n - 1].attrs.reverse)
            --n;
        s->m_scrollback.emplace_back(reinterpret_cast<const char*>(cells),
                                     qsizetype(n) * qsizetype(sizeof(VTermScreenCell)));
        if (int(s->m_scrollback.size()) > s->m_scrollbackLimit) {
            s->m_scrollback.pop_front();
            // Lines are addressed from the oldest kept line: the selection moves up with the text.
            if (s->m_hasSelection) {
                s->m_selAnchor.ry() -= 1;
                s->m_selEnd.ry() -= 1;
                if (s->m_selAnchor.y() < 0 || s->m_selEnd.y() < 0)
                    s->m_hasSelection = false;
            }
        }
        s->m_damaged = true;
        return 1;
    }

    static int popLine(int cols, VTermScreenCell* cells, void* user)
    {
        TerminalScreen* s = self(user);
        if (s->m_scrollback.empty())
            return 0;
        const QByteArray line = s->m_scrollback.back();
        s->m_scrollback.pop_back();
        const int stored = int(line.size() / qsizetype(sizeof(VTermScreenCell)));
        const int n = std::min(stored, cols);
        std::memcpy(static_cast<void*>(cells), line.constData(), size_t(n) * sizeof(VTermScreenCell));
        VTermScreenCell blank{};
        blank.width = 1;
        vterm_color_rgb(&blank.fg, 0, 0, 0);
        blank.fg.type = VTermColorType(VTERM_COLOR_RGB | VTERM_COLOR_DEFAULT_FG);
        vterm_color_rgb(&blank.bg, 0, 0, 0);
        blank.bg.type = VTermColorType(VTERM_COLOR_RGB | VTERM_COLOR_DEFAULT_BG);
        for (int i = n; i < cols; ++i)
            cells[i] = blank;
        s->m_damaged = true;
        return 1;
    }

    static void output(const char* bytes, size_t len, void* user)
    {
        self(user)->m_output.append(bytes, qsizetype(len));
    }
};

TerminalScreen::TerminalScreen(int cols, int rows, QObject* parent)
    : QObject(parent)
    , m_cols(std::max(1, cols))
    , m_rows(std::max(1, rows))
{
    static const VTermScreenCallbacks callbacks = {
        &Callbacks::damage, nullptr, &Callbacks::moveCursor, &Callbacks::setTermProp,
        &Callbacks::bell,   nullptr, &Callbacks::pushLine,   &Callbacks::popLine,
    };
    m_vt = vterm_new(m_rows, m_cols);
    vterm_set_utf8(m_vt, 1);
    vterm_output_set_callback(m_vt, &Callbacks::output, this);
    m_screen = vterm_obtain_screen(m_vt);
    vterm_screen_set_callbacks(m_screen, &callbacks, this);
    vterm_screen_set_damage_merge(m_screen, VTERM_DAMAGE_SCROLL);
    vterm_screen_enable_altscreen(m_screen, 1);
    vterm_screen_reset(m_screen, 1);
}

TerminalScreen::~TerminalScreen()
{
    vterm_free(m_vt);
}

void TerminalScreen::setScrollbackLimit(int lines)
{
    m_scrollbackLimit = std::max(0, lines);
    while (int(m_scrollback.size()) > m_scrollbackLimit)
        m_scrollback.pop_front();
    clearSelection();
    Q_EMIT changed();
}

void TerminalScreen::setPalette(const QPalette& palette)
{
    m_palette = palette;
    Q_EMIT changed();
}

void TerminalScreen::flushOutput()
{
    if (m_output.isEmpty())
        return;
    const QByteArray out = std::exchange(m_output, {});
    Q_EMIT sendBytes(out);
}

void TerminalScreen::feed(const QByteArray& bytes)
{
    if (bytes.isEmpty())
        return;
    vterm_input_write(m_vt, bytes.constData(), size_t(bytes.size()));
    vterm_screen_flush_damage(m_screen);
    flushOutput();
    if (std::exchange(m_damaged, false))
        Q_EMIT changed();
}

void TerminalScreen::resize(int cols, int rows)
{
    cols = std::max(1, cols);
    rows = std::max(1, rows);
    if (cols == m_cols && rows == m_rows)
        return;
    m_cols = cols;
    m_rows = rows;
    vterm_set_size(m_vt, rows, cols);
    vterm_screen_flush_damage(m_screen);
    m_damaged = false;
    clearSelection();
    Q_EMIT changed();
}

bool TerminalScreen::keyPressed(const QKeyEvent* event)
{
    Qt::KeyboardModifiers qtMods = event->modifiers();
    VTermModifier mod = modifiersOf(qtMods);
    const int key = event->key();
    if (key == Qt::Key_Backtab)
        mod = VTermModifier(mod | VTERM_MOD_SHIFT);
    if (const VTermKey k = vtermKey(key); k != VTERM_KEY_NONE) {
        // Keypad Enter is still Enter; the keypad modifier alone is not a modifier to the remote side.
        vterm_keyboard_key(m_vt, k, mod);
    } else if ((mod & VTERM_MOD_CTRL) && key >= Qt::Key_A && key <= Qt::Key_Z) {
        vterm_keyboard_unichar(m_vt, uint32_t('a' + (key - Qt::Key_A)), mod);
    } else if ((mod & VTERM_MOD_CTRL) && key >= Qt::Key_BracketLeft && key <= Qt::Key_Underscore) {
        // Ctrl+[ \ ] ^ _ are the C0 controls 0x1b-0x1f.
        m_output.append(char(key - Qt::Key_BracketLeft + 0x1b));
    } else if ((mod & VTERM_MOD_CTRL) && key == Qt::Key_Space) {
        m_output.append('\0');
    } else {
        const QString text = event->text();
        if (text.isEmpty())
            return false;
        bool any = false;
        for (const uint ucs : text.toUcs4()) {
            if (ucs < 0x20 || ucs == 0x7f) {
                // A control character Qt already composed (Ctrl on an unusual layout): send it as it is.
                m_output.append(char(ucs));
            } else {
                vterm_keyboard_unichar(m_vt, ucs, VTermModifier(mod & ~VTERM_MOD_CTRL));
            }
            any = true;
        }
        if (!any)
            return false;
    }
    flushOutput();
    return true;
}

bool TerminalScreen::bracketedPaste() const
{
    // libvterm keeps DECSET 2004 to itself; asking it to start a paste shows whether the mode is on.
    auto* self = const_cast<TerminalScreen*>(this);
    const QByteArray before = std::exchange(self->m_output, {});
    vterm_keyboard_start_paste(m_vt);
    const bool on = !self->m_output.isEmpty();
    self->m_output = before;
    return on;
}

void TerminalScreen::paste(const QString& text)
{
    QString clean = text;
    clean.replace(QLatin1String("\r\n"), QLatin1String("\r"));
    clean.replace(QLatin1Char('\n'), QLatin1Char('\r'));
    clean.remove(QChar(0x1b));
    if (clean.isEmpty())
        return;
    vterm_keyboard_start_paste(m_vt);
    m_output.append(clean.toUtf8());
    vterm_keyboard_end_paste(m_vt);
    flushOutput();
}

QColor TerminalScreen::resolveColour(const void* colour, bool foreground) const
{
    VTermColor c = *static_cast<const VTermColor*>(colour);
    if (foreground && VTERM_COLOR_IS_DEFAULT_FG(&c))
        return m_palette.color(QPalette::Text);
    if (!foreground && VTERM_COLOR_IS_DEFAULT_BG(&c))
        return m_palette.color(QPalette::Base);
    vterm_screen_convert_color_to_rgb(m_screen, &c);
    return QColor(c.rgb.red, c.rgb.green, c.rgb.blue);
}

TerminalScreen::Cell TerminalScreen::convert(const void* vtermCell) const
{
    const auto& c = *static_cast<const VTermScreenCell*>(vtermCell);
    Cell out;
    if (c.chars[0] == kWideContinuation) {
        out.width = 0;
    } else {
        out.width = c.width;
        for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && c.chars[i]; ++i)
            out.text += QString::fromUcs4(reinterpret_cast<const char32_t*>(&c.chars[i]), 1);
    }
    out.fg = resolveColour(&c.fg, true);
    out.bg = resolveColour(&c.bg, false);
    out.defaultBg = VTERM_COLOR_IS_DEFAULT_BG(&c.bg);
    out.bold = c.attrs.bold;
    out.italic = c.attrs.italic;
    out.underline = c.attrs.underline != VTERM_UNDERLINE_OFF;
    out.reverse = c.attrs.reverse;
    out.strike = c.attrs.strike;
    return out;
}

TerminalScreen::Cell TerminalScreen::cell(int line, int col) const
{
    const int sb = scrollbackLines();
    if (line < 0 || col < 0 || col >= m_cols || line >= sb + m_rows) {
        Cell blank;
        blank.fg = m_palette.color(QPalette::Text);
        blank.bg = m_palette.color(QPalette::Base);
        return blank;
    }
    if (line < sb) {
        const QByteArray& stored = m_scrollback[size_t(line)];
        const int n = int(stored.size() / qsizetype(sizeof(VTermScreenCell)));
        if (col < n) {
            VTermScreenCell c;
            std::memcpy(static_cast<void*>(&c), stored.constData() + qsizetype(col) * qsizetype(sizeof(c)),
                        sizeof(c));
            return convert(&c);
        }
        Cell blank;
        blank.fg = m_palette.color(QPalette::Text);
        blank.bg = m_palette.color(QPalette::Base);
        return blank;
    }
    VTermScreenCell c{};
    vterm_screen_get_cell(m_screen, VTermPos{line - sb, col}, &c);
    return convert(&c);
}

QString TerminalScreen::lineText(int line) const
{
    QString s;
    for (int col = 0; col < m_cols; ++col) {
        const Cell c = cell(line, col);
        if (c.width == 0)
            continue;
        s += c.text.isEmpty() ? QStringLiteral(" ") : c.text;
    }
    return trimRight(s);
}

QString TerminalScreen::screenText() const
{
    QStringList lines;
    for (int row = 0; row < m_rows; ++row)
        lines << lineText(scrollbackLines() + row);
    return lines.join(QLatin1Char('\n'));
}

void TerminalScreen::setSelection(QPoint anchor, QPoint end)
{
    m_selAnchor = anchor;
    m_selEnd = end;
    m_hasSelection = true;
    Q_EMIT changed();
}

void TerminalScreen::selectWord(int line, int col)
{
    if (!isWordChar(cell(line, col).text)) {
        setSelection(QPoint(col, line), QPoint(col, line));
        return;
    }
    int first = col;
    while (first > 0 && isWordChar(cell(line, first - 1).text))
        --first;
    int last = col;
    while (last + 1 < m_cols && isWordChar(cell(line, last + 1).text))
        ++last;
    setSelection(QPoint(first, line), QPoint(last, line));
}

void TerminalScreen::clearSelection()
{
    if (!m_hasSelection)
        return;
    m_hasSelection = false;
    Q_EMIT changed();
}

QPoint TerminalScreen::selStart() const
{
    const bool anchorFirst = m_selAnchor.y() < m_selEnd.y() ||
                             (m_selAnchor.y() == m_selEnd.y() && m_selAnchor.x() <= m_selEnd.x());
    return anchorFirst ? m_selAnchor : m_selEnd;
}

QPoint TerminalScreen::selEnd() const
{
    return selStart() == m_selAnchor ? m_selEnd : m_selAnchor;
}

bool TerminalScreen::isSelected(int line, int col) const
{
    if (!m_hasSelection)
        return false;
    const QPoint a = selStart();
    const QPoint b = selEnd();
    if (line < a.y() || line > b.y())
        return false;
    if (line == a.y() && col < a.x())
        return false;
    if (line == b.y() && col > b.x())
        return false;
    return true;
}

QString TerminalScreen::selectedText() const
{
    if (!m_hasSelection)
        return {};
    const QPoint a = selStart();
    const QPoint b = selEnd();
    QStringList lines;
    for (int line = std::max(0, a.y()); line <= std::min(b.y(), totalLines() - 1); ++line) {
        const int from = line == a.y() ? a.x() : 0;
        const int to = line == b.y() ? b.x() : m_cols - 1;
        QString s;
        for (int col = std::max(0, from); col <= std::min(to, m_cols - 1); ++col) {
            const Cell c = cell(line, col);
            if (c.width == 0)
                continue;
            s += c.text.isEmpty() ? QStringLiteral(" ") : c.text;
        }
        lines << trimRight(s);
    }
    return lines.join(QLatin1Char('\n'));
}

} // namespace fluid::ui

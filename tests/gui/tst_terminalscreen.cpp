// SPDX-License-Identifier: Apache-2.0
// The terminal model over libvterm: colours, cursor, wide characters, scrollback, resize, selection,
// bracketed paste and key encoding.

#include "terminal/TerminalScreen.h"
#include "terminal/TerminalView.h"

#include <QApplication>
#include <QClipboard>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using fluid::ui::TerminalScreen;

namespace {

QPalette testPalette()
{
    QPalette p;
    p.setColor(QPalette::Text, QColor(10, 20, 30));
    p.setColor(QPalette::Base, QColor(250, 240, 230));
    return p;
}

/// The bytes one key press sends.
QByteArray keyBytes(TerminalScreen& s, int key, Qt::KeyboardModifiers mods = Qt::NoModifier,
                    const QString& text = {})
{
    QSignalSpy spy(&s, &TerminalScreen::sendBytes);
    QKeyEvent e(QEvent::KeyPress, key, mods, text);
    s.keyPressed(&e);
    QByteArray out;
    for (const auto& args : spy)
        out += args.at(0).toByteArray();
    return out;
}

QByteArray pasteBytes(TerminalScreen& s, const QString& text)
{
    QSignalSpy spy(&s, &TerminalScreen::sendBytes);
    s.paste(text);
    QByteArray out;
    for (const auto& args : spy)
        out += args.at(0).toByteArray();
    return out;
}

} // namespace

class TstTerminalScreen : public QObject {
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_config;

    static void mouse(QWidget* w, QEvent::Type type, QPoint cell, Qt::MouseButton button,
                      Qt::MouseButtons buttons, QSizeF cellSize)
    {
        const QPointF pos((cell.x() + 0.5) * cellSize.width(), (cell.y() + 0.5) * cellSize.height());
        QMouseEvent e(type, pos, w->mapToGlobal(pos), button, buttons, Qt::NoModifier);
        QApplication::sendEvent(w, &e);
    }

private Q_SLOTS:
    void initTestCase()
    {
        // The font choice is remembered in ui-state.ini under here, away from the person's own.
        m_config.reset(new QTemporaryDir);
        qputenv("FLUID_CONFIG_DIR", m_config->path().toUtf8());
    }

    void textAndCursor()
    {
        TerminalScreen s(20, 5);
        QSignalSpy changed(&s, &TerminalScreen::changed);
        s.feed("hello\r\nworld");
        QVERIFY(changed.count() >= 1);
        QCOMPARE(s.lineText(0), QStringLiteral("hello"));
        QCOMPARE(s.lineText(1), QStringLiteral("world"));
        QCOMPARE(s.cursor(), QPoint(5, 1));
        s.feed("\x1b[4;10HX"); // CUP row 4, column 10 (1-based)
        QCOMPARE(s.cell(3, 9).text, QStringLiteral("X"));
        QCOMPARE(s.cursor(), QPoint(10, 3));
        QVERIFY(s.cursorVisible());
        s.feed("\x1b[?25l");
        QVERIFY(!s.cursorVisible());
        s.feed("\x1b[?25h\x1b[2J\x1b[H");
        QVERIFY(s.cursorVisible());
        QCOMPARE(s.screenText().trimmed(), QString());
    }

    void colours()
    {
        TerminalScreen s(40, 4);
        s.setPalette(testPalette());
        // red fg, 256-colour bg 21 (0,0,255), truecolour fg, bold/italic/underline/reverse, then reset.
        s.feed("\x1b[31mR\x1b[48;5;21mB\x1b[0m\x1b[38;2;1;2;3mT\x1b[0m"
               "\x1b[1;3;4;7mA\x1b[0mD");
        const auto r = s.cell(0, 0);
        QCOMPARE(r.text, QStringLiteral("R"));
        QVERIFY(r.fg.red() > 100 && r.fg.green() < 100 && r.fg.blue() < 100);
        QCOMPARE(r.bg, QColor(250, 240, 230)); // default background from the palette
        QVERIFY(r.defaultBg);
        const auto b = s.cell(0, 1);
        QCOMPARE(b.bg, QColor(0, 0, 255));
        QVERIFY(!b.defaultBg);
        const auto t = s.cell(0, 2);
        QCOMPARE(t.fg, QColor(1, 2, 3));
        const auto a = s.cell(0, 3);
        QVERIFY(a.bold && a.italic && a.underline && a.reverse);
        const auto d = s.cell(0, 4);
        QCOMPARE(d.fg, QColor(10, 20, 30)); // default foreground from the palette
        QVERIFY(!d.bold && !d.italic && !d.underline && !d.reverse);
    }

    void wideCharacters()
    {
        TerminalScreen s(10, 3);
        s.feed(QStringLiteral("a漢b").toUtf8());
        QCOMPARE(s.cell(0, 0).text, QStringLiteral("a"));
        QCOMPARE(s.cell(0, 1).text, QStringLiteral("漢"));
        QCOMPARE(s.cell(0, 1).width, 2);
        QCOMPARE(s.cell(0, 2).width, 0);
        QCOMPARE(s.cell(0, 3).text, QStringLiteral("b"));
        QCOMPARE(s.cursor(), QPoint(4, 0));
        QCOMPARE(s.lineText(0), QStringLiteral("a漢b"));
    }

    void scrollingIntoScrollback()
    {
        TerminalScreen s(20, 5);
        s.setScrollbackLimit(7);
        for (int i = 1; i <= 20; ++i)
            s.feed(QByteArray::number(i) + "\r\n");
        // 20 lines and an empty one: 16 went up, 7 are kept (10..16), the screen shows 17..20 and "".
        QCOMPARE(s.scrollbackLines(), 7);
        QCOMPARE(s.lineText(0), QStringLiteral("10"));
        QCOMPARE(s.lineText(6), QStringLiteral("16"));
        QCOMPARE(s.lineText(7), QStringLiteral("17"));
        QCOMPARE(s.lineText(10), QStringLiteral("20"));
        QCOMPARE(s.totalLines(), 12);
        // Colours survive the trip into the scrollback.
        s.feed("\x1b[32mgreen\x1b[0m\r\n\r\n\r\n\r\n\r\n");
        const int line = s.scrollbackLines() - 1;
        QCOMPARE(s.lineText(line), QStringLiteral("green"));
        QVERIFY(s.cell(line, 0).fg.green() > 100 && s.cell(line, 0).fg.red() < 100);
        QCOMPARE(TerminalScreen::kDefaultScrollback, 10000);
        QCOMPARE(TerminalScreen().scrollbackLimit(), 10000);
    }

    void resizePopsScrollback()
    {
        TerminalScreen s(20, 4);
        for (int i = 1; i <= 10; ++i)
            s.feed("line" + QByteArray::number(i) + (i < 10 ? "\r\n" : ""));
        QCOMPARE(s.scrollbackLines(), 6);
        QCOMPARE(s.lineText(s.scrollbackLines()), QStringLiteral("line7"));
        s.resize(30, 8); // taller: four lines come back from the scrollback
        QCOMPARE(s.rows(), 8);
        QCOMPARE(s.cols(), 30);
        QCOMPARE(s.scrollbackLines(), 2);
        QCOMPARE(s.lineText(2), QStringLiteral("line3"));
        QCOMPARE(s.lineText(9), QStringLiteral("line10"));
        QCOMPARE(s.cursor().y(), 7);
        s.resize(30, 3); // shorter: lines go back up
        QCOMPARE(s.lineText(s.scrollbackLines() + 2), QStringLiteral("line10"));
    }

    void selection()
    {
        TerminalScreen s(20, 3);
        s.feed("first line\r\nsecond words here\r\nthird\r\nfourth");
        // "first line" is now in the scrollback (line 0).
        QCOMPARE(s.scrollbackLines(), 1);
        s.setSelection(QPoint(6, 0), QPoint(5, 1));
        QCOMPARE(s.selectedText(), QStringLiteral("line\nsecond"));
        QVERIFY(s.isSelected(0, 6));
        QVERIFY(!s.isSelected(0, 5));
        QVERIFY(s.isSelected(1, 0));
        QVERIFY(!s.isSelected(1, 6));
        // Either order.
        s.setSelection(QPoint(5, 1), QPoint(6, 0));
        QCOMPARE(s.selectedText(), QStringLiteral("line\nsecond"));
        s.selectWord(1, 9);
        QCOMPARE(s.selectedText(), QStringLiteral("words"));
        s.clearSelection();
        QVERIFY(!s.hasSelection());
        QCOMPARE(s.selectedText(), QString());
    }

    void bracketedPaste()
    {
        TerminalScreen s;
        QVERIFY(!s.bracketedPaste());
        QCOMPARE(pasteBytes(s, QStringLiteral("ls\n")), QByteArray("ls\r"));
        s.feed("\x1b[?2004h");
        QVERIFY(s.bracketedPaste());
        QCOMPARE(pasteBytes(s, QStringLiteral("a\nb")), QByteArray("\x1b[200~a\rb\x1b[201~"));
        // ESC in the text cannot end the bracket early.
        QCOMPARE(pasteBytes(s, QStringLiteral("x\x1b[201~y")), QByteArray("\x1b[200~x[201~y\x1b[201~"));
        s.feed("\x1b[?2004l");
        QVERIFY(!s.bracketedPaste());
        QCOMPARE(pasteBytes(s, QStringLiteral("plain")), QByteArray("plain"));
    }

    void keyEncoding()
    {
        TerminalScreen s;
        QCOMPARE(keyBytes(s, Qt::Key_A, Qt::NoModifier, QStringLiteral("a")), QByteArray("a"));
        QCOMPARE(keyBytes(s, Qt::Key_A, Qt::ShiftModifier, QStringLiteral("A")), QByteArray("A"));
        QCOMPARE(keyBytes(s, Qt::Key_Return), QByteArray("\r"));
        QCOMPARE(keyBytes(s, Qt::Key_Backspace), QByteArray("\x7f"));
        QCOMPARE(keyBytes(s, Qt::Key_Tab), QByteArray("\t"));
        QCOMPARE(keyBytes(s, Qt::Key_C, Qt::ControlModifier, QStringLiteral("\x03")), QByteArray("\x03"));
        QCOMPARE(keyBytes(s, Qt::Key_D, Qt::ControlModifier), QByteArray("\x04"));
        QCOMPARE(keyBytes(s, Qt::Key_B, Qt::AltModifier, QStringLiteral("b")), QByteArray("\x1b"
                                                                                          "b"));
        QCOMPARE(keyBytes(s, Qt::Key_Escape), QByteArray("\x1b"));
        QCOMPARE(keyBytes(s, Qt::Key_E, Qt::NoModifier, QStringLiteral("é")), QStringLiteral("é").toUtf8());
        QCOMPARE(keyBytes(s, Qt::Key_F1), QByteArray("\x1bOP"));
        QCOMPARE(keyBytes(s, Qt::Key_Delete), QByteArray("\x1b[3~"));
        // Arrows: normal cursor keys, then application cursor keys (DECCKM, as vim and less set it).
        QCOMPARE(keyBytes(s, Qt::Key_Up), QByteArray("\x1b[A"));
        QCOMPARE(keyBytes(s, Qt::Key_Left), QByteArray("\x1b[D"));
        s.feed("\x1b[?1h");
        QCOMPARE(keyBytes(s, Qt::Key_Up), QByteArray("\x1bOA"));
        QCOMPARE(keyBytes(s, Qt::Key_Left), QByteArray("\x1bOD"));
        QCOMPARE(keyBytes(s, Qt::Key_Right, Qt::ControlModifier), QByteArray("\x1b[1;5C"));
        s.feed("\x1b[?1l");
        QCOMPARE(keyBytes(s, Qt::Key_Down), QByteArray("\x1b[B"));
        // A lone modifier sends nothing.
        QCOMPARE(keyBytes(s, Qt::Key_Shift, Qt::ShiftModifier), QByteArray());
    }

    void repliesTitleAndBell()
    {
        TerminalScreen s;
        QSignalSpy sent(&s, &TerminalScreen::sendBytes);
        QSignalSpy title(&s, &TerminalScreen::titleChanged);
        QSignalSpy bell(&s, &TerminalScreen::bell);
        s.feed("ab\x1b[6n"); // cursor position report
        QCOMPARE(sent.count(), 1);
        QCOMPARE(sent.at(0).at(0).toByteArray(), QByteArray("\x1b[1;3R"));
        s.feed("\x1b]2;root@sandbox: ~\x07");
        QCOMPARE(title.count(), 1);
        QCOMPARE(s.title(), QStringLiteral("root@sandbox: ~"));
        s.feed("\x07");
        QCOMPARE(bell.count(), 1);
    }

    void floodThroughput()
    {
        // What one event-loop turn of the view costs: `seq 1 200000` output through a 120x40 screen.
        TerminalScreen s(120, 40);
        QByteArray flood;
        for (int i = 1; i <= 200000; ++i)
            flood += QByteArray::number(i) + "\r\n";
        QElapsedTimer t;
        t.start();
        qint64 worstChunkUs = 0;
        for (qsizetype at = 0; at < flood.size(); at += 16 * 1024) {
            QElapsedTimer c;
            c.start();
            s.feed(flood.mid(at, 16 * 1024));
            worstChunkUs = std::max(worstChunkUs, c.nsecsElapsed() / 1000);
        }
        const qint64 ms = std::max<qint64>(1, t.elapsed());
        qInfo("fed %lld bytes in %lld ms (%.1f MB/s), worst 16 KiB chunk %lld us", qint64(flood.size()), ms,
              double(flood.size()) / 1e3 / double(ms), worstChunkUs);
        QCOMPARE(s.lineText(s.scrollbackLines() + 38), QStringLiteral("200000"));
        QCOMPARE(s.scrollbackLines(), TerminalScreen::kDefaultScrollback);
    }

    void viewBoundsQueuedOutput()
    {
        using fluid::ui::TerminalView;
        TerminalView view;
        view.resize(400, 300);
        const QByteArray block(1024 * 1024, 'x');
        for (int i = 0; i < 40; ++i)
            view.feed(block);
        // Nothing interpreted yet (no event-loop turn): half the cap is kept, the rest is counted as dropped.
        QVERIFY(view.pendingBytes() <= TerminalView::kMaxPending);
        QVERIFY(view.droppedBytes() >= 40 * block.size() - TerminalView::kMaxPending);
        // One turn interprets a bounded slice, not everything.
        const qsizetype before = view.pendingBytes();
        QTest::qWait(1);
        QVERIFY(view.pendingBytes() < before);
        QVERIFY(view.pendingBytes() > 0);
        bool noted = false;
        for (int line = 0; line < view.screen()->totalLines(); ++line)
            noted = noted || view.screen()->lineText(line).contains(QStringLiteral("MiB of output skipped"));
        QVERIFY(noted);
    }

    void viewSelectsCopiesAndPastes()
    {
        using fluid::ui::TerminalView;
        TerminalView view;
        view.resize(640, 300);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        view.feed("alpha beta-gamma delta\r\nsecond line\r\n");
        QTRY_COMPARE(view.screen()->lineText(0), QStringLiteral("alpha beta-gamma delta"));
        QWidget* vp = view.viewport();
        const QSizeF cell = view.cellSize();
        // Drag from "beta" to the "sec" of the next line.
        mouse(vp, QEvent::MouseButtonPress, QPoint(6, 0), Qt::LeftButton, Qt::LeftButton, cell);
        mouse(vp, QEvent::MouseMove, QPoint(2, 1), Qt::NoButton, Qt::LeftButton, cell);
        mouse(vp, QEvent::MouseButtonRelease, QPoint(2, 1), Qt::LeftButton, Qt::NoButton, cell);
        QCOMPARE(view.screen()->selectedText(), QStringLiteral("beta-gamma delta\nsec"));
        QApplication::clipboard()->clear();
        QTest::keyClick(&view, Qt::Key_C, Qt::ControlModifier | Qt::ShiftModifier);
        QCOMPARE(QApplication::clipboard()->text(), QStringLiteral("beta-gamma delta\nsec"));
        // Double-click selects a word ("-" belongs to words, as in file names and options).
        mouse(vp, QEvent::MouseButtonPress, QPoint(8, 0), Qt::LeftButton, Qt::LeftButton, cell);
        mouse(vp, QEvent::MouseButtonRelease, QPoint(8, 0), Qt::LeftButton, Qt::NoButton, cell);
        mouse(vp, QEvent::MouseButtonDblClick, QPoint(8, 0), Qt::LeftButton, Qt::LeftButton, cell);
        QCOMPARE(view.screen()->selectedText(), QStringLiteral("beta-gamma"));
        // Ctrl+Shift+V pastes the clipboard to the remote side; typing clears the selection.
        QSignalSpy sent(&view, &TerminalView::sendBytes);
        QApplication::clipboard()->setText(QStringLiteral("ls -l\n"));
        QTest::keyClick(&view, Qt::Key_V, Qt::ControlModifier | Qt::ShiftModifier);
        QCOMPARE(sent.count(), 1);
        QCOMPARE(sent.at(0).at(0).toByteArray(), QByteArray("ls -l\r"));
        QTest::keyClicks(&view, QStringLiteral("x"));
        QCOMPARE(sent.last().at(0).toByteArray(), QByteArray("x"));
        QVERIFY(!view.screen()->hasSelection());
    }

    void viewGridFollowsSizeAndFont()
    {
        using fluid::ui::TerminalView;
        TerminalView view;
        QSignalSpy resized(&view, &TerminalView::terminalResized);
        view.resize(800, 400);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        const QSize grid = view.gridSize();
        QCOMPARE(view.screen()->cols(), grid.width());
        QCOMPARE(view.screen()->rows(), grid.height());
        QCOMPARE(grid.width(), int(view.viewport()->width() / view.cellSize().width()));
        QVERIFY(!resized.isEmpty());
        QCOMPARE(resized.last().at(0).toInt(), grid.width());
        QCOMPARE(resized.last().at(1).toInt(), grid.height());
        QFont bigger = view.terminalFont();
        bigger.setPointSize(bigger.pointSize() * 2);
        view.setTerminalFont(bigger);
        QVERIFY(view.gridSize().width() < grid.width());
        QCOMPARE(view.screen()->cols(), view.gridSize().width());
        // A chosen font is remembered for new terminals.
        TerminalView::rememberFont(bigger);
        QCOMPARE(TerminalView::defaultFont().pointSize(), bigger.pointSize());
        QCOMPARE(TerminalView().terminalFont().pointSize(), bigger.pointSize());
    }

    void floodRepaintsAreCoalesced()
    {
        using fluid::ui::TerminalView;
        TerminalView view;
        view.resize(640, 300);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QByteArray flood;
        for (int i = 1; i <= 30000; ++i)
            flood += "line " + QByteArray::number(i) + "\r\n";
        const int before = view.paintCount();
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < flood.size(); i += 1000)
            view.feed(flood.mid(i, 1000)); // as many small chunks as an SSH channel delivers
        QTRY_COMPARE_WITH_TIMEOUT(view.pendingBytes(), 0, 30000);
        QTest::qWait(50);
        const qint64 ms = t.elapsed();
        const int paints = view.paintCount() - before;
        qInfo("%lld bytes in %lld ms with %d paints", qint64(flood.size()), ms, paints);
        QVERIFY2(paints <= ms / 16 + 3, qPrintable(QStringLiteral("%1 paints in %2 ms").arg(paints).arg(ms)));
        QVERIFY(view.screen()->screenText().contains(QStringLiteral("line 30000")));
    }
};

QTEST_MAIN(TstTerminalScreen)
#include "tst_terminalscreen.moc"

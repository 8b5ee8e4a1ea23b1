// SPDX-License-Identifier: Apache-2.0
// Renders the terminal dock with two tabs to terminal-dock.png so a person can look at it:
//   render_terminal OUTPUT_DIR
// No network: the shown tab plays back a recorded byte string (a prompt, coloured `ls`, a 256-colour and a
// truecolour bar, bold/underline/reverse text) through a transport written for this renderer; the second tab
// has ended, showing its exit status and Reconnect.
#include "terminal/TerminalDock.h"
#include "terminal/TerminalTransport.h"
#include "terminal/TerminalView.h"

#include <QApplication>
#include <QDir>
#include <QMainWindow>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>

using namespace fluid;

namespace {

/// Plays back recorded output once the terminal is shown; input is dropped.
class PlaybackTransport : public ui::TerminalTransport {
public:
    PlaybackTransport(QByteArray recording, int exitCode)
        : m_recording(std::move(recording))
        , m_exitCode(exitCode)
    {
        QTimer::singleShot(0, this, [this] {
            Q_EMIT opened();
            Q_EMIT output(m_recording);
            if (m_exitCode >= 0)
                Q_EMIT finished(m_exitCode, {});
        });
    }
    void write(const QByteArray&) override {}
    void resize(int, int) override {}
    void close() override {}

private:
    QByteArray m_recording;
    int m_exitCode;
};

QByteArray recording()
{
    QByteArray r;
    const QByteArray prompt = "\x1b[1;32mroot@sbx-7f3a\x1b[0m:\x1b[1;34m~\x1b[0m# ";
    r += "\x1b]2;root@sbx-7f3a: ~\x07";
    r += prompt + "ls --color /etc/nginx\r\n";
    r += "\x1b[1;34mconf.d\x1b[0m  fastcgi.conf  \x1b[1;34mmodules-enabled\x1b[0m  nginx.conf  "
         "\x1b[1;36msites-enabled\x1b[0m  \x1b[1;32mupdate.sh\x1b[0m\r\n";
    r += prompt + "systemctl is-active nginx\r\n\x1b[32mactive\x1b[0m\r\n";
    r += prompt + "./colours\r\n";
    for (int i = 0; i < 16; ++i)
        r += "\x1b[48;5;" + QByteArray::number(i) + "m  ";
    r += "\x1b[0m  16 colours\r\n";
    for (int i = 16; i < 232; i += 6)
        r += "\x1b[48;5;" + QByteArray::number(i) + "m ";
    r += "\x1b[0m  256 colours\r\n";
    for (int i = 0; i < 36; ++i)
        r += "\x1b[48;2;" + QByteArray::number(255 - i * 7) + ";" + QByteArray::number(i * 7) + ";128m ";
    r += "\x1b[0m  truecolour\r\n";
    r += "\x1b[1mbold\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munderline\x1b[0m \x1b[7mreverse\x1b[0m "
         "\x1b[9mstrike\x1b[0m \x1b[31mred\x1b[0m \x1b[33myellow\x1b[0m "
         "\xe2\x9c\x93 \xc3\xbc"
         "n\xc3\xaf"
         "c\xc3\xb6"
         "d\xc3\xa9\r\n";
    r += prompt + "tail -n 3 /var/log/nginx/error.log\r\n";
    r += "2026/11/29 21:04:11 [\x1b[31merror\x1b[0m] 812#812: *1 open() \"/srv/www/favicon.ico\" failed "
         "(2: No such file or directory)\r\n";
    r += "2026/11/29 21:04:12 [notice] 812#812: signal process started\r\n";
    r += "2026/11/29 21:04:12 [notice] 815#815: reconfiguring\r\n";
    r += prompt;
    return r;
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: render_terminal OUTPUT_DIR\n");
        return 2;
    }
    const QString out = QString::fromLocal8Bit(argv[1]);
    QDir().mkpath(out);
    QTemporaryDir tmp;
    qputenv("FLUID_CONFIG_DIR", tmp.filePath(QStringLiteral("config")).toUtf8());
    qputenv("XDG_CONFIG_HOME", tmp.filePath(QStringLiteral("xdg")).toUtf8());

    QMainWindow window;
    auto* dock = new ui::TerminalDock(&window);
    window.addDockWidget(Qt::BottomDockWidgetArea, dock);
    window.resize(1000, 480);
    QFont font = ui::TerminalView::defaultFont();
    font.setPointSize(10);

    dock->openTerminal(QStringLiteral("sbx-2c91"),
                       std::make_unique<PlaybackTransport>(
                           "root@sbx-2c91:~# apt-get -y install nginx >/dev/null; exit 3\r\nlogout\r\n", 3),
                       [] { return std::make_unique<PlaybackTransport>(QByteArray(), -1); });
    dock->openTerminal(QStringLiteral("sbx-7f3a"), std::make_unique<PlaybackTransport>(recording(), -1));
    for (int i = 0; i < dock->count(); ++i)
        dock->tab(i)->view()->setTerminalFont(font);
    window.show();

    int failures = 0;
    QTimer::singleShot(800, &window, [&] {
        if (dock->grab().save(out + QStringLiteral("/terminal-dock.png")))
            std::printf("wrote terminal-dock.png\n");
        else
            ++failures;
        dock->tabs()->setCurrentIndex(0);
        QTimer::singleShot(300, &window, [&] {
            if (dock->grab().save(out + QStringLiteral("/terminal-dock-ended.png")))
                std::printf("wrote terminal-dock-ended.png\n");
            else
                ++failures;
            std::fflush(stdout);
            app.exit(failures == 0 ? 0 : 1);
        });
    });
    QTimer::singleShot(25000, &app, [&] {
        std::fprintf(stderr, "render_terminal: timed out\n");
        app.exit(1);
    });
    return app.exec();
}

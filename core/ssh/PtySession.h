// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>

#include <memory>

namespace fluid::ssh {

namespace detail {
struct PtyShared;
}

struct PtyOptions {
    QByteArray term = "xterm-256color";
    int cols = 80;
    int rows = 24;
    /// Run this instead of the login shell (for example "tmux attach -t work"); sent as given.
    QByteArray command;
};

/// An interactive shell on a remote pseudo-terminal, for the terminal view: streams the output bytes and
/// accepts input bytes and size changes. The channel lives on its connection's thread; this object lives on
/// the thread that created it (normally the GUI thread). write(), resize() and close() only queue work and
/// never block; the signals are emitted from the connection thread, so receivers on other threads get them
/// queued. Destroying the object closes the channel.
class PtySession : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PtySession)
public:
    explicit PtySession(std::shared_ptr<detail::PtyShared> shared, QObject* parent = nullptr);
    ~PtySession() override;

    /// A session that never opens: it emits failed(message) once the calling thread's event loop runs, and
    /// ignores input. For shells that cannot open a terminal (no connection, a test double).
    static std::unique_ptr<PtySession> openFailed(const QString& message);

    void write(const QByteArray& bytes);
    void resize(int cols, int rows);
    /// Sends end-of-file and closes the channel; finished() follows.
    void close();

Q_SIGNALS:
    void opened();
    void output(const QByteArray& bytes);
    /// exitCode is -1 when the remote side reported none (closed, or ended by `signal`).
    void finished(int exitCode, const QString& signal);
    void failed(const QString& message);

private:
    std::shared_ptr<detail::PtyShared> m_shared;
};

} // namespace fluid::ssh

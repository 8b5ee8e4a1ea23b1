// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>

#include <memory>

namespace fluid::ssh {
class PtySession;
}

namespace fluid::ui {

/// Where a terminal's bytes go and come from: an interactive remote shell (PtyTransport over an SSH PTY),
/// or anything a test or the screenshot renderer plays back. Calls never block; output and the end arrive as
/// signals on the transport's thread (the GUI thread).
class TerminalTransport : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TerminalTransport)
public:
    explicit TerminalTransport(QObject* parent = nullptr)
        : QObject(parent)
    {
    }

    virtual void write(const QByteArray& bytes) = 0;
    virtual void resize(int cols, int rows) = 0;
    /// Ends the session; finished() follows.
    virtual void close() = 0;

Q_SIGNALS:
    /// The shell is ready for input (a terminal shows "connecting…" until then).
    void opened();
    void output(const QByteArray& bytes);
    /// The remote side ended; exitCode is -1 when it reported none (then `signal` may name one).
    void finished(int exitCode, const QString& signal);
    /// It could not be opened or broke; the message says what failed and why.
    void failed(const QString& message);
};

/// A TerminalTransport over an ssh::PtySession. `keepAlive` holds what the session needs to live (its SSH
/// connection); it is released after the session. GUI thread.
class PtyTransport final : public TerminalTransport {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PtyTransport)
public:
    /// A transport that shows "connecting…" until attach() gives it a session, or fail() says why not.
    explicit PtyTransport(QObject* parent = nullptr);
    PtyTransport(std::unique_ptr<ssh::PtySession> session, std::shared_ptr<void> keepAlive = {},
                 QObject* parent = nullptr);
    ~PtyTransport() override;

    void attach(std::unique_ptr<ssh::PtySession> session, std::shared_ptr<void> keepAlive = {});
    void fail(const QString& message);

    void write(const QByteArray& bytes) override;
    void resize(int cols, int rows) override;
    void close() override;

    ssh::PtySession* session() const { return m_session.get(); }

private:
    std::shared_ptr<void> m_keepAlive; // declared first: released after the session
    std::unique_ptr<ssh::PtySession> m_session;
    int m_cols = 0;
    int m_rows = 0;
    bool m_closeRequested = false;
};

} // namespace fluid::ui

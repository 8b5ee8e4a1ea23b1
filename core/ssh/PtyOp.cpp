// SPDX-License-Identifier: Apache-2.0
// Interactive terminals: the PTY channel on the connection's thread (PtyOp) and the PtySession handle the
// terminal view holds on its own thread; they share PtyShared.

#include "ChannelOp.h"

namespace fluid::ssh {
namespace detail {
namespace {

/// An interactive shell on a PTY channel. Audits pty.open once the shell has started and exactly one
/// pty.close after it (the shell exited, the terminal was closed, or the connection broke): who, which
/// sandbox, the target, the terminal type and size, how it ended, how long it ran and how many bytes went
/// each way. Never the bytes themselves: what a person types (passwords included) stays out of the log.
class PtyOp final : public ChannelOp {
public:
    PtyOp(PtyOptions options, std::shared_ptr<PtyShared> shared, const ConnectionOptions& connection)
        : m_options(std::move(options))
        , m_shared(std::move(shared))
        , m_audit(connection.audit)
        , m_sink(connection.auditSink)
        , m_clock(connection.clock)
    {
    }

    Step step(ConnectionImpl& c) override
    {
        if (!ssh_is_connected(c.session()))
            return Step::Continue;
        const bool closeRequested = takeCloseRequest();
        if (closeRequested && m_phase != Phase::Running) {
            release();
            return done(-1, {}, {});
        }
        if (const auto s = startShell(c))
            return *s;
        return exchange(c, closeRequested);
    }

    void abort(const Error& error) override
    {
        if (m_finished)
            return;
        release();
        // Cancelled: this side closed the connection (its owner shut down), not a failure of the remote.
        fail(error.message, error.code == ErrorCode::Cancelled ? QStringLiteral("closed") : QString());
    }

    bool backlogged() const override { return m_blocked && !m_input.isEmpty(); }

protected:
    int onData(const char* data, uint32_t len, bool) override
    {
        m_outputBytes += len;
        deliver([bytes = QByteArray(data, qsizetype(len))](PtySession* s) { Q_EMIT s->output(bytes); });
        return int(len);
    }

private:
    enum class Phase { Open, Pty, Shell, Running };

    /// Whether the handle asked to close. A size set before the shell started is the size the PTY is asked
    /// for.
    bool takeCloseRequest()
    {
        QMutexLocker lock(&m_shared->mutex);
        if (m_phase != Phase::Running && m_shared->resize) {
            m_options.cols = m_shared->resize->first;
            m_options.rows = m_shared->resize->second;
            m_shared->resize.reset();
        }
        return m_shared->closeRequested;
    }

    /// Opens the channel, asks for the PTY, starts the shell (or the command) and reports opened(); a value
    /// when this turn ends here.
    std::optional<Step> startShell(ConnectionImpl& c)
    {
        if (m_phase == Phase::Open) {
            const Open o = openSession(c);
            if (o == Open::Pending)
                return Step::Continue;
            if (o == Open::Denied)
                return Step::Requeue;
            if (o == Open::Failed)
                return fail(QStringLiteral("Cannot open a terminal channel to %1: %2")
                                .arg(m_audit.target, c.sessionError()));
            m_phase = Phase::Pty;
        }
        if (m_phase == Phase::Pty) {
            const int rc = ssh_channel_request_pty_size(m_channel, m_options.term.constData(), m_options.cols,
                                                        m_options.rows);
            if (rc == SSH_AGAIN)
                return Step::Continue;
            if (rc != SSH_OK)
                return fail(QStringLiteral("The server refused a terminal: %1").arg(c.sessionError()));
            m_phase = Phase::Shell;
        }
        if (m_phase == Phase::Shell) {
            const int rc = m_options.command.isEmpty()
                               ? ssh_channel_request_shell(m_channel)
                               : ssh_channel_request_exec(m_channel, m_options.command.constData());
            if (rc == SSH_AGAIN)
                return Step::Continue;
            if (rc != SSH_OK)
                return fail(QStringLiteral("The server refused to start a shell: %1").arg(c.sessionError()));
            m_phase = Phase::Running;
            m_startMs = steadyMs();
            m_startedAt = m_clock.now().toUTC();
            auditOpen();
            deliver([](PtySession* s) { Q_EMIT s->opened(); });
        }
        return std::nullopt;
    }

    /// While the shell runs: passes on size changes and typed bytes, and ends when either side closes.
    Step exchange(ConnectionImpl& c, bool closeRequested)
    {
        std::optional<std::pair<int, int>> resize;
        {
            QMutexLocker lock(&m_shared->mutex);
            m_input += m_shared->input;
            m_inputBytes += m_shared->input.size();
            m_shared->input.clear();
            resize = m_shared->resize;
            m_shared->resize.reset();
        }
        if (resize && ssh_channel_change_pty_size(m_channel, resize->first, resize->second) == SSH_OK) {
            m_options.cols = resize->first;
            m_options.rows = resize->second;
        }
        if (!m_input.isEmpty()) {
            qsizetype sent = 0;
            if (!writeSome(m_channel, m_input, sent, &m_blocked) && !remoteDone())
                return fail(QStringLiteral("Writing to the terminal failed: %1").arg(c.sessionError()));
            m_input.remove(0, sent);
        }
        if (remoteDone()) {
            release();
            return done(m_exitCode.value_or(-1), m_signal, {});
        }
        if (closeRequested) {
            ssh_channel_send_eof(m_channel);
            release();
            return done(-1, {}, QStringLiteral("closed"));
        }
        return Step::Continue;
    }

    /// Runs `emitter` on the session's own thread. Queued even there, so a caller that connects right after
    /// openPty() returns still sees opened(); the mutex keeps the session alive while the call is posted.
    void deliver(std::function<void(PtySession*)> emitter)
    {
        QMutexLocker lock(&m_shared->mutex);
        if (PtySession* s = m_shared->session)
            QMetaObject::invokeMethod(
                s, [s, emitter = std::move(emitter)]() { emitter(s); }, Qt::QueuedConnection);
    }

    AuditRecord record(const QString& kind, const QString& summary) const
    {
        QJsonObject d;
        if (!m_options.command.isEmpty())
            d[QStringLiteral("command")] = QString::fromUtf8(m_options.command);
        d[QStringLiteral("term")] = QString::fromLatin1(m_options.term);
        d[QStringLiteral("cols")] = m_options.cols;
        d[QStringLiteral("rows")] = m_options.rows;
        d[QStringLiteral("started_at")] = m_startedAt.toString(Qt::ISODateWithMs);
        return auditRecord(m_audit, kind, summary, d);
    }

    void auditOpen()
    {
        if (m_sink)
            m_sink(record(QStringLiteral("pty.open"), QStringLiteral("terminal opened on %1 (%2x%3)")
                                                          .arg(m_audit.target)
                                                          .arg(m_options.cols)
                                                          .arg(m_options.rows)));
    }

    /// `endedBy` is "closed" (closed from this side: the terminal, or its connection), "error" (the
    /// connection or channel broke) or empty when the remote shell ended by itself; `error` says what
    /// happened.
    void auditClose(const QString& endedBy, const QString& error)
    {
        if (!m_sink || m_phase != Phase::Running)
            return;
        QString how;
        if (!error.isEmpty())
            how = error;
        else if (endedBy == QLatin1String("closed"))
            how = QStringLiteral("closed by %1").arg(m_audit.actor.toString());
        else if (m_exitCode)
            how = QStringLiteral("exit status %1").arg(*m_exitCode);
        else if (!m_signal.isEmpty())
            how = QStringLiteral("ended by signal %1").arg(m_signal);
        else
            how = QStringLiteral("the channel closed");
        AuditRecord rec = record(QStringLiteral("pty.close"),
                                 QStringLiteral("terminal on %1 ended: %2").arg(m_audit.target, how));
        QJsonObject d = rec.event.data;
        d[QStringLiteral("ended_by")] = endedBy.isEmpty() ? QStringLiteral("remote") : endedBy;
        d[QStringLiteral("exit_code")] = m_exitCode ? QJsonValue(*m_exitCode) : QJsonValue();
        d[QStringLiteral("signal")] = m_signal;
        if (!error.isEmpty())
            d[QStringLiteral("error")] = error;
        d[QStringLiteral("finished_at")] = m_clock.now().toUTC().toString(Qt::ISODateWithMs);
        d[QStringLiteral("duration_ms")] = steadyMs() - m_startMs;
        d[QStringLiteral("input_bytes")] = m_inputBytes;
        d[QStringLiteral("output_bytes")] = m_outputBytes;
        rec.event.data = d;
        m_sink(rec);
    }

    Step done(int exitCode, const QString& signal, const QString& endedBy)
    {
        m_finished = true;
        auditClose(endedBy, {});
        deliver([exitCode, signal](PtySession* s) { Q_EMIT s->finished(exitCode, signal); });
        return Step::Done;
    }

    Step fail(const QString& message, const QString& endedBy = {})
    {
        m_finished = true;
        release();
        // Closed from this side (the tab, or the connection under it, went first): not an error of the shell.
        const bool closedHere = endedBy == QLatin1String("closed");
        auditClose(closedHere ? endedBy : QStringLiteral("error"), closedHere ? QString() : message);
        deliver([message](PtySession* s) { Q_EMIT s->failed(message); });
        return Step::Done;
    }

    PtyOptions m_options;
    std::shared_ptr<PtyShared> m_shared;
    AuditContext m_audit;
    AuditSink m_sink;
    const Clock& m_clock;
    Phase m_phase = Phase::Open;
    QByteArray m_input;
    bool m_blocked = false;
    bool m_finished = false;
    qint64 m_inputBytes = 0;
    qint64 m_outputBytes = 0;
    qint64 m_startMs = 0;
    QDateTime m_startedAt;
};

} // namespace

std::unique_ptr<Op> makePtyOp(PtyOptions options, std::shared_ptr<PtyShared> shared,
                              const ConnectionOptions& connection)
{
    return std::make_unique<PtyOp>(std::move(options), std::move(shared), connection);
}

} // namespace detail

PtySession::PtySession(std::shared_ptr<detail::PtyShared> shared, QObject* parent)
    : QObject(parent)
    , m_shared(std::move(shared))
{
    QMutexLocker lock(&m_shared->mutex);
    m_shared->session = this;
}

PtySession::~PtySession()
{
    {
        QMutexLocker lock(&m_shared->mutex);
        m_shared->session = nullptr;
        m_shared->closeRequested = true;
    }
    m_shared->waker->wake();
}

std::unique_ptr<PtySession> PtySession::openFailed(const QString& message)
{
    auto shared = std::make_shared<detail::PtyShared>();
    shared->waker = std::make_shared<detail::Waker>();
    auto session = std::make_unique<PtySession>(shared);
    PtySession* s = session.get();
    QMetaObject::invokeMethod(
        s, [s, message]() { Q_EMIT s->failed(message); }, Qt::QueuedConnection);
    return session;
}

void PtySession::write(const QByteArray& bytes)
{
    {
        QMutexLocker lock(&m_shared->mutex);
        m_shared->input += bytes;
    }
    m_shared->waker->wake();
}

void PtySession::resize(int cols, int rows)
{
    {
        QMutexLocker lock(&m_shared->mutex);
        m_shared->resize = std::make_pair(qMax(1, cols), qMax(1, rows));
    }
    m_shared->waker->wake();
}

void PtySession::close()
{
    {
        QMutexLocker lock(&m_shared->mutex);
        m_shared->closeRequested = true;
    }
    m_shared->waker->wake();
}

} // namespace fluid::ssh

// SPDX-License-Identifier: Apache-2.0
#include "base/Logging.h"
#include "ConnectionInternals.h"

#include <QRandomGenerator>

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>

namespace fluid::ssh::detail {
namespace {

constexpr uint32_t kWriteChunk = 32 * 1024;

QByteArray randomHex(int bytes)
{
    QByteArray raw(bytes, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32*>(raw.data()), bytes / 4);
    return raw.toHex();
}

/// Writes as much of `data` from `offset` as the channel's window takes now; false on a channel error.
bool writeSome(ssh_channel channel, const QByteArray& data, qsizetype& offset, bool* blocked)
{
    *blocked = false;
    while (offset < data.size()) {
        const uint32_t window = ssh_channel_window_size(channel);
        if (window == 0) {
            *blocked = true;
            return true;
        }
        const uint32_t n = std::min({window, kWriteChunk, uint32_t(data.size() - offset)});
        const int written = ssh_channel_write(channel, data.constData() + offset, n);
        if (written == SSH_ERROR)
            return false;
        if (written == 0) {
            *blocked = true;
            return true;
        }
        offset += written;
    }
    return true;
}

enum class Open { Pending, Ready, Failed, Denied };

/// Shared by every operation that runs on one session channel: the channel, its callbacks, and what the
/// remote side reported. Callbacks consume data as it arrives (in packet order, before the close), so no
/// output is lost when the channel closes right after it.
class ChannelOp : public Op {
public:
    ChannelOp()
    {
        m_callbacks.userdata = this;
        m_callbacks.channel_data_function = &ChannelOp::dataCb;
        m_callbacks.channel_eof_function = &ChannelOp::eofCb;
        m_callbacks.channel_close_function = &ChannelOp::closeCb;
        m_callbacks.channel_exit_status_function = &ChannelOp::exitStatusCb;
        m_callbacks.channel_exit_signal_function = &ChannelOp::exitSignalCb;
        ssh_callbacks_init(&m_callbacks);
    }
    ~ChannelOp() override { release(); }
    ChannelOp(const ChannelOp&) = delete;
    ChannelOp& operator=(const ChannelOp&) = delete;

    int openChannels() const override { return m_channel && ssh_channel_is_open(m_channel) ? 1 : 0; }

protected:
    /// Consumes channel data; returns how many bytes were taken (the rest stays buffered in libssh).
    virtual int onData(const char* data, uint32_t len, bool isStderr) = 0;

    Open openSession(ConnectionImpl& c)
    {
        if (!m_channel) {
            m_channel = ssh_channel_new(c.session());
            if (!m_channel)
                return Open::Failed;
            ssh_set_channel_callbacks(m_channel, &m_callbacks);
        }
        const int rc = ssh_channel_open_session(m_channel);
        if (rc == SSH_AGAIN)
            return Open::Pending;
        if (rc == SSH_OK)
            return Open::Ready;
        const bool denied = ssh_get_error_code(c.session()) == SSH_REQUEST_DENIED;
        release();
        return denied ? Open::Denied : Open::Failed;
    }

    void release()
    {
        if (!m_channel)
            return;
        ssh_remove_channel_callbacks(m_channel, &m_callbacks);
        if (ssh_channel_is_open(m_channel))
            ssh_channel_close(m_channel);
        ssh_channel_free(m_channel);
        m_channel = nullptr;
    }

    bool remoteDone() const { return m_closed || (m_exitReceived && m_eof); }

    ssh_channel m_channel = nullptr;
    bool m_eof = false;
    bool m_closed = false;
    bool m_exitReceived = false;
    std::optional<int> m_exitCode;
    QString m_signal;

private:
    static int dataCb(ssh_session, ssh_channel, void* data, uint32_t len, int isStderr, void* self)
    {
        return static_cast<ChannelOp*>(self)->onData(static_cast<const char*>(data), len, isStderr != 0);
    }
    static void eofCb(ssh_session, ssh_channel, void* self) { static_cast<ChannelOp*>(self)->m_eof = true; }
    static void closeCb(ssh_session, ssh_channel, void* self)
    {
        static_cast<ChannelOp*>(self)->m_closed = true;
    }
    static void exitStatusCb(ssh_session, ssh_channel, int status, void* self)
    {
        auto* op = static_cast<ChannelOp*>(self);
        op->m_exitCode = status;
        op->m_exitReceived = true;
    }
    static void exitSignalCb(ssh_session, ssh_channel, const char* signal, int, const char*, const char*,
                             void* self)
    {
        auto* op = static_cast<ChannelOp*>(self);
        op->m_signal = QString::fromLatin1(signal ? signal : "");
        op->m_exitReceived = true;
    }

    ssh_channel_callbacks_struct m_callbacks{};
};

class RawCommandOp final : public ChannelOp {
public:
    RawCommandOp(QByteArray command, qint64 timeoutMs, std::function<void(Result<int>)> done, bool urgent)
        : m_command(std::move(command))
        , m_timeoutMs(timeoutMs)
        , m_done(std::move(done))
        , m_urgent(urgent)
    {
    }

    Step step(ConnectionImpl& c) override
    {
        if (m_deadline == 0)
            m_deadline = steadyMs() + m_timeoutMs;
        if (steadyMs() >= m_deadline)
            return fail(
                makeError(ErrorCode::Timeout, QStringLiteral("The remote command did not finish in time.")));
        switch (m_phase) {
        case 0: {
            const Open o = openSession(c);
            if (o == Open::Pending)
                return Step::Continue;
            if (o != Open::Ready)
                return fail(makeError(ErrorCode::Unavailable, QStringLiteral("Cannot open a channel."),
                                      c.sessionError()));
            m_phase = 1;
            [[fallthrough]];
        }
        case 1: {
            const int rc = ssh_channel_request_exec(m_channel, m_command.constData());
            if (rc == SSH_AGAIN)
                return Step::Continue;
            if (rc != SSH_OK)
                return fail(makeError(ErrorCode::Unavailable,
                                      QStringLiteral("Cannot run the remote command."), c.sessionError()));
            ssh_channel_send_eof(m_channel);
            m_phase = 2;
            [[fallthrough]];
        }
        default:
            if (!remoteDone())
                return Step::Continue;
            release();
            finish(m_exitCode ? Result<int>(*m_exitCode)
                              : Result<int>(makeError(
                                    ErrorCode::Unknown,
                                    QStringLiteral("The remote command ended by signal %1.").arg(m_signal))));
            return Step::Done;
        }
    }

    void abort(const Error& error) override { finish(error); }
    qint64 wakeAt() const override { return m_deadline; }
    bool urgent() const override { return m_urgent; }

protected:
    int onData(const char*, uint32_t len, bool) override { return int(len); }

private:
    Step fail(const Error& e)
    {
        release();
        finish(e);
        return Step::Done;
    }
    void finish(Result<int> r)
    {
        if (m_done) {
            auto done = std::move(m_done);
            m_done = nullptr;
            done(std::move(r));
        }
    }

    QByteArray m_command;
    qint64 m_timeoutMs;
    std::function<void(Result<int>)> m_done;
    bool m_urgent;
    int m_phase = 0;
    qint64 m_deadline = 0;
};

class ExecOp final : public ChannelOp {
public:
    ExecOp(ExecRequest request, QPromise<Result<ExecResult>> promise, const ConnectionOptions& options)
        : m_request(std::move(request))
        , m_promise(std::move(promise))
        , m_audit(options.audit)
        , m_sink(options.auditSink)
        , m_killGraceMs(options.killGrace.count())
        , m_marker("FLUID-EXEC-" + randomHex(8))
        , m_wrapper(execWrapper(m_request, m_marker))
        , m_stdout(m_request.stdoutCap)
        , m_stderr(m_request.stderrCap)
    {
    }

    Step step(ConnectionImpl& c) override
    {
        if (m_startMs == 0) {
            m_startMs = steadyMs();
            m_startedAt = QDateTime::currentDateTimeUtc();
            if (m_request.timeout.count() > 0)
                m_deadlineMs = m_startMs + m_request.timeout.count();
        }
        if (!ssh_is_connected(c.session()))
            return Step::Continue; // the connection aborts every op with its "lost" error

        const bool cancelled = m_promise.isCanceled();
        const bool expired = m_deadlineMs > 0 && steadyMs() >= m_deadlineMs;
        if (m_phase == Phase::Open || m_phase == Phase::Exec) {
            if (cancelled || expired) {
                m_timedOut = expired;
                return finish(c, nullptr);
            }
        }
        if (m_phase == Phase::Open) {
            const Open o = openSession(c);
            if (o == Open::Pending)
                return Step::Continue;
            if (o == Open::Denied) {
                m_startMs = 0;
                return Step::Requeue;
            }
            if (o == Open::Failed) {
                const Error e = makeError(
                    ErrorCode::Unavailable,
                    QStringLiteral("Cannot open a channel to %1 for the command.").arg(m_audit.target),
                    c.sessionError());
                return finish(c, &e);
            }
            m_phase = Phase::Exec;
        }
        if (m_phase == Phase::Exec) {
            const int rc = ssh_channel_request_exec(m_channel, m_wrapper.constData());
            if (rc == SSH_AGAIN)
                return Step::Continue;
            if (rc != SSH_OK) {
                const Error e =
                    makeError(ErrorCode::Unavailable,
                              QStringLiteral("The server refused to run the command."), c.sessionError());
                return finish(c, &e);
            }
            m_phase = Phase::Input;
        }
        if (m_phase == Phase::Input) {
            if (!writeSome(m_channel, m_request.command, m_sent, &m_blocked)) {
                if (remoteDone())
                    return finish(c, nullptr); // it ended before reading all of its input
                const Error e = makeError(ErrorCode::Unavailable,
                                          QStringLiteral("Sending the command failed."), c.sessionError());
                return finish(c, &e);
            }
            if (m_sent == m_request.command.size()) {
                ssh_channel_send_eof(m_channel);
                m_phase = Phase::Running;
            }
        }
        if (m_phase != Phase::Killing && (cancelled || expired)) {
            m_timedOut = expired;
            startKill(c);
        }
        if (m_phase == Phase::Killing)
            sendKill(c);
        if (remoteDone())
            return finish(c, nullptr);
        if (m_phase == Phase::Killing && steadyMs() >= m_killDeadlineMs)
            return finish(c, nullptr);
        return Step::Continue;
    }

    void abort(const Error& error) override
    {
        if (m_finished)
            return;
        m_finished = true;
        release();
        const ExecResult r = result();
        if (m_sink)
            m_sink(commandAuditRecord(m_audit, m_request, r, &error));
        m_promise.addResult(Result<ExecResult>(error));
        m_promise.finish();
    }

    qint64 wakeAt() const override
    {
        if (m_phase == Phase::Killing)
            return m_killDeadlineMs;
        // Cancellation is only noticed on a turn, so come back regularly while a cancel may arrive.
        const qint64 poll = steadyMs() + 200;
        return m_deadlineMs > 0 ? qMin(m_deadlineMs, poll) : poll;
    }
    bool backlogged() const override { return m_phase == Phase::Input && m_blocked; }

protected:
    int onData(const char* data, uint32_t len, bool isStderr) override
    {
        if (isStderr) {
            m_stderr.append(data, qsizetype(len));
            return int(len);
        }
        if (m_markerSeen) {
            m_stdout.append(data, qsizetype(len));
            return int(len);
        }
        m_preamble.append(data, qsizetype(len));
        const qsizetype at = m_preamble.indexOf(m_marker + ' ');
        const qsizetype nl = at >= 0 ? m_preamble.indexOf('\n', at) : -1;
        if (nl >= 0) {
            m_pid = m_preamble.mid(at + m_marker.size() + 1, nl - at - m_marker.size() - 1).toLongLong();
            // Anything before the marker came from the login shell's startup files, not the command.
            m_stdout.append(m_preamble.mid(nl + 1));
            m_markerSeen = true;
            m_preamble.clear();
        } else if (m_preamble.size() > 64 * 1024) {
            m_stdout.append(m_preamble);
            m_markerSeen = true;
            m_preamble.clear();
        }
        return int(len);
    }

private:
    enum class Phase { Open, Exec, Input, Running, Killing };

    void startKill(ConnectionImpl& c)
    {
        m_phase = Phase::Killing;
        m_killDeadlineMs = steadyMs() + m_killGraceMs;
        m_killPending = true;
        sendKill(c);
    }

    /// Once the wrapper has reported its pid, kills its process group from a second channel.
    void sendKill(ConnectionImpl& c)
    {
        if (!m_killPending || m_pid <= 1)
            return;
        m_killPending = false;
        const QByteArray pid = QByteArray::number(m_pid);
        // The wrapper is a session leader (sshd calls setsid), so its pid names the whole process group.
        const QByteArray kill = "kill -KILL -- -" + pid + " " + pid + " 2>/dev/null; exit 0";
        const QString target = m_audit.target;
        qCInfo(lcSsh).noquote() << "killing process group" << m_pid << "on" << target
                                << (m_timedOut ? "(timeout)" : "(cancelled)");
        c.postInternal(makeRawCommandOp(
            kill, m_killGraceMs,
            [target](Result<int> r) {
                if (!r)
                    qCWarning(lcSsh).noquote()
                        << "kill request on" << target << "failed:" << r.error().toString();
            },
            true));
    }

    ExecResult result() const
    {
        ExecResult r;
        r.stdoutData = m_stdout.result();
        r.stderrData = m_stderr.result();
        r.exitCode = m_exitCode;
        r.signal = m_signal;
        r.timedOut = m_timedOut;
        r.startedAt = m_startedAt.isValid() ? m_startedAt : QDateTime::currentDateTimeUtc();
        r.finishedAt = QDateTime::currentDateTimeUtc();
        r.durationMs = m_startMs > 0 ? steadyMs() - m_startMs : 0;
        return r;
    }

    Step finish(ConnectionImpl& c, const Error* error)
    {
        Q_UNUSED(c)
        m_finished = true;
        if (!m_markerSeen && !m_preamble.isEmpty())
            m_stdout.append(m_preamble);
        release();
        const ExecResult r = result();
        if (m_sink)
            m_sink(commandAuditRecord(m_audit, m_request, r, error));
        m_promise.addResult(error ? Result<ExecResult>(*error) : Result<ExecResult>(r));
        m_promise.finish();
        return Step::Done;
    }

    ExecRequest m_request;
    QPromise<Result<ExecResult>> m_promise;
    AuditContext m_audit;
    AuditSink m_sink;
    qint64 m_killGraceMs;
    QByteArray m_marker;
    QByteArray m_wrapper;
    OutputCapture m_stdout;
    OutputCapture m_stderr;
    QByteArray m_preamble;
    bool m_markerSeen = false;
    qint64 m_pid = 0;
    Phase m_phase = Phase::Open;
    qsizetype m_sent = 0;
    bool m_blocked = false;
    bool m_timedOut = false;
    bool m_killPending = false;
    bool m_finished = false;
    qint64 m_startMs = 0;
    qint64 m_deadlineMs = 0;
    qint64 m_killDeadlineMs = 0;
    QDateTime m_startedAt;
};

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
    {
    }

    Step step(ConnectionImpl& c) override
    {
        if (!ssh_is_connected(c.session()))
            return Step::Continue;
        bool closeRequested = false;
        {
            QMutexLocker lock(&m_shared->mutex);
            closeRequested = m_shared->closeRequested;
            // A size set before the shell started is the size the PTY is asked for.
            if (m_phase != Phase::Running && m_shared->resize) {
                m_options.cols = m_shared->resize->first;
                m_options.rows = m_shared->resize->second;
                m_shared->resize.reset();
            }
        }
        if (closeRequested && m_phase != Phase::Running) {
            release();
            return done(-1, {}, {});
        }
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
            m_startedAt = QDateTime::currentDateTimeUtc();
            auditOpen();
            deliver([](PtySession* s) { Q_EMIT s->opened(); });
        }

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
        AuditRecord rec;
        rec.event.actor = m_audit.actor;
        rec.event.kind = kind;
        rec.event.sandboxId = m_audit.sandboxId;
        rec.event.sessionId = m_audit.sessionId;
        rec.event.summary = summary;
        QJsonObject d;
        d[QStringLiteral("target")] = m_audit.target;
        if (!m_options.command.isEmpty())
            d[QStringLiteral("command")] = QString::fromUtf8(m_options.command);
        d[QStringLiteral("term")] = QString::fromLatin1(m_options.term);
        d[QStringLiteral("cols")] = m_options.cols;
        d[QStringLiteral("rows")] = m_options.rows;
        d[QStringLiteral("started_at")] = m_startedAt.toString(Qt::ISODateWithMs);
        rec.event.data = d;
        return rec;
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
            how = QStringLiteral("closed by %1").arg(m_audit.actor);
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
        d[QStringLiteral("finished_at")] = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
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
    Phase m_phase = Phase::Open;
    QByteArray m_input;
    bool m_blocked = false;
    bool m_finished = false;
    qint64 m_inputBytes = 0;
    qint64 m_outputBytes = 0;
    qint64 m_startMs = 0;
    QDateTime m_startedAt;
};

int noopFdCallback(socket_t, int, void*)
{
    return 0;
}

/// Bridges a direct-tcpip channel and one end of a local socket pair, in both directions.
class TunnelOp final : public Op {
public:
    TunnelOp(QByteArray host, int port, QPromise<Result<int>> promise, qint64 timeoutMs)
        : m_host(std::move(host))
        , m_port(port)
        , m_promise(std::move(promise))
        , m_timeoutMs(timeoutMs)
    {
    }
    ~TunnelOp() override { close(); }
    TunnelOp(const TunnelOp&) = delete;
    TunnelOp& operator=(const TunnelOp&) = delete;

    Step step(ConnectionImpl& c) override
    {
        if (!m_channel) {
            m_deadline = steadyMs() + m_timeoutMs;
            m_channel = ssh_channel_new(c.session());
            if (!m_channel)
                return fail(makeError(ErrorCode::Unavailable, QStringLiteral("Cannot create a channel.")));
        }
        if (!m_open) {
            if (steadyMs() >= m_deadline)
                return fail(makeError(ErrorCode::Timeout,
                                      QStringLiteral("The jump host did not open the tunnel in time.")));
            const int rc = ssh_channel_open_forward(m_channel, m_host.constData(), m_port, "127.0.0.1", 0);
            if (rc == SSH_AGAIN)
                return Step::Continue;
            if (rc != SSH_OK)
                return fail(makeError(ErrorCode::Unavailable,
                                      QStringLiteral("The jump host refused to open a connection to %1:%2 "
                                                     "(check AllowTcpForwarding/PermitOpen on it).")
                                          .arg(QString::fromUtf8(m_host))
                                          .arg(m_port),
                                      c.sessionError()));
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
                return fail(makeError(ErrorCode::Io, QStringLiteral("Cannot create a local socket pair.")));
            ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
            m_fd = sv[0];
            m_event = c.event();
            ssh_event_add_fd(m_event, m_fd, POLLIN, noopFdCallback, nullptr);
            m_open = true;
            m_promise.addResult(Result<int>(sv[1]));
            m_promise.finish();
        }
        return pump() ? Step::Continue : (close(), Step::Done);
    }

    void abort(const Error& error) override
    {
        if (!m_open && !m_promiseDone) {
            m_promiseDone = true;
            m_promise.addResult(Result<int>(error));
            m_promise.finish();
        }
        close();
    }

    int channels() const override { return 0; } // not a session: sshd's MaxSessions does not count it
    bool backlogged() const override { return !m_toFd.isEmpty() || !m_toChannel.isEmpty(); }
    qint64 wakeAt() const override { return m_open ? 0 : m_deadline; }

private:
    static constexpr qsizetype kBuffer = 1024 * 1024;

    /// Moves bytes both ways; false when the tunnel is finished.
    bool pump()
    {
        while (m_toFd.size() < kBuffer) {
            char buf[32768];
            const int n = ssh_channel_read_nonblocking(m_channel, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            m_toFd.append(buf, n);
        }
        while (!m_toFd.isEmpty()) {
            const ssize_t n =
                ::send(m_fd, m_toFd.constData(), size_t(m_toFd.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                m_toFd.remove(0, qsizetype(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                break;
            return false; // the local side is gone
        }
        const bool remoteEof = ssh_channel_is_eof(m_channel) || ssh_channel_is_closed(m_channel);
        if (remoteEof && m_toFd.isEmpty() && !m_shutWrite) {
            ::shutdown(m_fd, SHUT_WR);
            m_shutWrite = true;
        }

        while (!m_fdEof && m_toChannel.size() < kBuffer) {
            char buf[32768];
            const ssize_t n = ::recv(m_fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                m_toChannel.append(buf, qsizetype(n));
            } else if (n == 0) {
                m_fdEof = true;
            } else {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                    m_fdEof = true;
                break;
            }
        }
        if (!m_toChannel.isEmpty() && ssh_channel_is_open(m_channel)) {
            qsizetype sent = 0;
            bool blocked = false;
            if (!writeSome(m_channel, m_toChannel, sent, &blocked))
                return false;
            m_toChannel.remove(0, sent);
        }
        if (m_fdEof && m_toChannel.isEmpty() && !m_sentEof && ssh_channel_is_open(m_channel)) {
            ssh_channel_send_eof(m_channel);
            m_sentEof = true;
        }
        if (ssh_channel_is_closed(m_channel) && m_toFd.isEmpty())
            return false;
        return !(m_fdEof && m_sentEof && m_shutWrite);
    }

    Step fail(const Error& e)
    {
        abort(e);
        return Step::Done;
    }

    void close()
    {
        if (m_fd >= 0) {
            if (m_event)
                ssh_event_remove_fd(m_event, m_fd);
            ::close(m_fd);
            m_fd = -1;
        }
        if (m_channel) {
            if (ssh_channel_is_open(m_channel))
                ssh_channel_close(m_channel);
            ssh_channel_free(m_channel);
            m_channel = nullptr;
        }
    }

    QByteArray m_host;
    int m_port;
    QPromise<Result<int>> m_promise;
    bool m_promiseDone = false;
    qint64 m_timeoutMs;
    qint64 m_deadline = 0;
    ssh_channel m_channel = nullptr;
    ssh_event m_event = nullptr;
    bool m_open = false;
    int m_fd = -1;
    QByteArray m_toFd;
    QByteArray m_toChannel;
    bool m_fdEof = false;
    bool m_sentEof = false;
    bool m_shutWrite = false;
};

class SftpOp final : public Op {
public:
    SftpOp(std::function<void(ConnectionImpl&)> body, std::function<void(const Error&)> abort)
        : m_body(std::move(body))
        , m_abort(std::move(abort))
    {
    }

    Step step(ConnectionImpl& c) override
    {
        if (!ssh_is_connected(c.session()))
            return Step::Continue;
        m_done = true;
        ssh_set_blocking(c.session(), 1);
        m_body(c);
        ssh_set_blocking(c.session(), 0);
        return Step::Done;
    }

    void abort(const Error& error) override
    {
        if (!m_done)
            m_abort(error);
        m_done = true;
    }

    // The SFTP channel itself plus a short exec channel for the final rename.
    int channels() const override { return 2; }

private:
    std::function<void(ConnectionImpl&)> m_body;
    std::function<void(const Error&)> m_abort;
    bool m_done = false;
};

} // namespace

std::unique_ptr<Op> makeRawCommandOp(QByteArray command, qint64 timeoutMs,
                                     std::function<void(Result<int>)> done, bool urgent)
{
    return std::make_unique<RawCommandOp>(std::move(command), timeoutMs, std::move(done), urgent);
}

std::unique_ptr<Op> makeExecOp(ExecRequest request, QPromise<Result<ExecResult>> promise,
                               const ConnectionOptions& options)
{
    return std::make_unique<ExecOp>(std::move(request), std::move(promise), options);
}

std::unique_ptr<Op> makePtyOp(PtyOptions options, std::shared_ptr<PtyShared> shared,
                              const ConnectionOptions& connection)
{
    return std::make_unique<PtyOp>(std::move(options), std::move(shared), connection);
}

std::unique_ptr<Op> makeTunnelOp(QByteArray host, int port, QPromise<Result<int>> promise, qint64 timeoutMs)
{
    return std::make_unique<TunnelOp>(std::move(host), port, std::move(promise), timeoutMs);
}

std::unique_ptr<Op> makeSftpOp(std::function<void(ConnectionImpl&)> body,
                               std::function<void(const Error&)> abort)
{
    return std::make_unique<SftpOp>(std::move(body), std::move(abort));
}

} // namespace fluid::ssh::detail

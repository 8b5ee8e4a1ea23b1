// SPDX-License-Identifier: Apache-2.0
// One command on its own channel: the wrapper is exec'd, the command text sent on stdin, both streams
// captured within their caps; on timeout or cancel its process group is killed from a second channel.

#include "base/Logging.h"
#include "ChannelOp.h"

#include <QRandomGenerator>

namespace fluid::ssh::detail {
namespace {

QByteArray randomHex(int bytes)
{
    QByteArray raw(bytes, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32*>(raw.data()), bytes / 4);
    return raw.toHex();
}

class ExecOp final : public ChannelOp {
public:
    ExecOp(ExecRequest request, QPromise<Result<ExecResult>> promise, const ConnectionOptions& options)
        : m_request(std::move(request))
        , m_promise(std::move(promise))
        , m_audit(options.audit)
        , m_sink(options.auditSink)
        , m_clock(options.clock)
        , m_killGraceMs(options.killGrace.count())
        , m_marker("FLUID-EXEC-" + randomHex(8))
        , m_wrapper(execWrapper(m_request, m_marker))
        , m_stdout(m_request.stdoutCap)
        , m_stderr(m_request.stderrCap)
    {
    }

    Step step(ConnectionImpl& c) override
    {
        startTiming();
        if (!ssh_is_connected(c.session()))
            return Step::Continue; // the connection aborts every op with its "lost" error

        const bool cancelled = m_promise.isCanceled();
        const bool expired = m_deadlineMs > 0 && steadyMs() >= m_deadlineMs;
        if ((m_phase == Phase::Open || m_phase == Phase::Exec) && (cancelled || expired)) {
            m_timedOut = expired;
            return finish(nullptr);
        }
        if (const auto s = startCommand(c))
            return *s;
        if (const auto s = sendCommandText(c))
            return *s;
        return watch(c, cancelled, expired);
    }

    void abort(const Error& error) override
    {
        if (!m_finished)
            complete(&error);
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

    void startTiming()
    {
        if (m_startMs != 0)
            return;
        m_startMs = steadyMs();
        m_startedAt = m_clock.now().toUTC();
        if (m_request.timeout.count() > 0)
            m_deadlineMs = m_startMs + m_request.timeout.count();
    }

    /// Opens the channel and execs the wrapper; a value when this turn ends here.
    std::optional<Step> startCommand(ConnectionImpl& c)
    {
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
                return finish(&e);
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
                return finish(&e);
            }
            m_phase = Phase::Input;
        }
        return std::nullopt;
    }

    /// Sends the command text on stdin as the channel's window allows, then end-of-file.
    std::optional<Step> sendCommandText(ConnectionImpl& c)
    {
        if (m_phase != Phase::Input)
            return std::nullopt;
        if (!writeSome(m_channel, m_request.command, m_sent, &m_blocked)) {
            if (remoteDone())
                return finish(nullptr); // it ended before reading all of its input
            const Error e = makeError(ErrorCode::Unavailable, QStringLiteral("Sending the command failed."),
                                      c.sessionError());
            return finish(&e);
        }
        if (m_sent == m_request.command.size()) {
            ssh_channel_send_eof(m_channel);
            m_phase = Phase::Running;
        }
        return std::nullopt;
    }

    /// While it runs: kill it on timeout or cancel, and finish once it has ended (or the kill grace is over).
    Step watch(ConnectionImpl& c, bool cancelled, bool expired)
    {
        if (m_phase != Phase::Killing && (cancelled || expired)) {
            m_timedOut = expired;
            startKill(c);
        }
        if (m_phase == Phase::Killing)
            sendKill(c);
        if (remoteDone())
            return finish(nullptr);
        if (m_phase == Phase::Killing && steadyMs() >= m_killDeadlineMs)
            return finish(nullptr);
        return Step::Continue;
    }

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
        const QDateTime now = m_clock.now().toUTC();
        r.startedAt = m_startedAt.isValid() ? m_startedAt : now;
        r.finishedAt = now;
        r.durationMs = m_startMs > 0 ? steadyMs() - m_startMs : 0;
        return r;
    }

    /// Ends the command: what the login shell printed before the marker counts as output.
    Step finish(const Error* error)
    {
        if (!m_markerSeen && !m_preamble.isEmpty())
            m_stdout.append(m_preamble);
        complete(error);
        return Step::Done;
    }

    /// Audits the command and resolves the future, with `error` when it could not run to the end.
    void complete(const Error* error)
    {
        m_finished = true;
        release();
        const ExecResult r = result();
        if (m_sink)
            m_sink(commandAuditRecord(m_audit, m_request, r, error));
        m_promise.addResult(error ? Result<ExecResult>(*error) : Result<ExecResult>(r));
        m_promise.finish();
    }

    ExecRequest m_request;
    QPromise<Result<ExecResult>> m_promise;
    AuditContext m_audit;
    AuditSink m_sink;
    const Clock& m_clock;
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

} // namespace

std::unique_ptr<Op> makeExecOp(ExecRequest request, QPromise<Result<ExecResult>> promise,
                               const ConnectionOptions& options)
{
    return std::make_unique<ExecOp>(std::move(request), std::move(promise), options);
}

} // namespace fluid::ssh::detail

// SPDX-License-Identifier: Apache-2.0
// A command on a channel of its own, without Fluid's wrapper: the kill requests an exec sends when its
// command times out or is cancelled.

#include "ChannelOp.h"

namespace fluid::ssh::detail {
namespace {

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

} // namespace

std::unique_ptr<Op> makeRawCommandOp(QByteArray command, qint64 timeoutMs,
                                     std::function<void(Result<int>)> done, bool urgent)
{
    return std::make_unique<RawCommandOp>(std::move(command), timeoutMs, std::move(done), urgent);
}

} // namespace fluid::ssh::detail

// SPDX-License-Identifier: Apache-2.0
// Channels bridged to local socket pairs: ProxyJump's half on the jump host's connection (a direct-tcpip
// channel whose other end carries the sandbox connection's SSH session), and remote forwarding (the server
// listens, each connection it accepts arrives as a forwarded-tcpip channel).

#include "ChannelOp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <fcntl.h>

namespace fluid::ssh::detail {
namespace {

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
    /// Bridges a channel that is already open (a forwarded connection) to `fd`; on the connection thread.
    TunnelOp(ssh_channel open, int fd, ssh_event event)
        : m_port(0)
        , m_promiseDone(true)
        , m_timeoutMs(0)
        , m_channel(open)
        , m_event(event)
        , m_open(true)
        , m_fd(fd)
    {
        ssh_event_add_fd(m_event, m_fd, POLLIN, noopFdCallback, nullptr);
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
        if (!channelToSocket() || !socketToChannel())
            return false;
        if (ssh_channel_is_closed(m_channel) && m_toFd.isEmpty())
            return false;
        return !(m_fdEof && m_sentEof && m_shutWrite);
    }

    /// What the remote end sent, to the local socket; shuts the socket's write side after the remote's EOF.
    /// False when the local side is gone.
    bool channelToSocket()
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
            return false;
        }
        const bool remoteEof = ssh_channel_is_eof(m_channel) || ssh_channel_is_closed(m_channel);
        if (remoteEof && m_toFd.isEmpty() && !m_shutWrite) {
            ::shutdown(m_fd, SHUT_WR);
            m_shutWrite = true;
        }
        return true;
    }

    /// What the local side wrote, to the channel as its window allows; EOF once the local side has closed.
    /// False on a channel error.
    bool socketToChannel()
    {
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
        return true;
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

/// Remote forwarding: asks the server to listen, then turns every connection it accepts into a TunnelOp
/// bridged to a fresh socket pair, whose other end goes to the accept callback.
class ForwardListenOp final : public Op {
public:
    ForwardListenOp(QByteArray address, int port, ForwardAccept accept, QPromise<Result<int>> promise)
        : m_address(std::move(address))
        , m_port(port)
        , m_accept(std::move(accept))
        , m_promise(std::move(promise))
    {
    }

    Step step(ConnectionImpl& c) override
    {
        if (!m_listening) {
            int bound = 0;
            const int rc = ssh_channel_listen_forward(c.session(), m_address.constData(), m_port, &bound);
            if (rc == SSH_AGAIN)
                return Step::Continue;
            if (rc != SSH_OK) {
                abort(makeError(ErrorCode::Refused,
                                QStringLiteral("The server refused to listen on %1:%2 for this connection "
                                               "(remote forwarding; check AllowTcpForwarding on it).")
                                    .arg(QString::fromUtf8(m_address))
                                    .arg(m_port),
                                c.sessionError()));
                return Step::Done;
            }
            m_listening = true;
            m_promiseDone = true;
            m_promise.addResult(Result<int>(bound ? bound : m_port));
            m_promise.finish();
        }
        for (;;) {
            int destinationPort = 0;
            char* origin = nullptr;
            int originPort = 0;
            ssh_channel channel =
                ssh_channel_open_forward_port(c.session(), 0, &destinationPort, &origin, &originPort);
            if (!channel)
                break;
            ForwardedConnection accepted;
            accepted.originAddress = QString::fromUtf8(origin ? origin : "");
            accepted.originPort = originPort;
            ssh_string_free_char(origin);
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
                ssh_channel_close(channel);
                ssh_channel_free(channel);
                continue;
            }
            ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
            c.postInternal(std::make_unique<TunnelOp>(channel, sv[0], c.event()));
            accepted.fd = sv[1];
            m_accept(std::move(accepted));
        }
        return Step::Continue;
    }

    void abort(const Error& error) override
    {
        if (!m_promiseDone) {
            m_promiseDone = true;
            m_promise.addResult(Result<int>(error));
            m_promise.finish();
        }
    }

    int channels() const override { return 0; }
    // Forwarded connections arrive as channel-open requests that a turn picks up.
    qint64 wakeAt() const override { return steadyMs() + 100; }

private:
    QByteArray m_address;
    int m_port;
    ForwardAccept m_accept;
    QPromise<Result<int>> m_promise;
    bool m_promiseDone = false;
    bool m_listening = false;
};

} // namespace

std::unique_ptr<Op> makeForwardListenOp(QByteArray address, int port, ForwardAccept accept,
                                        QPromise<Result<int>> promise)
{
    return std::make_unique<ForwardListenOp>(std::move(address), port, std::move(accept), std::move(promise));
}

std::unique_ptr<Op> makeTunnelOp(QByteArray host, int port, QPromise<Result<int>> promise, qint64 timeoutMs)
{
    return std::make_unique<TunnelOp>(std::move(host), port, std::move(promise), timeoutMs);
}

} // namespace fluid::ssh::detail

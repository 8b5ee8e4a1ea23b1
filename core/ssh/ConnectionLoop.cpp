// SPDX-License-Identifier: Apache-2.0
// The connection's thread: its life (start, post, stop, join), the loop that gives every operation its turns
// within the server's channel limit, and the shutdown that fails whatever is left.

#include "base/Logging.h"
#include "base/Redact.h"
#include "base/Signals.h"
#include "ConnectionInternals.h"

#include <libssh/server.h> // ssh_send_keepalive(), which clients use too

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <mutex>

namespace fluid::ssh::detail {
namespace {

void libsshLog(int priority, const char* function, const char* buffer, void* /*userdata*/)
{
    qCDebug(lcSsh).noquote() << "libssh" << priority << function << redact(QString::fromUtf8(buffer));
}

int onWake(socket_t /*fd*/, int /*revents*/, void* userdata)
{
    static_cast<Waker*>(userdata)->drain();
    return 0;
}

} // namespace

void initLibssh()
{
    static std::once_flag once;
    std::call_once(once, [] {
        ignoreBrokenPipes();
        ssh_init();
        ssh_set_log_callback(libsshLog);
        bool ok = false;
        const int level = qEnvironmentVariableIntValue("FLUID_LIBSSH_LOG_LEVEL", &ok);
        ssh_set_log_level(ok ? level : SSH_LOG_WARNING);
    });
}

qint64 steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

Waker::Waker()
{
    if (::pipe(m_fds) != 0) {
        m_fds[0] = m_fds[1] = -1;
        return;
    }
    for (int fd : m_fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
}

Waker::~Waker()
{
    close();
}

void Waker::wake()
{
    QMutexLocker lock(&m_mutex);
    if (m_fds[1] >= 0) {
        const char b = 'w';
        [[maybe_unused]] const auto n = ::write(m_fds[1], &b, 1); // a full pipe already wakes the loop
    }
}

void Waker::drain()
{
    QMutexLocker lock(&m_mutex);
    char buf[256];
    while (m_fds[0] >= 0 && ::read(m_fds[0], buf, sizeof buf) > 0) {
    }
}

void Waker::close()
{
    QMutexLocker lock(&m_mutex);
    for (int& fd : m_fds) {
        if (fd >= 0)
            ::close(fd);
        fd = -1;
    }
}

ConnectionImpl::ConnectionImpl(ConnectionOptions options)
    : m_options(std::move(options))
    , m_waker(std::make_shared<Waker>())
    , m_channelLimit(qMax(1, m_options.maxChannels))
{
    m_readyPromise.start();
    m_readyFuture = m_readyPromise.future();
    const int port = m_options.port > 0 ? m_options.port : 22;
    m_describe = (m_options.user.isEmpty() ? QString() : m_options.user + QLatin1Char('@')) + m_options.host +
                 QLatin1Char(':') + QString::number(port);
    if (m_options.jump)
        m_describe += QStringLiteral(" via ") + m_options.jump->describe();
}

ConnectionImpl::~ConnectionImpl()
{
    stop(false);
    join();
}

void ConnectionImpl::start()
{
    initLibssh();
    m_thread = std::thread([this] { run(); });
}

void ConnectionImpl::post(std::unique_ptr<Op> op)
{
    QMutexLocker lock(&m_mutex);
    if (!m_accepting) {
        // The error is made after unlocking: closedError() reads the description under the same mutex.
        const std::optional<Error> lost = m_lost;
        lock.unlock();
        const Error e = lost ? *lost
                        : m_state.load() == SshConnection::State::Failed && m_readyFuture.isFinished()
                            ? m_readyFuture.result().error()
                            : closedError();
        op->abort(e);
        return;
    }
    ++m_inFlight;
    m_incoming.push_back(std::move(op));
    lock.unlock();
    m_waker->wake();
}

void ConnectionImpl::postInternal(std::unique_ptr<Op> op)
{
    ++m_inFlight;
    m_waiting.push_front(std::move(op));
}

void ConnectionImpl::stop(bool waitForWork)
{
    QMutexLocker lock(&m_mutex);
    m_stop = true;
    m_drain = waitForWork;
    if (!waitForWork)
        m_accepting = false;
    lock.unlock();
    m_waker->wake();
}

void ConnectionImpl::join()
{
    QMutexLocker lock(&m_joinMutex);
    if (m_thread.joinable()) {
        if (m_thread.get_id() == std::this_thread::get_id())
            m_thread.detach(); // destroyed from its own thread: it ends right after this call returns
        else
            m_thread.join();
    }
}

QString ConnectionImpl::describe() const
{
    QMutexLocker lock(&m_mutex);
    return m_describe;
}

PublicKey ConnectionImpl::serverKey() const
{
    QMutexLocker lock(&m_mutex);
    return m_serverKey;
}

QString ConnectionImpl::sessionError() const
{
    return m_session ? redact(QString::fromUtf8(ssh_get_error(m_session))) : QString();
}

void ConnectionImpl::emitAudit(const AuditRecord& record) const
{
    if (m_options.auditSink)
        m_options.auditSink(record);
}

Error ConnectionImpl::closedError() const
{
    return makeError(
        ErrorCode::Cancelled,
        QStringLiteral("The SSH connection to %1 was closed before the work finished.").arg(describe()));
}

Error ConnectionImpl::lostError() const
{
    return makeError(
        ErrorCode::ConnectionLost,
        QStringLiteral("The SSH connection to %1 was lost; the remote machine may have stopped or "
                       "the network failed. Retry once it is reachable.")
            .arg(describe()),
        sessionError());
}

Error ConnectionImpl::silentError() const
{
    const qint64 silentS = (steadyMs() - m_lastHeardMs + 500) / 1000;
    return makeError(ErrorCode::ConnectionLost,
                     QStringLiteral("The SSH connection to %1 was lost (no answer for %2 s); the remote "
                                    "machine may have stopped or the network failed. Retry once it is "
                                    "reachable.")
                         .arg(describe())
                         .arg(silentS));
}

void ConnectionImpl::lose(const Error& error)
{
    qCInfo(lcSsh).noquote() << error.message;
    {
        QMutexLocker lock(&m_mutex);
        m_lost = error;
        m_accepting = false;
    }
    abortAll(error);
}

Result<sftp_session> ConnectionImpl::sftp()
{
    if (m_sftp)
        return m_sftp;
    sftp_session s = sftp_new(m_session);
    if (!s)
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("Cannot open an SFTP channel to %1.").arg(describe()),
                         sessionError());
    if (sftp_init(s) != SSH_OK) {
        const QString detail = sessionError();
        sftp_free(s);
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("The SFTP subsystem of %1 did not start; check that its sshd has "
                                        "\"Subsystem sftp\" configured.")
                             .arg(describe()),
                         detail);
    }
    m_sftp = s;
    return m_sftp;
}

void ConnectionImpl::run()
{
    if (auto established = establish(); !established) {
        failToConnect(established.error());
        return;
    }
    ssh_set_blocking(m_session, 0);
    ssh_set_counters(m_session, nullptr, &m_wireCounter);
    m_packetsSeen = m_wireCounter.in_packets;
    m_lastHeardMs = steadyMs();
    m_state = SshConnection::State::Ready;
    m_readyPromise.addResult(Result<void>());
    m_readyPromise.finish();
    qCDebug(lcSsh).noquote() << "connected to" << describe();

    loop();
    shutDown();
}

void ConnectionImpl::failToConnect(const Error& error)
{
    qCInfo(lcSsh).noquote() << "connection to" << describe() << "failed:" << error.toString();
    m_state = SshConnection::State::Failed;
    m_readyPromise.addResult(error);
    m_readyPromise.finish();
    std::deque<std::unique_ptr<Op>> pending;
    {
        QMutexLocker lock(&m_mutex);
        m_accepting = false;
        pending.swap(m_incoming);
    }
    for (auto& op : pending) {
        op->abort(error);
        --m_inFlight;
    }
    if (m_session) {
        ssh_disconnect(m_session);
        ssh_free(m_session);
        m_session = nullptr;
    }
}

void ConnectionImpl::shutDown()
{
    std::deque<std::unique_ptr<Op>> pending;
    {
        QMutexLocker lock(&m_mutex);
        m_accepting = false;
        pending.swap(m_incoming);
    }
    for (auto& op : pending)
        m_waiting.push_back(std::move(op));
    std::optional<Error> lost;
    {
        QMutexLocker lock(&m_mutex);
        lost = m_lost;
    }
    abortAll(lost ? *lost : ssh_is_connected(m_session) ? closedError() : lostError());
    if (m_sftp) {
        sftp_free(m_sftp);
        m_sftp = nullptr;
    }
    if (m_event) {
        ssh_event_remove_fd(m_event, m_waker->readFd());
        ssh_event_remove_session(m_event, m_session);
        ssh_event_free(m_event);
        m_event = nullptr;
    }
    ssh_disconnect(m_session);
    ssh_free(m_session);
    m_session = nullptr;
    m_state = SshConnection::State::Closed;
    qCDebug(lcSsh).noquote() << "closed connection to" << describe();
}

void ConnectionImpl::abortAll(const Error& error)
{
    for (auto& op : m_waiting) {
        op->abort(error);
        --m_inFlight;
    }
    m_waiting.clear();
    for (auto& op : m_active) {
        op->abort(error);
        --m_inFlight;
    }
    m_active.clear();
}

int ConnectionImpl::channelsInUse() const
{
    int n = m_sftp ? 1 : 0;
    for (const auto& op : m_active)
        n += op->channels();
    return n;
}

int ConnectionImpl::openChannels() const
{
    int n = m_sftp ? 1 : 0;
    for (const auto& op : m_active)
        n += op->openChannels();
    return n;
}

void ConnectionImpl::admit()
{
    for (auto it = m_waiting.begin(); it != m_waiting.end();) {
        if ((*it)->urgent()) {
            m_active.push_back(std::move(*it));
            it = m_waiting.erase(it);
        } else {
            ++it;
        }
    }
    while (!m_waiting.empty() && channelsInUse() + m_waiting.front()->channels() <= m_channelLimit &&
           steadyMs() >= m_retryAtMs) {
        m_active.push_back(std::move(m_waiting.front()));
        m_waiting.pop_front();
    }
}

void ConnectionImpl::finishOp(std::size_t index)
{
    m_active.erase(m_active.begin() + qsizetype(index));
    --m_inFlight;
    m_lastChannelFreedMs = steadyMs();
}

void ConnectionImpl::loop()
{
    m_event = ssh_event_new();
    if (!m_event || ssh_event_add_session(m_event, m_session) != SSH_OK ||
        ssh_event_add_fd(m_event, m_waker->readFd(), POLLIN, onWake, m_waker.get()) != SSH_OK) {
        qCWarning(lcSsh) << "cannot set up polling for" << describe();
        return;
    }
    for (;;) {
        bool stop = false;
        bool drain = false;
        takeIncoming(&stop, &drain);
        if (stop && !drain)
            return;
        admit();
        const bool requeued = runTurn();
        // Work admitted now (including kill requests posted during the turn) gets its first turn at once.
        const std::size_t activeBefore = m_active.size();
        admit();
        const bool admitted = requeued || m_active.size() > activeBefore;
        if (!ssh_is_connected(m_session) || (ssh_get_status(m_session) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
            lose(lostError());
            return;
        }
        if (!keepAlive()) {
            lose(silentError());
            return;
        }
        if (drain && drained())
            return;
        ssh_event_dopoll(m_event, int(pollTimeout(admitted)));
    }
}

void ConnectionImpl::takeIncoming(bool* stop, bool* drain)
{
    QMutexLocker lock(&m_mutex);
    while (!m_incoming.empty()) {
        m_waiting.push_back(std::move(m_incoming.front()));
        m_incoming.pop_front();
    }
    *stop = m_stop;
    *drain = m_drain;
}

bool ConnectionImpl::runTurn()
{
    bool requeued = false;
    for (std::size_t i = 0; i < m_active.size();) {
        switch (m_active[i]->step(*this)) {
        case Step::Continue:
            ++i;
            break;
        case Step::Done:
            finishOp(i);
            break;
        case Step::Requeue: {
            auto op = std::move(m_active[i]);
            m_active.erase(m_active.begin() + qsizetype(i));
            if (backOff(std::move(op)))
                requeued = true;
            break;
        }
        }
    }
    return requeued;
}

bool ConnectionImpl::backOff(std::unique_ptr<Op> op)
{
    if (openChannels() == 0) {
        // Nothing open here, but the server may not have released a channel that just closed: try again
        // shortly, for a little while.
        constexpr qint64 kReleaseGraceMs = 2000;
        const qint64 now = steadyMs();
        if (m_lastChannelFreedMs >= 0 && now - m_lastChannelFreedMs < kReleaseGraceMs) {
            m_retryAtMs = now + 50;
            m_waiting.push_front(std::move(op));
            return false;
        }
        op->abort(makeError(ErrorCode::Refused,
                            QStringLiteral("%1 refused to open a channel.").arg(describe()), sessionError()));
        --m_inFlight;
        return false;
    }
    // The server refused another channel (its MaxSessions): run fewer at once from now on.
    const int limit = qMax(1, openChannels());
    if (limit != m_channelLimit)
        qCInfo(lcSsh).noquote() << describe() << "refused a channel; running at most" << limit << "at once";
    m_channelLimit = limit;
    m_waiting.push_front(std::move(op));
    return true;
}

bool ConnectionImpl::drained()
{
    if (!m_active.empty() || !m_waiting.empty())
        return false;
    QMutexLocker lock(&m_mutex);
    if (!m_incoming.empty())
        return false;
    m_accepting = false;
    return true;
}

qint64 ConnectionImpl::pollTimeout(bool admitted) const
{
    qint64 timeout = admitted ? 0 : 1000;
    const qint64 now = steadyMs();
    for (const auto& op : m_active) {
        if (op->backlogged())
            timeout = qMin<qint64>(timeout, 5);
        if (const qint64 at = op->wakeAt(); at > 0)
            timeout = qMin(timeout, qMax<qint64>(0, at - now));
    }
    if (const qint64 at = keepaliveDue(); at > 0)
        timeout = qMin(timeout, qMax<qint64>(0, at - now));
    if (!m_waiting.empty() && m_retryAtMs > now)
        timeout = qMin(timeout, m_retryAtMs - now);
    return timeout;
}

qint64 ConnectionImpl::keepaliveDue() const
{
    const qint64 interval = m_options.keepaliveInterval.count();
    return interval > 0 ? m_lastHeardMs + interval * (m_unanswered + 1) : 0;
}

bool ConnectionImpl::keepAlive()
{
    const qint64 due = keepaliveDue();
    if (due == 0)
        return true;
    const qint64 now = steadyMs();
    if (m_wireCounter.in_packets != m_packetsSeen) {
        m_packetsSeen = m_wireCounter.in_packets;
        m_lastHeardMs = now;
        m_unanswered = 0;
        return true;
    }
    if (now < due)
        return true;
    if (m_unanswered >= qMax(1, m_options.keepaliveMisses))
        return false;
    // libssh keeps one global request in flight: while the last one waits for its answer this sends
    // nothing; once the answer came, the first call only collects it and the second sends the new request.
    const uint64_t sent = m_wireCounter.out_packets;
    ssh_send_keepalive(m_session);
    if (m_wireCounter.out_packets == sent)
        ssh_send_keepalive(m_session);
    ++m_unanswered;
    qCDebug(lcSsh).noquote() << "keepalive" << m_unanswered << "to" << describe();
    return true;
}

} // namespace fluid::ssh::detail

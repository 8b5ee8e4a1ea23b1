// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to core/ssh: the connection thread's state and the operations it drives. Everything here runs on
// the connection's thread unless a comment says otherwise.

#include "SshConnection.h"

#include <QElapsedTimer>
#include <QMutex>
#include <QPromise>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include <atomic>
#include <deque>
#include <thread>
#include <vector>

namespace fluid::ssh::detail {

/// Milliseconds on a monotonic clock; command timeouts are real elapsed time, not the injected Clock.
qint64 steadyMs();

/// Sets libssh up once per process: SIGPIPE ignored, its log routed through the redactor at the level
/// FLUID_LIBSSH_LOG_LEVEL names (default: warnings). Any thread.
void initLibssh();

/// Wakes the connection thread from its poll. Shared with handles that outlive the thread (PTY sessions);
/// wake() after close() does nothing. Thread-safe.
class Waker {
public:
    Waker();
    ~Waker();
    Waker(const Waker&) = delete;
    Waker& operator=(const Waker&) = delete;
    int readFd() const { return m_fds[0]; }
    bool valid() const { return m_fds[0] >= 0; }
    void wake();
    void drain();
    void close();

private:
    QMutex m_mutex;
    int m_fds[2] = {-1, -1};
};

/// State a PtySession handle shares with its operation on the connection thread.
struct PtyShared {
    QMutex mutex;
    PtySession* session = nullptr; ///< cleared by ~PtySession; signals are emitted under the mutex
    QByteArray input;
    std::optional<std::pair<int, int>> resize;
    bool closeRequested = false;
    std::shared_ptr<Waker> waker;
};

class ConnectionImpl;

enum class Step { Continue, Done, Requeue };

/// A unit of work on the connection thread.
class Op {
public:
    virtual ~Op() = default;
    /// One turn: make whatever progress is possible without blocking.
    virtual Step step(ConnectionImpl& c) = 0;
    /// Ends the operation with `error` (connection failed, lost or closed). May run on any thread before
    /// the op was started.
    virtual void abort(const Error& error) = 0;
    /// Monotonic ms when the op wants a turn even without I/O; 0: none.
    virtual qint64 wakeAt() const { return 0; }
    /// Channels the op holds while active (for the MaxSessions limit).
    virtual int channels() const { return 1; }
    /// Channels the server has confirmed open right now (what its MaxSessions has counted).
    virtual int openChannels() const { return channels(); }
    /// Kill requests bypass the channel limit.
    virtual bool urgent() const { return false; }
    /// True while the op has bytes it could not hand over yet (poll again soon).
    virtual bool backlogged() const { return false; }
};

/// The connection thread's state: the libssh session, the work queue, and the loop. The thread's life and the
/// loop are in ConnectionLoop.cpp, the handshake (connect, host key check, authentication) in Handshake.cpp.
class ConnectionImpl {
public:
    explicit ConnectionImpl(ConnectionOptions options);
    ~ConnectionImpl();

    // Any thread.
    void start();
    void post(std::unique_ptr<Op> op);
    void stop(bool waitForWork);
    void join();
    SshConnection::State state() const { return m_state.load(); }
    QString describe() const;
    PublicKey serverKey() const;
    int inFlight() const { return m_inFlight.load(); }
    QFuture<Result<void>> ready() const { return m_readyFuture; }
    const ConnectionOptions& options() const { return m_options; }
    const std::shared_ptr<Waker>& waker() const { return m_waker; }

    // Connection thread only.
    ssh_session session() const { return m_session; }
    ssh_event event() const { return m_event; }
    Result<sftp_session> sftp();
    /// The error libssh holds for the session, for messages.
    QString sessionError() const;
    /// Posts an urgent op from the connection thread itself (a kill request).
    void postInternal(std::unique_ptr<Op> op);
    void emitAudit(const AuditRecord& record) const;
    /// The socket broke (ErrorCode::ConnectionLost).
    Error lostError() const;

private:
    // The thread and its loop (ConnectionLoop.cpp).
    void run();
    /// The handshake failed: fail the ready future and every op posted so far with `error`.
    void failToConnect(const Error& error);
    /// The loop ended: fail what is left, then close the session.
    void shutDown();
    void loop();
    /// Moves posted work to the waiting queue and reads the stop request.
    void takeIncoming(bool* stop, bool* drain);
    /// One turn of every active op; true when one was put back to wait for a channel.
    bool runTurn();
    /// The server refused `op` a channel: run fewer at once from now on, or fail it when none is open.
    bool backOff(std::unique_ptr<Op> op);
    /// True once a retiring connection has nothing active, waiting or posted; it then takes no more work.
    bool drained();
    /// How long the poll may sleep: until the earliest op's wake-up or the next keepalive, never more than a
    /// second.
    qint64 pollTimeout(bool admitted) const;
    /// Notes whether the server sent anything since the last call, and asks it for an answer once it has
    /// been silent for an interval. False once it left keepaliveMisses requests unanswered.
    bool keepAlive();
    /// When keepAlive() next has something to do (monotonic ms); 0: keepalive is off.
    qint64 keepaliveDue() const;
    /// The server stopped answering: lostError() naming how long it was silent.
    Error silentError() const;
    /// The connection is lost: every op fails with `error`, and so does work posted from now on. The loop
    /// ends right after.
    void lose(const Error& error);
    void admit();
    int channelsInUse() const;
    int openChannels() const;
    void finishOp(std::size_t index);
    void abortAll(const Error& error);
    Error closedError() const;

    // The handshake (Handshake.cpp).
    Result<void> establish();
    /// Session options: host, ssh config, port, user, timeout, which known-hosts files or pinned key type.
    Result<void> configure();
    /// The user, host and port the session will really use (the ssh config may have changed them).
    void describeResolvedTarget();
    /// Without a jump connection: nothing. With one: a tunnel through it becomes the session's socket.
    Result<void> connectThroughJump();
    Result<void> verifyHostKey();
    Result<void> authenticate();
    /// Loads the key to offer (and the certificate, for sandboxes) into `priv` and `offered`; returns what
    /// was offered, for messages.
    Result<QString> loadLoginKey(ssh_key* priv, ssh_key* offered);
    Result<QString> loadIdentity(ssh_key* priv, ssh_key* offered);
    /// The error (or success) for userauth return code `rc` after offering `what`.
    Result<void> authenticationResult(int rc, const QString& what);

    ConnectionOptions m_options;
    QMutex m_joinMutex; // close() and the destructor may both join
    std::thread m_thread;
    std::shared_ptr<Waker> m_waker;
    std::atomic<SshConnection::State> m_state{SshConnection::State::Connecting};
    std::atomic<int> m_inFlight{0};
    QPromise<Result<void>> m_readyPromise;
    QFuture<Result<void>> m_readyFuture;

    mutable QMutex m_mutex; // guards the fields below
    std::deque<std::unique_ptr<Op>> m_incoming;
    bool m_accepting = true;
    bool m_stop = false;
    bool m_drain = false;
    std::optional<Error> m_lost; ///< why the connection was lost, for work posted afterwards
    PublicKey m_serverKey;
    QString m_describe;

    // Connection thread only.
    ssh_session m_session = nullptr;
    ssh_event m_event = nullptr;
    sftp_session m_sftp = nullptr;
    std::deque<std::unique_ptr<Op>> m_waiting;
    std::vector<std::unique_ptr<Op>> m_active;
    int m_channelLimit = 10;
    // A server may refuse a channel while it still counts one that has just closed here: retry briefly.
    qint64 m_lastChannelFreedMs = -1;
    qint64 m_retryAtMs = 0;
    // Keepalive: libssh counts the packets on the wire here; a packet in means the server is alive.
    ssh_counter_struct m_wireCounter{};
    uint64_t m_packetsSeen = 0;
    qint64 m_lastHeardMs = 0;
    int m_unanswered = 0;
};

// The operations, one file each: RawCommandOp.cpp, ExecOp.cpp, PtyOp.cpp, TunnelOp.cpp, SftpOps.cpp.

/// Runs a command on its own channel without the wrapper (kill requests) and reports the exit code.
std::unique_ptr<Op> makeRawCommandOp(QByteArray command, qint64 timeoutMs,
                                     std::function<void(Result<int>)> done, bool urgent);
std::unique_ptr<Op> makeExecOp(ExecRequest request, QPromise<Result<ExecResult>> promise,
                               const ConnectionOptions& options);
std::unique_ptr<Op> makePtyOp(PtyOptions options, std::shared_ptr<PtyShared> shared,
                              const ConnectionOptions& connection);
/// A direct-tcpip channel to host:port bridged to a local socket pair (ProxyJump).
std::unique_ptr<Op> makeTunnelOp(QByteArray host, int port, QPromise<Result<int>> promise, qint64 timeoutMs);
std::unique_ptr<Op> makeForwardListenOp(QByteArray address, int port, ForwardAccept accept,
                                        QPromise<Result<int>> promise);
/// SFTP work runs synchronously within one turn, with the session switched to blocking mode.
std::unique_ptr<Op> makeSftpOp(std::function<void(ConnectionImpl&)> body,
                               std::function<void(const Error&)> abort);

// SFTP bodies; run inside a blocking SFTP turn.
Result<QByteArray> sftpReadFile(ConnectionImpl& c, const QString& path, qint64 maxBytes);
Result<void> sftpWriteFile(ConnectionImpl& c, const QString& path, const QByteArray& content,
                           const WriteOptions& options);
Result<EditResult> sftpEditFile(ConnectionImpl& c, const QString& path, const QByteArray& oldText,
                                const QByteArray& newText);

/// Runs a command to completion in blocking mode (inside an SFTP turn) and returns its exit code.
Result<int> runBlocking(ConnectionImpl& c, const QByteArray& command, QByteArray* stderrText);

} // namespace fluid::ssh::detail

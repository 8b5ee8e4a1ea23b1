// SPDX-License-Identifier: Apache-2.0
#include "SshConnection.h"

#include "base/Logging.h"
#include "base/Redact.h"
#include "base/Signals.h"
#include "ConnectionInternals.h"

#include <QDir>
#include <QScopeGuard>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <mutex>

namespace fluid::ssh {
namespace detail {
namespace {

void libsshLog(int priority, const char* function, const char* buffer, void* /*userdata*/)
{
    qCDebug(lcSsh).noquote() << "libssh" << priority << function << redact(QString::fromUtf8(buffer));
}

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

int onWake(socket_t /*fd*/, int /*revents*/, void* userdata)
{
    static_cast<Waker*>(userdata)->drain();
    return 0;
}

QByteArray keyBlob(ssh_key key)
{
    char* b64 = nullptr;
    if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK || !b64)
        return {};
    const QByteArray out = QByteArray::fromBase64(QByteArray(b64));
    ssh_string_free_char(b64);
    return out;
}

void wipe(QByteArray& bytes)
{
    if (!bytes.isEmpty() && bytes.isDetached())
        std::fill(bytes.begin(), bytes.end(), '\0');
    bytes.clear();
}

/// "SHA256:..." of a libssh public key, for messages.
QString keyFingerprint(ssh_key key)
{
    unsigned char* digest = nullptr;
    size_t length = 0;
    if (!key || ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &digest, &length) != 0)
        return QStringLiteral("(unknown fingerprint)");
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, digest, length);
    ssh_clean_pubkey_hash(&digest);
    const QString out = text ? QString::fromLatin1(text) : QStringLiteral("(unknown fingerprint)");
    ssh_string_free_char(text);
    return out;
}

template <typename T>
QFuture<T> readyFuture(T value)
{
    QPromise<T> p;
    p.start();
    p.addResult(std::move(value));
    p.finish();
    return p.future();
}

} // namespace

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
        const Error e = m_state.load() == SshConnection::State::Failed && m_readyFuture.isFinished()
                            ? m_readyFuture.result().error()
                            : closedError();
        lock.unlock();
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
        ErrorCode::Unavailable,
        QStringLiteral("The SSH connection to %1 was lost; the remote machine may have stopped or "
                       "the network failed. Retry once it is reachable.")
            .arg(describe()),
        sessionError());
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
    auto established = establish();
    if (!established) {
        qCInfo(lcSsh).noquote() << "connection to" << describe()
                                << "failed:" << established.error().toString();
        m_state = SshConnection::State::Failed;
        m_readyPromise.addResult(established.error());
        m_readyPromise.finish();
        std::deque<std::unique_ptr<Op>> pending;
        {
            QMutexLocker lock(&m_mutex);
            m_accepting = false;
            pending.swap(m_incoming);
        }
        for (auto& op : pending) {
            op->abort(established.error());
            --m_inFlight;
        }
        if (m_session) {
            ssh_disconnect(m_session);
            ssh_free(m_session);
            m_session = nullptr;
        }
        return;
    }
    ssh_set_blocking(m_session, 0);
    m_state = SshConnection::State::Ready;
    m_readyPromise.addResult(Result<void>());
    m_readyPromise.finish();
    qCDebug(lcSsh).noquote() << "connected to" << describe();

    loop();

    std::deque<std::unique_ptr<Op>> pending;
    {
        QMutexLocker lock(&m_mutex);
        m_accepting = false;
        pending.swap(m_incoming);
    }
    for (auto& op : pending)
        m_waiting.push_back(std::move(op));
    abortAll(ssh_is_connected(m_session) ? closedError() : lostError());
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
    while (!m_waiting.empty() && channelsInUse() + m_waiting.front()->channels() <= m_channelLimit) {
        m_active.push_back(std::move(m_waiting.front()));
        m_waiting.pop_front();
    }
}

void ConnectionImpl::finishOp(std::size_t index)
{
    m_active.erase(m_active.begin() + qsizetype(index));
    --m_inFlight;
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
        {
            QMutexLocker lock(&m_mutex);
            while (!m_incoming.empty()) {
                m_waiting.push_back(std::move(m_incoming.front()));
                m_incoming.pop_front();
            }
            stop = m_stop;
            drain = m_drain;
        }
        if (stop && !drain)
            return;
        admit();
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
                if (openChannels() == 0) {
                    op->abort(makeError(ErrorCode::Refused,
                                        QStringLiteral("%1 refused to open a channel.").arg(describe()),
                                        sessionError()));
                    --m_inFlight;
                    break;
                }
                // The server refused another channel (its MaxSessions): run fewer at once from now on.
                const int limit = qMax(1, openChannels());
                if (limit != m_channelLimit)
                    qCInfo(lcSsh).noquote()
                        << describe() << "refused a channel; running at most" << limit << "at once";
                m_channelLimit = limit;
                m_waiting.push_front(std::move(op));
                requeued = true;
                break;
            }
            }
        }
        // Work admitted now (including kill requests posted during the turn) gets its first turn at once.
        const std::size_t activeBefore = m_active.size();
        admit();
        const bool admitted = requeued || m_active.size() > activeBefore;
        if (!ssh_is_connected(m_session) || (ssh_get_status(m_session) & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
            abortAll(lostError());
            return;
        }
        if (drain && m_active.empty() && m_waiting.empty()) {
            QMutexLocker lock(&m_mutex);
            if (m_incoming.empty()) {
                m_accepting = false;
                return;
            }
        }
        qint64 timeout = admitted ? 0 : 1000;
        const qint64 now = steadyMs();
        for (const auto& op : m_active) {
            if (op->backlogged())
                timeout = qMin<qint64>(timeout, 5);
            if (const qint64 at = op->wakeAt(); at > 0)
                timeout = qMin(timeout, qMax<qint64>(0, at - now));
        }
        ssh_event_dopoll(m_event, int(timeout));
    }
}

Result<void> ConnectionImpl::establish()
{
    m_session = ssh_new();
    if (!m_session)
        return makeError(ErrorCode::Unavailable, QStringLiteral("libssh could not create a session."));
    const QByteArray host = m_options.host.toUtf8();
    ssh_options_set(m_session, SSH_OPTIONS_HOST, host.constData());
    if (m_options.useSshConfig) {
        const QByteArray file = QDir::cleanPath(m_options.sshConfigFile).toUtf8();
        if (ssh_options_parse_config(
                m_session, m_options.sshConfigFile.isEmpty() ? nullptr : file.constData()) != SSH_OK)
            return makeError(ErrorCode::Config,
                             QStringLiteral("Cannot read the ssh config file %1.")
                                 .arg(m_options.sshConfigFile.isEmpty() ? QStringLiteral("~/.ssh/config")
                                                                        : m_options.sshConfigFile),
                             sessionError());
    } else {
        int no = 0;
        ssh_options_set(m_session, SSH_OPTIONS_PROCESS_CONFIG, &no);
    }
    if (m_options.port > 0) {
        const unsigned int port = unsigned(m_options.port);
        ssh_options_set(m_session, SSH_OPTIONS_PORT, &port);
    }
    if (!m_options.user.isEmpty())
        ssh_options_set(m_session, SSH_OPTIONS_USER, m_options.user.toUtf8().constData());
    const long timeoutSecs = long(qMax<qint64>(1, (m_options.connectTimeout.count() + 999) / 1000));
    ssh_options_set(m_session, SSH_OPTIONS_TIMEOUT, &timeoutSecs);
    int yes = 1;
    ssh_options_set(m_session, SSH_OPTIONS_NODELAY, &yes);
    const HostKeyCheck& check = m_options.hostKeyCheck;
    if (check.mode == HostKeyCheck::Mode::Pinned) {
        ssh_options_set(m_session, SSH_OPTIONS_HOSTKEYS, kEd25519);
    } else {
        if (!check.knownHostsFile.isEmpty())
            ssh_options_set(m_session, SSH_OPTIONS_KNOWNHOSTS, check.knownHostsFile.toUtf8().constData());
        // No global file unless one is named: the check stays against the files Fluid was told to use.
        const QString global =
            check.globalKnownHostsFile.isEmpty() ? QStringLiteral("/dev/null") : check.globalKnownHostsFile;
        ssh_options_set(m_session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, global.toUtf8().constData());
    }

    {
        char* h = nullptr;
        unsigned int port = 22;
        char* user = nullptr;
        ssh_options_get(m_session, SSH_OPTIONS_HOST, &h);
        ssh_options_get_port(m_session, &port);
        ssh_options_get(m_session, SSH_OPTIONS_USER, &user);
        QMutexLocker lock(&m_mutex);
        m_describe = QString::fromUtf8(user ? user : "") + QLatin1Char('@') + QString::fromUtf8(h ? h : "") +
                     QLatin1Char(':') + QString::number(port);
        if (m_options.jump)
            m_describe += QStringLiteral(" via ") + m_options.jump->describe();
        ssh_string_free_char(h);
        ssh_string_free_char(user);
    }

    if (m_options.jump) {
        unsigned int port = 22;
        ssh_options_get_port(m_session, &port);
        char* h = nullptr;
        ssh_options_get(m_session, SSH_OPTIONS_HOST, &h);
        const QString target = QString::fromUtf8(h ? h : "");
        ssh_string_free_char(h);
        auto tunnel = m_options.jump->openTunnel(target, int(port));
        tunnel.waitForFinished();
        const Result<int> fd = tunnel.result();
        if (!fd)
            return makeError(fd.error().code,
                             QStringLiteral("Cannot reach %1:%2 through %3: %4")
                                 .arg(target)
                                 .arg(port)
                                 .arg(m_options.jump->describe(), fd.error().message),
                             fd.error().detail);
        socket_t sock = *fd;
        ssh_options_set(m_session, SSH_OPTIONS_FD, &sock);
    }

    if (ssh_connect(m_session) != SSH_OK)
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Cannot connect to %1; check that the machine is running and reachable "
                           "and that sshd listens on that port.")
                .arg(describe()),
            sessionError());
    if (auto v = verifyHostKey(); !v)
        return v;
    if (m_options.hostKeyOnly)
        return {};
    return authenticate();
}

Result<void> ConnectionImpl::verifyHostKey()
{
    ssh_key server = nullptr;
    if (ssh_get_server_publickey(m_session, &server) != SSH_OK || !server)
        return makeError(ErrorCode::Unavailable, QStringLiteral("%1 sent no host key.").arg(describe()),
                         sessionError());
    const QByteArray blob = keyBlob(server);
    const QString type = QString::fromLatin1(ssh_key_type_to_char(ssh_key_type(server)));
    ssh_key_free(server);
    const QString fingerprint = sha256Fingerprint(blob);
    if (auto key = PublicKey::fromBlob(blob)) {
        QMutexLocker lock(&m_mutex);
        m_serverKey = *key;
    }

    const HostKeyCheck& check = m_options.hostKeyCheck;
    if (check.mode == HostKeyCheck::Mode::Pinned) {
        if (check.pinnedKey.isNull() || blob != check.pinnedKey.blob())
            return makeError(
                ErrorCode::Tampered,
                QStringLiteral("Refusing %1: its host key (%2 %3) is not the key Fluid injected into "
                               "it (%4). The machine may have been replaced or the connection is "
                               "being intercepted; recreate the sandbox rather than trusting it.")
                    .arg(describe(), type, fingerprint, check.pinnedKey.fingerprint()));
        return {};
    }

    const QString file =
        check.knownHostsFile.isEmpty() ? QStringLiteral("~/.ssh/known_hosts") : check.knownHostsFile;
    switch (ssh_session_is_known_server(m_session)) {
    case SSH_KNOWN_HOSTS_OK:
        return {};
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
        return makeError(
            ErrorCode::Tampered,
            QStringLiteral("WARNING: THE HOST KEY OF %1 HAS CHANGED. It now presents %2 %3, which does "
                           "not match %4. Someone may be intercepting the connection, or the host "
                           "was reinstalled. Do not connect until a person has confirmed the new "
                           "fingerprint with the host's administrator; then replace its line in %4.")
                .arg(describe(), type, fingerprint, file));
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
        return makeError(
            ErrorCode::NotFound,
            QStringLiteral("The host key of %1 is not known (not in %2). Its fingerprint is %3 (%4). "
                           "Confirm this fingerprint with the host's administrator, then trust it.")
                .arg(describe(), file, fingerprint, type));
    case SSH_KNOWN_HOSTS_ERROR:
        break;
    }
    return makeError(ErrorCode::Io,
                     QStringLiteral("Cannot check the host key of %1 against %2.").arg(describe(), file),
                     sessionError());
}

Result<void> ConnectionImpl::authenticate()
{
    if (!m_options.identity && m_options.loginKey.isEmpty()) {
        const int rc = ssh_userauth_publickey_auto(m_session, nullptr, nullptr);
        return authenticationResult(rc, QStringLiteral("the keys from ssh-agent and the ssh config"));
    }
    ssh_key priv = nullptr;
    ssh_key offered = nullptr;
    const auto freeKeys = qScopeGuard([&] {
        ssh_key_free(offered);
        ssh_key_free(priv);
    });
    QString what;
    if (!m_options.identity) {
        // An empty, never null, passphrase: libssh would let OpenSSL prompt on a terminal for PEM keys.
        if (ssh_pki_import_privkey_base64(m_options.loginKey.constData(), "", nullptr, nullptr, &priv) !=
                SSH_OK ||
            !priv)
            return makeError(ErrorCode::Crypto, QStringLiteral("libssh could not load the login key (an "
                                                               "unencrypted private key is needed)."));
        wipe(m_options.loginKey); // libssh holds it now; this connection authenticates once
        ssh_pki_export_privkey_to_pubkey(priv, &offered);
        what = QStringLiteral("the login key %1 from Fluid's keychain").arg(keyFingerprint(offered));
    } else {
        const Identity& id = *m_options.identity;
        QByteArray pem = id.key.toOpenSshPrivateKey();
        const int imported = ssh_pki_import_privkey_base64(pem.constData(), nullptr, nullptr, nullptr, &priv);
        wipe(pem);
        if (imported != SSH_OK || !priv)
            return makeError(ErrorCode::Crypto,
                             QStringLiteral("libssh could not load the connection's key."));
        if (id.certificate) {
            const QByteArray b64 = id.certificate->blob.toBase64();
            if (ssh_pki_import_cert_base64(b64.constData(), SSH_KEYTYPE_ED25519_CERT01, &offered) != SSH_OK ||
                ssh_pki_copy_cert_to_privkey(offered, priv) != SSH_OK)
                return makeError(ErrorCode::Crypto, QStringLiteral("libssh could not load the certificate."));
            what = QStringLiteral("Fluid's certificate (key id \"%1\", principal %2, valid %3 to %4)")
                       .arg(id.certificate->keyId, id.certificate->principals.join(QLatin1Char(',')),
                            id.certificate->validAfter.toString(Qt::ISODate),
                            id.certificate->validBefore.toString(Qt::ISODate));
        } else {
            ssh_pki_export_privkey_to_pubkey(priv, &offered);
            what = QStringLiteral("the key %1").arg(id.key.publicKey().fingerprint());
        }
    }
    int rc = ssh_userauth_try_publickey(m_session, nullptr, offered);
    if (rc == SSH_AUTH_SUCCESS)
        rc = ssh_userauth_publickey(m_session, nullptr, priv);
    return authenticationResult(rc, what);
}

Result<void> ConnectionImpl::authenticationResult(int rc, const QString& what)
{
    if (rc == SSH_AUTH_SUCCESS)
        return {};
    if (rc == SSH_AUTH_ERROR)
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("Authentication with %1 failed.").arg(describe()), sessionError());
    QString hint =
        m_options.identity && m_options.identity->certificate
            ? QStringLiteral(" Check that its sshd trusts Fluid's user CA (TrustedUserCAKeys), lists the "
                             "principal for this user (AuthorizedPrincipalsFile), and that its clock "
                             "is right.")
            : QStringLiteral(" Check that the key is authorized on the host.");
    return makeError(ErrorCode::Refused, QStringLiteral("%1 refused %2.").arg(describe(), what) + hint,
                     sessionError());
}

} // namespace detail

using detail::ConnectionImpl;

SshConnection::SshConnection(ConnectionOptions options)
    : d(std::make_shared<ConnectionImpl>(std::move(options)))
{
}

std::shared_ptr<SshConnection> SshConnection::open(ConnectionOptions options)
{
    std::shared_ptr<SshConnection> c(new SshConnection(std::move(options)));
    c->d->start();
    return c;
}

SshConnection::~SshConnection()
{
    d->stop(false);
    d->join();
}

QFuture<Result<void>> SshConnection::ready() const
{
    return d->ready();
}

SshConnection::State SshConnection::state() const
{
    return d->state();
}

QString SshConnection::describe() const
{
    return d->describe();
}

PublicKey SshConnection::serverHostKey() const
{
    return d->serverKey();
}

int SshConnection::inFlight() const
{
    return d->inFlight();
}

void SshConnection::retire()
{
    d->stop(true);
}

void SshConnection::close()
{
    d->stop(false);
    d->join();
}

QFuture<Result<ExecResult>> SshConnection::exec(ExecRequest request)
{
    if (auto v = validateExecRequest(request); !v)
        return detail::readyFuture(Result<ExecResult>(v.error()));
    QPromise<Result<ExecResult>> promise;
    promise.start();
    auto future = promise.future();
    d->post(detail::makeExecOp(std::move(request), std::move(promise), d->options()));
    return future;
}

namespace {

/// Posts SFTP work whose result type is R, with the file audit record the body reports.
template <typename R>
QFuture<Result<R>> postFileOp(detail::ConnectionImpl& d, const QString& kind, const QString& path,
                              std::function<Result<R>(detail::ConnectionImpl&)> body,
                              std::function<QJsonObject(const Result<R>&)> describeResult)
{
    auto promise = std::make_shared<QPromise<Result<R>>>();
    promise->start();
    auto future = promise->future();
    const AuditContext ctx = d.options().audit;
    auto audit = [ctx, kind, path, describeResult](detail::ConnectionImpl& c, const Result<R>& r) {
        AuditRecord rec;
        rec.event.actor = ctx.actor;
        rec.event.kind = kind;
        rec.event.sandboxId = ctx.sandboxId;
        rec.event.sessionId = ctx.sessionId;
        rec.event.summary = path;
        QJsonObject data = describeResult(r);
        data[QStringLiteral("path")] = path;
        data[QStringLiteral("target")] = ctx.target;
        data[QStringLiteral("ok")] = r.ok();
        if (!r.ok())
            data[QStringLiteral("error")] = r.error().message;
        rec.event.data = data;
        c.emitAudit(rec);
    };
    d.post(detail::makeSftpOp(
        [promise, body, audit](detail::ConnectionImpl& c) {
            const qint64 start = detail::steadyMs();
            Result<R> r = body(c);
            qCDebug(lcSsh) << "sftp op took" << detail::steadyMs() - start << "ms";
            audit(c, r);
            promise->addResult(std::move(r));
            promise->finish();
        },
        [promise](const Error& e) {
            promise->addResult(Result<R>(e));
            promise->finish();
        }));
    return future;
}

} // namespace

QFuture<Result<QByteArray>> SshConnection::readFile(const QString& path, qint64 maxBytes)
{
    auto p = validateRemotePath(path);
    if (!p)
        return detail::readyFuture(Result<QByteArray>(p.error()));
    const QString clean = *p;
    return postFileOp<QByteArray>(
        *d, QStringLiteral("file.read"), clean,
        [clean, maxBytes](detail::ConnectionImpl& c) { return detail::sftpReadFile(c, clean, maxBytes); },
        [](const Result<QByteArray>& r) {
            QJsonObject o;
            o[QStringLiteral("bytes")] = r.ok() ? qint64(r->size()) : 0;
            return o;
        });
}

QFuture<Result<void>> SshConnection::writeFile(const QString& path, const QByteArray& content,
                                               const WriteOptions& options)
{
    auto p = validateRemotePath(path);
    if (!p)
        return detail::readyFuture(Result<void>(p.error()));
    const QString clean = *p;
    const qint64 size = content.size();
    return postFileOp<void>(
        *d, QStringLiteral("file.write"), clean,
        [clean, content, options](detail::ConnectionImpl& c) {
            return detail::sftpWriteFile(c, clean, content, options);
        },
        [size](const Result<void>&) {
            QJsonObject o;
            o[QStringLiteral("bytes")] = size;
            return o;
        });
}

QFuture<Result<EditResult>> SshConnection::editFile(const QString& path, const QByteArray& oldText,
                                                    const QByteArray& newText)
{
    auto p = validateRemotePath(path);
    if (!p)
        return detail::readyFuture(Result<EditResult>(p.error()));
    const QString clean = *p;
    return postFileOp<EditResult>(
        *d, QStringLiteral("file.edit"), clean,
        [clean, oldText, newText](detail::ConnectionImpl& c) {
            return detail::sftpEditFile(c, clean, oldText, newText);
        },
        [oldText, newText](const Result<EditResult>& r) {
            QJsonObject o;
            o[QStringLiteral("old_text")] = QString::fromUtf8(oldText.left(2048));
            o[QStringLiteral("new_text")] = QString::fromUtf8(newText.left(2048));
            if (r.ok()) {
                o[QStringLiteral("line")] = r->line;
                o[QStringLiteral("old_size")] = r->oldSize;
                o[QStringLiteral("new_size")] = r->newSize;
            }
            return o;
        });
}

std::unique_ptr<PtySession> SshConnection::openPty(const PtyOptions& options)
{
    auto shared = std::make_shared<detail::PtyShared>();
    shared->waker = d->waker();
    auto session = std::make_unique<PtySession>(shared);
    d->post(detail::makePtyOp(options, shared, d->options()));
    return session;
}

QFuture<Result<int>> SshConnection::openTunnel(const QString& host, int port)
{
    QPromise<Result<int>> promise;
    promise.start();
    auto future = promise.future();
    d->post(
        detail::makeTunnelOp(host.toUtf8(), port, std::move(promise), d->options().connectTimeout.count()));
    return future;
}

Result<PublicKey> SshConnection::fetchHostKey(const QString& host, int port,
                                              std::chrono::milliseconds timeout)
{
    detail::initLibssh();
    ssh_session s = ssh_new();
    if (!s)
        return makeError(ErrorCode::Unavailable, QStringLiteral("libssh could not create a session."));
    int no = 0;
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    ssh_options_set(s, SSH_OPTIONS_HOST, host.toUtf8().constData());
    const unsigned int p = unsigned(port > 0 ? port : 22);
    ssh_options_set(s, SSH_OPTIONS_PORT, &p);
    const long secs = long(qMax<qint64>(1, (timeout.count() + 999) / 1000));
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &secs);
    ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, kEd25519);
    Result<PublicKey> out = makeError(ErrorCode::Unavailable, QStringLiteral("No host key."));
    if (ssh_connect(s) != SSH_OK) {
        out = makeError(ErrorCode::Unavailable, QStringLiteral("Cannot connect to %1:%2.").arg(host).arg(p),
                        QString::fromUtf8(ssh_get_error(s)));
    } else {
        ssh_key key = nullptr;
        if (ssh_get_server_publickey(s, &key) == SSH_OK && key) {
            out = PublicKey::fromBlob(detail::keyBlob(key));
            ssh_key_free(key);
        }
        ssh_disconnect(s);
    }
    ssh_free(s);
    return out;
}

Result<PublicKey> SshConnection::checkHostKey(ConnectionOptions options)
{
    options.hostKeyOnly = true;
    options.identity.reset();
    auto connection = open(std::move(options));
    auto ready = connection->ready();
    ready.waitForFinished();
    if (const Result<void> r = ready.result(); !r)
        return r.error();
    return connection->serverHostKey();
}

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

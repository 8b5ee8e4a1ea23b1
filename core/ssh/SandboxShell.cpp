// SPDX-License-Identifier: Apache-2.0
#include "SandboxShell.h"

#include "base/Logging.h"

#include <QPromise>

namespace fluid::ssh {
namespace {

template <typename T>
QFuture<Result<T>> failedFuture(const Error& e)
{
    QPromise<Result<T>> p;
    p.start();
    p.addResult(Result<T>(e));
    p.finish();
    return p.future();
}

bool gone(const std::shared_ptr<SshConnection>& c)
{
    const auto s = c->state();
    return s == SshConnection::State::Failed || s == SshConnection::State::Closed;
}

} // namespace

SandboxShell::SandboxShell(std::shared_ptr<const CertificateAuthority> ca, SandboxEndpoint endpoint,
                           SandboxShellOptions options)
    : m_ca(std::move(ca))
    , m_endpoint(std::move(endpoint))
    , m_options(std::move(options))
{
}

SandboxShell::~SandboxShell() = default;

Result<SandboxShell::Slot> SandboxShell::startConnection()
{
    auto key = KeyPair::generate(QStringLiteral("fluid-") + m_endpoint.sandboxName);
    if (!key)
        return key.error();
    UserCertificateRequest req;
    req.key = key->publicKey();
    req.sandboxName = m_endpoint.sandboxName;
    req.principal = m_endpoint.principal;
    req.sessionId = m_options.sessionId;
    req.validity = m_options.certificateValidity;
    req.sourceAddresses = m_options.sourceAddresses;
    auto cert = m_ca->issueUserCertificate(req);
    if (!cert)
        return cert.error();

    ConnectionOptions o;
    o.host = m_endpoint.host;
    o.port = m_endpoint.port;
    o.user = m_endpoint.user;
    o.hostKeyCheck = HostKeyCheck::pinned(m_endpoint.hostKey);
    o.identity = Identity{*key, *cert};
    o.jump = m_endpoint.jump;
    o.connectTimeout = m_options.connectTimeout;
    o.maxChannels = m_options.maxChannels;
    o.killGrace = m_options.killGrace;
    o.keepaliveInterval = m_options.keepaliveInterval;
    o.keepaliveMisses = m_options.keepaliveMisses;
    o.audit.actor = m_options.actor;
    o.audit.sandboxId = m_endpoint.sandboxId;
    o.audit.sessionId = m_options.sessionId;
    o.audit.target = QStringLiteral("%1@%2 (%3:%4)")
                         .arg(m_endpoint.user, m_endpoint.sandboxName, m_endpoint.host)
                         .arg(m_endpoint.port);
    o.auditSink = m_options.auditSink;
    o.auditGate = m_options.auditGate;
    o.clock = m_ca->clock();

    Slot slot;
    slot.certificate = *cert;
    const qint64 issued = cert->validAfter.toSecsSinceEpoch() + CertificateAuthority::kBackdate.count();
    const qint64 validity = cert->validBefore.toSecsSinceEpoch() - issued;
    slot.renewAt = QDateTime::fromSecsSinceEpoch(issued + validity * 2 / 3, Qt::UTC);
    slot.expiresAt = cert->validBefore;
    slot.connection = SshConnection::open(std::move(o));
    ++m_started;
    qCDebug(lcSsh).noquote() << "sandbox" << m_endpoint.sandboxName << "connection" << m_started
                             << "certificate serial" << cert->serial << "valid until"
                             << cert->validBefore.toString(Qt::ISODate);
    return slot;
}

void SandboxShell::retire(Slot slot)
{
    slot.connection->retire();
    m_retired.push_back(std::move(slot.connection));
}

Result<std::shared_ptr<SshConnection>> SandboxShell::connectionForWork()
{
    QMutexLocker lock(&m_mutex);
    if (m_closed)
        return makeError(ErrorCode::Cancelled,
                         QStringLiteral("The shell on sandbox %1 was closed; open a new one.")
                             .arg(m_endpoint.sandboxName));
    m_retired.remove_if([](const std::shared_ptr<SshConnection>& c) { return gone(c); });
    const QDateTime now = m_ca->clock().now();

    if (m_current && gone(m_current->connection))
        m_current.reset();
    if (m_next && gone(m_next->connection)) {
        qCWarning(lcSsh).noquote() << "renewing the connection to sandbox" << m_endpoint.sandboxName
                                   << "failed";
        m_next.reset();
    }
    if (m_next && m_next->connection->state() == SshConnection::State::Ready) {
        if (m_current)
            retire(std::move(*m_current));
        m_current = std::move(m_next);
        m_next.reset();
    }
    if (m_current && now >= m_current->expiresAt) {
        // Its certificate has expired: finish what runs there, start nothing new on it.
        retire(std::move(*m_current));
        m_current.reset();
    }
    if (!m_current) {
        if (m_next) {
            m_current = std::move(m_next);
            m_next.reset();
        } else {
            auto slot = startConnection();
            if (!slot)
                return slot.error();
            m_current = std::move(*slot);
        }
    } else if (now >= m_current->renewAt && !m_next) {
        auto slot = startConnection();
        if (slot)
            m_next = std::move(*slot);
        else
            qCWarning(lcSsh).noquote() << "cannot renew the certificate for" << m_endpoint.sandboxName << ":"
                                       << slot.error().toString();
    }
    return m_current->connection;
}

QFuture<Result<void>> SandboxShell::connect()
{
    auto c = connectionForWork();
    if (!c)
        return failedFuture<void>(c.error());
    return (*c)->ready();
}

QFuture<Result<ExecResult>> SandboxShell::exec(ExecRequest request)
{
    auto c = connectionForWork();
    if (!c)
        return failedFuture<ExecResult>(c.error());
    return (*c)->exec(std::move(request));
}

QFuture<Result<QByteArray>> SandboxShell::readFile(const QString& path, qint64 maxBytes)
{
    auto c = connectionForWork();
    if (!c)
        return failedFuture<QByteArray>(c.error());
    return (*c)->readFile(path, maxBytes);
}

QFuture<Result<void>> SandboxShell::writeFile(const QString& path, const QByteArray& content,
                                              const WriteOptions& options)
{
    auto c = connectionForWork();
    if (!c)
        return failedFuture<void>(c.error());
    return (*c)->writeFile(path, content, options);
}

QFuture<Result<EditResult>> SandboxShell::editFile(const QString& path, const QByteArray& oldText,
                                                   const QByteArray& newText)
{
    auto c = connectionForWork();
    if (!c)
        return failedFuture<EditResult>(c.error());
    return (*c)->editFile(path, oldText, newText);
}

std::unique_ptr<PtySession> SandboxShell::openPty(const PtyOptions& options)
{
    auto c = connectionForWork();
    if (c)
        return (*c)->openPty(options);
    return PtySession::openFailed(c.error().message);
}

void SandboxShell::close()
{
    std::list<std::shared_ptr<SshConnection>> connections;
    {
        QMutexLocker lock(&m_mutex);
        m_closed = true;
        if (m_current)
            connections.push_back(std::move(m_current->connection));
        if (m_next)
            connections.push_back(std::move(m_next->connection));
        m_current.reset();
        m_next.reset();
        connections.splice(connections.end(), m_retired);
    }
    for (const auto& c : connections)
        c->close();
}

int SandboxShell::connectionsStarted() const
{
    QMutexLocker lock(&m_mutex);
    return m_started;
}

std::optional<Certificate> SandboxShell::currentCertificate() const
{
    QMutexLocker lock(&m_mutex);
    if (!m_current)
        return std::nullopt;
    return m_current->certificate;
}

} // namespace fluid::ssh

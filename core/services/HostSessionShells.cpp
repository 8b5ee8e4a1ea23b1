// SPDX-License-Identifier: Apache-2.0
// HostSession's shells: root on a running sandbox over SSH with a certificate from Fluid's CA, through the
// host for a remote one, audited.
#include "HostSession.h"

#include "inspect/SnapshotInspector.h"
#include "ssh/SshConnection.h"
#include "store/Repository.h"

#include <QMetaObject>
#include <QPointer>

namespace fluid::services {

Result<ssh::SandboxEndpoint> HostSession::sandboxEndpoint(const model::Sandbox& sandbox)
{
    if (sandbox.state != model::SandboxState::Running)
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Sandbox %1 is %2, not running: start it, then open the terminal again.")
                .arg(sandbox.name, model::enumName(sandbox.state)));
    if (sandbox.ip.isEmpty())
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Sandbox %1 has no IP address yet: wait until it has finished booting "
                           "(the hosts dock shows its address), then try again.")
                .arg(sandbox.name));
    auto key = ssh::PublicKey::fromOpenSshLine(sandbox.hostPublicKey);
    if (!key)
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Sandbox %1 has no SSH host key Fluid injected, so its identity cannot be "
                           "verified; recreate the sandbox to get a terminal on it.")
                .arg(sandbox.name),
            key.error().message);
    ssh::SandboxEndpoint endpoint;
    endpoint.sandboxId = sandbox.id;
    endpoint.sandboxName = sandbox.name;
    endpoint.principal = model::principalOf(sandbox);
    endpoint.host = sandbox.ip;
    endpoint.hostKey = *key;
    return endpoint;
}

Result<std::shared_ptr<ssh::SshConnection>> HostSession::jumpConnection()
{
    QMutexLocker lock(&m_jumpMutex);
    if (m_jump && m_jump->state() == ssh::SshConnection::State::Ready)
        return m_jump;
    auto shell = m_setup.connectHost(m_setup.host.uri);
    if (!shell)
        return makeError(shell.error().code,
                         QStringLiteral("Cannot reach %1's sandbox network through the host: %2")
                             .arg(m_setup.host.name, shell.error().message),
                         shell.error().detail);
    auto connection = std::dynamic_pointer_cast<ssh::SshConnection>(*shell);
    if (!connection)
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The connection to %1 cannot forward to its sandboxes").arg(m_setup.host.name));
    m_jump = connection;
    return m_jump;
}

Result<std::shared_ptr<const ssh::CertificateAuthority>> HostSession::certificateAuthority()
{
    {
        QMutexLocker lock(&m_mutex);
        if (m_ca)
            return m_ca;
    }
    if (!m_setup.loadCa)
        return makeError(ErrorCode::Config,
                         QStringLiteral("No SSH certificate authority is configured for %1, so "
                                        "Fluid cannot log in to its sandboxes.")
                             .arg(m_setup.host.name));
    auto loaded = m_setup.loadCa();
    if (!loaded)
        return makeError(loaded.error().code,
                         QStringLiteral("Fluid's SSH certificate authority could not be loaded: %1")
                             .arg(loaded.error().message),
                         loaded.error().detail);
    QMutexLocker lock(&m_mutex);
    m_ca = *loaded;
    return m_ca;
}

void HostSession::openShell(const QString& sandboxId, const model::Actor& actor, QObject* context,
                            ShellCallback done)
{
    using ShellResult = Result<std::shared_ptr<ssh::RemoteShell>>;
    const QPointer<QObject> guard(context);
    // Always answered later on this thread, so the caller sees one behaviour whatever happens.
    auto answer = [this, guard, done](ShellResult r) {
        QMetaObject::invokeMethod(
            this,
            [guard, done, r = std::move(r)]() {
                if (guard)
                    done(r);
            },
            Qt::QueuedConnection);
    };
    if (m_closeRequested) {
        answer(closedError());
        return;
    }
    if (!isOpen()) {
        answer(makeError(
            ErrorCode::Unavailable,
            QStringLiteral("%1 is not connected yet; try again once it is.").arg(m_setup.host.name)));
        return;
    }
    onWorker([this, sandboxId, actor, answer](virt::SandboxManager&, store::Database& db) {
        auto row = store::SandboxRepository(db).get(sandboxId);
        if (!row) {
            answer(row.error());
            return;
        }
        auto endpoint = m_setup.shellEndpoint ? m_setup.shellEndpoint(*row) : sandboxEndpoint(*row);
        if (!endpoint) {
            answer(endpoint.error());
            return;
        }
        // A remote host's sandbox network is only reachable from that host: through it (ProxyJump).
        if (!inspect::isLocalHostUri(m_setup.host.uri)) {
            auto jump = jumpConnection();
            if (!jump) {
                answer(jump.error());
                return;
            }
            endpoint->jump = *jump;
        }
        auto ca = certificateAuthority();
        if (!ca) {
            answer(ca.error());
            return;
        }
        ssh::SandboxShellOptions options;
        options.actor = actor;
        options.auditSink = m_audit.sink();
        options.auditGate = m_audit.gate();
        {
            QMutexLocker lock(&m_mutex);
            options.certificateValidity = m_setup.certificateValidity;
        }
        // Fluid reaches a sandbox from the host's side of its bridge (locally, or through the remote host):
        // the certificate works from the gateway address only. (A custom endpoint is somewhere else.)
        if (!m_setup.shellEndpoint)
            options.sourceAddresses = {m_setup.manager.network.gatewayAddress};
        // The last owner may be the GUI thread: closing joins the connection's thread, so it happens on a
        // worker.
        std::shared_ptr<ssh::SandboxShell> shell(
            new ssh::SandboxShell(*ca, *endpoint, options),
            [](ssh::SandboxShell* s) { QThreadPool::globalInstance()->start([s]() { delete s; }); });
        {
            QMutexLocker lock(&m_mutex);
            m_shells.removeIf([](const std::weak_ptr<ssh::SandboxShell>& s) { return s.expired(); });
            m_shells.append(shell);
        }
        auto connected = shell->connect();
        connected.waitForFinished();
        const Result<void> r = connected.result();
        if (!r) {
            answer(makeError(r.error().code,
                             QStringLiteral("Could not open a shell on sandbox %1 (%2): %3")
                                 .arg(row->name, endpoint->host, r.error().message),
                             r.error().detail));
            return;
        }
        answer(std::shared_ptr<ssh::RemoteShell>(shell));
    });
}

} // namespace fluid::services

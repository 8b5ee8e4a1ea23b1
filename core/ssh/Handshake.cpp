// SPDX-License-Identifier: Apache-2.0
// The handshake on the connection's thread: session options, the jump tunnel, the host key check (pinned for
// sandboxes, known_hosts for hypervisor hosts) and public key authentication; and the one-shot host key
// fetch and check that run the same steps without a connection to keep.

#include "base/Logging.h"
#include "ConnectionInternals.h"

#include <QDir>
#include <QScopeGuard>

namespace fluid::ssh {
namespace detail {
namespace {

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

} // namespace

Result<void> ConnectionImpl::establish()
{
    m_session = ssh_new();
    if (!m_session)
        return makeError(ErrorCode::Unavailable, QStringLiteral("libssh could not create a session."));
    if (auto configured = configure(); !configured)
        return configured;
    describeResolvedTarget();
    if (auto tunnel = connectThroughJump(); !tunnel)
        return tunnel;
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

Result<void> ConnectionImpl::configure()
{
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
    return {};
}

void ConnectionImpl::describeResolvedTarget()
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

Result<void> ConnectionImpl::connectThroughJump()
{
    if (!m_options.jump)
        return {};
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
    return {};
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
    const Result<QString> what =
        m_options.identity ? loadIdentity(&priv, &offered) : loadLoginKey(&priv, &offered);
    if (!what)
        return what.error();
    int rc = ssh_userauth_try_publickey(m_session, nullptr, offered);
    if (rc == SSH_AUTH_SUCCESS)
        rc = ssh_userauth_publickey(m_session, nullptr, priv);
    return authenticationResult(rc, *what);
}

Result<QString> ConnectionImpl::loadLoginKey(ssh_key* priv, ssh_key* offered)
{
    // An empty, never null, passphrase: libssh would let OpenSSL prompt on a terminal for PEM keys.
    if (ssh_pki_import_privkey_base64(m_options.loginKey.constData(), "", nullptr, nullptr, priv) != SSH_OK ||
        !*priv)
        return makeError(ErrorCode::Crypto, QStringLiteral("libssh could not load the login key (an "
                                                           "unencrypted private key is needed)."));
    wipe(m_options.loginKey); // libssh holds it now; this connection authenticates once
    ssh_pki_export_privkey_to_pubkey(*priv, offered);
    return QStringLiteral("the login key %1 from Fluid's keychain").arg(keyFingerprint(*offered));
}

Result<QString> ConnectionImpl::loadIdentity(ssh_key* priv, ssh_key* offered)
{
    const Identity& id = *m_options.identity;
    QByteArray pem = id.key.toOpenSshPrivateKey();
    const int imported = ssh_pki_import_privkey_base64(pem.constData(), nullptr, nullptr, nullptr, priv);
    wipe(pem);
    if (imported != SSH_OK || !*priv)
        return makeError(ErrorCode::Crypto, QStringLiteral("libssh could not load the connection's key."));
    if (!id.certificate) {
        ssh_pki_export_privkey_to_pubkey(*priv, offered);
        return QStringLiteral("the key %1").arg(id.key.publicKey().fingerprint());
    }
    const QByteArray b64 = id.certificate->blob.toBase64();
    if (ssh_pki_import_cert_base64(b64.constData(), SSH_KEYTYPE_ED25519_CERT01, offered) != SSH_OK ||
        ssh_pki_copy_cert_to_privkey(*offered, *priv) != SSH_OK)
        return makeError(ErrorCode::Crypto, QStringLiteral("libssh could not load the certificate."));
    return QStringLiteral("Fluid's certificate (key id \"%1\", principal %2, valid %3 to %4)")
        .arg(id.certificate->keyId, id.certificate->principals.join(QLatin1Char(',')),
             id.certificate->validAfter.toString(Qt::ISODate),
             id.certificate->validBefore.toString(Qt::ISODate));
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

} // namespace fluid::ssh

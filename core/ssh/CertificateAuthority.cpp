// SPDX-License-Identifier: Apache-2.0
#include "CertificateAuthority.h"

#include "base/Logging.h"
#include "secrets/SecretStore.h"
#include "SshWire.h"

#include <QHostAddress>
#include <QRegularExpression>

#include <openssl/rand.h>

namespace fluid::ssh {
namespace {

Result<void> checkName(const QString& what, const QString& value)
{
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9._@:+-]{1,255}$"));
    if (!re.match(value).hasMatch())
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The %1 \"%2\" is not usable in a certificate: use 1-255 letters, digits "
                           "and . _ @ : + - only.")
                .arg(what, value.left(80)));
    return {};
}

Result<QByteArray> randomBytes(int n)
{
    QByteArray out(n, Qt::Uninitialized);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), n) != 1)
        return makeError(ErrorCode::Crypto, QStringLiteral("The system's random number generator failed."));
    return out;
}

Result<KeyPair> loadOrCreateKey(secrets::SecretStore& store, const QString& key, const QString& comment)
{
    auto stored = store.read(key);
    if (stored) {
        auto pair = KeyPair::fromOpenSshPrivateKey(*stored);
        if (!pair)
            return makeError(
                ErrorCode::Crypto,
                QStringLiteral("The SSH CA key \"%1\" in the secret store is unreadable; restore it "
                               "from a backup or remove it so Fluid creates a new CA (sandboxes "
                               "and known_hosts files trusting the old one must then be updated).")
                    .arg(key),
                pair.error().message);
        return pair;
    }
    if (stored.error().code != ErrorCode::NotFound)
        return stored.error();
    auto pair = KeyPair::generate(comment);
    if (!pair)
        return pair.error();
    if (auto w = store.write(key, pair->toOpenSshPrivateKey()); !w)
        return w.error();
    qCInfo(lcSsh) << "created SSH CA" << key << pair->publicKey().fingerprint();
    return pair;
}

} // namespace

CertificateAuthority::CertificateAuthority(KeyPair userCa, KeyPair hostCa, const Clock& clock)
    : m_userCa(std::move(userCa))
    , m_hostCa(std::move(hostCa))
    , m_clock(clock)
{
}

Result<std::shared_ptr<CertificateAuthority>> CertificateAuthority::loadOrCreate(secrets::SecretStore& store,
                                                                                 const Clock& clock)
{
    auto user = loadOrCreateKey(store, QString::fromLatin1(secrets::keys::kSshUserCa),
                                QStringLiteral("fluid-user-ca"));
    if (!user)
        return user.error();
    auto host = loadOrCreateKey(store, QString::fromLatin1(secrets::keys::kSshHostCa),
                                QStringLiteral("fluid-host-ca"));
    if (!host)
        return host.error();
    return std::make_shared<CertificateAuthority>(std::move(user).value(), std::move(host).value(), clock);
}

QString CertificateAuthority::userCaOpenSshLine() const
{
    return m_userCa.publicKey().toOpenSshLine(QStringLiteral("fluid-user-ca"));
}

QString CertificateAuthority::hostCaKnownHostsLine(const QString& hostPattern) const
{
    return QStringLiteral("@cert-authority ") + hostPattern + QLatin1Char(' ') +
           m_hostCa.publicKey().toOpenSshLine(QStringLiteral("fluid-host-ca"));
}

Result<Certificate> CertificateAuthority::issue(Certificate cert, std::chrono::seconds validity,
                                                const KeyPair& ca) const
{
    if (cert.key.isNull())
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("No public key to certify."));
    auto nonce = randomBytes(32);
    auto serial = randomBytes(8);
    if (!nonce || !serial)
        return nonce ? serial.error() : nonce.error();
    cert.nonce = *nonce;
    cert.serial = 0;
    for (char b : *serial)
        cert.serial = (cert.serial << 8) | quint8(b);
    const QDateTime now = m_clock.now().toUTC();
    const qint64 nowSecs = now.toSecsSinceEpoch();
    cert.validAfter = QDateTime::fromSecsSinceEpoch(nowSecs - kBackdate.count(), Qt::UTC);
    cert.validBefore = QDateTime::fromSecsSinceEpoch(nowSecs + validity.count(), Qt::UTC);
    if (auto s = cert.signWith(ca); !s)
        return s.error();
    return cert;
}

Result<Certificate> CertificateAuthority::issueUserCertificate(const UserCertificateRequest& request) const
{
    if (request.validity < kMinUserValidity || request.validity > kMaxUserValidity)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("A sandbox certificate must be valid for %1 to %2 seconds, not %3.")
                             .arg(kMinUserValidity.count())
                             .arg(kMaxUserValidity.count())
                             .arg(request.validity.count()));
    const QString principal = request.principal.isEmpty() ? request.sandboxName : request.principal;
    if (auto r = checkName(QStringLiteral("sandbox name"), request.sandboxName); !r)
        return r.error();
    if (auto r = checkName(QStringLiteral("principal"), principal); !r)
        return r.error();
    if (!request.sessionId.isEmpty())
        if (auto r = checkName(QStringLiteral("session id"), request.sessionId); !r)
            return r.error();

    Certificate cert;
    cert.type = CertificateType::User;
    cert.key = request.key;
    cert.keyId =
        QStringLiteral("fluid sandbox=%1 session=%2")
            .arg(request.sandboxName, request.sessionId.isEmpty() ? QStringLiteral("-") : request.sessionId);
    cert.principals = {principal};
    if (!request.sourceAddresses.isEmpty()) {
        for (const QString& a : request.sourceAddresses) {
            const auto subnet = QHostAddress::parseSubnet(a);
            if (subnet.first.isNull() && QHostAddress(a).isNull())
                return makeError(ErrorCode::InvalidArgument,
                                 QStringLiteral("\"%1\" is not an address or CIDR block for source-address.")
                                     .arg(a.left(80)));
        }
        cert.criticalOptions.insert(QStringLiteral("source-address"),
                                    wireString(request.sourceAddresses.join(QLatin1Char(',')).toUtf8()));
    }
    cert.extensions.insert(QStringLiteral("permit-pty"), QByteArray());
    return issue(std::move(cert), request.validity, m_userCa);
}

Result<Certificate> CertificateAuthority::issueHostCertificate(const HostCertificateRequest& request) const
{
    if (request.validity.count() <= 0)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("A host certificate needs a positive validity."));
    if (auto r = checkName(QStringLiteral("sandbox name"), request.sandboxName); !r)
        return r.error();
    const QString principal = request.principal.isEmpty() ? request.sandboxName : request.principal;
    if (auto r = checkName(QStringLiteral("host principal"), principal); !r)
        return r.error();
    for (const QString& p : request.extraPrincipals)
        if (auto r = checkName(QStringLiteral("host principal"), p); !r)
            return r.error();
    Certificate cert;
    cert.type = CertificateType::Host;
    cert.key = request.key;
    cert.keyId = QStringLiteral("fluid sandbox-host=%1").arg(request.sandboxName);
    cert.principals = QStringList{principal} + request.extraPrincipals;
    return issue(std::move(cert), request.validity, m_hostCa);
}

} // namespace fluid::ssh

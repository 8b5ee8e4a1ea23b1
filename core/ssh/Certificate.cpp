// SPDX-License-Identifier: Apache-2.0
#include "Certificate.h"

#include "SshWire.h"

namespace fluid::ssh {
namespace {

Error formatError(const QString& why)
{
    return makeError(ErrorCode::InvalidArgument, QStringLiteral("The certificate is malformed: %1").arg(why));
}

QByteArray encodeOptions(const QMap<QString, QByteArray>& options)
{
    // QMap iterates in key order, which PROTOCOL.certkeys requires (lexical, names are ASCII).
    WireWriter w;
    for (auto it = options.cbegin(); it != options.cend(); ++it) {
        w.string(it.key().toUtf8());
        w.string(it.value());
    }
    return w.take();
}

std::optional<QMap<QString, QByteArray>> decodeOptions(const QByteArray& packed)
{
    WireReader r(packed);
    QMap<QString, QByteArray> out;
    while (!r.atEnd()) {
        const auto name = r.string();
        const auto data = r.string();
        if (!name || !data)
            return std::nullopt;
        out.insert(QString::fromUtf8(*name), *data);
    }
    return out;
}

quint64 toEpoch(const QDateTime& t)
{
    return t.isValid() ? quint64(qMax<qint64>(0, t.toSecsSinceEpoch())) : 0;
}

QDateTime fromEpoch(quint64 secs)
{
    // OpenSSH writes 0xffffffffffffffff for "forever"; clamp to something QDateTime can hold.
    constexpr quint64 kMax = 253402300799ULL; // 9999-12-31T23:59:59Z
    return QDateTime::fromSecsSinceEpoch(qint64(qMin(secs, kMax)), Qt::UTC);
}

} // namespace

QByteArray Certificate::toBeSigned() const
{
    WireWriter w;
    w.string(kEd25519Cert);
    w.string(nonce);
    w.string(key.raw());
    w.u64(serial);
    w.u32(quint32(type));
    w.string(keyId.toUtf8());
    WireWriter principalsList;
    for (const QString& p : principals)
        principalsList.string(p.toUtf8());
    w.string(principalsList.data());
    w.u64(toEpoch(validAfter));
    w.u64(toEpoch(validBefore));
    w.string(encodeOptions(criticalOptions));
    w.string(encodeOptions(extensions));
    w.string({}); // reserved
    w.string(signatureKey.blob());
    return w.take();
}

Result<void> Certificate::signWith(const KeyPair& ca)
{
    signatureKey = ca.publicKey();
    const QByteArray tbs = toBeSigned();
    auto sig = ca.sign(tbs);
    if (!sig)
        return sig.error();
    signature = *sig;
    WireWriter w;
    w.raw(tbs);
    w.string(signature);
    blob = w.take();
    return {};
}

Result<Certificate> Certificate::parse(const QByteArray& data)
{
    WireReader r(data);
    Certificate c;
    const auto type = r.string();
    if (!type)
        return formatError(QStringLiteral("too short"));
    if (*type != kEd25519Cert)
        return formatError(QStringLiteral("type %1 is not %2")
                               .arg(QString::fromLatin1(type->left(64)), QLatin1String(kEd25519Cert)));
    const auto nonce = r.string();
    const auto pk = r.string();
    const auto serial = r.u64();
    const auto certType = r.u32();
    const auto keyId = r.string();
    const auto principals = r.string();
    const auto after = r.u64();
    const auto before = r.u64();
    const auto critical = r.string();
    const auto extensions = r.string();
    const auto reserved = r.string();
    const auto sigKey = r.string();
    const auto signature = r.string();
    if (!signature || !r.atEnd())
        return formatError(QStringLiteral("truncated or trailing data"));
    if (*certType != quint32(CertificateType::User) && *certType != quint32(CertificateType::Host))
        return formatError(QStringLiteral("unknown certificate type %1").arg(*certType));
    auto key = PublicKey::fromRaw(*pk);
    auto caKey = PublicKey::fromBlob(*sigKey);
    if (!key || !caKey)
        return formatError(QStringLiteral("the certified key or the CA key is not Ed25519"));
    const auto principalList = readStringList(*principals);
    const auto criticalMap = decodeOptions(*critical);
    const auto extensionMap = decodeOptions(*extensions);
    if (!principalList || !criticalMap || !extensionMap)
        return formatError(QStringLiteral("bad principals, critical options or extensions"));
    Q_UNUSED(reserved)
    c.type = CertificateType(*certType);
    c.nonce = *nonce;
    c.key = *key;
    c.serial = *serial;
    c.keyId = QString::fromUtf8(*keyId);
    for (const QByteArray& p : *principalList)
        c.principals.append(QString::fromUtf8(p));
    c.validAfter = fromEpoch(*after);
    c.validBefore = fromEpoch(*before);
    c.criticalOptions = *criticalMap;
    c.extensions = *extensionMap;
    c.signatureKey = *caKey;
    c.signature = *signature;
    c.blob = data;
    return c;
}

Result<Certificate> Certificate::fromOpenSshLine(const QString& line)
{
    const QStringList parts = line.trimmed().split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (parts.size() < 2 || parts[0] != QLatin1String(kEd25519Cert))
        return formatError(
            QStringLiteral("expected \"%1 <base64> [comment]\"").arg(QLatin1String(kEd25519Cert)));
    const auto decoded =
        QByteArray::fromBase64Encoding(parts[1].toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return formatError(QStringLiteral("bad base64"));
    return parse(decoded.decoded);
}

QString Certificate::toOpenSshLine(const QString& comment) const
{
    QString line = QLatin1String(kEd25519Cert) + QLatin1Char(' ') + QString::fromLatin1(blob.toBase64());
    if (!comment.isEmpty())
        line += QLatin1Char(' ') + comment;
    return line;
}

Result<void> Certificate::verifySignature() const
{
    const QByteArray tbs = toBeSigned();
    // The blob must be exactly what the signature covers plus the signature, or a re-encoding could hide
    // a difference between what was signed and what is sent.
    if (!blob.startsWith(tbs) || blob.size() != tbs.size() + 4 + signature.size())
        return makeError(ErrorCode::Tampered,
                         QStringLiteral("The certificate's encoding does not match its fields."));
    if (!signatureKey.verify(tbs, signature))
        return makeError(ErrorCode::Tampered,
                         QStringLiteral("The certificate's signature does not verify under its CA key %1.")
                             .arg(signatureKey.fingerprint()));
    return {};
}

Result<void> Certificate::check(const PublicKey& ca, CertificateType expectedType, const QString& principal,
                                const QDateTime& at) const
{
    if (signatureKey != ca)
        return makeError(ErrorCode::Refused,
                         QStringLiteral("The certificate is signed by %1, not by the expected CA %2.")
                             .arg(signatureKey.fingerprint(), ca.fingerprint()));
    if (auto sig = verifySignature(); !sig)
        return sig;
    if (type != expectedType)
        return makeError(
            ErrorCode::Refused,
            QStringLiteral("The certificate is a %1 certificate, not a %2 one.")
                .arg(type == CertificateType::User ? QStringLiteral("user") : QStringLiteral("host"),
                     expectedType == CertificateType::User ? QStringLiteral("user")
                                                           : QStringLiteral("host")));
    if (!principals.contains(principal))
        return makeError(ErrorCode::Refused, QStringLiteral("The certificate does not list principal \"%1\" "
                                                            "(it lists: %2).")
                                                 .arg(principal, principals.join(QStringLiteral(", "))));
    if (at < validAfter || at >= validBefore)
        return makeError(ErrorCode::Refused,
                         QStringLiteral("The certificate is valid from %1 to %2, not at %3.")
                             .arg(validAfter.toString(Qt::ISODate), validBefore.toString(Qt::ISODate),
                                  at.toUTC().toString(Qt::ISODate)));
    return {};
}

QString Certificate::criticalOptionText(const QString& name) const
{
    const auto it = criticalOptions.constFind(name);
    if (it == criticalOptions.cend())
        return {};
    WireReader r(*it);
    const auto s = r.string();
    return s && r.atEnd() ? QString::fromUtf8(*s) : QString();
}

} // namespace fluid::ssh

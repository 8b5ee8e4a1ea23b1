// SPDX-License-Identifier: Apache-2.0
#include "SshKeys.h"

#include "SshWire.h"

#include <QCryptographicHash>
#include <QFile>
#include <QSaveFile>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

namespace fluid::ssh {
namespace {

constexpr qsizetype kKeyBytes = 32;
constexpr qsizetype kSignatureBytes = 64;
constexpr char kPemBegin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr char kPemEnd[] = "-----END OPENSSH PRIVATE KEY-----";
constexpr char kAuthMagic[] = "openssh-key-v1"; // followed by a NUL byte in the file

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Error cryptoError(const QString& what)
{
    return makeError(ErrorCode::Crypto, what,
                     QStringLiteral("OpenSSL could not complete the Ed25519 operation"));
}

Error formatError(const QString& what)
{
    return makeError(ErrorCode::InvalidArgument, what);
}

void wipe(QByteArray& bytes)
{
    // Only the last owner may overwrite shared bytes; copies still in use keep theirs.
    if (!bytes.isEmpty() && bytes.isDetached())
        OPENSSL_cleanse(bytes.data(), size_t(bytes.size()));
    bytes.clear();
}

Result<QByteArray> publicFromSeed(const QByteArray& seed)
{
    Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(seed.constData()),
                                          size_t(seed.size())));
    if (!key)
        return cryptoError(QStringLiteral("Could not load an Ed25519 private key."));
    QByteArray pub(kKeyBytes, Qt::Uninitialized);
    size_t len = size_t(pub.size());
    if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(pub.data()), &len) != 1 ||
        len != size_t(kKeyBytes))
        return cryptoError(QStringLiteral("Could not derive an Ed25519 public key."));
    return pub;
}

} // namespace

QString sha256Fingerprint(const QByteArray& blob)
{
    QByteArray b64 = QCryptographicHash::hash(blob, QCryptographicHash::Sha256).toBase64();
    while (b64.endsWith('='))
        b64.chop(1);
    return QStringLiteral("SHA256:") + QString::fromLatin1(b64);
}

Result<PublicKey> PublicKey::fromRaw(const QByteArray& raw)
{
    if (raw.size() != kKeyBytes)
        return formatError(QStringLiteral("An Ed25519 public key has 32 bytes, not %1.").arg(raw.size()));
    PublicKey k;
    k.m_raw = raw;
    return k;
}

Result<PublicKey> PublicKey::fromBlob(const QByteArray& blob)
{
    WireReader r(blob);
    const auto type = r.string();
    const auto raw = r.string();
    if (!type || !raw || !r.atEnd())
        return formatError(QStringLiteral("The public key blob is malformed."));
    if (*type != kEd25519)
        return formatError(QStringLiteral("Only ssh-ed25519 keys are supported, not %1.")
                               .arg(QString::fromLatin1(type->left(64))));
    return fromRaw(*raw);
}

Result<PublicKey> PublicKey::fromOpenSshLine(const QString& line)
{
    const QStringList parts = line.trimmed().split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (parts.size() < 2)
        return formatError(QStringLiteral("Expected \"ssh-ed25519 <base64> [comment]\"."));
    if (parts[0] != QLatin1String(kEd25519))
        return formatError(
            QStringLiteral("Only ssh-ed25519 keys are supported, not %1.").arg(parts[0].left(64)));
    const auto decoded =
        QByteArray::fromBase64Encoding(parts[1].toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return formatError(QStringLiteral("The public key's base64 text is malformed."));
    return fromBlob(decoded.decoded);
}

QByteArray PublicKey::blob() const
{
    WireWriter w;
    w.string(kEd25519);
    w.string(m_raw);
    return w.take();
}

QString PublicKey::toOpenSshLine(const QString& comment) const
{
    QString line = QLatin1String(kEd25519) + QLatin1Char(' ') + QString::fromLatin1(blob().toBase64());
    if (!comment.isEmpty())
        line += QLatin1Char(' ') + comment;
    return line;
}

QString PublicKey::fingerprint() const
{
    return sha256Fingerprint(blob());
}

bool PublicKey::verify(const QByteArray& data, const QByteArray& signatureBlob) const
{
    WireReader r(signatureBlob);
    const auto type = r.string();
    const auto sig = r.string();
    if (isNull() || !type || !sig || !r.atEnd() || *type != kEd25519 || sig->size() != kSignatureBytes)
        return false;
    Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                         reinterpret_cast<const unsigned char*>(m_raw.constData()),
                                         size_t(m_raw.size())));
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1)
        return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->constData()),
                            size_t(sig->size()), reinterpret_cast<const unsigned char*>(data.constData()),
                            size_t(data.size())) == 1;
}

KeyPair::~KeyPair()
{
    wipe(m_seed);
}

Result<KeyPair> KeyPair::generate(const QString& comment)
{
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
        return cryptoError(QStringLiteral("Could not generate an Ed25519 key."));
    Pkey key(raw);
    KeyPair pair;
    pair.m_seed = QByteArray(kKeyBytes, Qt::Uninitialized);
    QByteArray pub(kKeyBytes, Qt::Uninitialized);
    size_t seedLen = size_t(kKeyBytes);
    size_t pubLen = size_t(kKeyBytes);
    if (EVP_PKEY_get_raw_private_key(key.get(), reinterpret_cast<unsigned char*>(pair.m_seed.data()),
                                     &seedLen) != 1 ||
        EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(pub.data()), &pubLen) != 1 ||
        seedLen != size_t(kKeyBytes) || pubLen != size_t(kKeyBytes))
        return cryptoError(QStringLiteral("Could not read the generated Ed25519 key."));
    pair.m_public = *PublicKey::fromRaw(pub);
    pair.m_comment = comment;
    return pair;
}

QByteArray KeyPair::toOpenSshPrivateKey() const
{
    const QByteArray pubBlob = m_public.blob();
    quint32 check = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&check), sizeof check);

    WireWriter priv;
    priv.u32(check);
    priv.u32(check);
    priv.string(kEd25519);
    priv.string(m_public.raw());
    QByteArray secret = m_seed + m_public.raw(); // OpenSSH stores seed || public as the 64-byte secret
    priv.string(secret);
    wipe(secret);
    priv.string(m_comment.toUtf8());
    // Padded to the "none" cipher's block size of 8 with the bytes 1, 2, 3, ...
    for (quint8 pad = 1; priv.data().size() % 8 != 0; ++pad)
        priv.u8(pad);

    WireWriter file;
    file.raw(QByteArray(kAuthMagic, sizeof kAuthMagic)); // includes the terminating NUL
    file.string("none");
    file.string("none");
    file.string({});
    file.u32(1);
    file.string(pubBlob);
    QByteArray section = priv.take();
    file.string(section);
    wipe(section);

    QByteArray body = file.take();
    QByteArray b64 = body.toBase64();
    wipe(body);
    QByteArray pem = QByteArray(kPemBegin) + '\n';
    for (qsizetype i = 0; i < b64.size(); i += 70)
        pem += b64.mid(i, 70) + '\n';
    wipe(b64);
    pem += QByteArray(kPemEnd) + '\n';
    return pem;
}

Result<KeyPair> KeyPair::fromOpenSshPrivateKey(const QByteArray& pem)
{
    const qsizetype begin = pem.indexOf(kPemBegin);
    const qsizetype end = pem.indexOf(kPemEnd);
    if (begin < 0 || end < begin)
        return formatError(QStringLiteral("Not an OpenSSH private key (no BEGIN/END OPENSSH PRIVATE KEY)."));
    QByteArray b64 =
        pem.mid(begin + qsizetype(sizeof kPemBegin) - 1, end - begin - qsizetype(sizeof kPemBegin) + 1);
    b64 = b64.simplified().replace(' ', QByteArray());
    auto decoded = QByteArray::fromBase64Encoding(b64, QByteArray::AbortOnBase64DecodingErrors);
    wipe(b64);
    if (!decoded)
        return formatError(QStringLiteral("The OpenSSH private key's base64 text is malformed."));
    QByteArray body = std::move(decoded.decoded);
    const QByteArray magic(kAuthMagic, sizeof kAuthMagic);
    auto fail = [&body](const QString& why) -> Result<KeyPair> {
        wipe(body);
        return formatError(why);
    };
    if (!body.startsWith(magic))
        return fail(QStringLiteral("The OpenSSH private key does not start with openssh-key-v1."));
    WireReader r(body.mid(magic.size()));
    const auto cipher = r.string();
    const auto kdf = r.string();
    const auto kdfOptions = r.string();
    const auto count = r.u32();
    const auto pubBlob = r.string();
    auto section = r.string();
    if (!section || !r.atEnd())
        return fail(QStringLiteral("The OpenSSH private key is truncated or malformed."));
    if (*cipher != "none" || *kdf != "none")
        return fail(QStringLiteral("The OpenSSH private key is encrypted; Fluid only stores unencrypted keys "
                                   "inside its secret store."));
    if (*count != 1)
        return fail(QStringLiteral("The OpenSSH private key file holds %1 keys; expected one.").arg(*count));
    auto pub = PublicKey::fromBlob(*pubBlob);
    if (!pub)
        return fail(pub.error().message);

    WireReader s(*section);
    wipe(*section);
    const auto check1 = s.u32();
    const auto check2 = s.u32();
    const auto type = s.string();
    const auto innerPub = s.string();
    auto secret = s.string();
    const auto comment = s.string();
    if (!comment || check1 != check2 || *type != kEd25519 || *innerPub != pub->raw() || secret->size() != 64)
        return fail(QStringLiteral("The OpenSSH private key's private section is malformed."));
    KeyPair pair;
    pair.m_seed = secret->left(kKeyBytes);
    const bool consistent = secret->mid(kKeyBytes) == pub->raw();
    wipe(*secret);
    wipe(body);
    if (!consistent)
        return formatError(QStringLiteral("The OpenSSH private key's public half does not match."));
    auto derived = publicFromSeed(pair.m_seed);
    if (!derived)
        return derived.error();
    if (*derived != pub->raw())
        return formatError(QStringLiteral("The OpenSSH private key's public key does not match its secret."));
    pair.m_public = *pub;
    pair.m_comment = QString::fromUtf8(*comment);
    return pair;
}

Result<QByteArray> KeyPair::sign(const QByteArray& data) const
{
    if (isNull())
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("Cannot sign with an empty key."));
    Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(m_seed.constData()),
                                          size_t(m_seed.size())));
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    QByteArray sig(kSignatureBytes, Qt::Uninitialized);
    size_t sigLen = size_t(sig.size());
    if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sigLen,
                       reinterpret_cast<const unsigned char*>(data.constData()), size_t(data.size())) != 1 ||
        sigLen != size_t(kSignatureBytes))
        return cryptoError(QStringLiteral("Could not sign with the Ed25519 key."));
    WireWriter w;
    w.string(kEd25519);
    w.string(sig);
    return w.take();
}

Result<void> writePrivateKeyFile(const QString& path, const KeyPair& key)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write the key file %1.").arg(path),
                         f.errorString());
    // Restrict before any secret byte is written.
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    QByteArray pem = key.toOpenSshPrivateKey();
    f.write(pem);
    wipe(pem);
    if (!f.commit())
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write the key file %1.").arg(path),
                         f.errorString());
    QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    return {};
}

} // namespace fluid::ssh

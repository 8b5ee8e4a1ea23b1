// SPDX-License-Identifier: Apache-2.0
#include "ssh/LoginKey.h"

#include "ssh/SshKeys.h"
#include "ssh/SshWire.h"

#include <libssh/libssh.h>

#include <QFile>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace fluid::ssh {

namespace {

constexpr char kOpenSshBegin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr char kOpenSshEnd[] = "-----END OPENSSH PRIVATE KEY-----";
constexpr char kOpenSshMagic[] = "openssh-key-v1"; // followed by a NUL

/// Frees a libssh key when it leaves scope.
struct KeyHolder {
    ssh_key key = nullptr;
    ~KeyHolder() { ssh_key_free(key); }
};

/// Frees a libssh-allocated string when it leaves scope, wiping it first (it may be key material).
struct StringHolder {
    char* text = nullptr;
    ~StringHolder()
    {
        if (text) {
            std::memset(text, 0, std::strlen(text));
            ssh_string_free_char(text);
        }
    }
};

Error systemError(const QString& what)
{
    const int saved = errno;
    return makeError(ErrorCode::Io, what, QString::fromLocal8Bit(std::strerror(saved)));
}

} // namespace

Result<QByteArray> readPrivateKeyFile(const QString& path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io,
                         QStringLiteral("Cannot read the key file %1: %2").arg(path, file.errorString()));
    return file.read(kMaxPrivateKeyFileBytes);
}

bool isEncryptedPrivateKey(const QByteArray& text)
{
    const qsizetype begin = text.indexOf(kOpenSshBegin);
    if (begin < 0) // PEM: "Proc-Type: 4,ENCRYPTED" or "BEGIN ENCRYPTED PRIVATE KEY"
        return text.contains("ENCRYPTED");
    const qsizetype body = begin + qsizetype(std::strlen(kOpenSshBegin));
    const qsizetype end = text.indexOf(kOpenSshEnd, body);
    const QByteArray blob = QByteArray::fromBase64(text.mid(body, end < 0 ? -1 : end - body).simplified());
    const qsizetype magic = qsizetype(std::strlen(kOpenSshMagic)) + 1;
    if (!blob.startsWith(QByteArray(kOpenSshMagic, magic)))
        return false;
    WireReader r(blob.mid(magic));
    const auto cipher = r.string();
    return cipher && *cipher != "none";
}

Result<LoginKey> parseLoginKey(const QByteArray& text, const QString& passphrase)
{
    if (!text.contains("PRIVATE KEY-----"))
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("This is not a private key file (no \"-----BEGIN "
                                        "... PRIVATE KEY-----\" line)."));
    if (isEncryptedPrivateKey(text) && passphrase.isEmpty())
        return makeError(ErrorCode::Refused, QStringLiteral("The key is protected by a passphrase: enter it "
                                                            "so Fluid can keep the key in its keychain."));
    // Never a null passphrase: libssh would let OpenSSL prompt on the terminal for PEM keys.
    QByteArray pass = passphrase.toUtf8();
    KeyHolder key;
    const int imported =
        ssh_pki_import_privkey_base64(text.constData(), pass.constData(), nullptr, nullptr, &key.key);
    pass.fill('\0');
    if (imported != SSH_OK || !key.key) {
        if (isEncryptedPrivateKey(text))
            return makeError(
                ErrorCode::Refused,
                QStringLiteral("The passphrase does not open this key. Check it and try again."));
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The key could not be read: it is damaged or of a type Fluid does not "
                           "support (Ed25519, ECDSA and RSA keys are)."));
    }
    LoginKey out;
    if (!isEncryptedPrivateKey(text)) {
        out.privateKey = text; // already what ssh reads without a prompt, comment and all
    } else {
        StringHolder privateText;
        // libssh 0.10 cannot write out RSA keys it read from OpenSSH's own format.
        if (ssh_pki_export_privkey_base64(key.key, nullptr, nullptr, nullptr, &privateText.text) != SSH_OK ||
            !privateText.text)
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("Fluid cannot take the passphrase off this %1 key. Load it into "
                                            "ssh-agent (`ssh-add`) and log in with the agent's keys instead, "
                                            "or generate a new key in Fluid's keychain.")
                                 .arg(QString::fromLatin1(ssh_key_type_to_char(ssh_key_type(key.key)))));
        out.privateKey = QByteArray(privateText.text);
    }
    KeyHolder pub;
    StringHolder pubText;
    if (ssh_pki_export_privkey_to_pubkey(key.key, &pub.key) != SSH_OK ||
        ssh_pki_export_pubkey_base64(pub.key, &pubText.text) != SSH_OK || !pubText.text)
        return makeError(ErrorCode::Crypto, QStringLiteral("The key's public half could not be derived."));

    out.type = QString::fromLatin1(ssh_key_type_to_char(ssh_key_type(pub.key)));
    const QByteArray base64(pubText.text);
    out.publicKeyLine = out.type + QLatin1Char(' ') + QString::fromLatin1(base64);
    out.fingerprint = sha256Fingerprint(QByteArray::fromBase64(base64));
    return out;
}

Result<LoginKey> generateLoginKey(const QString& comment)
{
    auto pair = KeyPair::generate(comment);
    if (!pair)
        return pair.error();
    LoginKey out;
    out.privateKey = pair->toOpenSshPrivateKey();
    out.type = QString::fromLatin1(kEd25519);
    out.publicKeyLine = pair->publicKey().toOpenSshLine(comment);
    out.fingerprint = pair->publicKey().fingerprint();
    return out;
}

Result<MemoryKeyFile> MemoryKeyFile::create(const QByteArray& privateKey)
{
    if (privateKey.isEmpty())
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("There is no key to hand to ssh."));
    const int fd = ::memfd_create("fluid-login-key", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return systemError(QStringLiteral("Cannot create an in-memory key file for ssh."));
    MemoryKeyFile file(fd);
    if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0)
        return systemError(QStringLiteral("Cannot restrict the in-memory key file to this user."));
    for (qsizetype done = 0; done < privateKey.size();) {
        const ssize_t n = ::write(fd, privateKey.constData() + done, size_t(privateKey.size() - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return systemError(QStringLiteral("Cannot write the in-memory key file for ssh."));
        done += n;
    }
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
        return systemError(QStringLiteral("Cannot seal the in-memory key file."));
    return file;
}

MemoryKeyFile::MemoryKeyFile(MemoryKeyFile&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
{
}

MemoryKeyFile& MemoryKeyFile::operator=(MemoryKeyFile&& other) noexcept
{
    if (this != &other) {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

MemoryKeyFile::~MemoryKeyFile()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

QString MemoryKeyFile::path() const
{
    return m_fd < 0 ? QString() : QStringLiteral("/proc/%1/fd/%2").arg(::getpid()).arg(m_fd);
}

} // namespace fluid::ssh

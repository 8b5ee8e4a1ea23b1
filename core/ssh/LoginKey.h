// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QByteArray>
#include <QString>

namespace fluid::ssh {

/// A private key a person logs into hypervisor hosts with, kept in Fluid's secret store instead of a file:
/// any type OpenSSH and libssh both read (Ed25519, ECDSA, RSA). `privateKey` is unencrypted key text (the
/// secret store is the encryption), so neither libssh nor libvirt's ssh has to ask for a passphrase in a
/// window without a terminal. Never log `privateKey`. Value type; any thread.
struct LoginKey {
    QByteArray privateKey;
    QString type;          ///< "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ...
    QString publicKeyLine; ///< "<type> AAAA... <comment>", the line for the host's authorized_keys
    QString fingerprint;   ///< "SHA256:...", as `ssh-keygen -l` prints it
};

/// The most of a file read as a private key: more than any key needs.
inline constexpr qint64 kMaxPrivateKeyFileBytes = 64 * 1024;

/// The text of the private key file at `path` (at most kMaxPrivateKeyFileBytes); Io "Cannot read the key
/// file <path>: <reason>" when it cannot be read. Blocks on the file system.
Result<QByteArray> readPrivateKeyFile(const QString& path);

/// True when `text` is a private key protected by a passphrase (OpenSSH format with a cipher, or PEM with
/// "ENCRYPTED"). Never prompts.
bool isEncryptedPrivateKey(const QByteArray& text);

/// Reads a private key in OpenSSH or PEM format and returns it as unencrypted key text (an unencrypted key
/// as given; an encrypted one decrypted with `passphrase` and re-encoded) with its public forms. An
/// encrypted key without the right passphrase gives ErrorCode::Refused; text that is no key, or an
/// encrypted key libssh cannot re-encode (RSA in OpenSSH's format), gives ErrorCode::InvalidArgument saying
/// what to do instead. Never prompts on a terminal. Can take a second for keys encrypted with many KDF
/// rounds: call it off the GUI thread.
Result<LoginKey> parseLoginKey(const QByteArray& text, const QString& passphrase = {});

/// A new Ed25519 login key whose public line carries `comment` ("fluid@workstation").
Result<LoginKey> generateLoginKey(const QString& comment);

/// A private key in an anonymous memory file (memfd), never on any file system: path() names it as
/// "/proc/<pid>/fd/<n>", which a program this process starts under the same user (libvirt's `ssh -i`) can
/// read while the object lives. The file has mode 0600 (ssh refuses keys others can read) and is sealed
/// against changes; destroying the object closes it and its memory is freed. Linux only. Move-only; any
/// thread.
class MemoryKeyFile {
public:
    static Result<MemoryKeyFile> create(const QByteArray& privateKey);
    MemoryKeyFile(MemoryKeyFile&& other) noexcept;
    MemoryKeyFile& operator=(MemoryKeyFile&& other) noexcept;
    MemoryKeyFile(const MemoryKeyFile&) = delete;
    MemoryKeyFile& operator=(const MemoryKeyFile&) = delete;
    ~MemoryKeyFile();

    QString path() const;

private:
    explicit MemoryKeyFile(int fd)
        : m_fd(fd)
    {
    }
    int m_fd = -1;
};

} // namespace fluid::ssh

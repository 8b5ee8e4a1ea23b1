// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "ssh/CertificateAuthority.h"
#include "ssh/SandboxShell.h"

#include <QProcess>
#include <QStringList>

#include <memory>

namespace fluid::test {

/// The result of a finished helper process (ssh, ssh-keygen, ...).
struct ProcessResult {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
    qint64 elapsedUs = 0;
};

/// Runs a program to completion (killing it after timeoutMs) and returns its output.
ProcessResult runProcess(const QString& program, const QStringList& args, int timeoutMs = 30000);

/// Writes an executable at `path` that runs OpenSSH's ssh with no user config, no agent, only the keys given
/// with -i, and `knownHostsFile` as its known_hosts: for libvirt's `command` URI parameter, so a test knows
/// exactly which key libvirt's ssh offers (ssh itself reads the real home folder, whatever $HOME says).
Result<void> writeIsolatedSshCommand(const QString& path, const QString& knownHostsFile);

/// A real OpenSSH sshd on 127.0.0.1, set up the way a Fluid sandbox is: an injected Ed25519 host key with a
/// host certificate from Fluid's host CA, TrustedUserCAKeys = Fluid's user CA, an AuthorizedPrincipalsFile
/// listing the sandbox name, root login by key/certificate only, internal-sftp. Optional plain authorized
/// keys make it stand in for a hypervisor host (ProxyJump tests). Each instance has its own folder, config
/// and free port; it runs as `sshd -D` (needs root, as in the project's test bed) and is stopped by its PID.
/// For integration, e2e and GUI tests. Lives on the test's thread.
class LoopbackSshd {
public:
    struct Options {
        QString sandboxName = QStringLiteral("sandbox-test");
        /// Lines of the AuthorizedPrincipalsFile; empty: the sandbox name.
        QStringList principals;
        bool hostCertificate = true;
        /// Plain keys root accepts (authorized_keys), besides certificates.
        QList<ssh::PublicKey> authorizedKeys;
        /// More authorized_keys lines as given ("ssh-rsa AAAA... comment"), for key types other than Ed25519.
        QStringList authorizedKeyLines;
        int maxSessions = 64;
        QString logLevel = QStringLiteral("INFO");
        /// More sshd_config lines, appended as given.
        QStringList extraConfig;
    };

    explicit LoopbackSshd(std::shared_ptr<const ssh::CertificateAuthority> ca);
    LoopbackSshd(std::shared_ptr<const ssh::CertificateAuthority> ca, Options options);
    ~LoopbackSshd();
    LoopbackSshd(const LoopbackSshd&) = delete;
    LoopbackSshd& operator=(const LoopbackSshd&) = delete;

    /// Why an sshd cannot run here (not root, no sshd binary), or empty when it can.
    static QString unavailableReason();

    /// Writes keys and config, starts sshd on a free port and waits for its SSH banner.
    Result<void> start();
    /// SIGTERM to the sshd's PID, then SIGKILL if it lingers.
    void stop();
    bool isRunning() const;

    QString host() const { return QStringLiteral("127.0.0.1"); }
    int port() const { return m_port; }
    qint64 pid() const;
    QString dir() const { return m_dir; }
    QString configPath() const;
    /// sshd's log so far (sshd -E).
    QString log() const;
    const ssh::KeyPair& hostKey() const { return m_hostKey; }
    const ssh::Certificate& hostCertificate() const { return m_hostCert; }
    const Options& options() const { return m_options; }

    /// The processes serving this server's connections: everything below the listener (the per-connection
    /// sshd processes, and the shells and commands they run), read from /proc.
    QList<qint64> connectionProcesses() const;

    /// The endpoint a SandboxShell needs to reach this server, pinning its host key.
    ssh::SandboxEndpoint endpoint(const QString& sandboxId = {}) const;

    /// Arguments for OpenSSH's `ssh` against this server with no user config: identity `keyFile` (and its
    /// certificate, when given), StrictHostKeyChecking=yes against `knownHostsFile`, batch mode. The
    /// HostKeyAlias is the sandbox name, so a `@cert-authority <sandbox name>` line verifies the host
    /// certificate. Append the remote command.
    QStringList opensshArgs(const QString& keyFile, const QString& certFile,
                            const QString& knownHostsFile) const;

private:
    std::shared_ptr<const ssh::CertificateAuthority> m_ca;
    Options m_options;
    QString m_dir;
    int m_port = 0;
    ssh::KeyPair m_hostKey;
    ssh::Certificate m_hostCert;
    std::unique_ptr<QProcess> m_process;
};

/// Makes a server silently dead to the connections it has: SIGSTOPs its connectionProcesses(), so they
/// neither answer nor close (no FIN, no RST), while the listener still takes new connections. Destroying it
/// continues and kills exactly the processes it stopped. Lives on the test's thread.
class FrozenConnections {
public:
    explicit FrozenConnections(const LoopbackSshd& sshd);
    ~FrozenConnections();
    FrozenConnections(const FrozenConnections&) = delete;
    FrozenConnections& operator=(const FrozenConnections&) = delete;
    int count() const { return int(m_pids.size()); }

private:
    QList<qint64> m_pids;
};

} // namespace fluid::test

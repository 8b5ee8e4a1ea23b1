// SPDX-License-Identifier: Apache-2.0
#include "LoopbackSshd.h"

#include "TestSupport.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include <unistd.h>
#ifdef Q_OS_LINUX
#include <csignal>
#include <sys/prctl.h>
#endif

namespace fluid::test {

Result<void> writeIsolatedSshCommand(const QString& path, const QString& knownHostsFile)
{
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write %1").arg(path), file.errorString());
    file.write(QStringLiteral("#!/bin/sh\nunset SSH_AUTH_SOCK\nexec ssh -F /dev/null -o IdentitiesOnly=yes "
                              "-o UserKnownHostsFile=%1 \"$@\"\n")
                   .arg(knownHostsFile)
                   .toUtf8());
    if (!file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot make %1 executable").arg(path));
    return {};
}
namespace {

constexpr char kSshd[] = "/usr/sbin/sshd";

bool writeFile(const QString& path, const QByteArray& content, QFileDevice::Permissions perms)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    f.setPermissions(perms);
    return f.write(content) == content.size();
}

int freePort()
{
    QTcpServer s;
    if (!s.listen(QHostAddress::LocalHost, 0))
        return 0;
    return s.serverPort();
}

bool bannerAt(int port)
{
    QTcpSocket sock;
    sock.connectToHost(QHostAddress::LocalHost, quint16(port));
    if (!sock.waitForConnected(200))
        return false;
    if (!sock.waitForReadyRead(1000))
        return false;
    return sock.readAll().startsWith("SSH-2.0-");
}

} // namespace

ProcessResult runProcess(const QString& program, const QStringList& args, int timeoutMs)
{
    ProcessResult r;
    QProcess p;
    QElapsedTimer t;
    t.start();
    p.start(program, args);
    if (!p.waitForStarted(5000)) {
        r.err = p.errorString().toUtf8();
        return r;
    }
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(2000);
        r.err = "timed out";
    }
    r.elapsedUs = t.nsecsElapsed() / 1000;
    r.out = p.readAllStandardOutput();
    r.err += p.readAllStandardError();
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    return r;
}

LoopbackSshd::LoopbackSshd(std::shared_ptr<const ssh::CertificateAuthority> ca)
    : LoopbackSshd(std::move(ca), Options())
{
}

LoopbackSshd::LoopbackSshd(std::shared_ptr<const ssh::CertificateAuthority> ca, Options options)
    : m_ca(std::move(ca))
    , m_options(std::move(options))
{
}

LoopbackSshd::~LoopbackSshd()
{
    stop();
}

QString LoopbackSshd::unavailableReason()
{
    if (!QFileInfo::exists(QString::fromLatin1(kSshd)))
        return QStringLiteral("%1 is not installed (apt-get install openssh-server)")
            .arg(QLatin1String(kSshd));
    if (::geteuid() != 0)
        return QStringLiteral("a loopback sshd needs root (as in the project's test bed)");
    if (!QFileInfo::exists(QStringLiteral("/usr/bin/ssh")) ||
        !QFileInfo::exists(QStringLiteral("/usr/bin/ssh-keygen")))
        return QStringLiteral("the OpenSSH client tools are not installed (apt-get install openssh-client)");
    return {};
}

QString LoopbackSshd::configPath() const
{
    return m_dir + QStringLiteral("/sshd_config");
}

qint64 LoopbackSshd::pid() const
{
    return m_process ? m_process->processId() : 0;
}

QList<qint64> LoopbackSshd::connectionProcesses() const
{
    const qint64 root = pid();
    if (root <= 0)
        return {};
    QMultiHash<qint64, qint64> children;
    const QStringList entries = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& entry : entries) {
        bool isPid = false;
        const qint64 p = entry.toLongLong(&isPid);
        if (!isPid)
            continue;
        QFile stat(QStringLiteral("/proc/%1/stat").arg(p));
        if (!stat.open(QIODevice::ReadOnly))
            continue;
        // "pid (comm) state ppid ...": the name may hold spaces and parentheses, so read after the last ')'.
        const QByteArray line = stat.readAll();
        const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
        if (fields.size() > 1)
            children.insert(fields.at(1).toLongLong(), p);
    }
    QList<qint64> found;
    QList<qint64> queue{root};
    while (!queue.isEmpty()) {
        for (qint64 child : children.values(queue.takeFirst())) {
            found.append(child);
            queue.append(child);
        }
    }
    return found;
}

bool LoopbackSshd::isRunning() const
{
    return m_process && m_process->state() == QProcess::Running;
}

QString LoopbackSshd::log() const
{
    QFile f(m_dir + QStringLiteral("/sshd.log"));
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

Result<void> LoopbackSshd::start()
{
    if (const QString why = unavailableReason(); !why.isEmpty())
        return makeError(ErrorCode::Unavailable, why);
    // sshd's privilege separation needs this folder; a container may not have it.
    if (!QDir().mkpath(QStringLiteral("/run/sshd")))
        return makeError(ErrorCode::Io, QStringLiteral("cannot create /run/sshd"));
    m_dir = makeTempDir(QStringLiteral("sshd"));
    QFile::setPermissions(m_dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner |
                                     QFileDevice::ReadOther | QFileDevice::ExeOther | QFileDevice::ReadGroup |
                                     QFileDevice::ExeGroup);

    auto key = ssh::KeyPair::generate(QStringLiteral("host-") + m_options.sandboxName);
    if (!key)
        return key.error();
    m_hostKey = *key;
    const QString hostKeyPath = m_dir + QStringLiteral("/ssh_host_ed25519_key");
    if (auto w = ssh::writePrivateKeyFile(hostKeyPath, m_hostKey); !w)
        return w;
    writeFile(hostKeyPath + QStringLiteral(".pub"), m_hostKey.publicKey().toOpenSshLine().toUtf8() + '\n',
              QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadOther);
    ssh::HostCertificateRequest hreq;
    hreq.key = m_hostKey.publicKey();
    hreq.sandboxName = m_options.sandboxName;
    auto cert = m_ca->issueHostCertificate(hreq);
    if (!cert)
        return cert.error();
    m_hostCert = *cert;
    const QFileDevice::Permissions readable =
        QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther;
    writeFile(hostKeyPath + QStringLiteral("-cert.pub"), m_hostCert.toOpenSshLine().toUtf8() + '\n',
              readable);
    writeFile(m_dir + QStringLiteral("/user_ca.pub"), m_ca->userCaOpenSshLine().toUtf8() + '\n', readable);
    const QStringList principals =
        m_options.principals.isEmpty() ? QStringList{m_options.sandboxName} : m_options.principals;
    writeFile(m_dir + QStringLiteral("/principals"), principals.join(QLatin1Char('\n')).toUtf8() + '\n',
              readable);
    QByteArray authorized;
    for (const auto& k : m_options.authorizedKeys)
        authorized += k.toOpenSshLine(QStringLiteral("test")).toUtf8() + '\n';
    for (const QString& line : m_options.authorizedKeyLines)
        authorized += line.toUtf8() + '\n';
    writeFile(m_dir + QStringLiteral("/authorized_keys"), authorized, readable);

    QDir().mkpath(m_dir + QStringLiteral("/home"));

    QString lastError;
    for (int attempt = 0; attempt < 5; ++attempt) {
        m_port = freePort();
        QStringList cfg{
            QStringLiteral("Port %1").arg(m_port),
            QStringLiteral("ListenAddress 127.0.0.1"),
            QStringLiteral("HostKey %1").arg(hostKeyPath),
            QStringLiteral("PidFile %1/sshd.pid").arg(m_dir),
            QStringLiteral("TrustedUserCAKeys %1/user_ca.pub").arg(m_dir),
            QStringLiteral("AuthorizedPrincipalsFile %1/principals").arg(m_dir),
            QStringLiteral("AuthorizedKeysFile %1/authorized_keys").arg(m_dir),
            QStringLiteral("StrictModes no"),
            QStringLiteral("UsePAM no"),
            QStringLiteral("PermitRootLogin prohibit-password"),
            QStringLiteral("PubkeyAuthentication yes"),
            QStringLiteral("PasswordAuthentication no"),
            QStringLiteral("KbdInteractiveAuthentication no"),
            QStringLiteral("MaxSessions %1").arg(m_options.maxSessions),
            QStringLiteral("MaxStartups 100:30:200"),
            QStringLiteral("Subsystem sftp internal-sftp"),
            QStringLiteral("LogLevel %1").arg(m_options.logLevel),
            // A home of its own, so the machine's /root dotfiles (a slow .bashrc) do not leak into tests.
            QStringLiteral("SetEnv HOME=%1/home").arg(m_dir),
        };
        if (m_options.hostCertificate)
            cfg.append(QStringLiteral("HostCertificate %1-cert.pub").arg(hostKeyPath));
        cfg += m_options.extraConfig;
        writeFile(configPath(), cfg.join(QLatin1Char('\n')).toUtf8() + '\n', readable);

        m_process = std::make_unique<QProcess>();
        // sshd logs to its file (-E); its own stdio must not hold the test runner's pipes open.
        m_process->setStandardOutputFile(QProcess::nullDevice());
        m_process->setStandardErrorFile(m_dir + QStringLiteral("/sshd.stderr"));
#ifdef Q_OS_LINUX
        // If the test dies without stop() (crash, ctest timeout), the kernel stops its sshd.
        m_process->setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
#endif
        m_process->start(QString::fromLatin1(kSshd),
                         {QStringLiteral("-D"), QStringLiteral("-E"), m_dir + QStringLiteral("/sshd.log"),
                          QStringLiteral("-f"), configPath()});
        if (!m_process->waitForStarted(5000))
            return makeError(ErrorCode::Unavailable, QStringLiteral("cannot start sshd"),
                             m_process->errorString());
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 10000 && m_process->state() == QProcess::Running) {
            if (bannerAt(m_port))
                return {};
            QThread::msleep(20);
        }
        lastError = log();
        stop();
    }
    return makeError(ErrorCode::Unavailable, QStringLiteral("sshd did not come up"), lastError);
}

void LoopbackSshd::stop()
{
    if (!m_process)
        return;
    if (m_process->state() != QProcess::NotRunning) {
        m_process->terminate(); // SIGTERM to sshd's PID
        if (!m_process->waitForFinished(5000)) {
            m_process->kill();
            m_process->waitForFinished(2000);
        }
    }
    m_process.reset();
}

ssh::SandboxEndpoint LoopbackSshd::endpoint(const QString& sandboxId) const
{
    ssh::SandboxEndpoint e;
    e.sandboxId = sandboxId;
    e.sandboxName = m_options.sandboxName;
    e.host = host();
    e.port = m_port;
    e.user = QStringLiteral("root");
    e.hostKey = m_hostKey.publicKey();
    return e;
}

QStringList LoopbackSshd::opensshArgs(const QString& keyFile, const QString& certFile,
                                      const QString& knownHostsFile) const
{
    QStringList a{QStringLiteral("-F"), QStringLiteral("/dev/null"),
                  QStringLiteral("-i"), keyFile,
                  QStringLiteral("-p"), QString::number(m_port),
                  QStringLiteral("-o"), QStringLiteral("IdentitiesOnly=yes"),
                  QStringLiteral("-o"), QStringLiteral("IdentityAgent=none"),
                  QStringLiteral("-o"), QStringLiteral("BatchMode=yes"),
                  QStringLiteral("-o"), QStringLiteral("StrictHostKeyChecking=yes"),
                  QStringLiteral("-o"), QStringLiteral("UserKnownHostsFile=") + knownHostsFile,
                  QStringLiteral("-o"), QStringLiteral("GlobalKnownHostsFile=/dev/null"),
                  QStringLiteral("-o"), QStringLiteral("HostKeyAlias=") + m_options.sandboxName,
                  QStringLiteral("-o"), QStringLiteral("ConnectTimeout=10")};
    if (!certFile.isEmpty())
        a << QStringLiteral("-o") << QStringLiteral("CertificateFile=") + certFile;
    a << QStringLiteral("root@") + host();
    return a;
}

FrozenConnections::FrozenConnections(const LoopbackSshd& sshd)
    : m_pids(sshd.connectionProcesses())
{
    for (qint64 p : m_pids)
        ::kill(pid_t(p), SIGSTOP);
}

FrozenConnections::~FrozenConnections()
{
    for (qint64 p : m_pids) {
        ::kill(pid_t(p), SIGCONT);
        ::kill(pid_t(p), SIGKILL);
    }
}

} // namespace fluid::test

// SPDX-License-Identifier: Apache-2.0
#include "GateProcess.h"

#include "base/Logging.h"
#include "base/Paths.h"
#include "base/Process.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLockFile>
#include <QProcess>
#include <QTcpSocket>
#include <QThread>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace fluid::services {
namespace {

/// Whether `pid` still runs: alive, and not a zombie (the detached gate is not our child, but a front end
/// whose init does not reap, such as a container's, would otherwise see it as running until the timeout).
bool processRuns(qint64 pid)
{
    if (::kill(pid_t(pid), 0) != 0)
        return false;
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true; // no /proc (macOS): kill() is all there is
    const QByteArray line = stat.readAll();
    const qsizetype paren = line.lastIndexOf(')');
    return paren < 0 || line.mid(paren + 2, 1) != "Z";
}

bool answers(const QHostAddress& address, quint16 port)
{
    QTcpSocket s;
    s.connectToHost(address, port);
    return s.waitForConnected(500);
}

QString logTail(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return QStringLiteral("(no log at %1)").arg(path);
    const QByteArray all = f.readAll();
    return QString::fromUtf8(all.right(2000)).trimmed();
}

/// Whether the host's gate serves: a local one answers on its address; a remote one (whose address is on
/// the host) has written the pid of a running process to its ready file.
bool serving(const GateLaunch& launch)
{
    if (!launch.remote)
        return answers(launch.address, launch.port);
    QFile ready(paths::dataDir() + QStringLiteral("/egress-%1.ready").arg(launch.hostName));
    if (!ready.open(QIODevice::ReadOnly))
        return false;
    bool ok = false;
    const qint64 pid = ready.readAll().trimmed().toLongLong(&ok);
    return ok && pid > 0 && processRuns(pid);
}

} // namespace

GateLaunch gateLaunchFor(const virt::NetworkSpec& network, const QString& program, const QString& configPath,
                         const QString& hostName, bool remote)
{
    GateLaunch launch;
    launch.remote = remote;
    launch.program = program;
    launch.configPath = configPath;
    launch.hostName = hostName;
    launch.address = QHostAddress(network.gatewayAddress);
    launch.port = quint16(network.gatePort);
    const auto subnet =
        QHostAddress::parseSubnet(network.gatewayAddress + QLatin1Char('/') + network.netmask);
    launch.subnet = subnet.first.toString() + QLatin1Char('/') + QString::number(subnet.second);
    return launch;
}

QString gateLockFile(const QString& hostName)
{
    return paths::dataDir() + QStringLiteral("/egress-%1.lock").arg(hostName);
}

QString gateReadyFile(const QString& hostName)
{
    return paths::dataDir() + QStringLiteral("/egress-%1.ready").arg(hostName);
}

Result<void> ensureEgressGate(const GateLaunch& launch)
{
    const QString lockPath = gateLockFile(launch.hostName);
    QDir().mkpath(QFileInfo(lockPath).absolutePath());
    {
        QLockFile probe(lockPath);
        if (!probe.tryLock(0)) {
            // A gate holds it (QLockFile treats the lock of a dead process as stale and takes it over).
            if (serving(launch))
                return {};
            qint64 pid = 0;
            QString host, app;
            probe.getLockInfo(&pid, &host, &app);
            return makeError(ErrorCode::Unavailable,
                             QStringLiteral("The egress gate of host %1 (pid %2) holds its lock but does not "
                                            "serve %3:%4")
                                 .arg(launch.hostName)
                                 .arg(pid)
                                 .arg(launch.address.toString())
                                 .arg(launch.port),
                             logTail(lockPath.chopped(5) + QStringLiteral(".log")));
        }
    }
    const QString logPath = lockPath.chopped(5) + QStringLiteral(".log");
    QStringList args;
    if (!launch.configPath.isEmpty())
        args << QStringLiteral("--config") << launch.configPath;
    args << QStringLiteral("egress") << QStringLiteral("serve") << QStringLiteral("--host") << launch.hostName
         << QStringLiteral("--listen") << launch.address.toString() << QStringLiteral("--port")
         << QString::number(launch.port) << QStringLiteral("--network") << launch.subnet;
    QProcess p;
    p.setProgram(launch.program);
    p.setArguments(args);
    ProcessEnvironment env = ProcessEnvironment::minimal();
    for (const char* name : {"FLUID_CONFIG_DIR", "FLUID_DATA_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                             "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "QT_LOGGING_RULES"})
        env.inherit(QLatin1String(name));
    p.setProcessEnvironment(env.toQt());
    p.setStandardInputFile(QProcess::nullDevice());
    p.setStandardOutputFile(logPath, QIODevice::Append);
    p.setStandardErrorFile(logPath, QIODevice::Append);
    qint64 pid = 0;
    if (!p.startDetached(&pid))
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("Cannot start the egress gate (%1)").arg(launch.program),
                         p.errorString());
    qCInfo(lcEgress).noquote() << "started the egress gate of host" << launch.hostName << "pid" << pid;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < launch.startTimeoutMs) {
        if (serving(launch))
            return {};
        if (!processRuns(pid)) {
            // It ended: another front end's gate may have won the lock meanwhile, or it failed.
            if (serving(launch))
                return {};
            return makeError(
                ErrorCode::Unavailable,
                QStringLiteral("The egress gate of host %1 stopped at start").arg(launch.hostName),
                logTail(logPath));
        }
        QThread::msleep(100);
    }
    return makeError(ErrorCode::Timeout,
                     QStringLiteral("The egress gate of host %1 did not listen on %2:%3 within %4 s")
                         .arg(launch.hostName, launch.address.toString())
                         .arg(launch.port)
                         .arg(launch.startTimeoutMs / 1000),
                     logTail(logPath));
}

Result<void> stopEgressGate(const QString& hostName, int timeoutMs)
{
    QLockFile lock(gateLockFile(hostName));
    if (lock.tryLock(0))
        return {}; // none runs (a dead one's stale lock was just taken over)
    qint64 pid = 0;
    QString host, app;
    if (!lock.getLockInfo(&pid, &host, &app) || pid <= 0)
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("The egress gate of host %1 holds its lock, but the lock names no "
                                        "process")
                             .arg(hostName));
    if (pid == QCoreApplication::applicationPid())
        return {}; // this process holds the lock itself: there is no gate to stop
    if (::kill(pid_t(pid), SIGTERM) != 0 && errno != ESRCH)
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("Cannot stop the egress gate of host %1 (pid %2): %3")
                             .arg(hostName)
                             .arg(pid)
                             .arg(QString::fromLocal8Bit(strerror(errno))));
    QElapsedTimer t;
    t.start();
    while (processRuns(pid)) {
        if (t.elapsed() > timeoutMs)
            return makeError(ErrorCode::Unavailable,
                             QStringLiteral("The egress gate of host %1 (pid %2) did not end within %3 s")
                                 .arg(hostName)
                                 .arg(pid)
                                 .arg(timeoutMs / 1000));
        QThread::msleep(50);
    }
    return {};
}

} // namespace fluid::services

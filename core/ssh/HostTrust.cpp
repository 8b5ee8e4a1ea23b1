// SPDX-License-Identifier: Apache-2.0
#include "HostTrust.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace fluid::ssh {

HostKeyCheck HostKeyCheck::pinned(const PublicKey& key)
{
    HostKeyCheck c;
    c.mode = Mode::Pinned;
    c.pinnedKey = key;
    return c;
}

HostKeyCheck HostKeyCheck::knownHosts(const QString& file, const QString& globalFile)
{
    HostKeyCheck c;
    c.mode = Mode::KnownHosts;
    c.knownHostsFile = file;
    c.globalKnownHostsFile = globalFile;
    return c;
}

Result<HostKeyCheck> HostKeyCheck::pinnedByCertificate(const Certificate& hostCertificate,
                                                       const PublicKey& hostCa, const QString& sandboxName,
                                                       const QDateTime& at)
{
    if (auto r = hostCertificate.check(hostCa, CertificateType::Host, sandboxName, at); !r)
        return makeError(r.error().code,
                         QStringLiteral("The host certificate of sandbox %1 cannot be trusted: %2")
                             .arg(sandboxName, r.error().message));
    return pinned(hostCertificate.key);
}

QString knownHostsName(const QString& host, int port)
{
    if (port == 22 || port <= 0)
        return host;
    return QStringLiteral("[%1]:%2").arg(host).arg(port);
}

Result<void> trustHostKey(const QString& file, const QString& host, int port, const PublicKey& key)
{
    if (host.isEmpty() || host.contains(QLatin1Char(' ')) || host.contains(QLatin1Char('\n')) || key.isNull())
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("A host name and a key are needed."));
    const QFileInfo info(file);
    if (!QDir().mkpath(info.absolutePath()))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot create the folder of %1.").arg(file));
    QFile f(file);
    const bool existed = f.exists();
    if (!f.open(QIODevice::Append | QIODevice::Text))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write %1.").arg(file), f.errorString());
    if (!existed)
        f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    const QByteArray line =
        (knownHostsName(host, port) + QLatin1Char(' ') + key.toOpenSshLine()).toUtf8() + '\n';
    if (f.write(line) != line.size())
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write %1.").arg(file), f.errorString());
    return {};
}

} // namespace fluid::ssh

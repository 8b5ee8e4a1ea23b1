// SPDX-License-Identifier: Apache-2.0
#include "services/Onboarding.h"

#include "secrets/SecretStore.h"
#include "services/Wiring.h"
#include "ssh/CertificateAuthority.h"
#include "ssh/LoginKey.h"
#include "ssh/SshConnection.h"
#include "virt/SandboxManager.h"

#include <QFile>
#include <QFileInfo>
#include <QUrl>
#include <QUrlQuery>

namespace fluid::services {

namespace {

QString explain(const Error& error)
{
    QString text = error.message;
    if (!error.detail.isEmpty() && !text.contains(error.detail))
        text += QStringLiteral(" (%1)").arg(error.detail);
    const QString remedy = remedyFor(error);
    if (!remedy.isEmpty())
        text += QStringLiteral("\nWhat to do: ") + remedy;
    return text;
}

bool cancelled(const std::atomic<bool>* cancel)
{
    return cancel && cancel->load();
}

} // namespace

QString remedyFor(const Error& error)
{
    const QString words = error.message + QLatin1Char(' ') + error.detail;
    const auto has = [&words](const char* text) {
        return words.contains(QLatin1String(text), Qt::CaseInsensitive);
    };
    if (has("Permission denied") || has("Access denied") || has("authentication"))
        return QStringLiteral("Add your public key (the .pub file beside the key you chose) to "
                              "~/.ssh/authorized_keys of that user on the host, or choose the key the host "
                              "already accepts; for a local host, add yourself to the libvirt group and "
                              "log in again.");
    if (has("Host key verification failed"))
        return QStringLiteral(
            "libvirt's own ssh does not know the host's key: run `ssh` to the host once "
            "as this user and confirm the same fingerprint, so ~/.ssh/known_hosts lists it.");
    if (has("libvirt-sock") || has("Failed to connect socket") || has("virtqemud") || has("libvirtd") ||
        has("virt-ssh-helper") || has("nc: ") || has("netcat"))
        return QStringLiteral("Make sure libvirt runs on the host: install it, then `sudo systemctl enable "
                              "--now libvirtd` (or virtqemud.socket), and check that the user may use it "
                              "(member of the libvirt group).");
    if (has("Connection refused"))
        return QStringLiteral("Nothing listens on that port: check the host name and port, and that sshd "
                              "runs on the host (`sudo systemctl start ssh`).");
    if (has("timed out") || has("Timeout") || has("No route") || has("unreachable"))
        return QStringLiteral("The host did not answer: check the address, that it is switched on, and "
                              "that no firewall blocks the port.");
    if (has("resolve") || has("Name or service not known"))
        return QStringLiteral("The host name does not resolve: check its spelling or use its IP address.");
    if (error.code == ErrorCode::Tampered)
        return QStringLiteral("The host presents a different key than the one trusted before. Ask the "
                              "host's administrator whether it was reinstalled; do not continue until the "
                              "new key is confirmed, then remove the old line from known_hosts.");
    return {};
}

QString sshHypervisorUri(const QString& user, const QString& host, int port, const QString& keyFile)
{
    QUrl url;
    url.setScheme(QStringLiteral("qemu+ssh"));
    if (!user.isEmpty())
        url.setUserName(user);
    url.setHost(host);
    if (port > 0 && port != 22)
        url.setPort(port);
    url.setPath(QStringLiteral("/system"));
    QUrlQuery query;
    if (!keyFile.isEmpty())
        query.addQueryItem(QStringLiteral("keyfile"), keyFile);
    // A window has no terminal for ssh to prompt on: fail with a message instead of waiting on one.
    query.addQueryItem(QStringLiteral("no_tty"), QStringLiteral("1"));
    url.setQuery(query);
    return url.toString();
}

SourceVmRow toSourceVmRow(const virt::SandboxManager::Source& source)
{
    SourceVmRow row;
    row.name = source.domain.name;
    row.state = virt::domainStateName(source.state);
    row.vcpus = source.domain.vcpus;
    row.memoryMib = source.domain.memoryKib / 1024;
    row.refusal = source.refusal;
    row.warning = source.warning;
    return row;
}

namespace {

Result<QList<SourceVmRow>> sourceRows(virt::Hypervisor& hypervisor)
{
    auto sources = virt::SandboxManager::listSources(hypervisor);
    if (!sources)
        return sources.error();
    QList<SourceVmRow> rows;
    for (const virt::SandboxManager::Source& s : *sources)
        rows.append(toSourceVmRow(s));
    return rows;
}

} // namespace

Result<QList<SourceVmRow>> listSourceVms(const QString& uri, const QString& knownHostsFile,
                                         const HypervisorConnector& connect)
{
    auto hv = connect ? connect(uri, knownHostsFile) : connectHypervisor(uri, knownHostsFile);
    if (!hv)
        return makeError(hv.error().code,
                         QStringLiteral("libvirt could not open %1: %2").arg(uri, explain(hv.error())),
                         hv.error().detail);
    auto rows = sourceRows(**hv);
    if (!rows)
        return makeError(
            rows.error().code,
            QStringLiteral("The VMs of %1 could not be listed: %2").arg(uri, explain(rows.error())),
            rows.error().detail);
    return rows;
}

HostProbeReport probeHost(const HostProbeRequest& request, const HypervisorConnector& connect,
                          const std::function<void(const HostCheck&)>& step, const std::atomic<bool>* cancel)
{
    HostProbeReport report;
    const auto add = [&](const QString& title, HostCheck::Status status, const QString& detail) {
        HostCheck check{title, status, detail};
        report.checks.append(check);
        if (step)
            step(check);
    };
    const QUrl url(request.uri);
    if (!url.isValid() || url.scheme().isEmpty()) {
        add(QStringLiteral("Address"), HostCheck::Status::Failed,
            QStringLiteral("\"%1\" is not a libvirt URI. Use qemu:///system for this machine or "
                           "qemu+ssh://user@host/system for a remote host.")
                .arg(request.uri));
        return report;
    }

    if (config::isOverSsh(request.uri)) {
        if (url.host().isEmpty()) {
            add(QStringLiteral("SSH reachable"), HostCheck::Status::Failed,
                QStringLiteral("%1 names no host. Enter the host's name or address.").arg(request.uri));
            return report;
        }
        const int port = url.port(22);
        auto key = ssh::SshConnection::fetchHostKey(url.host(), port, std::chrono::seconds(15));
        if (!key) {
            add(QStringLiteral("SSH reachable"), HostCheck::Status::Failed,
                QStringLiteral("%1:%2 did not answer as an SSH server: %3")
                    .arg(url.host())
                    .arg(port)
                    .arg(explain(key.error())));
            return report;
        }
        add(QStringLiteral("SSH reachable"), HostCheck::Status::Passed,
            QStringLiteral("%1:%2 answers with an Ed25519 host key.").arg(url.host()).arg(port));
        if (cancelled(cancel))
            return report;

        ssh::ConnectionOptions check;
        check.host = url.host();
        check.port = port;
        check.user = url.userName();
        check.useSshConfig = true;
        check.hostKeyCheck = ssh::HostKeyCheck::knownHosts(request.knownHostsFile);
        if (auto known = ssh::SshConnection::checkHostKey(check); !known) {
            if (known.error().code == ErrorCode::NotFound) {
                report.unknownFingerprint = key->fingerprint();
                add(QStringLiteral("Host key"), HostCheck::Status::NeedsConfirmation,
                    QStringLiteral("The host's key is not known yet. Its fingerprint is %1. Compare it "
                                   "with the host's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` "
                                   "on the host); trust it only if they are equal.")
                        .arg(key->fingerprint()));
            } else {
                add(QStringLiteral("Host key"), HostCheck::Status::Failed, explain(known.error()));
            }
            return report;
        }
        add(QStringLiteral("Host key"), HostCheck::Status::Passed,
            QStringLiteral("%1 is in known_hosts.").arg(key->fingerprint()));
        if (cancelled(cancel))
            return report;

        ssh::ConnectionOptions login = check;
        login.hostKeyOnly = false;
        login.loginKey = request.loginKey;
        bool canLogIn = true;
        if (login.loginKey.isEmpty() && !request.keyFile.isEmpty()) {
            const auto read = ssh::readPrivateKeyFile(request.keyFile);
            const QByteArray text = read ? *read : QByteArray();
            if (!read) {
                canLogIn = false;
                add(QStringLiteral("SSH login"), HostCheck::Status::Failed,
                    read.error().message + QStringLiteral(". Choose a readable private key."));
            } else if (ssh::isEncryptedPrivateKey(text)) {
                canLogIn = false;
                add(QStringLiteral("SSH login"), HostCheck::Status::Warning,
                    QStringLiteral(
                        "%1 is protected by a passphrase, and libvirt's ssh cannot ask for it "
                        "in a window. Load it into ssh-agent (`ssh-add %1`) and choose \"ssh-agent "
                        "and default keys\", or import it into Fluid's keychain.")
                        .arg(request.keyFile));
            } else if (auto key = ssh::parseLoginKey(text); !key) {
                canLogIn = false;
                add(QStringLiteral("SSH login"), HostCheck::Status::Failed,
                    QStringLiteral("%1 is not a usable private key: %2")
                        .arg(request.keyFile, key.error().message));
            } else {
                login.loginKey = key->privateKey;
            }
        }
        if (canLogIn) {
            auto connection = ssh::SshConnection::open(login);
            auto ready = connection->ready().result();
            if (!ready)
                add(QStringLiteral("SSH login"), HostCheck::Status::Failed,
                    QStringLiteral("Logging in as %1 failed: %2")
                        .arg(url.userName().isEmpty() ? QStringLiteral("you") : url.userName(),
                             explain(ready.error())));
            else
                add(QStringLiteral("SSH login"), HostCheck::Status::Passed,
                    QStringLiteral("Logged in as %1.").arg(connection->describe()));
        }
        if (cancelled(cancel))
            return report;
    }

    auto hv = connect ? connect(request.uri, request.knownHostsFile)
                      : connectHypervisor(request.uri, request.knownHostsFile, request.loginKey);
    if (!hv) {
        add(QStringLiteral("libvirt connects"), HostCheck::Status::Failed,
            QStringLiteral("libvirt could not open %1: %2").arg(request.uri, explain(hv.error())));
        return report;
    }
    report.libvirtConnected = true;
    add(QStringLiteral("libvirt connects"), HostCheck::Status::Passed,
        QStringLiteral("Connected to %1.").arg(request.uri));
    if (cancelled(cancel))
        return report;

    auto info = (*hv)->hostInfo();
    if (!info) {
        add(QStringLiteral("Host info"), HostCheck::Status::Failed, explain(info.error()));
        return report;
    }
    report.info = *info;
    add(QStringLiteral("Host info"),
        info->accelerator == virt::Accelerator::Kvm ? HostCheck::Status::Passed : HostCheck::Status::Warning,
        QStringLiteral("%1 CPUs, %2 MiB memory (%3 MiB free), accelerator %4: %5")
            .arg(info->cpus)
            .arg(info->memoryTotalKib / 1024)
            .arg(info->memoryFreeKib / 1024)
            .arg(virt::acceleratorName(info->accelerator).toUpper(), info->acceleratorReason));
    if (cancelled(cancel))
        return report;

    auto sources = sourceRows(**hv);
    if (!sources) {
        add(QStringLiteral("Source VMs"), HostCheck::Status::Warning, explain(sources.error()));
        return report;
    }
    report.sources = *sources;
    int cloneable = 0;
    for (const SourceVmRow& row : report.sources)
        cloneable += row.refusal.isEmpty() ? 1 : 0;
    add(QStringLiteral("Source VMs"), cloneable > 0 ? HostCheck::Status::Passed : HostCheck::Status::Warning,
        cloneable > 0
            ? QStringLiteral("%1 of %2 VM(s) can be cloned.").arg(cloneable).arg(report.sources.size())
            : QStringLiteral("No VM on this host can be cloned yet; build the golden image on the "
                             "next pages."));
    return report;
}

namespace {

CaSummary summarize(const ssh::CertificateAuthority& ca)
{
    return {ca.userCaOpenSshLine(), ca.hostCaKnownHostsLine(QStringLiteral("fluid-sbx-*")),
            ca.userCaPublicKey().fingerprint(), ca.hostCaPublicKey().fingerprint()};
}

Result<QByteArray> readCaKey(const QString& path, const QString& what)
{
    QFile file(path);
    if (QFileInfo(path).size() > ssh::kMaxPrivateKeyFileBytes)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("%1 %2 is too large to be an SSH private key; choose the key file "
                                        "itself.")
                             .arg(what, path));
    if (!file.open(QIODevice::ReadOnly))
        return makeError(ErrorCode::Io,
                         QStringLiteral("Cannot read the %1 %2; choose a file you can read.").arg(what, path),
                         file.errorString());
    const QByteArray pem = file.readAll();
    if (auto pair = ssh::KeyPair::fromOpenSshPrivateKey(pem); !pair)
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The %1 %2 is not an unencrypted Ed25519 OpenSSH private key. "
                           "Remove its passphrase with `ssh-keygen -p -f FILE` or create a new CA.")
                .arg(what, path),
            pair.error().message);
    return pem;
}

} // namespace

Result<CaSummary> createCa(secrets::SecretStore& store)
{
    auto ca = ssh::CertificateAuthority::loadOrCreate(store);
    if (!ca)
        return ca.error();
    return summarize(**ca);
}

Result<CaSummary> importCa(secrets::SecretStore& store, const QString& userCaFile, const QString& hostCaFile)
{
    auto user = readCaKey(userCaFile, QStringLiteral("user CA key"));
    if (!user)
        return user.error();
    auto host = readCaKey(hostCaFile, QStringLiteral("host CA key"));
    if (!host)
        return host.error();
    if (auto w = store.write(QString::fromLatin1(secrets::keys::kSshUserCa), *user); !w)
        return w.error();
    if (auto w = store.write(QString::fromLatin1(secrets::keys::kSshHostCa), *host); !w)
        return w.error();
    return createCa(store);
}

} // namespace fluid::services

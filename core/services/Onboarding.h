// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "virt/Hypervisor.h"
#include "virt/SandboxManager.h"

#include <QList>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace fluid::secrets {
class SecretStore;
}

namespace fluid::services {

// What the onboarding wizard and the settings dialog need from core, as plain blocking functions over
// plain data. Thread: any, but every function that touches the network, libvirt, the secret store or a
// process blocks: call those from a worker, never from the GUI thread.

/// One step of a host connection test, as a person reads it.
struct HostCheck {
    enum class Status { Passed, Failed, Warning, NeedsConfirmation };
    QString title; ///< "SSH reachable", "Host key", "SSH login", "libvirt connects", "Host info"
    Status status = Status::Passed;
    QString detail; ///< what was found; for failures, why and what to do
};

/// A source VM on a host, as the golden VM page lists it.
struct SourceVmRow {
    QString name;
    QString state;
    int vcpus = 0;
    qint64 memoryMib = 0;
    QString refusal; ///< empty when cloneable
    QString warning;
};

/// The row for a source VM SandboxManager listed.
SourceVmRow toSourceVmRow(const virt::SandboxManager::Source& source);

struct HostProbeRequest {
    QString uri;
    /// Empty: ~/.ssh/known_hosts.
    QString knownHostsFile;
    /// For the SSH login check of a qemu+ssh:// host: the private key file the URI names (unencrypted, any
    /// type); empty: libssh's automatic key authentication (ssh-agent, ~/.ssh/id_*).
    QString keyFile;
    /// A login key kept in Fluid's keychain (private key text): used for the SSH login check and handed to
    /// libvirt in memory; takes the place of keyFile.
    QByteArray loginKey;
};

/// What a connection test found. ok() when libvirt connected and the host's info could be read.
struct HostProbeReport {
    QList<HostCheck> checks;
    /// Set when the host's SSH key is not in known_hosts: the "SHA256:..." a person must confirm.
    QString unknownFingerprint;
    bool libvirtConnected = false;
    std::optional<virt::HostInfo> info;
    QList<SourceVmRow> sources;
    bool ok() const { return libvirtConnected && info.has_value(); }
};

/// How a probe opens the hypervisor (services::connectHypervisor by default; tests pass one that defines a
/// golden VM on libvirt's test driver).
using HypervisorConnector = std::function<Result<std::unique_ptr<virt::Hypervisor>>(
    const QString& uri, const QString& knownHostsFile)>;

/// Tests a host step by step: for a URI over SSH, that the SSH port answers, that its host key is known
/// (else stops with NeedsConfirmation and the fingerprint), that a login works; then that libvirt
/// connects, the host's CPUs, memory and accelerator, and its source VMs. Each finished step is passed to
/// `step` (from the calling thread) as it completes. Stops early when `cancel` turns true. Blocks.
HostProbeReport probeHost(const HostProbeRequest& request, const HypervisorConnector& connect = {},
                          const std::function<void(const HostCheck&)>& step = {},
                          const std::atomic<bool>* cancel = nullptr);

/// The source VMs of the host at `uri` as the golden VM page lists them (opened like probeHost() opens it,
/// without its SSH checks: for a host probeHost() has passed). Blocks.
Result<QList<SourceVmRow>> listSourceVms(const QString& uri, const QString& knownHostsFile,
                                         const HypervisorConnector& connect = {});

/// "qemu+ssh://user@host:port/system?keyfile=...&no_tty=1": the libvirt URI of a remote host reached over
/// SSH (no_tty: ssh fails instead of prompting, as a window has no terminal). Port 22 and an empty key file
/// are left out.
QString sshHypervisorUri(const QString& user, const QString& host, int port, const QString& keyFile);

/// What a person should do about a failed libvirt/SSH step, from the error's words; empty when nothing
/// specific is known.
QString remedyFor(const Error& error);

/// Fluid's SSH CA public lines, after creating or importing it.
struct CaSummary {
    QString userCaLine; ///< "ssh-ed25519 AAAA... fluid-user-ca"
    /// "@cert-authority fluid-sbx-* ssh-ed25519 AAAA... fluid-host-ca": trusts sandbox host certificates only
    /// (they name only the sandbox's principal; clients use it as HostKeyAlias), never any other host.
    QString hostCaLine;
    QString userCaFingerprint;
    QString hostCaFingerprint;
};

/// Creates Fluid's user and host CA keys in `store` (an existing key is kept and reused). Blocks.
Result<CaSummary> createCa(secrets::SecretStore& store);

/// Stores existing CA private keys (OpenSSH format, unencrypted Ed25519) read from the two files into
/// `store`, replacing what is there. Both files are checked before anything is written. Blocks.
Result<CaSummary> importCa(secrets::SecretStore& store, const QString& userCaFile, const QString& hostCaFile);

} // namespace fluid::services

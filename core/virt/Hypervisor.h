// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "DomainMark.h"
#include "SourceDomain.h"

#include <QDateTime>
#include <QStringList>

#include <functional>

namespace fluid::virt {

enum class Accelerator { Kvm, Tcg };
QString acceleratorName(Accelerator a);

/// What a person chooses: let Fluid decide, or force one.
enum class AcceleratorChoice { Auto, Kvm, Tcg };

enum class DomainState { Unknown, Running, Paused, ShuttingDown, ShutOff, Crashed, Suspended };
QString domainStateName(DomainState s);

/// A host's capacity and what it can run, as its connection test reports it.
struct HostInfo {
    QString uri;
    QString hostname;
    QString libvirtVersion;
    QString hypervisorVersion;
    int cpus = 0;
    qint64 memoryTotalKib = 0;
    qint64 memoryFreeKib = 0;
    QString poolName;
    qint64 poolFreeBytes = -1; ///< -1 when the host has no active storage pool
    Accelerator accelerator = Accelerator::Tcg;
    QString acceleratorReason; ///< why this accelerator (for people)
};

struct DomainSummary {
    QString name;
    QString uuid;
    DomainState state = DomainState::Unknown;
    int vcpus = 0;
    qint64 memoryKib = 0;
    DomainMark mark; ///< Fluid's mark from its metadata; empty on domains Fluid did not make
};

struct VolumeInfo {
    QString pool;
    QString name;
    QString path;
    qint64 capacityBytes = 0;
};

struct SnapshotInfo {
    QString name;
    QString description;
    QDateTime createdAt;
    DomainState state = DomainState::Unknown; ///< the domain's state when it was taken
    bool current = false;
};

/// The network Fluid owns for its sandboxes (SandboxNetwork.h): guests get DHCP and reach the egress gate
/// on the gateway address, nothing else: no other port on the host, no other sandbox, no DNS, no route.
struct NetworkSpec {
    QString name;
    QString bridge;
    QString gatewayAddress; ///< e.g. 10.213.0.1
    QString netmask = QStringLiteral("255.255.255.0");
    QString dhcpStart;
    QString dhcpEnd;
    int gatePort = 3128; ///< the egress gate listens on gatewayAddress:gatePort
};

/// One libvirt host: local qemu:///system, remote qemu+ssh://user@host/system, or libvirt's own
/// test:///default in unit tests. Calls block (libvirt RPC) and are thread-safe: call them from workers,
/// never from the GUI thread.
class Hypervisor {
public:
    virtual ~Hypervisor() = default;

    virtual QString uri() const = 0;
    /// True when the host is this machine (files Fluid writes here are visible to its libvirtd).
    virtual bool isLocal() const = 0;
    virtual Result<HostInfo> hostInfo(AcceleratorChoice choice = AcceleratorChoice::Auto) = 0;

    /// Every domain with Fluid's mark (the persistent definition's, for a defined domain).
    virtual Result<QList<DomainSummary>> domains() = 0;
    /// Fluid's mark of one domain (empty when it has none); NotFound when there is no such domain.
    virtual Result<DomainMark> domainMark(const QString& name) = 0;
    /// Replaces Fluid's mark of a domain, in its definition and, while it runs, live.
    virtual Result<void> setDomainMark(const QString& name, const DomainMark& mark) = 0;
    virtual Result<QString> domainXml(const QString& name) = 0;
    virtual Result<DomainState> domainState(const QString& name) = 0;
    virtual Result<void> defineDomain(const QString& xml) = 0;
    /// Removes the definition with its snapshot metadata and NVRAM; a missing domain is not an error.
    virtual Result<void> undefineDomain(const QString& name) = 0;
    virtual Result<void> startDomain(const QString& name) = 0;
    /// Asks the guest to power off (ACPI); returns at once.
    virtual Result<void> shutdownDomain(const QString& name) = 0;
    /// Powers off at once; a domain that is not running is not an error.
    virtual Result<void> destroyDomain(const QString& name) = 0;
    /// IPv4 addresses: the DHCP lease first, then the guest agent.
    virtual Result<QStringList> addresses(const QString& name) = 0;
    /// Sets the guest clock from the host's (guest agent).
    virtual Result<void> syncGuestTime(const QString& name) = 0;

    /// A qcow2 volume in `pool` whose backing file is `backingPath` (a volume libvirt knows, or on a local
    /// host any image file), as large as its backing image.
    virtual Result<VolumeInfo> createOverlay(const QString& pool, const QString& name,
                                             const QString& backingPath, const QString& backingFormat) = 0;
    /// An empty volume of `capacityBytes` in `pool` (format raw or qcow2).
    virtual Result<VolumeInfo> createVolume(const QString& pool, const QString& name, qint64 capacityBytes,
                                            const QString& format) = 0;
    /// A volume in `pool` holding exactly `content` (identity files, seeds, NVRAM copies), mode 0600.
    virtual Result<VolumeInfo> createVolumeWithContent(const QString& pool, const QString& name,
                                                       const QByteArray& content) = 0;
    /// Deletes the volume at `path`; a missing volume is not an error.
    virtual Result<void> deleteVolume(const QString& path) = 0;
    virtual Result<QList<VolumeInfo>> volumes(const QString& pool) = 0;
    virtual Result<QStringList> pools() = 0;

    virtual Result<void> ensureNetwork(const NetworkSpec& spec) = 0;
    /// A directory storage pool `name` at `path` on the host: defined, built and started when missing.
    virtual Result<void> ensurePool(const QString& name, const QString& path) = 0;

    /// Internal snapshot; quiesce freezes guest file systems through the guest agent when it answers.
    virtual Result<void> createSnapshot(const QString& domain, const QString& name,
                                        const QString& description, bool quiesce) = 0;
    virtual Result<QList<SnapshotInfo>> snapshots(const QString& domain) = 0;
    virtual Result<void> revertSnapshot(const QString& domain, const QString& name) = 0;
    virtual Result<void> deleteSnapshot(const QString& domain, const QString& name) = 0;

    /// Lifecycle events (started, stopped, crashed, ...) for every domain, from libvirt's event stream;
    /// delivered on libvirt's event thread. Replaces any earlier handler; an empty function stops delivery.
    using DomainEventHandler = std::function<void(const QString& domain, DomainState state)>;
    virtual void setDomainEventHandler(DomainEventHandler handler) = 0;

    /// Connection drops and recoveries: up=false with the reason when the connection to the host is lost
    /// (Fluid then reconnects by itself, with back-off), up=true once it is back and events flow again.
    /// Delivered on a libvirt thread. Replaces any earlier handler.
    using ConnectionHandler = std::function<void(bool up, const QString& reason)>;
    virtual void setConnectionHandler(ConnectionHandler handler) { Q_UNUSED(handler) }
};

/// Chooses the accelerator: Kvm or Tcg when forced; Auto picks KVM only where it really works. Linux hosts
/// running a PVM kernel advertise KVM but cannot run ordinary guests (/sys/module/kvm_pvm), so they get
/// TCG. `kvmAdvertised` comes from the host's capabilities; `localHost` says whether /sys and /dev here
/// describe that host.
Accelerator chooseAccelerator(AcceleratorChoice choice, bool kvmAdvertised, bool localHost, QString* reason);

} // namespace fluid::virt

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Hypervisor.h"

#include <QMutex>

#include <memory>

namespace fluid::virt {

/// Hypervisor over the libvirt C API: one connection per host, keepalive where the driver supports it,
/// lifecycle events from libvirt's event loop (a process-wide thread). A dropped connection is noticed
/// (close callback, keepalive) and made again: in the background with back-off, and at the latest by the
/// next call. Thread-safe; blocking.
class LibvirtHypervisor final : public Hypervisor {
public:
    /// Connects to `uri`. For qemu+ssh:// the host's SSH key must already be trusted (known_hosts).
    static Result<std::unique_ptr<LibvirtHypervisor>> connect(const QString& uri);
    ~LibvirtHypervisor() override;
    LibvirtHypervisor(const LibvirtHypervisor&) = delete;
    LibvirtHypervisor& operator=(const LibvirtHypervisor&) = delete;

    QString uri() const override { return m_uri; }
    bool isLocal() const override;
    Result<HostInfo> hostInfo(AcceleratorChoice choice) override;
    Result<QList<DomainSummary>> domains() override;
    Result<DomainMark> domainMark(const QString& name) override;
    Result<void> setDomainMark(const QString& name, const DomainMark& mark) override;
    Result<QString> domainXml(const QString& name) override;
    Result<DomainState> domainState(const QString& name) override;
    Result<void> defineDomain(const QString& xml) override;
    Result<void> undefineDomain(const QString& name) override;
    Result<void> startDomain(const QString& name) override;
    Result<void> shutdownDomain(const QString& name) override;
    Result<void> destroyDomain(const QString& name) override;
    Result<QStringList> addresses(const QString& name) override;
    Result<void> syncGuestTime(const QString& name) override;
    Result<VolumeInfo> createOverlay(const QString& pool, const QString& name, const QString& backingPath,
                                     const QString& backingFormat) override;
    Result<VolumeInfo> createVolume(const QString& pool, const QString& name, qint64 capacityBytes,
                                    const QString& format) override;
    Result<VolumeInfo> createVolumeWithContent(const QString& pool, const QString& name,
                                               const QByteArray& content) override;
    Result<void> deleteVolume(const QString& path) override;
    Result<QList<VolumeInfo>> volumes(const QString& pool) override;
    Result<QStringList> pools() override;
    Result<void> ensureNetwork(const NetworkSpec& spec) override;
    Result<void> ensurePool(const QString& name, const QString& path) override;
    Result<void> createSnapshot(const QString& domain, const QString& name, const QString& description,
                                bool quiesce) override;
    Result<QList<SnapshotInfo>> snapshots(const QString& domain) override;
    Result<void> revertSnapshot(const QString& domain, const QString& name) override;
    Result<void> deleteSnapshot(const QString& domain, const QString& name) override;
    void setDomainEventHandler(DomainEventHandler handler) override;
    void setConnectionHandler(ConnectionHandler handler) override;

private:
    struct Impl;
    explicit LibvirtHypervisor(QString uri, std::unique_ptr<Impl> impl);

    QString m_uri;
    std::unique_ptr<Impl> m_impl;
};

} // namespace fluid::virt

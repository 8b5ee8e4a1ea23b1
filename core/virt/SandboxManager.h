// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "Hypervisor.h"
#include "model/Model.h"
#include "store/Database.h"

#include <atomic>
#include <functional>

namespace fluid::virt {

/// The SSH identity a sandbox boots with: its host key and host certificate, the user CA it trusts and the
/// one principal it accepts for root. Issued by the SSH layer's CA.
struct SandboxIdentity {
    QByteArray hostPrivateKey; ///< OpenSSH private key file content
    QString hostPublicKey;     ///< its public half, OpenSSH line: stored so clients can pin it
    QByteArray hostCertificate;
    QByteArray userCaPublicKey;
    QString principal;
};
using IdentityIssuer = std::function<Result<SandboxIdentity>(const QString& sandboxName)>;

/// Tells whether a sandbox at `ip` answers (the SSH banner). Runs on the manager's thread, may block up to
/// the time it is given.
using ReadinessProbe = std::function<bool(const QString& ip, int timeoutMs)>;
/// The default probe: a TCP connect to ip:22 that reads "SSH-2.0".
bool sshBannerAnswers(const QString& ip, int timeoutMs);

/// Per-host limits from config; 0 means no limit beyond what the host has free.
struct HostLimits {
    int maxMemoryMib = 0;
    int maxVcpus = 0;
    int maxSandboxes = 0;
};

struct CreateOptions {
    QString hostId; ///< store row of the host
    QString sourceDomain;
    QString name; ///< empty: generated sbx-xxxxxxxx
    int memoryMib = 512;
    int vcpus = 1;
    AcceleratorChoice accelerator = AcceleratorChoice::Auto;
    HostLimits limits;
    QString actor = QStringLiteral("person");
    QString sessionId;
    bool waitReady = true;
    int readyTimeoutS = 180;
    qint64 approvalTtlMs = 15 * 60 * 1000;
};

enum class CreateStage { Checking, Admission, Overlay, Identity, Define, Start, WaitAddress, WaitSsh, Ready };
QString createStageName(CreateStage s);
using CreateProgress = std::function<void(CreateStage stage, const QString& message)>;

struct ReconcileReport {
    QStringList removedDomains;
    QStringList removedVolumes;
    QStringList updatedRows;
    QStringList problems;
};

struct ManagerOptions {
    NetworkSpec network{QStringLiteral("fluid-sandbox"), QStringLiteral("fluidbr0"),
                        QStringLiteral("10.213.0.1"),    QStringLiteral("255.255.255.0"),
                        QStringLiteral("10.213.0.100"),  QStringLiteral("10.213.0.200")};
    /// The pool sandbox overlays and identity files go to, created on demand (a directory pool).
    QString poolName = QStringLiteral("fluid-sandboxes");
    QString poolPath = QStringLiteral("/var/lib/libvirt/images/fluid-sandboxes");
    /// Where identity files go on a local host whose storage driver cannot upload (libvirt's test driver).
    QString localFileDir;
    IdentityIssuer issueIdentity; ///< empty: no identity injected (sources that bring their own access)
    ReadinessProbe probe = sshBannerAnswers;
    int stopTimeoutS = 60;
};

/// Turns golden VMs into disposable sandboxes on one host and runs their lifecycle: create (admission,
/// overlay through libvirt's storage API, identity, derived XML, start, readiness) with rollback of every
/// step on failure or cancel; start, stop (graceful, then forced), destroy; internal snapshots; reconcile
/// after a crash. Every step is stored and audited. Calls block (libvirt, waiting for the guest): run them
/// on a worker thread with a Database opened on that thread.
class SandboxManager {
public:
    SandboxManager(Hypervisor& hypervisor, store::Database& db, ManagerOptions options,
                   const Clock& clock = Clock::system());

    /// The store this manager records in (the caller's connection, same thread).
    store::Database& database() const { return m_db; }

    /// Source VMs on the host: domains that are not Fluid sandboxes, with why a domain cannot be cloned.
    struct Source {
        SourceDomain domain;
        DomainState state = DomainState::Unknown;
        QString refusal; ///< empty when cloneable
        QString warning; ///< e.g. running: its disk changes under the clone
    };
    Result<QList<Source>> sources();
    /// sources() of any hypervisor connection, without a store (the onboarding wizard lists them before
    /// a store exists). Blocks.
    static Result<QList<Source>> listSources(Hypervisor& hypervisor);

    Result<model::Sandbox> create(const CreateOptions& options, const CreateProgress& progress = {},
                                  const std::atomic<bool>* cancel = nullptr);
    Result<model::Sandbox> start(const QString& sandboxId);
    /// Asks the guest to shut down, waits up to the stop timeout, then powers it off; STOPPED only once
    /// libvirt reports the domain shut off.
    Result<model::Sandbox> stop(const QString& sandboxId);
    /// Powers off, removes the domain (with snapshot metadata and NVRAM), its overlays and identity files,
    /// and marks the row DESTROYED.
    Result<model::Sandbox> destroy(const QString& sandboxId);

    Result<model::Snapshot> snapshot(const QString& sandboxId, const QString& name,
                                     const QString& kind = QStringLiteral("manual"),
                                     const QString& description = {});
    Result<QList<SnapshotInfo>> snapshots(const QString& sandboxId);
    /// Reverts to the snapshot, then sets the guest clock when it runs.
    Result<void> revert(const QString& sandboxId, const QString& snapshotName);
    Result<void> deleteSnapshot(const QString& sandboxId, const QString& snapshotName);

    /// Fluid-named domains and volumes the store does not know, rows in CREATING (a create that died) and
    /// rows whose domain is gone: cleaned up, stored and audited.
    Result<ReconcileReport> reconcile(const QString& hostId);

    /// Updates the row of the sandbox whose domain changed state (from libvirt's event stream).
    Result<void> applyDomainEvent(const QString& domainName, DomainState state);

private:
    struct Created;
    Result<model::Sandbox> loadLive(const QString& sandboxId);
    Result<void> admit(const CreateOptions& options, const HostInfo& host, const QString& name,
                       const CreateProgress& progress, const std::atomic<bool>* cancel);
    Result<void> rollback(Created& made);
    Result<QString> storeHostFile(const QString& pool, const QString& name, const QByteArray& content);
    Result<void> removeHostFile(const QString& path);
    /// Every volume and local file named for a sandbox ("fluid-<name>.<what>"), by sandbox name.
    Result<QHash<QString, QStringList>> hostFiles();
    Result<void> waitForState(const QString& domain, DomainState wanted, int timeoutMs);
    void audit(const QString& actor, const QString& kind, const QString& summary, const QString& sandboxId,
               const QJsonObject& data = {});

    Hypervisor& m_hv;
    store::Database& m_db;
    ManagerOptions m_options;
    const Clock& m_clock;
};

} // namespace fluid::virt

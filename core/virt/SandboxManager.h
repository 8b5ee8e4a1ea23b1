// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Clock.h"
#include "base/Progress.h"
#include "Hypervisor.h"
#include "model/Model.h"
#include "SourceDomain.h"
#include "store/Database.h"

#include <QFuture>
#include <QSet>

#include <functional>
#include <optional>

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
/// Issues a sandbox's identity: its name (the hostname) and the one principal its sshd accepts for root.
using IdentityIssuer =
    std::function<Result<SandboxIdentity>(const QString& sandboxName, const QString& principal)>;

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
    model::Actor actor; ///< who asked; every record of the create names them
    QString sessionId;
    bool waitReady = true;
    int readyTimeoutS = 180;
    qint64 approvalTtlMs = 15 * 60 * 1000;
};

enum class CreateStage { Checking, Admission, Overlay, Identity, Define, Start, WaitAddress, WaitSsh, Ready };
/// The Progress::stage text of a create's step ("creating the overlay disk", ...).
QString createStageName(CreateStage s);

/// A create that would go beyond what a host has free or its limits allow: what a person is asked.
struct AdmissionRequest {
    QString sandboxName;
    QString hostUri;
    QString hostLabel; ///< the host's name as it calls itself, else its URI
    int memoryMib = 0;
    int vcpus = 0;
    QStringList over; ///< each limit it goes beyond, as a person reads it
    model::Actor actor;
    QString sessionId;
    qint64 ttlMs = 0; ///< how long a person has to decide
};

/// How a create beyond the limits asks for permission; the services supply it (an approval request). It
/// reports through `progress` what it is waiting for, never blocks, and its future finishes once a person
/// decided: ok to go ahead, else Refused, Timeout (nobody decided in time) or Cancelled.
using AdmissionGate =
    std::function<QFuture<Result<void>>(const AdmissionRequest&, const ProgressSink&, const CancelToken&)>;

/// What the first half of a create found (SandboxManager::planCreate), for the second half.
struct CreatePlan {
    CreateOptions options; ///< with the name filled in
    QString sourceXml;
    SourceDomain source;
    HostInfo host;
    /// Set when a person must allow the create first (AdmissionGate).
    std::optional<AdmissionRequest> admission;
};

struct ReconcileReport {
    QStringList removedDomains;
    QStringList removedVolumes;
    QStringList updatedRows;
    QStringList leftAlone; ///< what is not this store's to touch now (a create running elsewhere, ...)
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
    /// How long a create's or a reconcile's claim in the store lasts unless renewed; they renew it as they
    /// work, so only one that died (or hangs this long) is taken over.
    qint64 leaseTtlMs = 2 * 60 * 1000;
};

/// Turns golden VMs into disposable sandboxes on one host and runs their lifecycle: create in two halves
/// (planCreate: checks and whether a person must allow it; create: overlay through libvirt's storage API,
/// identity, derived XML, start, readiness, with rollback of every step on failure or cancel), start, stop
/// (graceful, then forced), destroy; internal snapshots; reconcile after a crash. Every step is stored and
/// audited with the actor who asked. Calls block (libvirt, waiting for the guest): run them on a worker
/// thread with a Database opened on that thread. Waiting for a person's permission is not its business: the
/// caller does that between the two halves of a create, without holding a thread (services::HostSession).
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

    /// The first half of a create: the name, the source (cloneable, not a sandbox), the host, and whether
    /// the create goes beyond what the host has free or its limits (then plan.admission says what to ask).
    /// Changes nothing.
    Result<CreatePlan> planCreate(const CreateOptions& options, const ProgressSink& progress = {});
    /// The second half: makes the sandbox the plan describes (after a person allowed it, when the plan asked)
    /// and, unless told not to, waits until its SSH answers. Every step is rolled back on failure or cancel.
    Result<model::Sandbox> create(const CreatePlan& plan, const ProgressSink& progress = {},
                                  const CancelToken& cancel = {});
    /// Both halves, for a plan that needs no permission; one that does is Refused, saying why.
    Result<model::Sandbox> createWithinLimits(const CreateOptions& options, const ProgressSink& progress = {},
                                              const CancelToken& cancel = {});
    Result<model::Sandbox> start(const QString& sandboxId, const model::Actor& actor);
    /// Asks the guest to shut down, waits up to the stop timeout, then powers it off; STOPPED only once
    /// libvirt reports the domain shut off.
    Result<model::Sandbox> stop(const QString& sandboxId, const model::Actor& actor);
    /// Powers off, removes the domain (with snapshot metadata and NVRAM), its overlays and identity files,
    /// and marks the row DESTROYED. A domain of that name without this sandbox's mark is left alone.
    Result<model::Sandbox> destroy(const QString& sandboxId, const model::Actor& actor);

    Result<model::Snapshot> snapshot(const QString& sandboxId, const QString& name, const model::Actor& actor,
                                     model::SnapshotKind kind = model::SnapshotKind::Manual,
                                     const QString& description = {});
    Result<QList<SnapshotInfo>> snapshots(const QString& sandboxId);
    /// Reverts to the snapshot, then sets the guest clock when it runs.
    Result<void> revert(const QString& sandboxId, const QString& snapshotName, const model::Actor& actor);
    Result<void> deleteSnapshot(const QString& sandboxId, const QString& snapshotName,
                                const model::Actor& actor);

    /// Cleans up after a crash, touching only what carries this store's mark: domains and volumes it made
    /// that no live row owns, rows in CREATING whose create died (one still renewing its lease is left
    /// alone), rows whose domain is gone. Sandboxes made before marks named a store are marked (adopted).
    /// Stored and audited; one reconcile of a host at a time (Unavailable while another runs).
    Result<ReconcileReport> reconcile(const QString& hostId);

    /// Updates the row of the sandbox whose domain changed state (from libvirt's event stream).
    Result<void> applyDomainEvent(const QString& domainName, DomainState state);

private:
    struct Created;
    /// This store's volumes and local files in Fluid's own pool and folder, by sandbox name: those named
    /// with its id, and those named before names carried one ("fluid-<name>.<what>"), which are its own only
    /// when the sandbox's domain is.
    struct HostFiles {
        QHash<QString, QStringList> marked;
        QHash<QString, QStringList> legacy;
    };
    Result<QString> storeId();
    Result<model::Sandbox> loadLive(const QString& sandboxId);
    /// loadLive, and the domain carries this store's mark for this row: Refused otherwise (Fluid acts only on
    /// what it owns).
    Result<model::Sandbox> loadOwned(const QString& sandboxId);
    /// What the create would go beyond, as a person reads it (empty: within every limit).
    Result<QStringList> overLimits(const CreateOptions& options, const HostInfo& host);
    Result<void> checkNameFree(const CreateOptions& options);
    // The steps of create(), in order; each records what it made in `made` for rollback.
    Result<void> insertRow(const CreatePlan& plan, Created& made);
    Result<void> makeOverlays(const CreatePlan& plan, Created& made);
    Result<void> copyNvram(const CreatePlan& plan, Created& made);
    Result<void> injectIdentity(const CreatePlan& plan, Created& made);
    Result<void> defineAndStart(const CreatePlan& plan, Created& made, const ProgressSink& progress,
                                const CancelToken& cancel);
    Result<QString> waitForAddress(const CreatePlan& plan, Created& made, const CancelToken& cancel);
    Result<void> waitForSsh(const CreatePlan& plan, Created& made, const QString& ip,
                            const CancelToken& cancel);
    /// Renews the create's lease now and then (`now`: at once); an error once another process took it over.
    Result<void> keepLease(Created& made, bool now = false);
    Result<model::Sandbox> markRunning(const CreatePlan& plan, Created& made);
    Result<void> rollback(Created& made);
    Result<QString> storeHostFile(const QString& pool, const QString& name, const QByteArray& content);
    Result<void> removeHostFile(const QString& path);
    Result<HostFiles> hostFiles(const QString& storeId);
    // The steps of reconcile().
    void reconcileRow(model::Sandbox row, const QHash<QString, DomainSummary>& domains,
                      const HostFiles& files, const QString& storeId, ReconcileReport& report,
                      QSet<QString>& handledNames);
    void reconcileCreate(const model::Sandbox& row, const HostFiles& files, const QString& storeId,
                         ReconcileReport& report, QSet<QString>& handledNames);
    void removeOrphanDomains(const QList<DomainSummary>& domains, const QSet<QString>& handledIds,
                             const QString& storeId, ReconcileReport& report);
    void removeOrphanFiles(const HostFiles& files, const QSet<QString>& handledNames,
                           ReconcileReport& report);
    Result<void> waitForState(const QString& domain, DomainState wanted, int timeoutMs);
    void audit(const model::Actor& actor, const QString& kind, const QString& summary,
               const QString& sandboxId, const QJsonObject& data = {});

    Hypervisor& m_hv;
    store::Database& m_db;
    ManagerOptions m_options;
    const Clock& m_clock;
    QString m_storeId; ///< read once
};

} // namespace fluid::virt

// SPDX-License-Identifier: Apache-2.0
// HostSession's questions and operations: each registered in the operation registry and run on a worker.
#include "HostSession.h"

#include "base/Logging.h"
#include "SandboxDiff.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QMetaObject>
#include <QPromise>

namespace fluid::services {

template <typename R>
QFuture<Result<R>>
HostSession::ask(std::function<Result<R>(virt::SandboxManager&, store::Database&)> question)
{
    auto promise = std::make_shared<QPromise<Result<R>>>();
    promise->start();
    QFuture<Result<R>> future = promise->future();
    const bool started = onWorker([promise, question](virt::SandboxManager& manager, store::Database& db) {
        promise->addResult(question(manager, db));
        promise->finish();
    });
    if (!started) {
        promise->addResult(m_closing ? closedError() : notConnectedError());
        promise->finish();
    }
    return future;
}

QFuture<Result<QList<virt::SandboxManager::Source>>> HostSession::sources()
{
    return ask<QList<virt::SandboxManager::Source>>(
        [](virt::SandboxManager& manager, store::Database&) { return manager.sources(); });
}

QFuture<Result<QList<model::Sandbox>>> HostSession::sandboxes(bool includeDestroyed)
{
    return ask<QList<model::Sandbox>>([this, includeDestroyed](virt::SandboxManager&, store::Database& db) {
        return includeDestroyed ? store::allSandboxes(db, hostId()) : store::liveSandboxes(db, hostId());
    });
}

QFuture<Result<model::Sandbox>> HostSession::findSandbox(const QString& name)
{
    return ask<model::Sandbox>([this, name](virt::SandboxManager&,
                                            store::Database& db) -> Result<model::Sandbox> {
        auto row = store::liveSandboxNamed(db, hostId(), name);
        if (!row)
            return row.error();
        if (!*row)
            return makeError(ErrorCode::NotFound,
                             QStringLiteral("No sandbox named %1 on host %2").arg(name, m_setup.host.name));
        return **row;
    });
}

QFuture<Result<QList<virt::SnapshotInfo>>> HostSession::snapshots(const QString& sandboxId)
{
    return ask<QList<virt::SnapshotInfo>>([sandboxId](virt::SandboxManager& manager, store::Database&) {
        return manager.snapshots(sandboxId);
    });
}

template <typename T>
Operation<T> HostSession::begin(OperationKind kind, const model::Actor& actor, const QString& subject,
                                const QString& subjectId, const QString& description, bool cancellable)
{
    OperationInfo info;
    info.kind = kind;
    info.actor = actor;
    info.host = m_setup.host.name;
    info.subject = subject;
    info.subjectId = subjectId;
    info.description = description;
    info.cancellable = cancellable;
    return m_operations->start<T>(info, m_cancel);
}

template <typename T>
void HostSession::run(const Operation<T>& op,
                      std::function<Result<T>(virt::SandboxManager&, const Operation<T>&)> work,
                      std::function<QString(const T&)> summarize)
{
    const bool started =
        onWorker([this, op, work, summarize](virt::SandboxManager& manager, store::Database& db) {
            Result<T> r = work(manager, op);
            const QString summary = r ? summarize(*r) : QString();
            op.finish(std::move(r), summary);
            emitSandboxes(db);
        });
    if (started)
        return;
    const Error error = m_closing ? closedError() : notConnectedError();
    // Still asynchronous for the caller, like every other outcome.
    QMetaObject::invokeMethod(
        this, [op, error]() { op.finish(error); }, Qt::QueuedConnection);
}

Operation<model::Sandbox> HostSession::create(const CreateRequest& request, const model::Actor& actor)
{
    virt::CreateOptions options = createDefaults();
    options.sourceDomain = request.source;
    options.name = request.name;
    options.actor = actor;
    options.waitReady = request.waitReady.value_or(options.waitReady);
    if (request.memoryMib > 0)
        options.memoryMib = request.memoryMib;
    if (request.vcpus > 0)
        options.vcpus = request.vcpus;
    auto op = begin<model::Sandbox>(
        OperationKind::Create, actor, request.name, {},
        QStringLiteral("Create %1 from %2")
            .arg(request.name.isEmpty() ? QStringLiteral("a sandbox") : request.name, request.source),
        true);
    const bool started =
        onWorker([this, op, options](virt::SandboxManager& manager, store::Database&) mutable {
            options.hostId = hostId();
            auto plan = manager.planCreate(options, op.progressSink());
            if (!plan) {
                op.finish(plan.error());
                return;
            }
            if (!plan->admission) {
                build(op, *plan);
                return;
            }
            if (!m_setup.admit) {
                op.finish(makeError(
                    ErrorCode::Refused,
                    QStringLiteral("Creating %1 needs a person's approval (%2), and approvals are not "
                                   "available here")
                        .arg(plan->options.name, plan->admission->over.join(QStringLiteral("; ")))));
                return;
            }
            // The answer may take minutes: no thread waits for it. The rest of the create runs on a worker
            // once a person decided; a session closed meanwhile fails it instead.
            m_setup.admit(*plan->admission, op.progressSink(), op.cancelToken())
                .then([relay = m_relay, op, plan = *plan](Result<void> allowed) {
                    if (!allowed) {
                        op.finish(allowed.error());
                        return;
                    }
                    QMutexLocker lock(&relay->mutex);
                    if (!relay->session) {
                        op.finish(makeError(ErrorCode::Cancelled, QStringLiteral("The host was closed")));
                        return;
                    }
                    HostSession* self = relay->session;
                    if (!self->onWorker([self, op, plan](virt::SandboxManager&, store::Database&) {
                            self->build(op, plan);
                        }))
                        op.finish(self->closedError());
                });
        });
    if (!started) {
        const Error error = m_closing ? closedError() : notConnectedError();
        QMetaObject::invokeMethod(
            this, [op, error]() { op.finish(error); }, Qt::QueuedConnection);
    }
    return op;
}

void HostSession::build(const Operation<model::Sandbox>& op, const virt::CreatePlan& plan)
{
    // On a worker (onWorker): a manager over this thread's connection.
    std::shared_ptr<virt::Hypervisor> hv;
    {
        QMutexLocker lock(&m_mutex);
        hv = m_hv;
    }
    auto db = store::threadConnection(m_setup.database);
    if (!hv || !db) {
        op.finish(!db ? db.error() : notConnectedError());
        return;
    }
    virt::SandboxManager manager(*hv, **db, currentManagerOptions());
    ensureGate(op.progressSink());
    auto made = manager.create(plan, op.progressSink(), op.cancelToken());
    const QString summary = made ? QStringLiteral("%1 is ready at %2").arg(made->name, made->ip) : QString();
    op.finish(std::move(made), summary);
    emitSandboxes(**db);
}

Operation<model::Sandbox> HostSession::lifecycle(
    OperationKind kind, const QString& verb, const QString& sandboxId, const model::Actor& actor,
    Result<model::Sandbox> (virt::SandboxManager::*step)(const QString&, const model::Actor&))
{
    auto op = begin<model::Sandbox>(kind, actor, {}, sandboxId, verb, false);
    run<model::Sandbox>(
        op,
        [sandboxId, step, actor](virt::SandboxManager& m, const Operation<model::Sandbox>&) {
            return (m.*step)(sandboxId, actor);
        },
        [verb](const model::Sandbox& s) {
            return QStringLiteral("%1: %2 done").arg(s.name, verb.toLower());
        });
    return op;
}

Operation<model::Sandbox> HostSession::start(const QString& sandboxId, const model::Actor& actor)
{
    auto op =
        begin<model::Sandbox>(OperationKind::Start, actor, {}, sandboxId, QStringLiteral("Start"), false);
    run<model::Sandbox>(
        op,
        [this, sandboxId, actor](virt::SandboxManager& m, const Operation<model::Sandbox>& o) {
            ensureGate(o.progressSink());
            return m.start(sandboxId, actor);
        },
        [](const model::Sandbox& s) { return QStringLiteral("%1: start done").arg(s.name); });
    return op;
}

void HostSession::ensureGate(const ProgressSink& progress)
{
    if (!m_setup.ensureEgressGate)
        return;
    if (auto r = m_setup.ensureEgressGate(); !r) {
        // The sandbox is still made: it is contained either way, it just reaches nothing outside until the
        // gate runs. Said where the person sees it, and in the log.
        qCWarning(lcEgress).noquote() << r.error().toString();
        if (progress)
            progress(
                Progress{QStringLiteral("egress"),
                         QStringLiteral("The egress gate is not running (%1): the sandbox reaches nothing "
                                        "outside until it does")
                             .arg(r.error().message),
                         -1});
    }
}

Operation<model::Sandbox> HostSession::stop(const QString& sandboxId, const model::Actor& actor)
{
    return lifecycle(OperationKind::Stop, QStringLiteral("Stop"), sandboxId, actor,
                     &virt::SandboxManager::stop);
}

Operation<model::Sandbox> HostSession::destroy(const QString& sandboxId, const model::Actor& actor)
{
    return lifecycle(OperationKind::Destroy, QStringLiteral("Destroy"), sandboxId, actor,
                     &virt::SandboxManager::destroy);
}

Operation<model::Snapshot> HostSession::snapshot(const QString& sandboxId, const QString& snapshotName,
                                                 const model::Actor& actor, const QString& description)
{
    auto op = begin<model::Snapshot>(OperationKind::Snapshot, actor, snapshotName, sandboxId,
                                     QStringLiteral("Snapshot %1").arg(snapshotName), false);
    run<model::Snapshot>(
        op,
        [sandboxId, snapshotName, actor, description](virt::SandboxManager& m,
                                                      const Operation<model::Snapshot>&) {
            return m.snapshot(sandboxId, snapshotName, actor, model::SnapshotKind::Manual, description);
        },
        [](const model::Snapshot& s) { return QStringLiteral("snapshot %1 taken").arg(s.name); });
    return op;
}

Operation<void> HostSession::revert(const QString& sandboxId, const QString& snapshotName,
                                    const model::Actor& actor)
{
    auto op = begin<void>(OperationKind::Revert, actor, snapshotName, sandboxId,
                          QStringLiteral("Revert to %1").arg(snapshotName), false);
    const bool started =
        onWorker([this, op, sandboxId, snapshotName, actor](virt::SandboxManager& m, store::Database& db) {
            Result<void> r = m.revert(sandboxId, snapshotName, actor);
            op.finish(r, r ? QStringLiteral("reverted to %1").arg(snapshotName) : QString());
            emitSandboxes(db);
        });
    if (!started) {
        const Error error = m_closing ? closedError() : notConnectedError();
        QMetaObject::invokeMethod(
            this, [op, error]() { op.finish(error); }, Qt::QueuedConnection);
    }
    return op;
}

Operation<model::Diff> HostSession::diff(const QString& sandboxId, const QString& fromSnapshot,
                                         const QString& toSnapshot, const model::Actor& actor)
{
    const QString to = toSnapshot.isEmpty() ? QStringLiteral("now") : toSnapshot;
    auto op = begin<model::Diff>(OperationKind::Diff, actor, {}, sandboxId,
                                 QStringLiteral("Diff %1 → %2").arg(fromSnapshot, to), true);
    run<model::Diff>(
        op,
        [this, sandboxId, fromSnapshot, toSnapshot,
         actor](virt::SandboxManager& manager, const Operation<model::Diff>& self) -> Result<model::Diff> {
            auto sandbox = store::SandboxRepository(manager.database()).get(sandboxId);
            if (!sandbox)
                return sandbox.error();
            const inspect::SnapshotInspector inspector(inspectorOptions());
            auto d = diffSandbox(manager, manager.database(), inspector, *sandbox, fromSnapshot, toSnapshot,
                                 actor, self.progressSink(), self.cancelToken(), m_setup.connectHost);
            if (!d) {
                Error e = d.error();
                if (!e.detail.isEmpty())
                    e.message += QStringLiteral(" (%1)").arg(e.detail);
                return e;
            }
            return d;
        },
        [](const model::Diff& d) {
            return QStringLiteral("%1 path(s) changed")
                .arg(d.summary.value(QStringLiteral("paths"))
                         .toObject()
                         .value(QStringLiteral("total"))
                         .toInt());
        });
    return op;
}

Operation<virt::ReconcileReport> HostSession::reconcile(const model::Actor& actor)
{
    auto op = begin<virt::ReconcileReport>(OperationKind::Reconcile, actor, {}, {},
                                           QStringLiteral("Clean up leftovers on %1").arg(m_setup.host.name),
                                           false);
    run<virt::ReconcileReport>(
        op,
        [this](virt::SandboxManager& m, const Operation<virt::ReconcileReport>&) {
            return m.reconcile(hostId());
        },
        [](const virt::ReconcileReport& r) {
            return QStringLiteral("%1 domain(s), %2 volume(s), %3 row(s) cleaned up")
                .arg(r.removedDomains.size())
                .arg(r.removedVolumes.size())
                .arg(r.updatedRows.size());
        });
    return op;
}

} // namespace fluid::services

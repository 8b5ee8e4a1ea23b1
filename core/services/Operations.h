// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Clock.h"
#include "base/Progress.h"
#include "base/Result.h"
#include "model/Actor.h"

#include <QDateTime>
#include <QFuture>
#include <QMutex>
#include <QObject>
#include <QPromise>

#include <any>
#include <deque>
#include <map>
#include <memory>
#include <optional>

namespace fluid::services {

/// What kind of long work an operation is.
enum class OperationKind {
    Connect,
    Create,
    Start,
    Stop,
    Destroy,
    Snapshot,
    Revert,
    Diff,
    Reconcile,
    ImageBuild,
    AgentTurn,
    PlaybookRun
};
QString operationKindName(OperationKind kind);

enum class OperationState { Running, Succeeded, Failed, Cancelled };
QString operationStateName(OperationState state);

/// One operation as it stands: what it is, who started it, how far it got, how it ended. A value copied out
/// of the registry; any thread.
struct OperationInfo {
    quint64 id = 0;
    OperationKind kind = OperationKind::Create;
    model::Actor actor;
    QString host;        ///< the host's name
    QString subject;     ///< what it acts on, for people (a sandbox's or source VM's name)
    QString subjectId;   ///< the sandbox's id when it acts on one
    QString description; ///< "Create sbx-1 from golden", for people
    OperationState state = OperationState::Running;
    Progress progress;
    bool cancellable = false;
    bool cancelRequested = false;
    QDateTime startedAt;
    QDateTime finishedAt;
    /// Once finished: what came of it for people ("sbx-1 is ready at 10.0.0.5"), or the error's message.
    QString outcome;
    /// Failed or cancelled: the error, with its code (the REST layer maps it to a status).
    std::optional<Error> error;

    bool running() const { return state == OperationState::Running; }
};

class OperationRegistry;

namespace detail {
/// What an Operation handle and the registry share about one operation.
struct OperationCore {
    OperationRegistry* registry = nullptr;
    quint64 id = 0;
    CancelToken cancel;
    std::atomic<bool> finished{false};
};
} // namespace detail

/// The handle to one running operation of result type T (void for none), for the work doing it (progress,
/// cancel checks, the end) and for whoever started it (id, future). Copies share the operation. Thread-safe.
template <typename T>
class Operation {
public:
    quint64 id() const { return m_core->id; }
    const CancelToken& cancelToken() const { return m_core->cancel; }
    bool isCancelled() const { return m_core->cancel.isCancelled(); }
    /// The result, for front ends that wait (the CLI, the agent, REST); never cancelled, always has one.
    QFuture<Result<T>> future() const { return m_promise->future(); }

    void progress(const Progress& p) const;
    ProgressSink progressSink() const
    {
        return [self = *this](const Progress& p) {
            self.progress(p);
        };
    }
    /// Records the outcome (only the first call counts); `summary` is what a person reads of a success.
    void finish(Result<T> result, const QString& summary = {}) const;

private:
    friend class OperationRegistry;
    Operation(std::shared_ptr<detail::OperationCore> core)
        : m_core(std::move(core))
        , m_promise(std::make_shared<QPromise<Result<T>>>())
    {
        m_promise->start();
    }
    std::shared_ptr<detail::OperationCore> m_core;
    std::shared_ptr<QPromise<Result<T>>> m_promise;
};

/// Every long operation of this process (sandbox lifecycle, snapshots, diffs, image builds; later agent turns
/// and playbook runs): each has an id, an actor, progress, a cancel token and a typed result. Front ends
/// watch it through the signals (the GUI's operation list), wait on an Operation's future (CLI, agent, REST),
/// and query it: what runs now, what ended lately and how. Finished operations are kept, newest last, up to
/// `keepFinished`.
///
/// Thread: create and destroy on one thread (the GUI thread in the app); every other call from any thread.
/// Signals are emitted on the thread where the change happened (queued to receivers on other threads).
class OperationRegistry : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OperationRegistry)
public:
    explicit OperationRegistry(const Clock& clock = Clock::system(), int keepFinished = 200,
                               QObject* parent = nullptr);
    ~OperationRegistry() override;

    /// Registers a running operation described by `info` (id, state and start time are filled in). Its cancel
    /// token is a child of `parent` (a host session's, so closing the host cancels it).
    template <typename T>
    Operation<T> start(OperationInfo info, const CancelToken& parent = {})
    {
        Operation<T> op(begin(std::move(info), parent));
        return op;
    }

    std::optional<OperationInfo> find(quint64 id) const;
    /// Running operations, oldest first.
    QList<OperationInfo> running() const;
    /// Finished operations, the latest to finish first, at most `limit`.
    QList<OperationInfo> recent(int limit = 50) const;
    /// The typed result of a finished operation while it is kept (nullopt: running, unknown, or of another
    /// type).
    template <typename T>
    std::optional<Result<T>> result(quint64 id) const
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_results.find(id);
        if (it == m_results.end())
            return std::nullopt;
        if (const auto* r = std::any_cast<Result<T>>(&it->second))
            return *r;
        return std::nullopt;
    }
    /// Asks a running, cancellable operation to stop; false when there is none.
    bool cancel(quint64 id);

Q_SIGNALS:
    void started(const fluid::services::OperationInfo& info);
    /// Progress, or a cancel was asked for.
    void changed(const fluid::services::OperationInfo& info);
    void finished(const fluid::services::OperationInfo& info);

private:
    template <typename T>
    friend class Operation;
    std::shared_ptr<detail::OperationCore> begin(OperationInfo info, const CancelToken& parent);
    void report(quint64 id, const Progress& progress);
    void end(quint64 id, const std::optional<Error>& error, const QString& outcome, std::any result);

    const Clock& m_clock;
    const int m_keepFinished;
    mutable QMutex m_mutex; // guards the members below
    quint64 m_nextId = 1;
    std::map<quint64, OperationInfo> m_running;
    std::map<quint64, CancelToken> m_cancels;
    std::deque<OperationInfo> m_finished;
    std::map<quint64, std::any> m_results;
};

template <typename T>
void Operation<T>::progress(const Progress& p) const
{
    if (!m_core->finished.load())
        m_core->registry->report(m_core->id, p);
}

template <typename T>
void Operation<T>::finish(Result<T> result, const QString& summary) const
{
    if (m_core->finished.exchange(true))
        return;
    std::optional<Error> error;
    if (!result.ok())
        error = result.error();
    m_core->registry->end(m_core->id, error, error ? error->message : summary, std::any(result));
    m_promise->addResult(std::move(result));
    m_promise->finish();
}

} // namespace fluid::services

Q_DECLARE_METATYPE(fluid::services::OperationInfo)

// SPDX-License-Identifier: Apache-2.0
#include "Operations.h"

namespace fluid::services {

QString operationKindName(OperationKind kind)
{
    static const char* const names[] = {"connect",   "create",      "start",      "stop",
                                        "destroy",   "snapshot",    "revert",     "diff",
                                        "reconcile", "image-build", "agent-turn", "playbook-run"};
    return QLatin1String(names[int(kind)]);
}

QString operationStateName(OperationState state)
{
    static const char* const names[] = {"running", "succeeded", "failed", "cancelled"};
    return QLatin1String(names[int(state)]);
}

OperationRegistry::OperationRegistry(const Clock& clock, int keepFinished, QObject* parent)
    : QObject(parent)
    , m_clock(clock)
    , m_keepFinished(keepFinished)
{
    qRegisterMetaType<fluid::services::OperationInfo>();
}

OperationRegistry::~OperationRegistry() = default;

std::shared_ptr<detail::OperationCore> OperationRegistry::begin(OperationInfo info, const CancelToken& parent)
{
    auto core = std::make_shared<detail::OperationCore>();
    core->registry = this;
    core->cancel = parent.child();
    {
        QMutexLocker lock(&m_mutex);
        info.id = m_nextId++;
        info.state = OperationState::Running;
        info.startedAt = m_clock.now();
        m_running[info.id] = info;
        m_cancels[info.id] = core->cancel;
    }
    core->id = info.id;
    Q_EMIT started(info);
    return core;
}

void OperationRegistry::report(quint64 id, const Progress& progress)
{
    OperationInfo info;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_running.find(id);
        if (it == m_running.end())
            return;
        it->second.progress = progress;
        info = it->second;
    }
    Q_EMIT changed(info);
}

void OperationRegistry::end(quint64 id, const std::optional<Error>& error, const QString& outcome,
                            std::any result)
{
    OperationInfo info;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_running.find(id);
        if (it == m_running.end())
            return;
        info = it->second;
        m_running.erase(it);
        m_cancels.erase(id);
        info.state = !error                                ? OperationState::Succeeded
                     : error->code == ErrorCode::Cancelled ? OperationState::Cancelled
                                                           : OperationState::Failed;
        info.error = error;
        info.outcome = outcome;
        info.finishedAt = m_clock.now();
        m_finished.push_back(info);
        m_results[id] = std::move(result);
        while (int(m_finished.size()) > m_keepFinished) {
            m_results.erase(m_finished.front().id);
            m_finished.pop_front();
        }
    }
    Q_EMIT finished(info);
}

std::optional<OperationInfo> OperationRegistry::find(quint64 id) const
{
    QMutexLocker lock(&m_mutex);
    if (const auto it = m_running.find(id); it != m_running.end())
        return it->second;
    for (const OperationInfo& info : m_finished) {
        if (info.id == id)
            return info;
    }
    return std::nullopt;
}

QList<OperationInfo> OperationRegistry::running() const
{
    QMutexLocker lock(&m_mutex);
    QList<OperationInfo> out;
    for (const auto& [id, info] : m_running)
        out << info;
    return out;
}

QList<OperationInfo> OperationRegistry::recent(int limit) const
{
    QMutexLocker lock(&m_mutex);
    QList<OperationInfo> out;
    for (auto it = m_finished.rbegin(); it != m_finished.rend() && out.size() < limit; ++it)
        out << *it;
    return out;
}

bool OperationRegistry::cancel(quint64 id)
{
    OperationInfo info;
    CancelToken token;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_running.find(id);
        if (it == m_running.end() || !it->second.cancellable)
            return false;
        it->second.cancelRequested = true;
        info = it->second;
        token = m_cancels[id];
    }
    token.cancel();
    Q_EMIT changed(info);
    return true;
}

} // namespace fluid::services

// SPDX-License-Identifier: Apache-2.0
#include "Cancel.h"

#include <QDeadlineTimer>
#include <QMutex>
#include <QRecursiveMutex>
#include <QWaitCondition>

#include <atomic>
#include <map>

namespace fluid {

struct CancelToken::State {
    ~State()
    {
        if (unlink)
            unlink();
    }
    std::atomic<bool> cancelled{false};
    // Guards callbacks and nextId. Held while callbacks run, so a removal from another thread waits for a
    // running one; recursive, because a callback may end the last copy of a child token, whose state then
    // unlinks itself from this one.
    QRecursiveMutex mutex;
    std::map<quint64, std::function<void()>> callbacks;
    quint64 nextId = 1;
    std::function<void()> unlink; ///< a child's: removes its callback from the parent
    QMutex sleepMutex;            ///< with `woken`, for sleepFor()
    QWaitCondition woken;
};

CancelToken::CancelToken()
    : d(std::make_shared<State>())
{
}

void CancelToken::cancel() const
{
    QMutexLocker lock(&d->mutex);
    if (d->cancelled.exchange(true))
        return;
    {
        QMutexLocker sleepers(&d->sleepMutex);
        d->woken.wakeAll();
    }
    auto callbacks = std::move(d->callbacks);
    d->callbacks.clear();
    for (auto& [id, fn] : callbacks)
        fn();
}

bool CancelToken::isCancelled() const
{
    return d->cancelled.load();
}

bool CancelToken::sleepFor(int ms) const
{
    QDeadlineTimer deadline(qMax(0, ms));
    QMutexLocker lock(&d->sleepMutex);
    while (!d->cancelled.load() && !deadline.hasExpired())
        d->woken.wait(&d->sleepMutex, deadline);
    return d->cancelled.load();
}

quint64 CancelToken::onCancel(std::function<void()> fn) const
{
    QMutexLocker lock(&d->mutex);
    const quint64 id = d->nextId++;
    if (d->cancelled.load()) {
        fn();
        return id;
    }
    d->callbacks.emplace(id, std::move(fn));
    return id;
}

void CancelToken::removeCallback(quint64 id) const
{
    QMutexLocker lock(&d->mutex);
    d->callbacks.erase(id);
}

CancelToken CancelToken::child() const
{
    CancelToken child;
    // The parent holds the child only weakly, and a child that goes away takes its callback with it: a
    // long-lived parent (a host session) does not collect one entry per operation it ever ran.
    const std::weak_ptr<State> weakChild = child.d;
    const quint64 id = onCancel([weakChild]() {
        if (auto state = weakChild.lock()) {
            CancelToken t;
            t.d = std::move(state);
            t.cancel();
        }
    });
    child.d->unlink = [weakParent = std::weak_ptr<State>(d), id]() {
        if (auto parent = weakParent.lock()) {
            QMutexLocker lock(&parent->mutex);
            parent->callbacks.erase(id);
        }
    };
    return child;
}

CancelCallback::CancelCallback(const CancelToken& token, std::function<void()> fn)
    : m_token(token)
    , m_id(token.onCancel(std::move(fn)))
{
}

CancelCallback::~CancelCallback()
{
    m_token.removeCallback(m_id);
}

} // namespace fluid

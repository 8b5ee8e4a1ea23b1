// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QEventLoop>
#include <QFuture>
#include <QFutureWatcher>
#include <QPromise>
#include <QThreadPool>

#include <functional>
#include <memory>
#include <type_traits>

namespace fluid {

/// Runs `work` on `pool` (Qt's global pool by default) and returns its future at once; `work` reports
/// through the promise (addResult may be called several times, for step-by-step results). For blocking calls
/// (libvirt, SSH, the secret store, files) that must never run on the GUI thread: watch the future with a
/// QFutureWatcher owned by the widget, so a result that arrives after the widget is gone is dropped.
template <typename T>
QFuture<T> runOnWorker(std::function<void(QPromise<T>&)> work, QThreadPool* pool = nullptr)
{
    auto promise = std::make_shared<QPromise<T>>();
    QFuture<T> future = promise->future();
    promise->start();
    (pool ? pool : QThreadPool::globalInstance())->start([promise, work = std::move(work)]() {
        work(*promise);
        promise->finish();
    });
    return future;
}

/// runOnWorker() for work that returns its one result.
template <typename F, typename T = std::invoke_result_t<F>>
QFuture<T> runAsync(F work, QThreadPool* pool = nullptr)
{
    return runOnWorker<T>(
        [work = std::move(work)](QPromise<T>& promise) mutable {
            if constexpr (std::is_void_v<T>)
                work();
            else
                promise.addResult(work());
        },
        pool);
}

/// Waits for `future` on this thread while this thread's events keep being delivered (what the work reports
/// back queued to this thread arrives meanwhile), and returns its result. For a front end without a window
/// (the CLI); never on the GUI thread.
template <typename T>
T await(const QFuture<T>& future)
{
    if (!future.isFinished()) {
        QEventLoop loop;
        QFutureWatcher<T> watcher;
        QObject::connect(&watcher, &QFutureWatcherBase::finished, &loop, &QEventLoop::quit);
        watcher.setFuture(future);
        if (!future.isFinished())
            loop.exec();
    }
    return future.result();
}

} // namespace fluid

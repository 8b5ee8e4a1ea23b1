// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QFuture>
#include <QPromise>
#include <QThreadPool>

#include <functional>
#include <memory>

namespace fluid::ui {

/// Runs `work` on Qt's global thread pool and returns its future at once; `work` reports through the
/// promise (addResult may be called several times, for step-by-step results). Watch the future with a
/// QFutureWatcher owned by the widget: when the widget goes away first, the result is dropped. For the
/// wizard's and dialogs' blocking calls (libvirt, SSH, secret store, files), which must never run on the
/// GUI thread.
template <typename T>
QFuture<T> runOnWorker(std::function<void(QPromise<T>&)> work)
{
    auto promise = std::make_shared<QPromise<T>>();
    QFuture<T> future = promise->future();
    promise->start();
    QThreadPool::globalInstance()->start([promise, work = std::move(work)]() {
        work(*promise);
        promise->finish();
    });
    return future;
}

} // namespace fluid::ui

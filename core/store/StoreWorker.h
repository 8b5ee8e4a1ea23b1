// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Database.h"

#include <QObject>
#include <QPointer>
#include <QThread>

#include <functional>
#include <memory>
#include <optional>

namespace fluid::store {

/// Owns the store connection on its own thread, so store reads and writes never block the GUI thread.
/// Work is posted as a function of Database&; its result comes back as a queued call on the thread of a
/// context object, and is dropped if that object is gone by then. Jobs run one at a time, in order.
/// Create and destroy it on the GUI (main) thread; context objects must live on that thread too.
class StoreWorker : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StoreWorker)
public:
    explicit StoreWorker(DatabaseOptions options, QObject* parent = nullptr);
    /// For options that take blocking work to resolve (a password from the keychain): resolve runs on the
    /// worker thread when start() is called.
    explicit StoreWorker(std::function<Result<DatabaseOptions>()> resolve, QObject* parent = nullptr);
    ~StoreWorker() override;

    /// Opens and migrates the store on the worker thread; emits opened() when done.
    void start();

    /// The options the store was opened with (a resolved PostgreSQL password included), so other workers
    /// can open their own connections to the same store. Empty until opened(true, ...) has been emitted.
    const std::optional<DatabaseOptions>& databaseOptions() const { return m_resolved; }

    /// Runs work(db) on the worker thread, then done(result) on context's thread. Before the store is open
    /// (or when it failed to open) work is not run and done receives the open error.
    template <typename R>
    void run(QObject* context, std::function<Result<R>(Database&)> work, std::function<void(Result<R>)> done)
    {
        // The result is relayed through this object (same thread as context), where the guard is checked
        // safely; reading it from the worker thread would race with context's destruction.
        QPointer<QObject> guard(context);
        QPointer<StoreWorker> self(this);
        post([work = std::move(work), done = std::move(done), guard, self](Database* db,
                                                                           const Error* openError) {
            auto result = std::make_shared<Result<R>>(db ? work(*db) : Result<R>(*openError));
            relay(self, [guard, done, result]() {
                if (guard)
                    done(std::move(*result));
            });
        });
    }

Q_SIGNALS:
    /// ok=false carries the reason in message (already meant for people).
    void opened(bool ok, const QString& message);

private:
    static void relay(const QPointer<StoreWorker>& self, std::function<void()> call);
    void post(std::function<void(Database*, const Error*)> job);

    class Executor;
    QThread m_thread;
    Executor* m_executor = nullptr;
    std::optional<DatabaseOptions> m_resolved; // set on this object's thread, before opened()
};

} // namespace fluid::store

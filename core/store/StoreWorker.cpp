// SPDX-License-Identifier: Apache-2.0
#include "StoreWorker.h"

#include "base/Logging.h"

namespace fluid::store {

/// Lives on the worker thread; owns the Database there.
class StoreWorker::Executor : public QObject {
public:
    explicit Executor(std::function<Result<DatabaseOptions>()> resolve)
        : m_resolve(std::move(resolve))
    {
    }

    void open()
    {
        auto options = m_resolve();
        if (!options) {
            m_openError = options.error();
            return;
        }
        auto db = openAndMigrate(*options);
        if (db) {
            m_db = std::move(*db);
            m_options = *options;
            m_openError.reset();
        } else {
            m_openError = db.error();
        }
    }

    void close() { m_db.reset(); }

    Database* db() const { return m_db.get(); }
    const DatabaseOptions& options() const { return m_options; }
    const Error* openError() const { return m_openError ? &*m_openError : &m_notOpened; }

private:
    std::function<Result<DatabaseOptions>()> m_resolve;
    std::unique_ptr<Database> m_db;
    DatabaseOptions m_options;
    std::optional<Error> m_openError;
    Error m_notOpened{ErrorCode::Unavailable, QStringLiteral("The store is not open yet"), {}};
};

StoreWorker::StoreWorker(DatabaseOptions options, QObject* parent)
    : StoreWorker([options]() -> Result<DatabaseOptions> { return options; }, parent)
{
}

StoreWorker::StoreWorker(std::function<Result<DatabaseOptions>()> resolve, QObject* parent)
    : QObject(parent)
    , m_executor(new Executor(std::move(resolve)))
{
    m_thread.setObjectName(QStringLiteral("fluid-store"));
    m_executor->moveToThread(&m_thread);
    m_thread.start();
}

StoreWorker::~StoreWorker()
{
    Executor* executor = m_executor;
    QMetaObject::invokeMethod(
        executor,
        [executor]() {
            executor->close();
            delete executor;
        },
        Qt::BlockingQueuedConnection); // after every job queued before it; closes the connection on its
                                       // thread
    m_thread.quit();
    m_thread.wait();
}

void StoreWorker::start()
{
    QPointer<StoreWorker> self(this);
    Executor* executor = m_executor;
    QMetaObject::invokeMethod(
        executor,
        [executor, self]() {
            executor->open();
            const bool ok = executor->db() != nullptr;
            const QString message = ok ? executor->db()->describe() : executor->openError()->toString();
            if (!ok)
                qCWarning(lcStore) << "store did not open:" << message;
            std::optional<DatabaseOptions> resolved;
            if (ok)
                resolved = executor->options();
            relay(self, [self, ok, message, resolved]() {
                if (!self)
                    return;
                self->m_resolved = resolved;
                Q_EMIT self->opened(ok, message);
            });
        },
        Qt::QueuedConnection);
}

void StoreWorker::relay(const QPointer<StoreWorker>& self, std::function<void()> call)
{
    // Queued to the StoreWorker's own thread; Qt drops the event if the StoreWorker is deleted first.
    QMetaObject::invokeMethod(self.data(), std::move(call), Qt::QueuedConnection);
}

void StoreWorker::post(std::function<void(Database*, const Error*)> job)
{
    Executor* executor = m_executor;
    QMetaObject::invokeMethod(
        executor,
        [executor, job = std::move(job)]() {
            job(executor->db(), executor->db() ? nullptr : executor->openError());
        },
        Qt::QueuedConnection);
}

} // namespace fluid::store

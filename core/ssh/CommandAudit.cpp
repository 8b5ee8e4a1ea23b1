// SPDX-License-Identifier: Apache-2.0
#include "CommandAudit.h"

#include "base/Logging.h"
#include "store/AuditLog.h"
#include "store/Database.h"
#include "store/Repository.h"
#include "store/StoreWorker.h"

#include <QCryptographicHash>
#include <QMutex>
#include <QPromise>
#include <QThreadPool>

namespace fluid::ssh {
namespace {

constexpr qsizetype kAuditCommandChars = 4096;

QString firstLine(const QByteArray& command)
{
    const QString text = QString::fromUtf8(command).trimmed();
    QString line = text.section(QLatin1Char('\n'), 0, 0);
    if (line.size() > 200)
        line = line.left(200) + QStringLiteral("...");
    if (line.size() < text.size() && !line.endsWith(QLatin1String("...")))
        line += QStringLiteral(" ...");
    return line;
}

/// The command as the audit log keeps it: cut after kAuditCommandChars, with its size and sha256.
void describeCommand(QJsonObject& d, const QByteArray& command)
{
    const QString text = QString::fromUtf8(command);
    d[QStringLiteral("command")] =
        text.size() > kAuditCommandChars ? text.left(kAuditCommandChars) + QStringLiteral("[...]") : text;
    d[QStringLiteral("command_bytes")] = qint64(command.size());
    d[QStringLiteral("command_sha256")] =
        QString::fromLatin1(QCryptographicHash::hash(command, QCryptographicHash::Sha256).toHex());
}

} // namespace

AuditRecord auditRecord(const AuditContext& context, const QString& kind, const QString& summary,
                        QJsonObject data)
{
    AuditRecord record;
    model::AuditEvent& e = record.event;
    e.actor = context.actor.toString();
    e.kind = kind;
    e.sandboxId = context.sandboxId;
    e.sessionId = context.sessionId;
    e.summary = summary;
    data[QStringLiteral("target")] = context.target;
    e.data = std::move(data);
    return record;
}

AuditRecord commandStartRecord(const AuditContext& context, const ExecRequest& request)
{
    QJsonObject d;
    describeCommand(d, request.command);
    return auditRecord(context, QStringLiteral("command.start"),
                       request.auditLabel.isEmpty() ? firstLine(request.command) : request.auditLabel, d);
}

AuditRecord commandAuditRecord(const AuditContext& context, const ExecRequest& request,
                               const ExecResult& result, const Error* error)
{
    model::Command cmd;
    cmd.id = model::newId();
    cmd.sandboxId = context.sandboxId;
    cmd.sessionId = context.sessionId;
    cmd.command = QString::fromUtf8(request.command);
    cmd.stdoutData = result.stdoutData.text();
    cmd.stderrData = result.stderrData.text();
    cmd.exitCode = result.exitCode;
    cmd.signal = result.signal;
    cmd.timedOut = result.timedOut;
    cmd.stdoutTruncated = result.stdoutData.truncated();
    cmd.stderrTruncated = result.stderrData.truncated();
    cmd.stdoutBytes = result.stdoutData.totalBytes;
    cmd.stderrBytes = result.stderrData.totalBytes;
    cmd.startedAt = result.startedAt;
    cmd.finishedAt = result.finishedAt;

    QJsonObject d;
    d[QStringLiteral("command_id")] = cmd.id;
    describeCommand(d, request.command);
    d[QStringLiteral("exit_code")] = result.exitCode ? QJsonValue(*result.exitCode) : QJsonValue();
    d[QStringLiteral("signal")] = result.signal;
    d[QStringLiteral("timed_out")] = result.timedOut;
    d[QStringLiteral("stdout_bytes")] = result.stdoutData.totalBytes;
    d[QStringLiteral("stderr_bytes")] = result.stderrData.totalBytes;
    d[QStringLiteral("stdout_truncated")] = cmd.stdoutTruncated;
    d[QStringLiteral("stderr_truncated")] = cmd.stderrTruncated;
    d[QStringLiteral("started_at")] = result.startedAt.toString(Qt::ISODateWithMs);
    d[QStringLiteral("finished_at")] = result.finishedAt.toString(Qt::ISODateWithMs);
    d[QStringLiteral("duration_ms")] = result.durationMs;
    if (error)
        d[QStringLiteral("error")] = error->message;
    AuditRecord record =
        auditRecord(context, error ? QStringLiteral("command.error") : QStringLiteral("command.run"),
                    request.auditLabel.isEmpty() ? firstLine(request.command) : request.auditLabel, d);
    if (!error)
        record.command = std::move(cmd);
    return record;
}

Result<void> storeAuditRecord(store::Database& db, store::AuditLog& log, const AuditRecord& record)
{
    auto appended = log.append(record.event);
    if (!appended)
        return appended.error();
    if (record.command && !record.command->sandboxId.isEmpty()) {
        store::CommandRepository commands(db);
        if (auto r = commands.insert(*record.command); !r)
            return r;
    }
    return {};
}

namespace {

void warnNotStored(const AuditRecord& record, const Error& error)
{
    qCWarning(lcSsh).noquote() << "could not store the audit record" << record.event.kind << "("
                               << record.event.summary << "):" << error.toString();
}

} // namespace

AuditSink storeWorkerAuditSink(store::StoreWorker& worker)
{
    store::StoreWorker* w = &worker;
    return [w](const AuditRecord& record) {
        w->run<void>(
            w,
            [record](store::Database& db) -> Result<void> {
                store::AuditLog log(db);
                return storeAuditRecord(db, log, record);
            },
            [record](Result<void> r) {
                if (!r)
                    warnNotStored(record, r.error());
            });
    };
}

struct AuditWriter::Gate {
    QMutex mutex;
    QThreadPool* thread = nullptr; ///< cleared by close(); guarded by mutex
    store::DatabaseOptions database;
};

AuditWriter::AuditWriter(const store::DatabaseOptions& database)
    : m_gate(std::make_shared<Gate>())
    , m_thread(std::make_unique<QThreadPool>())
{
    m_thread->setMaxThreadCount(1); // one thread: records are stored in the order they came
    m_gate->thread = m_thread.get();
    m_gate->database = database;
}

AuditWriter::~AuditWriter()
{
    close();
}

AuditSink AuditWriter::sink() const
{
    return [gate = m_gate](const AuditRecord& record) {
        QMutexLocker lock(&gate->mutex);
        if (!gate->thread) {
            warnNotStored(record, makeError(ErrorCode::Cancelled,
                                            QStringLiteral("it arrived after its writer was closed")));
            return;
        }
        gate->thread->start([database = gate->database, record]() {
            auto db = store::Database::open(database);
            if (!db) {
                warnNotStored(record, db.error());
                return;
            }
            store::AuditLog log(**db);
            if (auto stored = storeAuditRecord(**db, log, record); !stored)
                warnNotStored(record, stored.error());
        });
    };
}

AuditGate AuditWriter::gate() const
{
    return [gate = m_gate](const AuditRecord& record) -> QFuture<Result<void>> {
        auto promise = std::make_shared<QPromise<Result<void>>>();
        promise->start();
        QFuture<Result<void>> answer = promise->future();
        QMutexLocker lock(&gate->mutex);
        if (!gate->thread) {
            promise->addResult(
                makeError(ErrorCode::Cancelled,
                          QStringLiteral("the audit writer is closed: nothing more is recorded")));
            promise->finish();
            return answer;
        }
        gate->thread->start([database = gate->database, record, promise]() {
            Result<void> stored = [&]() -> Result<void> {
                auto db = store::Database::open(database);
                if (!db)
                    return db.error();
                store::AuditLog log(**db);
                return storeAuditRecord(**db, log, record);
            }();
            if (!stored)
                warnNotStored(record, stored.error());
            promise->addResult(std::move(stored));
            promise->finish();
        });
        return answer;
    };
}

void AuditWriter::close()
{
    {
        QMutexLocker lock(&m_gate->mutex);
        m_gate->thread = nullptr;
    }
    m_thread->waitForDone();
}

} // namespace fluid::ssh

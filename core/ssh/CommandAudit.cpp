// SPDX-License-Identifier: Apache-2.0
#include "CommandAudit.h"

#include "base/Logging.h"
#include "store/AuditLog.h"
#include "store/Repository.h"
#include "store/StoreWorker.h"

#include <QCryptographicHash>

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

} // namespace

AuditRecord commandAuditRecord(const AuditContext& context, const ExecRequest& request,
                               const ExecResult& result, const Error* error)
{
    AuditRecord record;
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

    model::AuditEvent& e = record.event;
    e.actor = context.actor;
    e.kind = QStringLiteral("command.run");
    e.sandboxId = context.sandboxId;
    e.sessionId = context.sessionId;
    e.summary = request.auditLabel.isEmpty() ? firstLine(request.command) : request.auditLabel;
    QJsonObject d;
    d[QStringLiteral("command_id")] = cmd.id;
    d[QStringLiteral("target")] = context.target;
    d[QStringLiteral("command")] = cmd.command.size() > kAuditCommandChars
                                       ? cmd.command.left(kAuditCommandChars) + QStringLiteral("[...]")
                                       : cmd.command;
    d[QStringLiteral("command_bytes")] = qint64(request.command.size());
    d[QStringLiteral("command_sha256")] =
        QString::fromLatin1(QCryptographicHash::hash(request.command, QCryptographicHash::Sha256).toHex());
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
    if (error) {
        d[QStringLiteral("error")] = error->message;
        e.kind = QStringLiteral("command.error");
    }
    e.data = d;
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
            [](Result<void> r) {
                if (!r)
                    qCWarning(lcSsh) << "could not store an audit record:" << r.error().toString();
            });
    };
}

} // namespace fluid::ssh

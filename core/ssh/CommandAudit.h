// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "Exec.h"
#include "model/Actor.h"
#include "model/Model.h"

#include <QFuture>

#include <functional>
#include <memory>
#include <optional>

class QThreadPool;

namespace fluid::store {
class AuditLog;
class Database;
struct DatabaseOptions;
class StoreWorker;
} // namespace fluid::store

namespace fluid::ssh {

/// Who and what an SSH connection acts for; stamped on every audit record it emits.
struct AuditContext {
    model::Actor actor = model::Actor::system(); ///< recorded as actor.toString()
    QString sandboxId;                           ///< model::Sandbox::id, empty for hypervisor hosts
    QString sessionId;
    QString target; ///< "root@sandbox-1 (10.0.0.5:22)", for people
};

/// One audited action: the event for the hash-chained audit log (kind command.run, file.read, file.write,
/// file.edit, pty.open, pty.close) and, for command.run, the command with its captured output for
/// store::CommandRepository.
struct AuditRecord {
    model::AuditEvent event;
    std::optional<model::Command> command;
};

/// Receives every audit record, on the connection's thread, before the caller sees the result. Must be
/// thread-safe and must not block for long (hand the record to the store's thread).
using AuditSink = std::function<void(const AuditRecord&)>;

/// Stores a record before the action it describes starts, and answers whether it was stored: an action whose
/// record could not be stored does not start. Thread-safe; the future may finish on any thread.
using AuditGate = std::function<QFuture<Result<void>>(const AuditRecord&)>;

/// A record of `kind` for `context`: who (context.actor.toString()), the sandbox, the session, `summary`, and
/// `data` with the context's target added. Every audited SSH action (commands, files, terminals) starts here.
AuditRecord auditRecord(const AuditContext& context, const QString& kind, const QString& summary,
                        QJsonObject data = {});

/// The record that must be stored before a command starts (command.start): the command (cut like
/// command.run's), its size and sha256.
AuditRecord commandStartRecord(const AuditContext& context, const ExecRequest& request);

/// The record for one finished (or failed) command. `error` is set when it could not run at all.
AuditRecord commandAuditRecord(const AuditContext& context, const ExecRequest& request,
                               const ExecResult& result, const Error* error = nullptr);

/// Writes a record into the store: the audit event through AuditLog (always first, so it is never lost),
/// then the command row through CommandRepository. Call on the Database's thread.
Result<void> storeAuditRecord(store::Database& db, store::AuditLog& log, const AuditRecord& record);

/// An AuditSink that hands each record to the StoreWorker's thread and stores it there with
/// storeAuditRecord(); failures are logged (lcSsh). The worker must outlive every connection using the sink.
AuditSink storeWorkerAuditSink(store::StoreWorker& worker);

/// Stores audit records through connections of its own to the store, on one thread of its own, in the order
/// they arrive. For an owner of SSH connections that must get every record of theirs stored before it goes
/// away (services::HostSession and its terminals): the owner closes its connections, then closes the writer.
/// The sinks hold a shared gate, never the writer, so a record that arrives after close() (or after the
/// writer is destroyed) is dropped with a warning instead of touching anything gone.
///
/// Thread: create, close and destroy on one thread; call the sinks from any thread.
class AuditWriter {
public:
    explicit AuditWriter(const store::DatabaseOptions& database);
    ~AuditWriter();
    AuditWriter(const AuditWriter&) = delete;
    AuditWriter& operator=(const AuditWriter&) = delete;

    /// A sink for ConnectionOptions / SandboxShellOptions; valid for as long as anyone holds it.
    AuditSink sink() const;
    /// A gate for ConnectionOptions / SandboxShellOptions: stores the record in order with the sink's, and
    /// answers once it is stored (or could not be: the store is unreachable, the writer closed).
    AuditGate gate() const;
    /// Takes no more records and waits until every record taken has been stored. The destructor calls it.
    void close();

private:
    struct Gate;
    std::shared_ptr<Gate> m_gate;
    std::unique_ptr<QThreadPool> m_thread;
};

} // namespace fluid::ssh

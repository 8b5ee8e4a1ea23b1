// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "Database.h"
#include "model/Model.h"

#include <optional>

namespace fluid::store {

struct AuditFilter {
    QString sandboxId;
    QString kindPrefix; ///< "sandbox." matches sandbox.create, sandbox.destroy, ...
    QDateTime from;
    QDateTime to;
    int limit = 500; ///< newest first
};

struct AuditVerifyReport {
    qint64 rowsChecked = 0;
    std::optional<qint64> firstBrokenSeq; ///< set when a row in the database does not verify
    QString reason;
    /// Set when the rows verify among themselves but not against the checkpoint outside the database
    /// (AuditAnchor): the newest rows were removed, or the chain was rewritten with new hashes.
    std::optional<QString> anchorBroken;
    QString anchorNote; ///< where the chain is anchored, or why it is not
    bool intact() const { return !firstBrokenSeq.has_value() && !anchorBroken.has_value(); }
};

/// The append-only, hash-chained audit log. Each row stores hash = sha256(prev_hash + canonical event),
/// so editing, removing or reordering any row breaks the chain at that row. Appends are serialised
/// (SQLite write lock / PostgreSQL table lock), so concurrent writers still form one chain. Summaries and
/// data are redacted before they are hashed and stored. When the Database's options carry an AuditAnchor,
/// each append then moves the checkpoint outside the database, and an append whose checkpoint cannot be
/// moved fails (the caller does not go on with what it was about to record). Lives on the Database's
/// thread.
class AuditLog {
public:
    explicit AuditLog(Database& db, const Clock& clock = Clock::system());

    /// Appends the event (seq, time, hashes are filled in) and returns it as stored.
    Result<model::AuditEvent> append(model::AuditEvent event);
    /// Shorthand for the common case.
    Result<model::AuditEvent> append(const QString& actor, const QString& kind, const QString& summary,
                                     const QJsonObject& data = {}, const QString& sandboxId = {},
                                     const QString& sessionId = {});

    Result<QList<model::AuditEvent>> list(const AuditFilter& filter = {});
    /// The seq of the newest row, 0 when the log is empty: a cheap way to notice new events.
    Result<qint64> latestSeq();
    /// Walks the whole chain in order; names the first row that does not verify.
    Result<AuditVerifyReport> verify();
    /// After a person looked at a broken or missing checkpoint: checks that the rows verify among
    /// themselves, then anchors the chain's current head. Unavailable when no anchor is configured.
    Result<AuditVerifyReport> reanchor();

    /// The bytes hashed for an event (its fields in a fixed order as a compact JSON array of strings).
    static QByteArray canonical(const model::AuditEvent& event, const QString& dataText);
    static QString chainHash(const QString& prevHash, const QByteArray& canonicalEvent);
    static QString genesisHash();

private:
    Result<std::optional<QString>> hashAt(qint64 seq);
    Result<void> advanceAnchor(const model::AuditEvent& stored);

    Database& m_db;
    const Clock& m_clock;
};

} // namespace fluid::store

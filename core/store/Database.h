// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariantList>

#include <functional>
#include <memory>

namespace fluid::store {

enum class Backend { Sqlite, Postgresql };
class AuditAnchor;

/// Where the store lives. SQLite is the embedded default; PostgreSQL is for teams.
struct DatabaseOptions {
    Backend backend = Backend::Sqlite;
    QString sqlitePath; ///< file path; created with its folder if missing
    QString pgHost = QStringLiteral("127.0.0.1");
    int pgPort = 5432;
    QString pgDatabase = QStringLiteral("fluid");
    QString pgUser = QStringLiteral("fluid");
    QString pgPassword;                           ///< from the keychain (store/postgresql), never from config
    QString pgSslMode = QStringLiteral("prefer"); ///< libpq's sslmode: disable ... verify-full
    QString pgSslRootCert;                        ///< empty: libpq's default
    /// Where AuditLog keeps the chain's head outside the database; none: not anchored (tests, tools).
    std::shared_ptr<AuditAnchor> auditAnchor;

    bool operator==(const DatabaseOptions&) const = default;
};

/// One open connection to Fluid's store, and the schema migrations. A Database belongs to the thread that
/// opened it (Qt SQL connections are per thread): workers take theirs from threadConnection(), the GUI
/// reaches the store only through StoreWorker.
class Database {
public:
    /// Opens a connection (SQLite: WAL, foreign keys on, busy timeout; the file is private to the user).
    /// Does not migrate: call migrate().
    static Result<std::unique_ptr<Database>> open(const DatabaseOptions& options);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    Backend backend() const { return m_options.backend; }
    const DatabaseOptions& options() const { return m_options; }
    /// "SQLite /path/fluid.sqlite" or "PostgreSQL fluid@127.0.0.1:5432/fluid", for people.
    QString describe() const;

    /// Prepares and runs one statement with positional (?) bindings. SQL text comes from code only;
    /// every value goes through a binding.
    Result<QSqlQuery> exec(const QString& sql, const QVariantList& binds = {});

    /// Runs work inside a write transaction (SQLite BEGIN IMMEDIATE); commits on success, rolls back on
    /// error. A transaction started inside another joins it.
    Result<void> transaction(const std::function<Result<void>()>& work);

    /// The newest schema version this build knows.
    static int latestSchemaVersion();
    /// The version the database is at (0 for an empty database).
    Result<int> schemaVersion();
    /// Applies each missing migration up to target, each in its own transaction.
    Result<void> migrate(int target = latestSchemaVersion());

    QSqlDatabase connection() const;
    /// The server went away under this connection (a statement failed with a connection error): open a new
    /// one instead of using it again.
    bool isBroken() const { return m_broken; }

private:
    explicit Database(DatabaseOptions options, QString connectionName);
    Error sqlError(const QString& what, const QSqlError& error);

    DatabaseOptions m_options;
    QString m_connectionName;
    int m_transactionDepth = 0;
    bool m_broken = false;
};

/// Opens and migrates to the latest schema: what front ends call.
Result<std::unique_ptr<Database>> openAndMigrate(const DatabaseOptions& options);

/// This thread's connection to the store `options` names: opened on the first use on this thread and kept
/// for the next ones, until the thread ends (a worker pool's idle thread ending closes it) or it breaks.
/// Not migrated here: the front end migrated the store when it opened it. The pointer is valid on this
/// thread until the thread ends; never hand it to another thread.
Result<Database*> threadConnection(const DatabaseOptions& options);

} // namespace fluid::store

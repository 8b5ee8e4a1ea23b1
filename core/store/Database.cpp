// SPDX-License-Identifier: Apache-2.0
#include "Database.h"

#include "base/Logging.h"
#include "base/Redact.h"
#include "Migrations.h"

#include <QAtomicInteger>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSqlError>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fluid::store {
namespace {

QString nextConnectionName()
{
    static QAtomicInteger<quint64> counter;
    return QStringLiteral("fluid-store-%1").arg(counter.fetchAndAddRelaxed(1));
}

QString driverText(const QSqlError& error)
{
    return redact(error.text().trimmed());
}

/// Makes the SQLite store readable and writable by its owner only (command output and conversations live
/// there). A new file is created 0600 before SQLite opens it, so it is never readable by others, not even
/// for a moment; SQLite creates its -wal and -shm files with the database file's mode (and sets that mode
/// on them whatever the umask), so they follow. Files that already exist (a store made by an older Fluid,
/// or copied in) are narrowed to 0600; one that cannot be (not its owner) is an error. True when it created
/// the (empty) database file.
Result<bool> ownerOnlySqliteFiles(const QString& path)
{
    const QByteArray file = QFile::encodeName(path);
    const int fd = ::open(file.constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        ::close(fd);
        return true;
    }
    if (errno != EEXIST) {
        return makeError(ErrorCode::Io, QStringLiteral("Cannot create the SQLite store %1").arg(path),
                         QString::fromLocal8Bit(std::strerror(errno)));
    }
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        const QByteArray name = file + suffix;
        struct stat st = {};
        if (::stat(name.constData(), &st) != 0) {
            if (errno == ENOENT)
                continue;
            return makeError(ErrorCode::Io,
                             QStringLiteral("Cannot read the permissions of %1").arg(QFile::decodeName(name)),
                             QString::fromLocal8Bit(std::strerror(errno)));
        }
        if ((st.st_mode & 07777) == 0600)
            continue;
        if (::chmod(name.constData(), 0600) != 0) {
            const int error = errno;
            return makeError(
                error == EPERM ? ErrorCode::PermissionDenied : ErrorCode::Io,
                QStringLiteral("The store file %1 can be read by others (mode %2) and Fluid cannot make it "
                               "private: run `chmod 600 %1` as its owner")
                    .arg(QFile::decodeName(name))
                    .arg(st.st_mode & 07777, 4, 8, QLatin1Char('0')),
                QString::fromLocal8Bit(std::strerror(error)));
        }
    }
    return false;
}

} // namespace

Database::Database(DatabaseOptions options, QString connectionName)
    : m_options(std::move(options))
    , m_connectionName(std::move(connectionName))
{
}

Database::~Database()
{
    {
        QSqlDatabase db = QSqlDatabase::database(m_connectionName, false);
        if (db.isOpen())
            db.close();
    }
    QSqlDatabase::removeDatabase(m_connectionName);
}

QSqlDatabase Database::connection() const
{
    return QSqlDatabase::database(m_connectionName, false);
}

QString Database::describe() const
{
    if (m_options.backend == Backend::Sqlite)
        return QStringLiteral("SQLite %1").arg(m_options.sqlitePath);
    return QStringLiteral("PostgreSQL %1@%2:%3/%4")
        .arg(m_options.pgUser, m_options.pgHost)
        .arg(m_options.pgPort)
        .arg(m_options.pgDatabase);
}

Error Database::sqlError(const QString& what, const QSqlError& error)
{
    if (error.type() == QSqlError::ConnectionError)
        m_broken = true;
    const QString detail = driverText(error);

    return makeError(ErrorCode::Database, QStringLiteral("%1 failed in the store (%2)").arg(what, describe()),
                     detail);
}

Result<std::unique_ptr<Database>> Database::open(const DatabaseOptions& options)
{
    const QString name = nextConnectionName();
    std::unique_ptr<Database> database(new Database(options, name));

    if (options.backend == Backend::Sqlite) {
        if (options.sqlitePath.isEmpty())
            return makeError(ErrorCode::InvalidArgument, QStringLiteral("No SQLite database path was given"));
        const QFileInfo info(options.sqlitePath);
        if (!QDir().mkpath(info.absolutePath())) {
            return makeError(
                ErrorCode::Io,
                QStringLiteral("Cannot create the folder for the store: %1").arg(info.absolutePath()),
                QStringLiteral("check that the folder is writable"));
        }
        const auto created = ownerOnlySqliteFiles(options.sqlitePath);
        if (!created)
            return created.error();
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(options.sqlitePath);
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=10000"));
        if (!db.open()) {
            if (*created)
                QFile::remove(options.sqlitePath); // the empty file made above: nothing half-made is left
            return makeError(ErrorCode::Database,
                             QStringLiteral("Cannot open the SQLite store %1").arg(options.sqlitePath),
                             driverText(db.lastError()));
        }
        for (const char* pragma :
             {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL"}) {
            auto r = database->exec(QString::fromLatin1(pragma));
            if (!r)
                return r.error();
        }
    } else {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        db.setHostName(options.pgHost);
        db.setPort(options.pgPort);
        db.setDatabaseName(options.pgDatabase);
        db.setUserName(options.pgUser);
        db.setPassword(options.pgPassword);
        // sslmode comes from config's fixed spellings; a path that could break out of Qt's "k=v;k=v"
        // option list (or libpq's own quoting) is refused rather than escaped.
        static const QRegularExpression plainPath(QStringLiteral("^/[A-Za-z0-9._/+-]*$"));
        if (!options.pgSslRootCert.isEmpty() && !plainPath.match(options.pgSslRootCert).hasMatch())
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("store.postgresql.ssl_root_cert %1 has characters Fluid does not "
                                            "pass to libpq (use letters, digits and . _ / + -)")
                                 .arg(options.pgSslRootCert));
        QString connectOptions = QStringLiteral("connect_timeout=10;sslmode=") + options.pgSslMode;
        if (!options.pgSslRootCert.isEmpty())
            connectOptions += QStringLiteral(";sslrootcert=") + options.pgSslRootCert;
        db.setConnectOptions(connectOptions);
        if (!db.open()) {
            return makeError(
                ErrorCode::Unavailable,
                QStringLiteral("Cannot connect to PostgreSQL at %1:%2, database %3, user %4, sslmode %5. "
                               "Check store.postgresql in config.yaml (sslmode verify-full needs the "
                               "server's CA in ssl_root_cert or ~/.postgresql/root.crt) and the password "
                               "stored in the keychain as store/postgresql.")
                    .arg(options.pgHost)
                    .arg(options.pgPort)
                    .arg(options.pgDatabase, options.pgUser, options.pgSslMode),
                driverText(db.lastError()));
        }
        auto r = database->exec(QStringLiteral("SET client_min_messages TO WARNING"));
        if (!r)
            return r.error();
    }
    qCDebug(lcStore) << "opened" << database->describe();
    return database;
}

Result<QSqlQuery> Database::exec(const QString& sql, const QVariantList& binds)
{
    QSqlQuery query(connection());
    query.setForwardOnly(true);
    if (binds.isEmpty()) {
        // PostgreSQL cannot PREPARE utility statements (SET, CREATE, DROP, LOCK): run those directly.
        if (!query.exec(sql))
            return sqlError(QStringLiteral("A statement"), query.lastError());
        return query;
    }
    if (!query.prepare(sql))
        return sqlError(QStringLiteral("Preparing a statement"), query.lastError());
    for (const QVariant& v : binds) {
        // Qt binds a null QString as SQL NULL; Fluid's text columns mean "empty" by it. A real NULL is a
        // QVariant without a value (QVariant(QMetaType(...))).
        if (!v.isNull() && v.typeId() == QMetaType::QString && v.toString().isNull())
            query.addBindValue(QStringLiteral(""));
        else
            query.addBindValue(v);
    }
    if (!query.exec())
        return sqlError(QStringLiteral("A statement"), query.lastError());
    return query;
}

Result<void> Database::transaction(const std::function<Result<void>()>& work)
{
    if (m_transactionDepth > 0) {
        // Joins the outer transaction: an error propagates and the outer one rolls everything back.
        ++m_transactionDepth;
        Result<void> r = work();
        --m_transactionDepth;
        return r;
    }
    struct Depth {
        int& d;
        explicit Depth(int& depth)
            : d(depth)
        {
            ++d;
        }
        ~Depth() { --d; }
    };
    QSqlDatabase db = connection();
    // BEGIN IMMEDIATE takes SQLite's write lock up front, so read-then-write work (the audit chain) cannot
    // fail half-way with SQLITE_BUSY.
    QSqlQuery begin(db);
    const bool begun = m_options.backend == Backend::Sqlite ? begin.exec(QStringLiteral("BEGIN IMMEDIATE"))
                                                            : db.transaction();
    if (!begun)
        return sqlError(QStringLiteral("Starting a transaction"), begin.lastError());

    Result<void> result = [&]() {
        Depth depth(m_transactionDepth);
        return work();
    }();
    if (!result) {
        const bool rolledBack = m_options.backend == Backend::Sqlite
                                    ? QSqlQuery(db).exec(QStringLiteral("ROLLBACK"))
                                    : db.rollback();
        if (!rolledBack)
            qCWarning(lcStore) << "rollback failed:" << driverText(db.lastError());
        return result;
    }
    const bool committed =
        m_options.backend == Backend::Sqlite ? QSqlQuery(db).exec(QStringLiteral("COMMIT")) : db.commit();
    if (!committed) {
        const QSqlError error = db.lastError();
        if (m_options.backend == Backend::Sqlite)
            QSqlQuery(db).exec(QStringLiteral("ROLLBACK"));
        else
            db.rollback();
        return sqlError(QStringLiteral("Committing a transaction"), error);
    }
    return {};
}

int Database::latestSchemaVersion()
{
    return migrations().constLast().version;
}

Result<int> Database::schemaVersion()
{
    auto created =
        exec(QStringLiteral("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                            "description TEXT NOT NULL, applied_at BIGINT NOT NULL)"));
    if (!created)
        return created.error();
    auto q = exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    if (!q)
        return q.error();
    return q->next() ? q->value(0).toInt() : 0;
}

Result<void> Database::migrate(int target)
{
    auto current = schemaVersion();
    if (!current)
        return current.error();
    if (*current > latestSchemaVersion()) {
        return makeError(
            ErrorCode::Database,
            QStringLiteral("The store %1 is at schema version %2, newer than this Fluid knows (%3). "
                           "Use a newer Fluid with this store.")
                .arg(describe())
                .arg(*current)
                .arg(latestSchemaVersion()));
    }
    for (const Migration& m : migrations()) {
        if (m.version <= *current || m.version > target)
            continue;
        auto applied = transaction([&]() -> Result<void> {
            for (const QString& statement : m.statements(m_options.backend)) {
                auto r = exec(statement);
                if (!r) {
                    return makeError(ErrorCode::Database,
                                     QStringLiteral("Migrating the store %1 to schema version %2 failed")
                                         .arg(describe())
                                         .arg(m.version),
                                     r.error().detail);
                }
            }
            auto r =
                exec(QStringLiteral("INSERT INTO schema_migrations (version, description, applied_at) VALUES "
                                    "(?, ?, ?)"),
                     {m.version, m.description, QDateTime::currentMSecsSinceEpoch()});
            if (!r)
                return r.error();
            return {};
        });
        if (!applied)
            return applied;
        qCInfo(lcStore) << "store migrated to schema version" << m.version << "-" << m.description;
    }
    return {};
}

Result<Database*> threadConnection(const DatabaseOptions& options)
{
    // One small list per thread: a thread talks to one store, rarely two (tests).
    thread_local std::vector<std::unique_ptr<Database>> connections;
    for (auto it = connections.begin(); it != connections.end(); ++it) {
        if ((*it)->options() == options) {
            if (!(*it)->isBroken() && (*it)->connection().isOpen())
                return it->get();
            connections.erase(it);
            break;
        }
    }
    auto db = Database::open(options);
    if (!db)
        return db.error();
    connections.push_back(std::move(*db));
    return connections.back().get();
}

Result<std::unique_ptr<Database>> openAndMigrate(const DatabaseOptions& options)
{
    auto db = Database::open(options);
    if (!db)
        return db.error();
    auto migrated = (*db)->migrate();
    if (!migrated)
        return migrated.error();
    return std::move(*db);
}

} // namespace fluid::store

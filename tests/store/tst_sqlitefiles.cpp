// SPDX-License-Identifier: Apache-2.0
// The SQLite store's files on disk: the database, its -wal and its -shm are readable by their owner only
// (mode 0600), for a new store whatever the umask, and for an existing store whose files were looser.
#include "TestSupport.h"

#include "store/AuditLog.h"
#include "store/Database.h"

#include <QFile>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTest>

#include <sys/stat.h>

using namespace fluid;

namespace {

const char* const kSuffixes[] = {"", "-wal", "-shm"};

/// The permission bits of `path`, or -1 when it does not exist.
int modeOf(const QString& path)
{
    struct stat st = {};
    if (::stat(QFile::encodeName(path).constData(), &st) != 0)
        return -1;
    return int(st.st_mode & 07777);
}

/// The umask for the lifetime of the object (this test runs one thread of its own).
class Umask {
public:
    explicit Umask(mode_t mask)
        : m_old(::umask(mask))
    {
    }
    ~Umask() { ::umask(m_old); }
    Umask(const Umask&) = delete;
    Umask& operator=(const Umask&) = delete;

private:
    mode_t m_old;
};

} // namespace

class TestSqliteFiles : public QObject {
    Q_OBJECT

    QString m_path;

    void verifyOwnerOnly()
    {
        for (const char* suffix : kSuffixes) {
            const QString file = m_path + QLatin1String(suffix);
            QVERIFY2(QFile::exists(file), qPrintable(file)); // the store is open and was written to
            QVERIFY2(modeOf(file) == 0600,
                     qPrintable(QStringLiteral("%1 has mode %2").arg(file).arg(modeOf(file), 0, 8)));
        }
    }

private Q_SLOTS:
    void init()
    {
        m_path = test::makeTempDir(QStringLiteral("sqlitefiles")) + QStringLiteral("/fluid.sqlite");
    }

    void newStoreIsOwnerOnlyWhateverTheUmask()
    {
        const Umask open(0); // SQLite's own default would make every file 0644
        store::DatabaseOptions o;
        o.sqlitePath = m_path;
        auto db = test::must(store::openAndMigrate(o));
        test::must(store::AuditLog(*db).append(QStringLiteral("system"), QStringLiteral("k"),
                                               QStringLiteral("written")));
        verifyOwnerOnly();
    }

    void existingLooseStoreIsNarrowed()
    {
        // A store made by an older Fluid, still open in another connection so its -wal and -shm exist.
        const QString other = QStringLiteral("older-fluid");
        {
            const Umask usual(022);
            QSqlDatabase older = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), other);
            older.setDatabaseName(m_path);
            QVERIFY(older.open());
            QSqlQuery q(older);
            QVERIFY(q.exec(QStringLiteral("PRAGMA journal_mode=WAL")));
            QVERIFY(q.exec(QStringLiteral("CREATE TABLE t (x INTEGER)")));
            QVERIFY(q.exec(QStringLiteral("INSERT INTO t VALUES (1)")));
        }
        for (const char* suffix : kSuffixes) {
            const QString file = m_path + QLatin1String(suffix);
            QVERIFY2(QFile::exists(file), qPrintable(file));
            QVERIFY(::chmod(QFile::encodeName(file).constData(), 0644) == 0);
        }

        {
            store::DatabaseOptions o;
            o.sqlitePath = m_path;
            auto db = test::must(store::Database::open(o));
            test::must(db->exec(QStringLiteral("INSERT INTO t VALUES (2)")));
            verifyOwnerOnly();
        }
        QSqlDatabase::database(other, false).close();
        QSqlDatabase::removeDatabase(other);
    }
};

QTEST_GUILESS_MAIN(TestSqliteFiles)
#include "tst_sqlitefiles.moc"

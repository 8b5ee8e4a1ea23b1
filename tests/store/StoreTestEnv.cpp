// SPDX-License-Identifier: Apache-2.0
#include "StoreTestEnv.h"

#include "TestSupport.h"

#include <QFile>
#include <QTest>

namespace fluid::test {

store::Backend StoreTestEnv::backend()
{
    return qEnvironmentVariable("FLUID_TEST_BACKEND") == QLatin1String("postgresql")
               ? store::Backend::Postgresql
               : store::Backend::Sqlite;
}

QString StoreTestEnv::backendName()
{
    return backend() == store::Backend::Postgresql ? QStringLiteral("postgresql") : QStringLiteral("sqlite");
}

namespace {
QHash<QString, QString> postgresEnv()
{
    const QString envPath = qEnvironmentVariable("FLUID_TEST_PG_ENV");
    QFile f(envPath);
    if (envPath.isEmpty() || !f.open(QIODevice::ReadOnly)) {
        qFatal("PostgreSQL test server is not running: %s is missing (the ctest fixture postgres_start "
               "should have written it; see its output)",
               qPrintable(envPath));
    }
    QHash<QString, QString> env;
    for (const QByteArray& line : f.readAll().split('\n')) {
        const int eq = line.indexOf('=');
        if (eq > 0)
            env.insert(QString::fromUtf8(line.left(eq)), QString::fromUtf8(line.mid(eq + 1)));
    }
    return env;
}
} // namespace

QString StoreTestEnv::postgresCa()
{
    return postgresEnv().value(QStringLiteral("FLUID_TEST_PG_CA"));
}

store::DatabaseOptions StoreTestEnv::fresh()
{
    store::DatabaseOptions o;
    o.backend = backend();
    if (o.backend == store::Backend::Sqlite) {
        o.sqlitePath = makeTempDir(QStringLiteral("store")) + QStringLiteral("/fluid.sqlite");
        return o;
    }
    const QHash<QString, QString> env = postgresEnv();
    o.pgHost = env.value(QStringLiteral("FLUID_TEST_PG_HOST"));
    o.pgPort = env.value(QStringLiteral("FLUID_TEST_PG_PORT")).toInt();
    o.pgUser = env.value(QStringLiteral("FLUID_TEST_PG_USER"));
    o.pgPassword = env.value(QStringLiteral("FLUID_TEST_PG_PASSWORD"));
    o.pgDatabase = env.value(QStringLiteral("FLUID_TEST_PG_DATABASE"));

    auto db = store::Database::open(o);
    if (!db)
        qFatal("cannot reach the PostgreSQL test server: %s", qPrintable(db.error().toString()));
    for (const char* sql : {"DROP SCHEMA public CASCADE", "CREATE SCHEMA public",
                            "DROP FUNCTION IF EXISTS fluid_audit_append_only() CASCADE"}) {
        auto r = (*db)->exec(QString::fromLatin1(sql));
        if (!r)
            qFatal("resetting the PostgreSQL test database failed: %s", qPrintable(r.error().toString()));
    }
    return o;
}

} // namespace fluid::test

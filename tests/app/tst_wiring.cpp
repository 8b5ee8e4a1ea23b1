// SPDX-License-Identifier: Apache-2.0
// Front-end wiring: config.yaml choosing PostgreSQL, its password in the (encrypted-file) secret store,
// and the store opened from that, against the real PostgreSQL the "postgres" fixture runs.
#include "../store/StoreTestEnv.h"
#include "secrets/SecretStore.h"
#include "services/Wiring.h"
#include "store/AuditLog.h"
#include "TestSupport.h"

#include <QFile>
#include <QTest>

using namespace fluid;

class TestWiring : public QObject {
    Q_OBJECT

    QString writeConfig(const QByteArray& yaml)
    {
        const QString path = test::makeTempDir(QStringLiteral("runtime")) + QStringLiteral("/config.yaml");
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(yaml) != yaml.size())
            qFatal("cannot write %s", qPrintable(path));
        return path;
    }

private Q_SLOTS:
    void sqliteNeedsNoSecrets()
    {
        auto loaded = services::loadSettings(
            writeConfig("store:\n  backend: sqlite\n  sqlite_path: /tmp/x/fluid.sqlite\n"));
        QVERIFY(loaded.ok());
        QVERIFY(!services::storeNeedsSecrets(loaded->settings));
        auto options = services::resolveDatabaseOptions(loaded->settings, QString());
        QVERIFY(options.ok());
        QCOMPARE(options->backend, store::Backend::Sqlite);
        QCOMPARE(options->sqlitePath, QStringLiteral("/tmp/x/fluid.sqlite"));
    }

    void postgresqlWithPasswordFromEncryptedSecrets()
    {
        store::DatabaseOptions pg = test::StoreTestEnv::fresh();
        QCOMPARE(pg.backend, store::Backend::Postgresql);
        const QString secretsFile =
            test::makeTempDir(QStringLiteral("runtime")) + QStringLiteral("/secrets.enc");
        const QByteArray yaml =
            QStringLiteral("store:\n  backend: postgresql\n  postgresql:\n    host: %1\n    port: "
                           "%2\n    database: %3\n    user: %4\nsecrets:\n  backend: "
                           "encrypted-file\n  encrypted_file: %5\n")
                .arg(pg.pgHost)
                .arg(pg.pgPort)
                .arg(pg.pgDatabase, pg.pgUser, secretsFile)
                .toUtf8();
        auto loaded = services::loadSettings(writeConfig(yaml));
        QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().toString()));
        QVERIFY(services::storeNeedsSecrets(loaded->settings));
        const QString passphrase = QStringLiteral("correct horse battery staple");

        // No password stored yet: a clear error naming the secret.
        auto missing = services::resolveDatabaseOptions(loaded->settings, passphrase);
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QVERIFY2(missing.error().message.contains(QLatin1String("store/postgresql")),
                 qPrintable(missing.error().message));

        {
            auto secrets =
                secrets::openSecretStore(services::secretStoreOptions(loaded->settings, passphrase));
            QVERIFY(secrets.ok());
            QVERIFY((*secrets)
                        ->write(QString::fromLatin1(secrets::keys::kStorePostgresql), pg.pgPassword.toUtf8())
                        .ok());
        }
        auto options = services::resolveDatabaseOptions(loaded->settings, passphrase);
        QVERIFY2(options.ok(), qPrintable(options.ok() ? QString() : options.error().toString()));
        auto db = store::openAndMigrate(*options);
        QVERIFY2(db.ok(), qPrintable(db.ok() ? QString() : db.error().toString()));
        QVERIFY(store::AuditLog(**db)
                    .append(QStringLiteral("system"), QStringLiteral("k"), QStringLiteral("hello"))
                    .ok());
        QVERIFY(store::AuditLog(**db).verify()->intact());

        // The wrong passphrase never reaches the database.
        auto wrong = services::resolveDatabaseOptions(loaded->settings, QStringLiteral("wrong"));
        QVERIFY(!wrong.ok());
        QCOMPARE(wrong.error().code, ErrorCode::Crypto);
    }
};

QTEST_GUILESS_MAIN(TestWiring)
#include "tst_wiring.moc"

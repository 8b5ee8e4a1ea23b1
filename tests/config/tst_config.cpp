// SPDX-License-Identifier: Apache-2.0
#include "config/Config.h"
#include "config/Settings.h"
#include "TestSupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QtTest>

using namespace fluid;
using namespace fluid::config;

namespace {

const QString kFile = QStringLiteral("/home/u/.config/fluid/config.yaml");

bool writeBytes(const QString& path, const QByteArray& bytes)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(bytes) == bytes.size();
}

Result<LoadedConfig> parse(const QByteArray& yaml)
{
    return parseConfig(yaml, kFile);
}

// The located prefix every parse message line starts with.
QString at(int line, const QString& key)
{
    return QStringLiteral("%1:%2: %3: ").arg(kFile).arg(line).arg(key);
}

const char kFullYaml[] = R"(# every key, none at its default
store:
  backend: postgresql
  sqlite_path: /var/lib/fluid/fluid.sqlite
  postgresql:
    host: db.example.com
    port: 5433
    database: fluid_prod
    user: fluid_app
    sslmode: verify-ca
    ssl_root_cert: /etc/fluid/pg-ca.crt
hosts:
  - name: local
    uri: qemu:///system
    accelerator: kvm
    limits:
      max_memory_mib: 65536
      max_vcpus: 32
      max_sandboxes: 8
  - name: rack-2
    uri: qemu+ssh://root@rack2.example.com:2222/system?keyfile=/home/u/.ssh/id_ed25519
sandbox:
  default_vcpus: 4
  default_memory_mib: 4096
  accelerator: tcg
  ready_timeout_s: 600
ssh:
  cert_ttl_minutes: 10
agent:
  provider: anthropic
  model: claude-sonnet-4
  endpoint: https://llm.internal.example.com/v1
secrets:
  backend: encrypted-file
  encrypted_file: /home/u/.local/share/fluid/secrets.enc
)";

} // namespace

class TstConfig : public QObject {
    Q_OBJECT

private slots:
    void defaultsFromMissingFile();
    void defaultsFromEmptyFile_data();
    void defaultsFromEmptyFile();
    void fullValidFile();
    void messageFormat();
    void invalidValues_data();
    void invalidValues();
    void everyProblemIsReported();
    void syntaxErrors_data();
    void syntaxErrors();
    void wrongTypes_data();
    void wrongTypes();
    void structuralErrors_data();
    void structuralErrors();
    void unknownKeysAreWarnings();
    void retiredKeysAreIgnoredWithAWarning();
    void egressSettings();
    void secretKeysAreRefused_data();
    void secretKeysAreRefused();
    void secretLookalikesAreAllowed();
    void roundTrip();
    void saveThenLoad();
    void saveRefusesInvalidSettings();
    void loadErrors();
    void hostUri_data();
    void hostUri();
    void hostUriInjectionThroughYaml();
    void hostGolden();
    void hostLoginKey();
    void validateUsesTheParseChecks();
    void accessors();
    void enumStrings();
};

void TstConfig::defaultsFromMissingFile()
{
    const QString dir = test::makeTempDir(QStringLiteral("config-missing"));
    const QString path = dir + QStringLiteral("/nowhere/config.yaml");
    const Result<LoadedConfig> loaded = loadConfig(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QVERIFY(!loaded->fromFile);
    QCOMPARE(loaded->path, path);
    QVERIFY(loaded->warnings.isEmpty());
    QVERIFY(loaded->settings == Settings{});
    QVERIFY(!QFileInfo::exists(path));

    const Settings& s = loaded->settings;
    QCOMPARE(s.store.backend, StoreBackend::Sqlite);
    QVERIFY(s.store.sqlitePath.isEmpty());
    QCOMPARE(s.store.postgresql.host, QStringLiteral("127.0.0.1"));
    QCOMPARE(s.store.postgresql.port, 5432);
    QCOMPARE(s.store.postgresql.database, QStringLiteral("fluid"));
    QCOMPARE(s.store.postgresql.user, QStringLiteral("fluid"));
    // auto: a server on this machine prefers TLS, one elsewhere must prove who it is.
    QCOMPARE(s.store.postgresql.sslMode, PgSslMode::Auto);
    QCOMPARE(s.store.postgresql.effectiveSslMode(), PgSslMode::Prefer);
    for (const char* local : {"localhost", "127.0.0.1", "::1", "/run/postgresql"}) {
        PostgresqlSettings pg;
        pg.host = QString::fromLatin1(local);
        QCOMPARE(pg.effectiveSslMode(), PgSslMode::Prefer);
    }
    for (const char* remote : {"db.example.com", "192.0.2.7", "localhost.example.com"}) {
        PostgresqlSettings pg;
        pg.host = QString::fromLatin1(remote);
        QCOMPARE(pg.effectiveSslMode(), PgSslMode::VerifyFull);
    }
    QCOMPARE(s.hosts.size(), 1);
    QCOMPARE(s.hosts[0].name, QStringLiteral("local"));
    QCOMPARE(s.hosts[0].uri, QStringLiteral("qemu:///system"));
    QVERIFY(!s.hosts[0].accelerator.has_value());
    QCOMPARE(s.hosts[0].limits.maxMemoryMib, 0);
    QCOMPARE(s.sandbox.defaultVcpus, 1);
    QCOMPARE(s.sandbox.defaultMemoryMib, 512);
    QCOMPARE(s.sandbox.accelerator, Accelerator::Auto);
    QCOMPARE(s.sandbox.readyTimeoutS, 180);
    QCOMPARE(s.ssh.certTtlMinutes, 5);
    QCOMPARE(s.agent.provider, AgentProvider::OpenAi);
    QVERIFY(s.agent.model.isEmpty());
    QVERIFY(s.agent.endpoint.isEmpty());
    QCOMPARE(s.secrets.backend, SecretsBackend::Keychain);
    QVERIFY(s.secrets.encryptedFile.isEmpty());
    QVERIFY(validate(s).ok());
}

void TstConfig::defaultsFromEmptyFile_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("blank lines") << QByteArray("\n\n   \n");
    QTest::newRow("comments only") << QByteArray("# nothing configured yet\n# store:\n");
    QTest::newRow("explicit null document") << QByteArray("~\n");
}

void TstConfig::defaultsFromEmptyFile()
{
    QFETCH(QByteArray, content);
    const QString path = test::makeTempDir(QStringLiteral("config-empty")) + QStringLiteral("/config.yaml");
    QVERIFY(writeBytes(path, content));
    const Result<LoadedConfig> loaded = loadConfig(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QVERIFY(loaded->fromFile);
    QVERIFY(loaded->warnings.isEmpty());
    QVERIFY(loaded->settings == Settings{});

    // An empty section keeps that section's defaults.
    const Result<LoadedConfig> sections = parse("store:\nsandbox:\nagent: ~\n");
    QVERIFY(sections.ok());
    QVERIFY(sections->settings == Settings{});
}

void TstConfig::fullValidFile()
{
    const QString path = test::makeTempDir(QStringLiteral("config-full")) + QStringLiteral("/config.yaml");
    QVERIFY(writeBytes(path, kFullYaml));
    const Result<LoadedConfig> loaded = loadConfig(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QVERIFY(loaded->fromFile);
    QVERIFY2(loaded->warnings.isEmpty(), qPrintable(loaded->warnings.join('\n')));

    const Settings& s = loaded->settings;
    QCOMPARE(s.store.backend, StoreBackend::Postgresql);
    QCOMPARE(s.store.sqlitePath, QStringLiteral("/var/lib/fluid/fluid.sqlite"));
    QCOMPARE(s.store.postgresql.host, QStringLiteral("db.example.com"));
    QCOMPARE(s.store.postgresql.port, 5433);
    QCOMPARE(s.store.postgresql.database, QStringLiteral("fluid_prod"));
    QCOMPARE(s.store.postgresql.user, QStringLiteral("fluid_app"));
    QCOMPARE(s.store.postgresql.sslMode, PgSslMode::VerifyCa);
    QCOMPARE(s.store.postgresql.effectiveSslMode(), PgSslMode::VerifyCa);
    QCOMPARE(s.store.postgresql.sslRootCert, QStringLiteral("/etc/fluid/pg-ca.crt"));
    QCOMPARE(s.hosts.size(), 2);
    QCOMPARE(s.hosts[0].name, QStringLiteral("local"));
    QCOMPARE(s.hosts[0].uri, QStringLiteral("qemu:///system"));
    QCOMPARE(s.hosts[0].accelerator, std::optional<Accelerator>(Accelerator::Kvm));
    QCOMPARE(s.hosts[0].limits.maxMemoryMib, 65536);
    QCOMPARE(s.hosts[0].limits.maxVcpus, 32);
    QCOMPARE(s.hosts[0].limits.maxSandboxes, 8);
    QCOMPARE(s.hosts[1].name, QStringLiteral("rack-2"));
    QCOMPARE(s.hosts[1].uri,
             QStringLiteral("qemu+ssh://root@rack2.example.com:2222/system?keyfile=/home/u/.ssh/id_ed25519"));
    QVERIFY(!s.hosts[1].accelerator.has_value());
    QCOMPARE(s.hosts[1].limits, HostLimits{});
    QCOMPARE(s.sandbox.defaultVcpus, 4);
    QCOMPARE(s.sandbox.defaultMemoryMib, 4096);
    QCOMPARE(s.sandbox.accelerator, Accelerator::Tcg);
    QCOMPARE(s.sandbox.readyTimeoutS, 600);
    QCOMPARE(s.ssh.certTtlMinutes, 10);
    QCOMPARE(s.agent.provider, AgentProvider::Anthropic);
    QCOMPARE(s.agent.model, QStringLiteral("claude-sonnet-4"));
    QCOMPARE(s.agent.endpoint, QStringLiteral("https://llm.internal.example.com/v1"));
    QCOMPARE(s.secrets.backend, SecretsBackend::EncryptedFile);
    QCOMPARE(s.secrets.encryptedFile, QStringLiteral("/home/u/.local/share/fluid/secrets.enc"));
    QVERIFY(validate(s).ok());
}

void TstConfig::messageFormat()
{
    // Line 12 holds the bad value.
    QByteArray yaml;
    for (int i = 1; i <= 10; ++i)
        yaml += "# comment line " + QByteArray::number(i) + '\n';
    yaml += "sandbox:\n  default_memory_mib: 64\n";
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    QCOMPARE(loaded.error().code, ErrorCode::Config);
    QCOMPARE(
        loaded.error().message,
        QStringLiteral("/home/u/.config/fluid/config.yaml:12: sandbox.default_memory_mib: must be an integer "
                       "from 128 to 1048576 (found \"64\")"));
}

void TstConfig::invalidValues_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<int>("line");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");

    const auto row = [](const char* name, const char* yaml, int line, const char* key, const char* expected) {
        QTest::newRow(name) << QByteArray(yaml) << line << QString::fromUtf8(key)
                            << QString::fromUtf8(expected);
    };
    // Integers: below and above every range.
    row("port 0", "store:\n  postgresql:\n    port: 0\n", 3, "store.postgresql.port",
        "must be an integer from 1 to 65535 (found \"0\")");
    row("port 65536", "store:\n  postgresql:\n    port: 65536\n", 3, "store.postgresql.port",
        "must be an integer from 1 to 65535 (found \"65536\")");
    row("max_memory_mib",
        "hosts:\n  - name: local\n    uri: qemu:///system\n    limits:\n      max_memory_mib: 16777217\n", 5,
        "hosts[0].limits.max_memory_mib", "must be an integer from 0 to 16777216 (found \"16777217\")");
    row("max_memory_mib negative",
        "hosts:\n  - name: local\n    uri: qemu:///system\n    limits: {max_memory_mib: -1}\n", 4,
        "hosts[0].limits.max_memory_mib", "must be an integer from 0 to 16777216 (found \"-1\")");
    row("max_vcpus", "hosts:\n  - name: local\n    uri: qemu:///system\n    limits:\n      max_vcpus: 4097\n",
        5, "hosts[0].limits.max_vcpus", "must be an integer from 0 to 4096 (found \"4097\")");
    row("max_sandboxes",
        "hosts:\n  - name: local\n    uri: qemu:///system\n    limits:\n      max_sandboxes: 10001\n", 5,
        "hosts[0].limits.max_sandboxes", "must be an integer from 0 to 10000 (found \"10001\")");
    row("default_vcpus 0", "sandbox:\n  default_vcpus: 0\n", 2, "sandbox.default_vcpus",
        "must be an integer from 1 to 64 (found \"0\")");
    row("default_vcpus 65", "sandbox:\n  default_vcpus: 65\n", 2, "sandbox.default_vcpus",
        "must be an integer from 1 to 64 (found \"65\")");
    row("default_memory_mib", "sandbox:\n  default_memory_mib: 1048577\n", 2, "sandbox.default_memory_mib",
        "must be an integer from 128 to 1048576 (found \"1048577\")");
    row("ready_timeout_s", "sandbox:\n  ready_timeout_s: 9\n", 2, "sandbox.ready_timeout_s",
        "must be an integer from 10 to 3600 (found \"9\")");
    row("cert_ttl_minutes", "ssh:\n  cert_ttl_minutes: 11\n", 2, "ssh.cert_ttl_minutes",
        "must be an integer from 1 to 10 (found \"11\")");
    row("quoted number out of range", "sandbox:\n  default_vcpus: \"128\"\n", 2, "sandbox.default_vcpus",
        "must be an integer from 1 to 64 (found \"128\")");
    // Enums, with a "did you mean" when close.
    row("store backend", "store:\n  backend: postgres\n", 2, "store.backend",
        "must be one of sqlite, postgresql (found \"postgres\"); did you mean \"postgresql\"?");
    row("store backend far", "store:\n  backend: mysql\n", 2, "store.backend",
        "must be one of sqlite, postgresql (found \"mysql\")");
    row("postgres sslmode", "store:\n  postgresql:\n    sslmode: verify_full\n", 3,
        "store.postgresql.sslmode",
        "must be one of auto, disable, prefer, require, verify-ca, verify-full (found \"verify_full\"); did "
        "you mean \"verify-full\"?");
    row("sandbox accelerator", "sandbox:\n  accelerator: kmv\n", 2, "sandbox.accelerator",
        "must be one of auto, kvm, tcg (found \"kmv\"); did you mean \"kvm\"?");
    row("host accelerator", "hosts:\n  - name: local\n    uri: qemu:///system\n    accelerator: hvf\n", 4,
        "hosts[0].accelerator", "must be one of auto, kvm, tcg (found \"hvf\")");
    row("agent provider", "agent:\n  provider: openia\n", 2, "agent.provider",
        "must be one of openai, anthropic, openrouter, ollama, vllm (found \"openia\"); did you mean "
        "\"openai\"?");
    row("secrets backend", "secrets:\n  backend: file\n", 2, "secrets.backend",
        "must be one of keychain, encrypted-file (found \"file\")");
    row("enum empty", "agent:\n  provider:\n", 2, "agent.provider",
        "must be one of openai, anthropic, openrouter, ollama, vllm (found nothing)");
    // Text formats.
    row("host name uppercase", "hosts:\n  - name: Local\n    uri: qemu:///system\n", 2, "hosts[0].name",
        "must be 1 to 40 characters of a-z, 0-9 and '-', starting with a letter or digit (found \"Local\")");
    row("host name leading dash", "hosts:\n  - name: -x\n    uri: qemu:///system\n", 2, "hosts[0].name",
        "starting with a letter or digit (found \"-x\")");
    row("host name too long",
        "hosts:\n  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n    uri: qemu:///system\n", 2,
        "hosts[0].name", "must be 1 to 40 characters");
    row("host name missing", "hosts:\n  - uri: qemu:///system\n", 2, "hosts[0].name",
        "must be 1 to 40 characters of a-z, 0-9 and '-', starting with a letter or digit (found \"\")");
    row("host uri missing", "hosts:\n  - name: local\n", 2, "hosts[0].uri",
        "must be a libvirt URI such as qemu:///system or qemu+ssh://user@host/system (found \"\")");
    row("duplicate host names",
        "hosts:\n  - name: a\n    uri: qemu:///system\n  - name: a\n    uri: test:///default\n", 4,
        "hosts[1].name", "must be unique, but hosts[0] has the same name (found \"a\")");
    row("no hosts", "store: {}\nhosts: []\n", 2, "hosts", "must list at least one libvirt host");
    row("sqlite_path relative", "store:\n  sqlite_path: data/fluid.sqlite\n", 2, "store.sqlite_path",
        "must be empty (the default) or an absolute path (starting with /) without \"..\" or control "
        "characters "
        "(found \"data/fluid.sqlite\")");
    row("sqlite_path tilde", "store:\n  sqlite_path: ~/fluid.sqlite\n", 2, "store.sqlite_path",
        "write the full path, ~ is not expanded");
    row("encrypted_file dotdot", "secrets:\n  encrypted_file: /home/u/../root/s.enc\n", 2,
        "secrets.encrypted_file", "without \"..\"");
    row("endpoint scheme", "agent:\n  endpoint: ftp://llm.example.com\n", 2, "agent.endpoint",
        "must be empty (the provider's default) or an http:// or https:// URL (found "
        "\"ftp://llm.example.com\")");
    row("endpoint no host", "agent:\n  endpoint: https://\n", 2, "agent.endpoint", "http:// or https:// URL");
    row("endpoint space", "agent:\n  endpoint: https://llm.example.com/v1 x\n", 2, "agent.endpoint",
        "without spaces");
    row("model line break", "agent:\n  model: \"gpt\\nrm -rf /\"\n", 2, "agent.model",
        "must be at most 200 characters on one line (found \"gpt\\nrm -rf /\")");
    row("postgres host", "store:\n  postgresql:\n    host: \"db host\"\n", 3, "store.postgresql.host",
        "must be a host name, an IP address or the absolute path of a socket folder (found \"db host\")");
    row("postgres database empty", "store:\n  postgresql:\n    database: \"\"\n", 3,
        "store.postgresql.database", "must be 1 to 63 characters on one line (found \"\")");
    row("postgres user null", "store:\n  postgresql:\n    user:\n", 3, "store.postgresql.user",
        "must be 1 to 63 characters on one line");
}

void TstConfig::invalidValues()
{
    QFETCH(QByteArray, yaml);
    QFETCH(int, line);
    QFETCH(QString, key);
    QFETCH(QString, expected);
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    QCOMPARE(loaded.error().code, ErrorCode::Config);
    const QString message = loaded.error().message;
    // Exactly one problem: the line, the key, then what is allowed and what was found.
    QVERIFY2(!message.contains('\n'), qPrintable(message));
    QVERIFY2(message.startsWith(at(line, key)), qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
}

void TstConfig::everyProblemIsReported()
{
    const QByteArray yaml = "sandbox:\n"              // 1
                            "  default_vcpus: 100\n"  // 2
                            "  accelerator: fast\n"   // 3
                            "ssh:\n"                  // 4
                            "  cert_ttl_minutes: x\n" // 5
                            "agent:\n"                // 6
                            "  provider: nope\n";     // 7
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    const QStringList lines = loaded.error().message.split('\n');
    QCOMPARE(lines.size(), 4);
    QVERIFY(lines[0].startsWith(at(2, "sandbox.default_vcpus")));
    QVERIFY(lines[1].startsWith(at(3, "sandbox.accelerator")));
    QVERIFY(lines[2].startsWith(at(5, "ssh.cert_ttl_minutes")));
    QVERIFY(lines[3].startsWith(at(7, "agent.provider")));
}

void TstConfig::syntaxErrors_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<int>("line");
    QTest::newRow("unclosed flow list")
        << QByteArray("sandbox:\n  default_vcpus: 2\nstore:\n  postgresql: [a, b\n"
                      "ssh:\n  cert_ttl_minutes: 5\n")
        << 5;
    QTest::newRow("bad indentation") << QByteArray("sandbox:\n  default_vcpus: 2\n accelerator: kvm\n") << 3;
    QTest::newRow("unclosed flow map") << QByteArray("agent: {model: gpt\n") << 2;
    QTest::newRow("value after value") << QByteArray("ssh: {}\nsandbox: default_vcpus: 2\n") << 2;
    QTest::newRow("undefined alias") << QByteArray("ssh: {}\n\nsandbox: *defaults\n") << 3;
    QTest::newRow("tab indentation") << QByteArray("sandbox:\n\tdefault_vcpus: 2\n") << 2;
    QTest::newRow("unknown escape") << QByteArray("agent:\n  model: \"\\q\"\n") << 2;
}

void TstConfig::syntaxErrors()
{
    QFETCH(QByteArray, yaml);
    QFETCH(int, line);
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    QCOMPARE(loaded.error().code, ErrorCode::Config);
    const QString message = loaded.error().message;
    QVERIFY2(message.startsWith(QStringLiteral("%1:%2: not valid YAML: ").arg(kFile).arg(line)),
             qPrintable(message));
    QVERIFY2(message.contains("column"), qPrintable(message));
    QVERIFY2(message.contains("indentation and quoting"), qPrintable(message));
}

void TstConfig::wrongTypes_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<int>("line");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");
    const auto row = [](const char* name, const char* yaml, int line, const char* key, const char* expected) {
        QTest::newRow(name) << QByteArray(yaml) << line << QString::fromUtf8(key)
                            << QString::fromUtf8(expected);
    };
    row("list for section", "ssh: {}\nsandbox:\n  - 1\n  - 2\n", 2, "sandbox",
        "must be a mapping of settings (found a list)");
    row("text for section", "store: sqlite\n", 1, "store",
        "must be a mapping of settings (found \"sqlite\")");
    row("text for number", "sandbox:\n  default_vcpus: two\n", 2, "sandbox.default_vcpus",
        "must be an integer from 1 to 64 (found \"two\")");
    row("fraction for number", "sandbox:\n  default_vcpus: 1.5\n", 2, "sandbox.default_vcpus",
        "must be an integer from 1 to 64 (found \"1.5\")");
    row("huge number", "sandbox:\n  default_memory_mib: 99999999999999\n", 2, "sandbox.default_memory_mib",
        "must be an integer from 128 to 1048576 (found \"99999999999999\")");
    row("list for number", "store:\n  postgresql:\n    port: [5432]\n", 3, "store.postgresql.port",
        "must be an integer from 1 to 65535 (found a list)");
    row("nothing for number", "ssh:\n  cert_ttl_minutes:\n", 2, "ssh.cert_ttl_minutes",
        "must be an integer from 1 to 10 (found nothing)");
    row("map for text", "agent:\n  model:\n    name: gpt\n", 2, "agent.model",
        "must be text (found a mapping)");
    row("text for hosts", "hosts: local\n", 1, "hosts", "must be a list (found \"local\")");
    row("text for host item", "hosts:\n  - local\n", 2, "hosts[0]",
        "must be a mapping of settings (found \"local\")");
    // An empty item is located on its own line, not on the next token's.
    row("null host item", "hosts:\n  -\n", 2, "hosts[0]", "must be a mapping of settings (found nothing)");
    row("null host item before others",
        "hosts:\n  - {name: a, uri: \"qemu:///system\"}\n  -\n\n  # note\n  - {name: b, uri: "
        "\"test:///default\"}\n",
        3, "hosts[1]", "must be a mapping of settings (found nothing)");
    row("null flow host item",
        "hosts: [{name: a, uri: \"qemu:///system\"},\n  ~, {name: b, uri: \"test:///default\"}]\n", 2,
        "hosts[1]", "must be a mapping of settings (found nothing)");
    row("list for enum", "store:\n  backend: [sqlite]\n", 2, "store.backend",
        "must be one of sqlite, postgresql (found a list)");
    row("map for limits", "hosts:\n  - name: local\n    uri: qemu:///system\n    limits: 5\n", 4,
        "hosts[0].limits", "must be a mapping of settings (found \"5\")");
}

void TstConfig::wrongTypes()
{
    QFETCH(QByteArray, yaml);
    QFETCH(int, line);
    QFETCH(QString, key);
    QFETCH(QString, expected);
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    QCOMPARE(loaded.error().code, ErrorCode::Config);
    const QString message = loaded.error().message;
    // A value that could not be read is reported once, not again by the range checks.
    QVERIFY2(!message.contains('\n'), qPrintable(message));
    QCOMPARE(message, at(line, key) + expected);
}

void TstConfig::structuralErrors_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<QString>("expected");
    QTest::newRow("top level text") << QByteArray("\nhello\n")
                                    << kFile +
                                           ":2: the top level must be a mapping of sections (store, hosts, "
                                           "sandbox, ssh, agent, secrets) (found \"hello\")";
    QTest::newRow("top level list") << QByteArray("- store\n")
                                    << kFile + ":1: the top level must be a mapping";
    QTest::newRow("duplicate key") << QByteArray("sandbox:\n  default_vcpus: 2\n  default_vcpus: 3\n")
                                   << at(3, "sandbox.default_vcpus") +
                                          "appears twice (also on line 2); keep only one";
    QTest::newRow("duplicate section")
        << QByteArray("ssh: {}\nagent: {}\nssh: {}\n") << at(3, "ssh") + "appears twice (also on line 1)";
    QTest::newRow("list as key") << QByteArray("sandbox:\n  ? [a, b]\n  : 1\n")
                                 << at(2, "sandbox") + "keys must be plain names, not lists or mappings";
    QTest::newRow("two documents") << QByteArray("ssh: {}\n---\nagent: {}\n")
                                   << kFile + ":3: holds more than one YAML document";
    QByteArray bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int level = 1; level <= 6; ++level) {
        const QByteArray previous = "*l" + QByteArray::number(level - 1);
        bomb += "l" + QByteArray::number(level) + ": &l" + QByteArray::number(level) + " [" +
                QList<QByteArray>(10, previous).join(", ") + "]\n";
    }
    QTest::newRow("alias bomb") << bomb
                                << kFile + ": holds more than 100000 values once aliases are expanded";
    QTest::newRow("too large") << QByteArray("# ") + QByteArray(kMaxConfigFileBytes, 'x')
                               << kFile + ": is larger than 1024 KiB";
}

void TstConfig::structuralErrors()
{
    QFETCH(QByteArray, yaml);
    QFETCH(QString, expected);
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    QCOMPARE(loaded.error().code, ErrorCode::Config);
    QVERIFY2(loaded.error().message.startsWith(expected), qPrintable(loaded.error().message));
}

void TstConfig::unknownKeysAreWarnings()
{
    const QByteArray yaml = "sandbox:\n"                  // 1
                            "  defualt_vcpus: 2\n"        // 2
                            "  default_vcpus: 3\n"        // 3
                            "sandbx:\n"                   // 4
                            "  anything: {nested: [1]}\n" // 5
                            "hosts:\n"                    // 6
                            "  - name: local\n"           // 7
                            "    uri: qemu:///system\n"   // 8
                            "    acelerator: kvm\n"       // 9
                            "    limits:\n"               // 10
                            "      max_vcpu: 4\n"         // 11
                            "colour: blue\n"              // 12
                            "store:\n"                    // 13
                            "  postgresql:\n"             // 14
                            "    prot: 5432\n"            // 15
                            "Agent: {}\n";                // 16
    const QString path = test::makeTempDir(QStringLiteral("config-unknown")) + QStringLiteral("/config.yaml");
    QVERIFY(writeBytes(path, yaml));
    const Result<LoadedConfig> loaded = loadConfig(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QCOMPARE(loaded->settings.sandbox.defaultVcpus, 3);

    const QString p = path + ':';
    const QStringList expected{
        p + "2: sandbox.defualt_vcpus: unknown key, ignored; did you mean \"default_vcpus\"?",
        p + "4: sandbx: unknown key, ignored; did you mean \"sandbox\"?",
        p + "9: hosts[0].acelerator: unknown key, ignored; did you mean \"accelerator\"?",
        p + "11: hosts[0].limits.max_vcpu: unknown key, ignored; did you mean \"max_vcpus\"?",
        p + "12: colour: unknown key, ignored",
        p + "15: store.postgresql.prot: unknown key, ignored; did you mean \"port\"?",
        p + "16: Agent: unknown key, ignored; did you mean \"agent\"?",
    };
    QCOMPARE(loaded->warnings, expected);

    // Warnings reach the log only through logWarnings().
    for (const QString& warning : expected)
        QTest::ignoreMessage(QtWarningMsg, qPrintable(warning));
    logWarnings(*loaded);
}

void TstConfig::egressSettings()
{
    const Result<LoadedConfig> loaded =
        parse("egress:\n  port: 8080\n  hold_seconds: 5\n  deny: '*.evil.test:*'\n"
              "hosts:\n  - name: local\n    uri: qemu:///system\n"
              "    egress_allow: 'deb.debian.org:80, *.debian.org:443, 192.0.2.1:*'\n");
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QCOMPARE(loaded->settings.egress.port, 8080);
    QCOMPARE(loaded->settings.egress.holdSeconds, 5);
    QCOMPARE(loaded->settings.egress.deny, QStringLiteral("*.evil.test:*"));
    QCOMPARE(loaded->settings.hosts.first().egressAllow,
             QStringLiteral("deb.debian.org:80, *.debian.org:443, 192.0.2.1:*"));
    QCOMPARE(Settings().egress.holdSeconds, 30);
    for (const char* bad :
         {"deb.debian.org", "deb.debian.org:0", "deb.debian.org:99999", "http://x:80", "a b:80"}) {
        const Result<LoadedConfig> refused =
            parse(QByteArray("hosts:\n  - name: local\n    uri: qemu:///system\n    egress_allow: '") + bad +
                  "'\n");
        QVERIFY2(!refused.ok(), bad);
        QVERIFY2(refused.error().toString().contains(QLatin1String("host:port patterns")),
                 qPrintable(refused.error().toString()));
    }
}

void TstConfig::retiredKeysAreIgnoredWithAWarning()
{
    // A config.yaml from before commands, paths and agent.context_limit_tokens stopped being settings.
    const QByteArray yaml = "sandbox:\n"                       // 1
                            "  default_vcpus: 2\n"             // 2
                            "commands:\n"                      // 3
                            "  timeout_s: 0\n"                 // 4
                            "  output_cap_bytes: 65536\n"      // 5
                            "  allow: [\"^apt-get \"]\n"       // 6
                            "  deny:\n"                        // 7
                            "    - '(unclosed'\n"              // 8
                            "agent:\n"                         // 9
                            "  provider: anthropic\n"          // 10
                            "  context_limit_tokens: 200000\n" // 11
                            "paths:\n"                         // 12
                            "  allow: [/etc, relative]\n"      // 13
                            "  deny: [/proc, /sys]\n";         // 14
    const QString path = test::makeTempDir(QStringLiteral("config-retired")) + QStringLiteral("/config.yaml");
    QVERIFY(writeBytes(path, yaml));
    const Result<LoadedConfig> loaded = loadConfig(path);
    // Values the old checks refused (timeout_s 0, an invalid pattern, a relative path) are ignored too.
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QCOMPARE(loaded->settings.sandbox.defaultVcpus, 2);
    QCOMPARE(loaded->settings.agent.provider, AgentProvider::Anthropic);

    const QString p = path + ':';
    const QString ignored =
        QStringLiteral(": no longer a setting (nothing read it), ignored; delete it from this file");
    const QStringList expected{
        p + "3: commands" + ignored,
        p + "11: agent.context_limit_tokens" + ignored,
        p + "12: paths" + ignored,
    };
    QCOMPARE(loaded->warnings, expected);

    // Saving writes only the settings there are.
    const QByteArray saved = toYaml(loaded->settings);
    // (egress.deny and hosts[].egress_allow are settings of their own: the retired lists were commands.allow,
    // commands.deny, paths.allow and paths.deny, gone with their sections.)
    for (const char* gone :
         {"commands", "paths:", "context_limit_tokens", "output_cap", "\n  allow:", "'(unclosed'"})
        QVERIFY2(!saved.contains(gone), gone);
    QVERIFY(parse(saved)->warnings.isEmpty());
}

void TstConfig::secretKeysAreRefused_data()
{
    QTest::addColumn<QByteArray>("yaml");
    QTest::addColumn<int>("line");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    const auto row = [](const char* name, const char* yaml, int line, const char* key, const char* value) {
        QTest::newRow(name) << QByteArray(yaml) << line << QString::fromUtf8(key) << QString::fromUtf8(value);
    };
    row("api_key in agent", "agent:\n  provider: openai\n  api_key: sk-proj-abcdefghijklmnopqrstuvwxyz\n", 3,
        "agent.api_key", "sk-proj-abcdefghijklmnopqrstuvwxyz");
    row("apikey top level", "apikey: hunter2hunter2\n", 1, "apikey", "hunter2hunter2");
    row("apiKey camel case", "agent:\n  apiKey: hunter2hunter2\n", 2, "agent.apiKey", "hunter2hunter2");
    row("OPENAI_API_KEY", "agent:\n  OPENAI_API_KEY: 'zz-top-secret-value'\n", 2, "agent.OPENAI_API_KEY",
        "zz-top-secret-value");
    row("postgres password", "store:\n  postgresql:\n    user: fluid\n    password: correct-horse-battery\n",
        4, "store.postgresql.password", "correct-horse-battery");
    row("passphrase in secrets",
        "secrets:\n  backend: encrypted-file\n  passphrase: my long passphrase here\n", 3,
        "secrets.passphrase", "my long passphrase here");
    row("token", "token: ghp_abcdefghijklmnopqrstuvwxyz0123\n", 1, "token",
        "ghp_abcdefghijklmnopqrstuvwxyz0123");
    row("bearer-token", "agent:\n  bearer-token: qwertyuiopasdf\n", 2, "agent.bearer-token",
        "qwertyuiopasdf");
    row("secret", "ssh:\n  secret: s3cr3t-value-x\n", 2, "ssh.secret", "s3cr3t-value-x");
    row("private_key block",
        "ssh:\n  private_key: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n    b3BlbnNzaC1rZXk\n", 2,
        "ssh.private_key", "b3BlbnNzaC1rZXk");
    row("host password",
        "hosts:\n  - name: local\n    uri: qemu:///system\n  - name: r2\n    uri: test:///default\n"
        "    password: rootpass-123\n",
        6, "hosts[1].password", "rootpass-123");
    row("inside unknown section", "extras:\n  deep:\n    - client_secret: abcdef-123456\n", 3,
        "extras.deep[0].client_secret", "abcdef-123456");
    row("secret holding a map", "agent:\n  password:\n    value: nested-secret-1\n", 2, "agent.password",
        "nested-secret-1");
}

void TstConfig::secretKeysAreRefused()
{
    QFETCH(QByteArray, yaml);
    QFETCH(int, line);
    QFETCH(QString, key);
    QFETCH(QString, value);
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    QCOMPARE(loaded.error().code, ErrorCode::Config);
    const QString message = loaded.error().message;
    QVERIFY2(message.startsWith(at(line, key) + "secrets do not belong in the config file"),
             qPrintable(message));
    QVERIFY2(message.contains("keychain"), qPrintable(message));
    QVERIFY2(message.contains("Settings, or the onboarding wizard"), qPrintable(message));
    QVERIFY2(!message.contains(value), qPrintable(message));
    QVERIFY(!loaded.error().detail.contains(value));
    // Reported once, as a secret, not again as an unknown key or a wrong type.
    QVERIFY2(!message.contains('\n'), qPrintable(message));
}

void TstConfig::secretLookalikesAreAllowed()
{
    // "secrets" (the section), "context_limit_tokens" and "token_budget" name no secret.
    const Result<LoadedConfig> loaded =
        parse("secrets:\n  backend: keychain\nagent:\n  context_limit_tokens: 5000\n  token_budget: 3\n");
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QCOMPARE(loaded->warnings.size(), 2);
    QVERIFY(loaded->warnings[0].contains("agent.context_limit_tokens: "));
    QVERIFY(loaded->warnings[1].contains("agent.token_budget: unknown key"));

    // A secret key next to other problems: every problem is listed, the secret's value never.
    const Result<LoadedConfig> mixed =
        parse("sandbox:\n  default_vcpus: 0\nagent:\n  api_key: sk-live-123456789\n");
    QVERIFY(!mixed.ok());
    QCOMPARE(mixed.error().message.count('\n'), 1);
    QVERIFY(mixed.error().message.contains(at(4, "agent.api_key")));
    QVERIFY(!mixed.error().message.contains("sk-live-123456789"));

    // A value that looks like a key is redacted even where the key name is harmless.
    const Result<LoadedConfig> pasted = parse("agent:\n  endpoint: sk-abcdefghijklmnopqrstuvwxyz\n");
    QVERIFY(!pasted.ok());
    QVERIFY2(!pasted.error().message.contains("sk-abcdefghijklmnopqrstuvwxyz"),
             qPrintable(pasted.error().message));
    const Result<LoadedConfig> credentials =
        parse("agent:\n  endpoint: https://user:hunter2pass@llm.example.com/v1\n");
    QVERIFY(!credentials.ok());
    QVERIFY2(credentials.error().message.contains("store the API key in the keychain"),
             qPrintable(credentials.error().message));
    QVERIFY2(!credentials.error().message.contains("hunter2pass"), qPrintable(credentials.error().message));
}

void TstConfig::roundTrip()
{
    // Defaults survive the trip.
    {
        const QByteArray yaml = toYaml(Settings{});
        QVERIFY(yaml.startsWith("# Fluid settings."));
        const Result<LoadedConfig> back = parse(yaml);
        QVERIFY2(back.ok(), qPrintable(back.ok() ? QString() : back.error().message + '\n' + yaml));
        QVERIFY(back->warnings.isEmpty());
        QVERIFY(back->settings == Settings{});
    }
    // The full file survives the trip.
    {
        const Result<LoadedConfig> full = parse(kFullYaml);
        QVERIFY(full.ok());
        const Result<LoadedConfig> back = parse(toYaml(full->settings));
        QVERIFY(back.ok());
        QVERIFY(back->settings == full->settings);
    }
    // Text YAML would read as something else.
    Settings s;
    s.store.backend = StoreBackend::Postgresql;
    s.store.postgresql.host = QStringLiteral("/var/run/postgresql");
    s.store.postgresql.database = QStringLiteral("null");
    s.store.postgresql.user = QStringLiteral("~");
    s.hosts.append(HostSettings{});
    s.hosts[1].name = QStringLiteral("0123");
    s.hosts[1].uri = QStringLiteral("test:///default");
    s.hosts[1].accelerator = Accelerator::Tcg;
    s.hosts[1].limits.maxSandboxes = 10000;
    s.hosts[1].golden = QStringLiteral("golden-debian12-fwcfg");
    s.agent.provider = AgentProvider::Vllm;
    s.agent.model = QStringLiteral("'quoted' \"model\" #1: é ü 模型 - [x] {y} & *z !t %u @v `w");
    s.agent.endpoint = QStringLiteral("http://127.0.0.1:8000/v1?x=1#frag");
    s.secrets.backend = SecretsBackend::EncryptedFile;
    QVERIFY2(validate(s).ok(), qPrintable(validate(s).ok() ? QString() : validate(s).error().message));
    const QByteArray yaml = toYaml(s);
    const Result<LoadedConfig> back = parse(yaml);
    QVERIFY2(back.ok(), qPrintable(back.ok() ? QString() : back.error().message + '\n' + yaml));
    QVERIFY2(back->warnings.isEmpty(), qPrintable(back->warnings.join('\n')));
    QCOMPARE(back->settings.agent.model, s.agent.model);
    QCOMPARE(back->settings.store.postgresql.user, s.store.postgresql.user);
    QVERIFY(back->settings == s);
    QVERIFY(yaml.contains("keychain"));
}

void TstConfig::saveThenLoad()
{
    const QString dir = test::makeTempDir(QStringLiteral("config-save"));
    const QString path = dir + QStringLiteral("/not/yet/there/config.yaml");
    Settings s;
    s.sandbox.defaultMemoryMib = 2048;
    s.agent.model = QStringLiteral("gpt-4.1");
    s.hosts[0].accelerator = Accelerator::Kvm;
    const Result<void> saved = saveConfig(path, s);
    QVERIFY2(saved.ok(), qPrintable(saved.ok() ? QString() : saved.error().toString()));
    QVERIFY(QFileInfo::exists(path));

    const Result<LoadedConfig> loaded = loadConfig(path);
    QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().message));
    QVERIFY(loaded->fromFile);
    QVERIFY(loaded->warnings.isEmpty());
    QVERIFY(loaded->settings == s);

    // Saving again replaces the file; no temporary files stay behind.
    s.sandbox.defaultMemoryMib = 1024;
    QVERIFY(saveConfig(path, s).ok());
    QCOMPARE(loadConfig(path)->settings.sandbox.defaultMemoryMib, 1024);
    QCOMPARE(QDir(QFileInfo(path).absolutePath()).entryList(QDir::Files), QStringList{"config.yaml"});
}

void TstConfig::saveRefusesInvalidSettings()
{
    const QString path =
        test::makeTempDir(QStringLiteral("config-save-bad")) + QStringLiteral("/config.yaml");
    QVERIFY(saveConfig(path, Settings{}).ok());
    const QByteArray before = [&] {
        QFile f(path);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    }();

    Settings bad;
    bad.ssh.certTtlMinutes = 60;
    bad.hosts[0].uri = QStringLiteral("qemu:///system; reboot");
    const Result<void> saved = saveConfig(path, bad);
    QVERIFY(!saved.ok());
    QCOMPARE(saved.error().code, ErrorCode::Config);
    QVERIFY2(saved.error().message.contains(
                 "ssh.cert_ttl_minutes: must be an integer from 1 to 10 (found \"60\")"),
             qPrintable(saved.error().message));
    QVERIFY(saved.error().message.contains("hosts[0].uri: "));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), before);

    QCOMPARE(saveConfig(QString(), Settings{}).error().code, ErrorCode::InvalidArgument);
}

void TstConfig::loadErrors()
{
    const QString dir = test::makeTempDir(QStringLiteral("config-load-errors"));
    const QString folder = dir + QStringLiteral("/config.yaml");
    QVERIFY(QDir().mkpath(folder));
    const Result<LoadedConfig> fromFolder = loadConfig(folder);
    QVERIFY(!fromFolder.ok());
    QVERIFY2(fromFolder.error().message.startsWith(folder + ": is a folder"),
             qPrintable(fromFolder.error().message));

    const QString big = dir + QStringLiteral("/big.yaml");
    QVERIFY(writeBytes(big, QByteArray(kMaxConfigFileBytes + 1, '#')));
    const Result<LoadedConfig> tooBig = loadConfig(big);
    QVERIFY(!tooBig.ok());
    QCOMPARE(tooBig.error().code, ErrorCode::Config);
    QVERIFY(tooBig.error().message.startsWith(big + ": is larger than"));

    // A file with a bad value names that file.
    const QString bad = dir + QStringLiteral("/bad.yaml");
    QVERIFY(writeBytes(bad, "ssh:\n  cert_ttl_minutes: 0\n"));
    const Result<LoadedConfig> invalid = loadConfig(bad);
    QVERIFY(!invalid.ok());
    QVERIFY(invalid.error().message.startsWith(bad + ":2: ssh.cert_ttl_minutes: "));

    QCOMPARE(loadConfig(QString()).error().code, ErrorCode::InvalidArgument);
}

void TstConfig::hostUri_data()
{
    QTest::addColumn<QString>("uri");
    QTest::addColumn<QString>("expected"); // empty: valid

    const auto ok = [](const char* uri) {
        QTest::newRow(uri) << QString::fromUtf8(uri) << QString();
    };
    ok("qemu:///system");
    ok("qemu:///session");
    ok("qemu://host.example.com/system");
    ok("qemu+ssh://root@host.example.com/system");
    ok("qemu+ssh://admin@10.0.0.5:2222/system?keyfile=/home/u/.ssh/id_ed25519&no_verify=1");
    ok("qemu+ssh://u@[::1]/system");
    ok("qemu+tcp://host:16509/system");
    ok("qemu+tls://host.example.com/system?pkipath=/etc/pki/fluid");
    ok("test:///default");
    ok("test:///home/u/test-node.xml");

    const auto bad = [](const char* name, const QString& uri, const char* expected) {
        QTest::newRow(name) << uri << QString::fromUtf8(expected);
    };
    const QString shell = QStringLiteral("must be a libvirt URI without spaces, quotes or shell characters ");
    bad("empty", "",
        "must be a libvirt URI such as qemu:///system or qemu+ssh://user@host/system (found \"\")");
    bad("space", "qemu:///system --readonly", "(it contains a space)");
    bad("double quote", "qemu:///system\"", "(it contains '\"')");
    bad("single quote", "qemu+ssh://root@host'/system", "(it contains ''')");
    bad("newline", "qemu:///system\nreboot",
        "(it contains a line break) (found \"qemu:///system\\nreboot\")");
    bad("carriage return", "qemu:///system\r", "(it contains a carriage return)");
    bad("tab", "qemu:///system\t", "(it contains a tab)");
    bad("NUL", QStringLiteral("qemu:///system") + QChar(0), "(it contains a NUL character)");
    bad("semicolon", "qemu:///system;reboot", "(it contains ';')");
    bad("pipe", "qemu:///system|sh", "(it contains '|')");
    bad("command substitution", "qemu+ssh://$(id)@host/system", "(it contains '$')");
    bad("backtick", "qemu+ssh://root@`id`/system", "(it contains '`')");
    bad("percent escape", "qemu+ssh://root@host/system?keyfile=/a%20b", "(it contains '%')");
    bad("non-ascii", "qemu+ssh://root@hóst/system", "(it contains 'ó')");
    bad("no scheme separator", "localhost",
        "must be a libvirt URI of the form scheme://[user@]host[:port]/path");
    bad("http scheme", "http://host/system",
        "must be a libvirt URI whose scheme is one of qemu, qemu+ssh, qemu+tcp, qemu+tls, test");
    bad("xen scheme", "xen:///system", "whose scheme is one of");
    bad("ssh without user", "qemu+ssh://host.example.com/system",
        "must name the SSH user and host, as in qemu+ssh://user@host/system");
    bad("ssh without host", "qemu+ssh:///system", "must name the SSH user and host");
    bad("ssh option as user", "qemu+ssh://-oProxyCommand=id@host/system", "does not start with '-'");
    bad("option as host", "qemu+ssh://root@-oProxyCommand/system", "not starting with '-'");
    bad("two at signs", "qemu+ssh://a@b@host/system", "at most one '@'");
    bad("user without host", "qemu://root@/system", "names a host after the user");
    bad("tcp without host", "qemu+tcp:///system", "must name the host, as in qemu+tcp://host/system");
    bad("bad port", "qemu+ssh://root@host:99999/system", "whose port is from 1 to 65535");
    bad("empty port", "qemu+ssh://root@host:/system", "whose port is from 1 to 65535");
    bad("wrong path", "qemu:///root", "must end in /system or /session");
    bad("no path", "qemu+ssh://root@host", "must end in /system or /session");
    bad("test with host", "test://host/default", "must not name a user or host for the test driver");
    bad("test relative", "test:///../etc/passwd", "must be test:///default or test://");
    bad("command parameter", "qemu+ssh://root@host/system?command=/tmp/evil",
        "must not use the URI parameter \"command\"; allowed parameters are keyfile");
    bad("netcat parameter", "qemu+ssh://root@host/system?keyfile=/k&netcat=/tmp/nc",
        "must not use the URI parameter \"netcat\"");
}

void TstConfig::hostUri()
{
    QFETCH(QString, uri);
    QFETCH(QString, expected);
    Settings s;
    s.hosts[0].uri = uri;
    const Result<void> valid = validate(s);
    if (expected.isEmpty()) {
        QVERIFY2(valid.ok(), qPrintable(valid.ok() ? QString() : valid.error().message));
        return;
    }
    QVERIFY(!valid.ok());
    QCOMPARE(valid.error().code, ErrorCode::Config);
    const QString message = valid.error().message;
    QVERIFY2(message.startsWith("hosts[0].uri: must "), qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
    // The found value is shown on the same line: line breaks in it are escaped.
    QVERIFY2(!message.contains('\n') && !message.contains('\r') && !message.contains(QChar(0)),
             qPrintable(message));
}

void TstConfig::hostUriInjectionThroughYaml()
{
    const QByteArray yaml = "hosts:\n"                                            // 1
                            "  - name: local\n"                                   // 2
                            "    uri: qemu:///system\n"                           // 3
                            "  - name: evil\n"                                    // 4
                            "    uri: \"qemu+ssh://root@host/system\\nreboot\"\n" // 5
                            "  - name: evil2\n"                                   // 6
                            "    uri: 'qemu+ssh://root@host/system; rm -rf /'\n"; // 7
    const Result<LoadedConfig> loaded = parse(yaml);
    QVERIFY(!loaded.ok());
    const QStringList lines = loaded.error().message.split('\n');
    QCOMPARE(lines.size(), 2);
    QVERIFY2(lines[0].startsWith(at(5, "hosts[1].uri") +
                                 "must be a libvirt URI without spaces, quotes or shell "
                                 "characters (it contains a line break)"),
             qPrintable(lines[0]));
    QVERIFY2(lines[1].startsWith(at(7, "hosts[2].uri")), qPrintable(lines[1]));
    QVERIFY2(lines[1].contains("(it contains ';')"), qPrintable(lines[1]));
}

void TstConfig::hostGolden()
{
    const Result<LoadedConfig> ok = parse("hosts:\n  - name: local\n    uri: qemu:///system\n"
                                          "    golden: golden-debian12-fwcfg\n");
    QVERIFY2(ok.ok(), qPrintable(ok.ok() ? QString() : ok.error().message));
    QCOMPARE(ok->settings.hosts.first().golden, QStringLiteral("golden-debian12-fwcfg"));
    QVERIFY(parse(toYaml(ok->settings))->settings == ok->settings);
    for (const char* bad : {"\"a b\"", "\"x;reboot\"", "\"-x\""}) {
        const Result<LoadedConfig> refused =
            parse(QByteArray("hosts:\n  - name: local\n    uri: qemu:///system\n    golden: ") + bad + "\n");
        QVERIFY2(!refused.ok(), bad);
        QVERIFY2(refused.error().message.contains("hosts[0].golden: must be empty or a domain name"),
                 qPrintable(refused.error().message));
    }
}

void TstConfig::hostLoginKey()
{
    const Result<LoadedConfig> plain = parse("hosts:\n  - name: local\n    uri: qemu:///system\n");
    QVERIFY(plain.ok());
    QCOMPARE(plain->settings.hosts.first().login, HostLogin::Ssh);
    const Result<LoadedConfig> ok = parse("hosts:\n  - name: far\n    uri: qemu+ssh://root@kvm1/system\n"
                                          "    login_key: keychain\n");
    QVERIFY2(ok.ok(), qPrintable(ok.ok() ? QString() : ok.error().message));
    QCOMPARE(ok->settings.hosts.first().login, HostLogin::Keychain);
    QVERIFY(parse(toYaml(ok->settings))->settings == ok->settings);
    // A keychain key only means something where libvirt logs in over SSH.
    const Result<LoadedConfig> local =
        parse("hosts:\n  - name: local\n    uri: qemu:///system\n    login_key: keychain\n");
    QVERIFY(!local.ok());
    QVERIFY2(local.error().message.contains(
                 "hosts[0].login_key: can be keychain only for a host reached over SSH"),
             qPrintable(local.error().message));
    const Result<LoadedConfig> typo =
        parse("hosts:\n  - name: far\n    uri: qemu+ssh://kvm1/system\n    login_key: keyring\n");
    QVERIFY(!typo.ok());
    QVERIFY2(typo.error().message.contains("keychain"), qPrintable(typo.error().message));
    // One libvirt under two names would have each session remove the other's sandboxes.
    const Result<LoadedConfig> twice =
        parse("hosts:\n  - name: a\n    uri: qemu+ssh://root@KVM1/system\n"
              "  - name: b\n    uri: qemu+ssh://root@kvm1/system?keyfile=/k\n");
    QVERIFY(!twice.ok());
    QVERIFY2(twice.error().message.contains("hosts[1].uri: must name another libvirt than hosts[0] (a)"),
             qPrintable(twice.error().message));
    QVERIFY(parse("hosts:\n  - name: a\n    uri: qemu+ssh://root@kvm1/system\n"
                  "  - name: b\n    uri: qemu+ssh://root@kvm2/system\n")
                .ok());
    QVERIFY(isOverSsh(QStringLiteral("qemu+libssh2://kvm1/system")));
    QVERIFY(!isOverSsh(QStringLiteral("qemu+tcp://kvm1/system")));
}

void TstConfig::validateUsesTheParseChecks()
{
    Settings s;
    s.sandbox.defaultMemoryMib = 64;
    const Result<void> valid = validate(s);
    QVERIFY(!valid.ok());
    QCOMPARE(valid.error().code, ErrorCode::Config);
    QCOMPARE(
        valid.error().message,
        QStringLiteral("sandbox.default_memory_mib: must be an integer from 128 to 1048576 (found \"64\")"));

    // The same words as parsing the same value from a file, minus the file and line.
    const Result<LoadedConfig> parsed = parse(toYaml(s));
    QVERIFY(!parsed.ok());
    QVERIFY(parsed.error().message.endsWith(": " + valid.error().message));

    // Enum values outside the enum (a cast in code) are caught too.
    Settings cast;
    cast.agent.provider = static_cast<AgentProvider>(42);
    const Result<void> castValid = validate(cast);
    QVERIFY(!castValid.ok());
    QVERIFY(castValid.error().message.startsWith("agent.provider: must be one of openai, anthropic"));

    // Several problems, one per line, with list items indexed.
    Settings several;
    several.hosts.append(several.hosts[0]);
    const QStringList lines = validate(several).error().message.split('\n');
    QCOMPARE(lines.size(), 2);
    QVERIFY(lines.filter(QRegularExpression("^hosts\\[1\\]\\.uri: must name another libvirt")).size() == 1);
    QVERIFY(lines.filter(QRegularExpression("^hosts\\[1\\]\\.name: must be unique")).size() == 1);
}

void TstConfig::accessors()
{
    Settings s;
    s.sandbox.accelerator = Accelerator::Tcg;
    HostSettings remote;
    remote.name = QStringLiteral("remote");
    remote.uri = QStringLiteral("qemu+ssh://root@r/system");
    remote.accelerator = Accelerator::Kvm;
    s.hosts.append(remote);

    const HostSettings* local = s.host(QStringLiteral("local"));
    QVERIFY(local);
    QCOMPARE(local->uri, QStringLiteral("qemu:///system"));
    QCOMPARE(s.effectiveAccelerator(*local), Accelerator::Tcg);
    const HostSettings* found = s.host(QStringLiteral("remote"));
    QVERIFY(found);
    QCOMPARE(s.effectiveAccelerator(*found), Accelerator::Kvm);
    QVERIFY(!s.host(QStringLiteral("missing")));
    QVERIFY(!s.host(QStringLiteral("LOCAL")));
}

void TstConfig::enumStrings()
{
    for (StoreBackend v : allValues<StoreBackend>())
        QCOMPARE(fromName<StoreBackend>(toName(v)), std::optional<StoreBackend>(v));
    for (Accelerator v : allValues<Accelerator>())
        QCOMPARE(fromName<Accelerator>(toName(v)), std::optional<Accelerator>(v));
    for (AgentProvider v : allValues<AgentProvider>())
        QCOMPARE(fromName<AgentProvider>(toName(v)), std::optional<AgentProvider>(v));
    for (SecretsBackend v : allValues<SecretsBackend>())
        QCOMPARE(fromName<SecretsBackend>(toName(v)), std::optional<SecretsBackend>(v));
    QCOMPARE(allNames<AgentProvider>(), (QStringList{"openai", "anthropic", "openrouter", "ollama", "vllm"}));
    QCOMPARE(allNames<SecretsBackend>(), (QStringList{"keychain", "encrypted-file"}));
    QCOMPARE(allNames<StoreBackend>(), (QStringList{"sqlite", "postgresql"}));
    QCOMPARE(allNames<Accelerator>(), (QStringList{"auto", "kvm", "tcg"}));
    QCOMPARE(fromName<Accelerator>("KVM"), std::optional<Accelerator>(Accelerator::Kvm));
    QCOMPARE(fromName<AgentProvider>("OpenRouter"), std::optional<AgentProvider>(AgentProvider::OpenRouter));
    QVERIFY(!fromName<Accelerator>("hvf"));
    QVERIFY(!fromName<StoreBackend>(""));

    // Case is forgiven on read and normalized on write.
    const Result<LoadedConfig> loaded = parse("sandbox:\n  accelerator: KVM\n");
    QVERIFY(loaded.ok());
    QCOMPARE(loaded->settings.sandbox.accelerator, Accelerator::Kvm);
    QVERIFY(toYaml(loaded->settings).contains("accelerator: kvm"));
}

QTEST_GUILESS_MAIN(TstConfig)
#include "tst_config.moc"

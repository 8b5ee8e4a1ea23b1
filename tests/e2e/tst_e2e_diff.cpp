// SPDX-License-Identifier: Apache-2.0
// The snapshot diff on a real sandbox: an agent's kind of changes (a package from the test bed repo, an
// edited /etc file, a new and enabled service, a new user, a deleted file), read from the sandbox's disk on
// the host between two internal snapshots of the running VM. The diff must report exactly those changes,
// and every other changed path must be a direct consequence of them (dpkg and apt state, the new home).
#include "E2eBed.h"
#include "inspect/DiffEngine.h"
#include "inspect/SnapshotInspector.h"
#include "services/Wiring.h"
#include "store/Queries.h"
#include "store/Repository.h"
#include "TestSupport.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QTest>

using namespace fluid;
using namespace fluid::test;

namespace {

/// What the changes below may touch besides what they name (fnmatch-like globs as regular expressions).
const char* const kConsequences[] = {
    // apt-get update and install
    "^/etc/apt/sources\\.list\\.d/fluid-testbed\\.list$",
    "^/var/lib/apt/.*",
    "^/var/cache/apt/.*",
    "^/var/lib/dpkg/.*",
    "^/var/cache/debconf/.*",
    "^/var/log/(apt|dpkg\\.log|alternatives\\.log).*",
    // the package's own files
    "^/usr/bin/hello$",
    "^/usr/share/(doc|man|info|locale)(/.*)?$",
    // useradd -m alice
    "^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$",
    "^/home/alice(/.*)?$",
    "^/var/mail/alice$",
    // systemctl enable
    "^/etc/systemd/system/fluid-demo\\.service$",
    "^/etc/systemd/system/multi-user\\.target\\.wants/fluid-demo\\.service$",
    // the edits themselves
    "^/etc/hosts$",
    "^/etc/issue\\.net$",
    // the shell history and login records of the session that made them
    "^/root/\\.bash_history$",
    "^/var/log/(auth\\.log|syslog|lastlog|messages)$",
};

bool isConsequence(const QString& path)
{
    for (const char* pattern : kConsequences)
        if (QRegularExpression(QString::fromLatin1(pattern)).match(path).hasMatch())
            return true;
    return false;
}

QStringList names(const QJsonArray& items, const QString& key, const QString& change)
{
    QStringList out;
    for (const QJsonValue& v : items)
        if (change.isEmpty() || v[QLatin1String("change")].toString() == change)
            out << v[key].toString();
    out.sort();
    return out;
}

} // namespace

class TestE2eDiff : public QObject {
    Q_OBJECT

    EngineBed m_bed;

private Q_SLOTS:
    void initTestCase()
    {
        m_bed.start(QStringLiteral("e2e-diff"));
        // The package source is a default allow of this host: no approval needed (config
        // hosts[].egress_allow).
        must(m_bed.startEgressGate(QStringLiteral(FLUID_BIN), m_bed.value("FLUID_TESTBED_APT_DESTINATION"),
                                   5));
    }

    void cleanupTestCase() { m_bed.removeLeftovers(); }

    void diffReportsExactlyWhatChanged()
    {
        const model::Sandbox s = must(m_bed.manager->createWithinLimits(createOptions(
            m_bed.hostId, m_bed.value("FLUID_GOLDEN_FWCFG_DOMAIN"), QStringLiteral("e2e-diff"))));
        const model::Snapshot before = must(m_bed.manager->snapshot(
            s.id, QStringLiteral("baseline"), model::Actor::localPerson(), model::SnapshotKind::Baseline));

        auto shell = shellFor(m_bed.ca, s);
        const QByteArray script =
            QStringLiteral("set -e\n"
                           "echo 'deb [trusted=yes] %1 ./' > /etc/apt/sources.list.d/fluid-testbed.list\n"
                           "apt-get update -q\n"
                           "DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello\n"
                           "echo '10.213.0.1 fluid-repo' >> /etc/hosts\n"
                           "cat > /etc/systemd/system/fluid-demo.service <<'UNIT'\n"
                           "[Unit]\nDescription=Fluid demo\n[Service]\nType=oneshot\nExecStart=/bin/true\n"
                           "[Install]\nWantedBy=multi-user.target\nUNIT\n"
                           "systemctl enable fluid-demo.service\n"
                           "useradd -m -s /bin/bash alice\n"
                           "rm /etc/issue.net\n"
                           "sync\n")
                .arg(m_bed.value("FLUID_TESTBED_APT_URL"))
                .toUtf8();
        const ssh::ExecResult changed = execIn(*shell, script, 300);
        QVERIFY2(changed.succeeded(), changed.stderrData.text().right(3000).constData());
        const model::Snapshot after =
            must(m_bed.manager->snapshot(s.id, QStringLiteral("after"), model::Actor::localPerson(),
                                         model::SnapshotKind::Manual, QStringLiteral("after the changes")));

        const model::Sandbox row = must(store::SandboxRepository(*m_bed.db).get(s.id));
        inspect::SnapshotInspector inspector;
        QElapsedTimer t;
        t.start();
        const model::Diff diff = must(inspect::diffSnapshots(*m_bed.db, inspector, row, before, after));
        qInfo("diff of a running sandbox between two snapshots: %lld ms", t.elapsed());
        const QJsonObject doc = QJsonDocument::fromJson(diff.content).object();
        QVERIFY(!doc.isEmpty());

        // Packages: exactly hello installed.
        const QJsonArray packages = doc[QLatin1String("packages")][QLatin1String("changes")].toArray();
        QCOMPARE(names(packages, QStringLiteral("name"), {}), QStringList{QStringLiteral("hello")});
        QCOMPARE(packages.first()[QLatin1String("change")].toString(), QStringLiteral("installed"));
        // Units: the new one, added and enabled, nothing else.
        const QJsonArray units = doc[QLatin1String("units")].toArray();
        for (const QJsonValue& u : units)
            QCOMPARE(u[QLatin1String("unit")].toString(), QStringLiteral("fluid-demo.service"));
        QCOMPARE(names(units, QStringLiteral("change"), {}),
                 QStringList({QStringLiteral("added"), QStringLiteral("enabled")}));
        // Accounts: user and group alice.
        const QJsonArray accounts = doc[QLatin1String("accounts")].toArray();
        QCOMPARE(names(accounts, QStringLiteral("name"), QStringLiteral("added")),
                 QStringList({QStringLiteral("alice"), QStringLiteral("alice")}));
        QCOMPARE(names(accounts, QStringLiteral("name"), {}),
                 QStringList({QStringLiteral("alice"), QStringLiteral("alice")}));

        // Paths: the named changes are there, and every other change is one of their consequences.
        QHash<QString, QJsonObject> byPath;
        QStringList unexplained;
        for (const QJsonValue& v : doc[QLatin1String("paths")].toArray()) {
            const QString path = v[QLatin1String("path")].toString();
            byPath.insert(path, v.toObject());
            if (!isConsequence(path))
                unexplained << QStringLiteral("%1 %2").arg(v[QLatin1String("change")].toString(), path);
        }
        QVERIFY2(unexplained.isEmpty(), qPrintable(unexplained.join(QLatin1Char('\n'))));
        QCOMPARE(byPath.value(QStringLiteral("/etc/issue.net"))[QLatin1String("change")].toString(),
                 QStringLiteral("removed"));
        QCOMPARE(byPath.value(QStringLiteral("/usr/bin/hello"))[QLatin1String("change")].toString(),
                 QStringLiteral("added"));
        const QJsonObject hosts = byPath.value(QStringLiteral("/etc/hosts"));
        QCOMPARE(hosts[QLatin1String("change")].toString(), QStringLiteral("modified"));
        QVERIFY(!hosts[QLatin1String("hunks")].toArray().isEmpty());
        const QByteArray patch = inspect::toUnifiedPatch(doc);
        QVERIFY2(patch.contains("\n+10.213.0.1 fluid-repo\n"), patch.left(2000).constData());

        // Asking again is served from the store.
        t.restart();
        const model::Diff again = must(inspect::diffSnapshots(*m_bed.db, inspector, row, before, after));
        QCOMPARE(again.id, diff.id);
        qInfo("second ask (from the store): %lld ms", t.elapsed());

        // The same through the command line: from the store, then against a fresh snapshot of the running
        // sandbox, as JSON.
        const QString config = m_bed.dir + QStringLiteral("/config.yaml");
        QFile cfg(config);
        QVERIFY(cfg.open(QIODevice::WriteOnly));
        cfg.write(QStringLiteral("store:\n  sqlite_path: %1\nhosts:\n  - name: testbed\n    uri: %2\n")
                      .arg(m_bed.dbOptions().sqlitePath, m_bed.hv->uri())
                      .toUtf8());
        cfg.close();
        const auto fluid = [&](const QStringList& args) {
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("FLUID_CONFIG_DIR"), m_bed.dir + QStringLiteral("/cli-config"));
            env.insert(QStringLiteral("FLUID_DATA_DIR"), m_bed.dir + QStringLiteral("/cli-data"));
            p.setProcessEnvironment(env);
            p.start(QStringLiteral(FLUID_BIN), QStringList{QStringLiteral("--config"), config} + args);
            if (!p.waitForFinished(600000))
                p.kill();
            return std::tuple{p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
        };
        auto [rc, patchOut, patchErr] =
            fluid({QStringLiteral("sandbox"), QStringLiteral("diff"), QStringLiteral("e2e-diff"),
                   QStringLiteral("baseline"), QStringLiteral("after")});
        QVERIFY2(rc == 0, patchErr.constData());
        QVERIFY2(patchOut.contains("\n+10.213.0.1 fluid-repo\n"), patchOut.left(2000).constData());
        auto [rcJson, jsonOut, jsonErr] =
            fluid({QStringLiteral("sandbox"), QStringLiteral("diff"), QStringLiteral("e2e-diff"),
                   QStringLiteral("baseline"), QStringLiteral("--json")});
        QVERIFY2(rcJson == 0, jsonErr.constData());
        const QJsonObject fresh = QJsonDocument::fromJson(jsonOut).object();
        QCOMPARE(names(fresh[QLatin1String("packages")][QLatin1String("changes")].toArray(),
                       QStringLiteral("name"), {}),
                 QStringList{QStringLiteral("hello")});

        // And once it is stopped: a fresh snapshot of the shut-off disk shows the same changes.
        QCOMPARE(must(m_bed.manager->stop(s.id, model::Actor::localPerson())).state,
                 model::SandboxState::Stopped);
        auto [rcStopped, stoppedOut, stoppedErr] =
            fluid({QStringLiteral("sandbox"), QStringLiteral("diff"), QStringLiteral("e2e-diff"),
                   QStringLiteral("baseline"), QStringLiteral("--json")});
        QVERIFY2(rcStopped == 0, stoppedErr.constData());
        const QJsonObject stopped = QJsonDocument::fromJson(stoppedOut).object();
        QCOMPARE(names(stopped[QLatin1String("packages")][QLatin1String("changes")].toArray(),
                       QStringLiteral("name"), {}),
                 QStringList{QStringLiteral("hello")});
        QCOMPARE(names(stopped[QLatin1String("accounts")].toArray(), QStringLiteral("name"),
                       QStringLiteral("added")),
                 QStringList({QStringLiteral("alice"), QStringLiteral("alice")}));

        must(m_bed.manager->destroy(s.id, model::Actor::localPerson()));
    }
};

QTEST_GUILESS_MAIN(TestE2eDiff)
#include "tst_e2e_diff.moc"

// SPDX-License-Identifier: Apache-2.0
// The desktop app end to end on a real VM, clicked through the way a person does it: from an empty config,
// the set-up wizard (local libvirt host in the test bed, a new SSH CA into the keychain, the golden VM, an
// LLM key), then the main window as the app builds it: create a sandbox from the golden VM in the hosts
// dock, open its terminal and type into it, take two snapshots around a change made in that terminal, and
// diff them in the diff dock. Runs in the test bed's namespace with a private keyring (with-keyring.sh).
#include "diff/DiffDock.h"
#include "diff/DiffPathModel.h"
#include "diff/JsonTableModel.h"
#include "E2eBed.h"
#include "HostsDock.h"
#include "HostTreeModel.h"
#include "LoopbackSshd.h"
#include "MainWindow.h"
#include "onboarding/CaPage.h"
#include "onboarding/GoldenPage.h"
#include "onboarding/HostPage.h"
#include "onboarding/LlmPage.h"
#include "onboarding/OnboardingWizard.h"
#include "secrets/SecretStore.h"
#include "services/HostSession.h"
#include "services/Services.h"
#include "services/Wiring.h"
#include "ssh/HostTrust.h"
#include "ssh/LoginKey.h"
#include "SshTestEnv.h"
#include "store/Database.h"
#include "store/StoreWorker.h"
#include "terminal/TerminalDock.h"
#include "terminal/TerminalScreen.h"
#include "terminal/TerminalView.h"
#include "TestSupport.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QTest>

#include <QTreeView>
#include <unistd.h>

using namespace fluid;

namespace {

constexpr int kVmTimeoutMs = 10 * 60 * 1000; // a TCG guest on a busy 2-core machine
constexpr int kStepTimeoutMs = 120 * 1000;

/// Answers the hosts dock's questions as the person in this test would.
class Answers : public ui::HostsDock::Prompts {
public:
    QString sandboxName;
    QString snapshotName;
    ui::DiffRequest diff;

    std::optional<ui::CreateRequest> askCreate(QWidget*, const QString&, const ui::CreateRequest& d) override
    {
        ui::CreateRequest r = d;
        r.name = sandboxName;
        return r;
    }
    bool confirm(QWidget*, const QString&, const QString&) override { return true; }
    std::optional<QString> askSnapshotName(QWidget*, const QString&, const QString&) override
    {
        return snapshotName;
    }
    std::optional<ui::DiffRequest> askDiff(QWidget*, const QString&, const QStringList&,
                                           const ui::DiffRequest&) override
    {
        return diff;
    }
};

bool tableHas(const QAbstractItemModel* model, const QString& text)
{
    for (int r = 0; r < model->rowCount(); ++r) {
        for (int c = 0; c < model->columnCount(); ++c) {
            if (model->index(r, c).data().toString() == text)
                return true;
        }
    }
    return false;
}

QStringList documentPaths(const QJsonObject& doc)
{
    QStringList out;
    for (const QJsonValue& v : doc.value(QStringLiteral("paths")).toArray())
        out << v.toObject().value(QStringLiteral("path")).toString();
    return out;
}

} // namespace

class TstE2eGui : public QObject {
    Q_OBJECT
    QHash<QString, QString> m_env;
    QString m_dir;
    QString m_sandboxId;
    services::HostSession* m_session = nullptr;

    void select(ui::HostsDock& dock, const QModelIndex& index)
    {
        dock.view()->setCurrentIndex(index);
        dock.view()->selectionModel()->select(index, QItemSelectionModel::ClearAndSelect |
                                                         QItemSelectionModel::Rows);
    }

    /// Triggers a dock action on `index` and waits for the operation it starts to end; returns its message.
    QString runAction(ui::HostsDock& dock, ui::HostsDock::Action action, const QModelIndex& index,
                      int timeoutMs = kStepTimeoutMs)
    {
        test::OperationLog log(m_session->operations());
        select(dock, index);
        if (!dock.action(action)->isEnabled())
            return QStringLiteral("FAILED: the action is disabled");
        dock.action(action)->trigger();
        if (log.started.isEmpty())
            return QStringLiteral("FAILED: no operation started");
        const auto info = log.waitFinished(log.started.first().id, timeoutMs);
        if (!info)
            return QStringLiteral("FAILED: no end within %1 s").arg(timeoutMs / 1000);
        return (info->state == services::OperationState::Succeeded ? QString() : QStringLiteral("FAILED: ")) +
               info->outcome;
    }

    /// Types a line into the terminal view and waits for `expect` on its screen.
    bool typeAndWait(ui::TerminalTab* tab, const QString& line, const QString& expect, int timeoutMs = 60000)
    {
        QTest::keyClicks(tab->view(), line);
        QTest::keyClick(tab->view(), Qt::Key_Return);
        return QTest::qWaitFor([&] { return tab->view()->screen()->screenText().contains(expect); },
                               timeoutMs);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_env = test::readTestbedEnv();
        const QString reason = test::testbedUnavailableReason(m_env);
        if (!reason.isEmpty())
            test::skipWholeTest(reason);
        if (qEnvironmentVariable("FLUID_TEST_KEYRING") != QLatin1String("1"))
            test::skipWholeTest(QStringLiteral("needs the private keyring of tests/scripts/with-keyring.sh"));
        m_dir = test::makeTempDir(QStringLiteral("e2e-gui"));
        qputenv("FLUID_CONFIG_DIR", (m_dir + QStringLiteral("/config")).toUtf8());
    }

    void cleanupTestCase()
    {
        if (!m_dir.isEmpty())
            QDir(m_dir).removeRecursively();
    }

    void fromAnEmptyConfigToATerminalAndADiff()
    {
        const QString golden = m_env.value(QStringLiteral("FLUID_GOLDEN_FWCFG_DOMAIN"));
        QVERIFY2(!golden.isEmpty(), "the test bed names its golden VM");
        const QString configPath = m_dir + QStringLiteral("/config/config.yaml");
        QVERIFY(!QFile::exists(configPath));
        // ctest runs this as the test bed's unprivileged person (as-person.sh), the way the app runs: the
        // diff below can then only come through the sudo inspection helper.
        if (qEnvironmentVariable("FLUID_TEST_PERSON") == QLatin1String("1"))
            QVERIFY2(::geteuid() != 0, "as-person.sh runs this as an unprivileged person");

        // 1. The set-up wizard, from nothing.
        {
            ui::OnboardingWizard::Environment env;
            env.configPath = configPath;
            env.knownHostsFile = m_dir + QStringLiteral("/known_hosts");
            env.sshDir = m_dir + QStringLiteral("/ssh");
            env.exeDir = QCoreApplication::applicationDirPath();
            ui::OnboardingWizard wizard(env);
            wizard.show();

            ui::HostPage* host = wizard.hostPage();
            test::child<QRadioButton>(host, "localRadio")->setChecked(true);
            test::child<QLineEdit>(host, "localUri")->setText(QStringLiteral("qemu:///system"));
            QTest::mouseClick(test::child<QPushButton>(host, "testButton"), Qt::LeftButton);
            QTRY_VERIFY_WITH_TIMEOUT(!host->isTesting(), kStepTimeoutMs);
            QVERIFY2(host->isComplete(), "the local libvirt host passes the connection test");
            wizard.next();

            ui::CaPage* ca = wizard.caPage();
            QTest::mouseClick(test::child<QPushButton>(ca, "caRunButton"), Qt::LeftButton);
            QTRY_VERIFY_WITH_TIMEOUT(ca->isComplete(), kStepTimeoutMs);
            wizard.next();

            ui::GoldenPage* goldenPage = wizard.goldenPage();
            auto* view = test::child<QTreeView>(goldenPage, "sourceList");
            QTRY_VERIFY_WITH_TIMEOUT(view->model()->rowCount() > 0, kStepTimeoutMs);
            auto* sources = qobject_cast<QStandardItemModel*>(view->model());
            QVERIFY(sources);
            const QList<QStandardItem*> found = sources->findItems(golden);
            QVERIFY2(!found.isEmpty(), qPrintable(golden));
            view->selectionModel()->select(sources->indexFromItem(found.first()),
                                           QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
            QVERIFY(goldenPage->isComplete());
            wizard.next();

            ui::LlmPage* llm = wizard.llmPage();
            test::child<QComboBox>(llm, "llmProvider")->setCurrentText(QStringLiteral("openai"));
            test::child<QLineEdit>(llm, "llmModel")->setText(QStringLiteral("gpt-e2e"));
            test::child<QLineEdit>(llm, "llmApiKey")->setText(QStringLiteral("sk-e2e-gui-test"));
            QVERIFY(llm->isComplete());
            wizard.next();
            QTest::mouseClick(wizard.button(QWizard::FinishButton), Qt::LeftButton);
            QTRY_COMPARE_WITH_TIMEOUT(wizard.result(), int(QDialog::Accepted), kStepTimeoutMs);
        }

        // 2. The main window over what the wizard wrote, built as the app builds it.
        const config::LoadedConfig loaded = test::must(services::loadSettings(configPath));
        QCOMPARE(loaded.settings.hosts.size(), 1);
        const config::Settings settings = loaded.settings;
        services::Services::Options options;
        options.config = loaded;
        services::Services services(std::move(options));
        ui::MainWindow window(services);
        QSignalSpy storeOpened(&services, &services::Services::storeOpened);
        window.show();
        services.start();
        QTRY_VERIFY_WITH_TIMEOUT(!storeOpened.isEmpty(), kStepTimeoutMs);
        QVERIFY2(storeOpened.first().at(0).toBool(), qPrintable(storeOpened.first().at(1).toString()));
        const config::HostSettings hostSettings = settings.hosts.first();
        m_session = services.hosts()->session(hostSettings.name);
        QVERIFY(m_session);
        connect(m_session, &services::HostSession::sandboxesChanged, this,
                [this](const QList<model::Sandbox>& sandboxes) {
                    for (const model::Sandbox& s : sandboxes) {
                        if (s.name == QLatin1String("e2e-gui"))
                            m_sandboxId = s.id;
                    }
                });
        ui::HostsDock& dock = *window.hostsDock();
        auto answers = std::make_unique<Answers>();
        Answers* answer = answers.get();
        dock.setPrompts(std::move(answers));
        ui::HostTreeModel* tree = dock.model();
        const QString hostName = hostSettings.name;
        QTRY_VERIFY_WITH_TIMEOUT(tree->sourceIndex(hostName, golden).isValid(), kStepTimeoutMs);

        // 3. A sandbox from the golden VM, created from the tree; running with an address.
        answer->sandboxName = QStringLiteral("e2e-gui");
        const QString created =
            runAction(dock, ui::HostsDock::Action::Create, tree->sourceIndex(hostName, golden), kVmTimeoutMs);
        QVERIFY2(!created.startsWith(QLatin1String("FAILED")), qPrintable(created));
        QTRY_VERIFY_WITH_TIMEOUT(!m_sandboxId.isEmpty(), kStepTimeoutMs);
        const auto sandboxRow = [&] {
            return tree->sandboxIndex(hostName, m_sandboxId);
        };
        QTRY_VERIFY_WITH_TIMEOUT(
            !sandboxRow().siblingAtColumn(ui::HostTreeModel::Ip).data().toString().isEmpty(), kStepTimeoutMs);

        // 4. Its terminal: a root shell over SSH with a certificate from the wizard's CA.
        select(dock, sandboxRow());
        QVERIFY(dock.action(ui::HostsDock::Action::OpenTerminal)->isEnabled());
        dock.action(ui::HostsDock::Action::OpenTerminal)->trigger();
        ui::TerminalDock* terminals = window.terminalDock();
        QTRY_COMPARE_WITH_TIMEOUT(terminals->count(), 1, kStepTimeoutMs);
        ui::TerminalTab* tab = terminals->tab(0);
        QTRY_VERIFY_WITH_TIMEOUT(tab->isConnected(), kStepTimeoutMs);
        QVERIFY2(typeAndWait(tab, QStringLiteral("echo \"$(whoami)@$(hostname) fluid-$((6*7))\""),
                             QStringLiteral("root@e2e-gui fluid-42")),
                 qPrintable(tab->view()->screen()->screenText()));

        // 5. Two snapshots around a change made in that terminal.
        answer->snapshotName = QStringLiteral("before-change");
        QString snap = runAction(dock, ui::HostsDock::Action::Snapshot, sandboxRow(), kVmTimeoutMs);
        QVERIFY2(!snap.startsWith(QLatin1String("FAILED")), qPrintable(snap));
        QVERIFY2(
            typeAndWait(tab,
                        QStringLiteral("useradd -m bob && echo from-the-terminal > /etc/fluid-e2e && sync "
                                       "&& echo change-$((1+1))"),
                        QStringLiteral("change-2")),
            qPrintable(tab->view()->screen()->screenText()));
        answer->snapshotName = QStringLiteral("after-change");
        snap = runAction(dock, ui::HostsDock::Action::Snapshot, sandboxRow(), kVmTimeoutMs);
        QVERIFY2(!snap.startsWith(QLatin1String("FAILED")), qPrintable(snap));

        // 6. The diff between them, in the diff dock.
        answer->diff = {QStringLiteral("before-change"), QStringLiteral("after-change")};
        ui::DiffDock* diffs = window.findChild<ui::DiffDock*>(QStringLiteral("diffDock"));
        QVERIFY(diffs);
        const QString diffed = runAction(dock, ui::HostsDock::Action::Diff, sandboxRow(), kVmTimeoutMs);
        QVERIFY2(!diffed.startsWith(QLatin1String("FAILED")), qPrintable(diffed));
        QTRY_VERIFY_WITH_TIMEOUT(!diffs->document().isEmpty(), kStepTimeoutMs);
        QVERIFY(diffs->isVisible());
        const QStringList paths = documentPaths(diffs->document());
        QVERIFY2(paths.contains(QStringLiteral("/etc/fluid-e2e")), qPrintable(paths.join(QLatin1Char('\n'))));
        QVERIFY2(paths.contains(QStringLiteral("/home/bob")), qPrintable(paths.join(QLatin1Char('\n'))));
        QVERIFY(tableHas(diffs->accountsModel(), QStringLiteral("bob")));
        QVERIFY(diffs->headerLabel()->text().contains(QStringLiteral("before-change")));

        // 7. Destroy it from the tree; nothing of it stays.
        terminals->closeTab(0);
        const QString destroyed = runAction(dock, ui::HostsDock::Action::Destroy, sandboxRow(), kVmTimeoutMs);
        QVERIFY2(!destroyed.startsWith(QLatin1String("FAILED")), qPrintable(destroyed));
        QTRY_VERIFY_WITH_TIMEOUT(!sandboxRow().isValid(), kStepTimeoutMs);
        m_sandboxId.clear();
        m_session = nullptr;
    }

    // A remote host (the test bed's libvirtd behind a loopback sshd) whose login key lives only in the
    // keychain: the session the app builds opens it over libvirt's own ssh and lists its golden VM, and
    // sshd logs the login with exactly that key. Without the key in the keychain, opening says what to do.
    void remoteHostLogsInWithAKeychainKey()
    {
        const QString golden = m_env.value(QStringLiteral("FLUID_GOLDEN_FWCFG_DOMAIN"));
        const ssh::LoginKey key = test::must(ssh::generateLoginKey(QStringLiteral("fluid@e2e")));
        test::LoopbackSshd::Options o;
        o.sandboxName = QStringLiteral("far-host");
        o.authorizedKeyLines = {key.publicKeyLine};
        test::LoopbackSshd sshd(test::makeTestCa(), o);
        test::must(sshd.start());

        // The host key is checked against this test's known_hosts, by Fluid (Setup::knownHostsFile) and by
        // libvirt's ssh through a wrapper (libvirt's `command`) that also offers it only the key Fluid
        // passes.
        const QString knownHosts = m_dir + QStringLiteral("/remote_known_hosts");
        test::must(ssh::trustHostKey(knownHosts, sshd.host(), sshd.port(), sshd.hostKey().publicKey()));
        const QString wrapper = m_dir + QStringLiteral("/ssh-wrapper");
        test::must(test::writeIsolatedSshCommand(wrapper, knownHosts));

        // The first test's wizard wrote a config when it ran in this process; alone, the defaults serve.
        const QString configPath = m_dir + QStringLiteral("/config/config.yaml");
        config::Settings settings = QFile::exists(configPath)
                                        ? test::must(services::loadSettings(configPath)).settings
                                        : config::Settings{};
        config::HostSettings far;
        far.name = QStringLiteral("far");
        far.uri = QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system?no_tty=1&command=%2")
                      .arg(sshd.port())
                      .arg(wrapper);
        far.login = config::HostLogin::Keychain;
        // Not config::validate(): config.yaml may not name an ssh `command`; this harness sets it in code.
        settings.hosts.append(far);
        auto secrets = test::must(secrets::openSecretStore(services::secretStoreOptions(settings, {})));
        test::must(secrets->write(secrets::keys::hostLoginKey(far.name), key.privateKey));
        const store::DatabaseOptions db = test::must(services::resolveDatabaseOptions(settings, {}));
        // The store as a front end opens it (migrated), whether or not the first test made it.
        test::must(store::openAndMigrate(db));

        const auto openSession = [&](services::HostSession& session) {
            QSignalSpy opened(&session, &services::HostSession::opened);
            session.open();
            if (!opened.wait(kStepTimeoutMs) && opened.isEmpty())
                return std::pair<bool, QString>{false, QStringLiteral("no answer")};
            return std::pair<bool, QString>{opened.first().at(0).toBool(), opened.first().at(1).toString()};
        };
        const auto setupFor = [&] {
            services::HostSession::Setup setup = services::HostSession::setupFor(
                settings, far, db, services::secretStoreCaLoader(settings, {}),
                services::loginKeyLoader(settings, far, {}));
            setup.knownHostsFile = knownHosts;
            return setup;
        };
        {
            services::HostSession session(setupFor());
            QSignalSpy sources(&session, &services::HostSession::sourcesChanged);
            const auto [ok, message] = openSession(session);
            QVERIFY2(ok, qPrintable(message));
            QTRY_VERIFY_WITH_TIMEOUT(!sources.isEmpty(), kStepTimeoutMs);
            QStringList names;
            for (const services::HostSession::Source& s :
                 sources.last().at(0).value<QList<services::HostSession::Source>>())
                names << s.name;
            QVERIFY2(names.contains(golden), qPrintable(names.join(QLatin1Char(','))));
            QVERIFY2(sshd.log().contains(QStringLiteral("Accepted publickey for root")) &&
                         sshd.log().contains(key.fingerprint),
                     qPrintable(sshd.log()));
        }

        test::must(secrets->remove(secrets::keys::hostLoginKey(far.name)));
        services::HostSession without(setupFor());
        const auto [ok, message] = openSession(without);
        QVERIFY(!ok);
        QVERIFY2(message.contains(QStringLiteral("none is stored")), qPrintable(message));
        sshd.stop();
    }
};

QTEST_MAIN(TstE2eGui)
#include "tst_e2e_gui.moc"

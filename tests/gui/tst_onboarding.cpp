// SPDX-License-Identifier: Apache-2.0
// The onboarding wizard end to end, offscreen: libvirt's test driver as the local host, a real OpenSSH
// sshd on 127.0.0.1 as a remote host (host key confirmation, known_hosts, libvirt's error), the SSH CA and
// the API key in a real gnome-keyring (KEYRING), and the config it writes.

#include "config/Config.h"
#include "LoopbackSshd.h"
#include "onboarding/CaPage.h"
#include "onboarding/GoldenPage.h"
#include "onboarding/HostPage.h"
#include "onboarding/LlmPage.h"
#include "onboarding/OnboardingWizard.h"
#include "onboarding/SummaryPage.h"
#include "secrets/SecretStore.h"
#include "services/Wiring.h"
#include "ssh/HostTrust.h"
#include "ssh/SshKeys.h"
#include "SshTestEnv.h"
#include "TestSupport.h"

#include <QAbstractButton>
#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTcpServer>
#include <QTest>
#include <QTreeView>

#include <csignal>
#include <functional>

using namespace fluid;
using namespace fluid::ui;

namespace {

constexpr int kWaitMs = 60000;

Result<std::unique_ptr<virt::Hypervisor>> connectForTest(const QString& uri, const QString& knownHosts)
{
    if (uri != QLatin1String("test:///default"))
        return services::connectHypervisor(uri, knownHosts);
    return test::connectTestDriver(uri);
}

/// "title|status|detail" per row of the host page's results.
QStringList checkRows(QWidget* page)
{
    auto* model = qobject_cast<QStandardItemModel*>(test::child<QTreeView>(page, "checkResults")->model());
    QStringList rows;
    for (int r = 0; r < model->rowCount(); ++r)
        rows << model->item(r, 0)->text() + QLatin1Char('|') + model->item(r, 1)->text() + QLatin1Char('|') +
                    model->item(r, 2)->text();
    return rows;
}

QString rowFor(const QStringList& rows, const QString& title)
{
    for (const QString& row : rows)
        if (row.startsWith(title + QLatin1Char('|')))
            return row;
    return {};
}

} // namespace

class TstOnboarding : public QObject {
    Q_OBJECT

private:
    QString m_dir;
    std::unique_ptr<test::LoopbackSshd> m_sshd;
    QString m_keyFile;

    OnboardingWizard::Environment environment(const QString& configName) const
    {
        OnboardingWizard::Environment env;
        env.configPath = m_dir + QLatin1Char('/') + configName;
        env.knownHostsFile = m_dir + QStringLiteral("/known_hosts");
        env.sshDir = m_dir + QStringLiteral("/ssh");
        env.connect = connectForTest;
        env.exeDir = QCoreApplication::applicationDirPath();
        return env;
    }

    void testLocalHost(OnboardingWizard& wizard)
    {
        HostPage* page = wizard.hostPage();
        test::child<QRadioButton>(page, "localRadio")->setChecked(true);
        test::child<QLineEdit>(page, "localUri")->setText(QStringLiteral("test:///default"));
        QVERIFY(!page->isComplete());
        QVERIFY(!wizard.button(QWizard::NextButton)->isEnabled());
        QTest::mouseClick(test::child<QPushButton>(page, "testButton"), Qt::LeftButton);
        QVERIFY(page->isTesting());
        QTRY_VERIFY_WITH_TIMEOUT(!page->isTesting(), kWaitMs);
        const QStringList rows = checkRows(page);
        QVERIFY2(rowFor(rows, QStringLiteral("libvirt connects")).contains(QStringLiteral("|Passed|")),
                 qPrintable(rows.join(QLatin1Char('\n'))));
        const QString info = rowFor(rows, QStringLiteral("Host info"));
        QVERIFY2(info.contains(QStringLiteral("CPUs")) && info.contains(QStringLiteral("MiB")) &&
                     (info.contains(QStringLiteral("TCG")) || info.contains(QStringLiteral("KVM"))),
                 qPrintable(info));
        QVERIFY(page->isComplete());
        QVERIFY(wizard.button(QWizard::NextButton)->isEnabled());
        QCOMPARE(page->hostName(), QStringLiteral("local"));
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (qEnvironmentVariable("FLUID_TEST_KEYRING") != QLatin1String("1"))
            test::skipWholeTest(
                QStringLiteral("needs the private keyring of with-keyring.sh (run it via ctest)"));
        const QString why = test::LoopbackSshd::unavailableReason();
        if (!why.isEmpty())
            test::skipWholeTest(QStringLiteral("needs a loopback sshd for the remote host: ") + why);
        m_dir = test::makeTempDir(QStringLiteral("onboarding"));
        QDir().mkpath(m_dir + QStringLiteral("/ssh"));
        auto key = test::must(ssh::KeyPair::generate(QStringLiteral("wizard-test")));
        m_keyFile = m_dir + QStringLiteral("/ssh/id_ed25519");
        test::must(ssh::writePrivateKeyFile(m_keyFile, key));
        QFile pub(m_keyFile + QStringLiteral(".pub"));
        QVERIFY(pub.open(QIODevice::WriteOnly));
        pub.write(key.publicKey().toOpenSshLine(QStringLiteral("wizard-test")).toUtf8() + '\n');
        pub.close();

        test::LoopbackSshd::Options options;
        options.authorizedKeys = {key.publicKey()};
        m_sshd = test::must(test::startLoopbackSshd(test::makeTestCa(), options));
    }

    void cleanupTestCase()
    {
        if (m_sshd)
            m_sshd->stop();
    }

    void endToEnd()
    {
        OnboardingWizard wizard(environment(QStringLiteral("config.yaml")));
        QString offeredFolder;
        wizard.setFileDialog([&](QWidget*, const QString&, const QString& folder, const QString&) {
            offeredFolder = folder;
            return m_keyFile;
        });
        wizard.show();
        QCOMPARE(wizard.objectName(), QStringLiteral("onboardingWizard"));
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::HostPageId));
        HostPage* page = wizard.hostPage();

        // a. local host on libvirt's test driver
        testLocalHost(wizard);
        if (QTest::currentTestFailed())
            return;

        // a. remote host over SSH: an unknown key must be confirmed before anything else happens
        test::child<QRadioButton>(page, "remoteRadio")->setChecked(true);
        QVERIFY(!page->isComplete()); // the tested URI no longer matches
        test::child<QLineEdit>(page, "sshUser")->setText(QStringLiteral("root"));
        test::child<QLineEdit>(page, "sshHost")->setText(m_sshd->host());
        test::child<QSpinBox>(page, "sshPort")->setValue(m_sshd->port());
        auto* keyCombo = test::child<QComboBox>(page, "sshKey");
        QVERIFY2(keyCombo->findText(m_keyFile) >= 0, "the key in the ssh folder is offered");
        keyCombo->setCurrentText(QString());
        QTest::mouseClick(test::child<QPushButton>(page, "browseKey"),
                          Qt::LeftButton); // answered by the seam
        QCOMPARE(keyCombo->currentText(), m_keyFile);
        QCOMPARE(offeredFolder, m_dir + QStringLiteral("/ssh"));
        QCOMPARE(page->hostName(), QStringLiteral("127-0-0-1"));
        QVERIFY(page->currentUri().startsWith(
            QStringLiteral("qemu+ssh://root@127.0.0.1:%1/system").arg(m_sshd->port())));

        QTest::mouseClick(test::child<QPushButton>(page, "testButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!page->isTesting(), kWaitMs);
        const QString fingerprint = m_sshd->hostKey().publicKey().fingerprint();
        auto* fingerprintLabel = test::child<QLabel>(page, "fingerprintLabel");
        QVERIFY(fingerprintLabel->isVisible());
        QCOMPARE(fingerprintLabel->property("fingerprint").toString(), fingerprint);
        QVERIFY(fingerprintLabel->text().contains(fingerprint));
        QVERIFY(rowFor(checkRows(page), QStringLiteral("Host key")).contains(QStringLiteral("|Confirm|")));
        QVERIFY(
            rowFor(checkRows(page), QStringLiteral("libvirt connects")).isEmpty()); // stopped before libvirt
        QVERIFY(!page->isComplete());
        QVERIFY(!wizard.button(QWizard::NextButton)->isEnabled());
        auto* trust = test::child<QPushButton>(page, "trustButton");
        QVERIFY(!trust->isEnabled()); // not before the box is ticked
        QVERIFY(!QFile::exists(m_dir + QStringLiteral("/known_hosts")));
        test::child<QCheckBox>(page, "verifyFingerprint")->setChecked(true);
        QVERIFY(trust->isEnabled());
        QVERIFY(!wizard.button(QWizard::NextButton)->isEnabled());
        QTest::mouseClick(trust, Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(m_dir + QStringLiteral("/known_hosts")), kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(!rowFor(checkRows(page), QStringLiteral("libvirt connects")).isEmpty(),
                                 kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(!page->isTesting(), kWaitMs);
        {
            QFile known(m_dir + QStringLiteral("/known_hosts"));
            QVERIFY(known.open(QIODevice::ReadOnly));
            const QString text = QString::fromUtf8(known.readAll());
            QVERIFY2(text.contains(QStringLiteral("[127.0.0.1]:%1 ").arg(m_sshd->port())), qPrintable(text));
            QVERIFY(
                text.contains(m_sshd->hostKey().publicKey().toOpenSshLine().section(QLatin1Char(' '), 0, 1)));
        }
        const QStringList rows = checkRows(page);
        const QString all = rows.join(QLatin1Char('\n'));
        QVERIFY2(rowFor(rows, QStringLiteral("SSH reachable")).contains(QStringLiteral("|Passed|")),
                 qPrintable(all));
        QVERIFY2(rowFor(rows, QStringLiteral("Host key")).contains(QStringLiteral("|Passed|")),
                 qPrintable(all));
        QVERIFY2(rowFor(rows, QStringLiteral("SSH login")).contains(QStringLiteral("|Passed|")),
                 qPrintable(all));
        const QString libvirt = rowFor(rows, QStringLiteral("libvirt connects"));
        qInfo().noquote() << "libvirt over the plain sshd:" << libvirt;
        QVERIFY2(libvirt.contains(QStringLiteral("|Failed|")), qPrintable(all));
        QVERIFY2(libvirt.contains(QStringLiteral("libvirt could not open qemu+ssh://")), qPrintable(libvirt));
        QVERIFY2(libvirt.contains(QStringLiteral("What to do:")), qPrintable(libvirt));
        QVERIFY(!page->isComplete());
        QVERIFY(!wizard.button(QWizard::NextButton)->isEnabled());
        QVERIFY(
            test::child<QLabel>(page, "hostMessage")->text().contains(QStringLiteral("choose another host")));

        // ... so the person goes back to the local host
        test::child<QLineEdit>(page, "hostName")->setText(QStringLiteral("local"));
        testLocalHost(wizard);
        if (QTest::currentTestFailed())
            return;

        // b. SSH CA into the keychain
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::CaPageId));
        CaPage* ca = wizard.caPage();
        QVERIFY(!wizard.button(QWizard::NextButton)->isEnabled());
        QTest::mouseClick(test::child<QPushButton>(ca, "caRunButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ca->isComplete(), kWaitMs);
        QVERIFY(ca->summary());
        const QString shown = test::child<QPlainTextEdit>(ca, "caPublicKeys")->toPlainText();
        QVERIFY(shown.contains(QStringLiteral("fluid-user-ca")));
        // Trust for sandbox hosts only, never every host.
        QVERIFY(shown.contains(QStringLiteral("@cert-authority fluid-sbx-* ssh-ed25519 ")));
        QVERIFY(!shown.contains(QStringLiteral("@cert-authority * ")));
        {
            auto store = test::must(secrets::openSecretStore({}));
            auto pem = test::must(store->read(QString::fromLatin1(secrets::keys::kSshUserCa)));
            auto pair = test::must(ssh::KeyPair::fromOpenSshPrivateKey(pem));
            QCOMPARE(pair.publicKey().fingerprint(), ca->summary()->userCaFingerprint);
            QVERIFY(shown.contains(pair.publicKey().toOpenSshLine().section(QLatin1Char(' '), 1, 1)));
            auto hostPem = test::must(store->read(QString::fromLatin1(secrets::keys::kSshHostCa)));
            QCOMPARE(test::must(ssh::KeyPair::fromOpenSshPrivateKey(hostPem)).publicKey().fingerprint(),
                     ca->summary()->hostCaFingerprint);
        }

        // c. golden VM from the host's list; refused ones cannot be chosen
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::GoldenPageId));
        GoldenPage* golden = wizard.goldenPage();
        auto* view = test::child<QTreeView>(golden, "sourceList");
        auto* sources = qobject_cast<QStandardItemModel*>(view->model());
        int goldenRow = -1;
        for (int r = 0; r < sources->rowCount(); ++r) {
            if (sources->item(r, 0)->text() == QLatin1String("golden"))
                goldenRow = r;
            else if (sources->item(r, 3)->text().startsWith(QStringLiteral("No: ")))
                QVERIFY(!(sources->item(r, 0)->flags() & Qt::ItemIsSelectable));
        }
        QVERIFY2(goldenRow >= 0, "the test driver's golden VM is listed");
        QCOMPARE(sources->item(goldenRow, 3)->text(), QStringLiteral("Yes"));
        QVERIFY(!golden->isComplete());
        view->selectionModel()->select(sources->index(goldenRow, 0),
                                       QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        QCOMPARE(golden->chosenSource(), QStringLiteral("golden"));
        QVERIFY(golden->isComplete());

        // d. LLM: the endpoint is validated; the key goes to the keychain only
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::LlmPageId));
        LlmPage* llm = wizard.llmPage();
        auto* provider = test::child<QComboBox>(llm, "llmProvider");
        provider->setCurrentText(QStringLiteral("anthropic"));
        test::child<QLineEdit>(llm, "llmModel")->setText(QStringLiteral("claude-test-model"));
        test::child<QLineEdit>(llm, "llmEndpoint")->setText(QStringLiteral("not a url"));
        QVERIFY(!llm->isComplete());
        QVERIFY(test::child<QLabel>(llm, "llmEndpointError")->isVisible());
        QVERIFY(test::child<QLabel>(llm, "llmEndpointError")->text().contains(QStringLiteral("http")));
        test::child<QLineEdit>(llm, "llmEndpoint")->setText(QStringLiteral("http://127.0.0.1:9/v1"));
        QVERIFY(!test::child<QLabel>(llm, "llmEndpointError")->isVisible());
        const QString apiKey = QStringLiteral("sk-wizard-test-4f9a1c2b7e");
        test::child<QLineEdit>(llm, "llmApiKey")->setText(apiKey);
        QCOMPARE(test::child<QLineEdit>(llm, "llmApiKey")->echoMode(), QLineEdit::Password);
        QVERIFY(llm->isComplete());

        // e. summary, Finish writes
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::SummaryPageId));
        const QString summary =
            test::child<QPlainTextEdit>(wizard.summaryPage(), "summaryText")->toPlainText();
        QVERIFY(summary.contains(QStringLiteral("test:///default")));
        QVERIFY(summary.contains(QStringLiteral("golden")));
        QVERIFY(!summary.contains(apiKey));
        QVERIFY(!QFile::exists(wizard.environment().configPath));
        QSignalSpy written(&wizard, &OnboardingWizard::configWritten);
        QTest::mouseClick(wizard.button(QWizard::FinishButton), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(wizard.result(), int(QDialog::Accepted), kWaitMs);
        QCOMPARE(written.count(), 1);

        auto store = test::must(secrets::openSecretStore({}));
        QCOMPARE(test::must(store->read(secrets::keys::llmApiKey(QStringLiteral("anthropic")))),
                 apiKey.toUtf8());
        QFile file(wizard.environment().configPath);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray yaml = file.readAll();
        QVERIFY2(!yaml.contains(apiKey.toUtf8()), "the API key must never be in the config file");
        auto loaded = services::loadSettings(wizard.environment().configPath);
        QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().toString()));
        QVERIFY(loaded->fromFile);
        QCOMPARE(loaded->settings.hosts.size(), 1);
        QCOMPARE(loaded->settings.hosts.first().name, QStringLiteral("local"));
        QCOMPARE(loaded->settings.hosts.first().uri, QStringLiteral("test:///default"));
        QCOMPARE(loaded->settings.hosts.first().golden, QStringLiteral("golden")); // the VM chosen above
        QCOMPARE(loaded->settings.agent.provider, config::AgentProvider::Anthropic);
        QCOMPARE(loaded->settings.agent.model, QStringLiteral("claude-test-model"));
        QCOMPARE(loaded->settings.agent.endpoint, QStringLiteral("http://127.0.0.1:9/v1"));
        QCOMPARE(loaded->settings, wizard.resultSettings());
    }

    // A remote host whose login key lives in the keychain, not in a file: an imported key asks for its
    // passphrase once; a generated key's public line is what the host needs; the SSH login check uses the
    // key for real (loopback sshd; libvirt behind it is the test driver); Finish stores the key in the
    // keychain and writes login_key: keychain, and no key text reaches the config.
    void keychainLoginKey()
    {
        OnboardingWizard::Environment env = environment(QStringLiteral("keychain/config.yaml"));
        env.knownHostsFile = m_dir + QStringLiteral("/keychain_known_hosts");
        env.connect = [](const QString&, const QString&) {
            return connectForTest(QStringLiteral("test:///default"), {});
        };
        test::must(ssh::trustHostKey(env.knownHostsFile, m_sshd->host(), m_sshd->port(),
                                     m_sshd->hostKey().publicKey()));
        const QString encrypted = m_dir + QStringLiteral("/encrypted_key");
        const test::ProcessResult made = test::runProcess(
            QStringLiteral("ssh-keygen"),
            {QStringLiteral("-q"), QStringLiteral("-t"), QStringLiteral("ed25519"), QStringLiteral("-N"),
             QStringLiteral("import-pass"), QStringLiteral("-f"), encrypted});
        QVERIFY2(made.exitCode == 0, made.err.constData());
        QFile encryptedPub(encrypted + QStringLiteral(".pub"));
        QVERIFY(encryptedPub.open(QIODevice::ReadOnly));
        const QString encryptedLine =
            QString::fromUtf8(encryptedPub.readAll()).section(QLatin1Char(' '), 0, 1);

        OnboardingWizard wizard(env);
        QStringList prompts;
        wizard.setFileDialog(
            [&](QWidget*, const QString&, const QString&, const QString&) { return encrypted; });
        wizard.setPassphraseDialog([&](QWidget*, const QString& prompt) -> std::optional<QString> {
            prompts << prompt;
            return QStringLiteral("import-pass");
        });
        wizard.show();
        HostPage* page = wizard.hostPage();
        test::child<QRadioButton>(page, "remoteRadio")->setChecked(true);
        test::child<QLineEdit>(page, "sshUser")->setText(QStringLiteral("root"));
        test::child<QLineEdit>(page, "sshHost")->setText(m_sshd->host());
        test::child<QSpinBox>(page, "sshPort")->setValue(m_sshd->port());
        auto* keyCombo = test::child<QComboBox>(page, "sshKey");
        auto* publicKey = test::child<QLineEdit>(page, "loginPublicKey");

        // Import: the passphrase is asked once; the key is shown by its public line.
        QTest::mouseClick(test::child<QPushButton>(page, "importKey"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(page->loginKey().has_value(), kWaitMs);
        QCOMPARE(prompts.size(), 1);
        QVERIFY(prompts.first().contains(encrypted));
        QCOMPARE(publicKey->text().section(QLatin1Char(' '), 0, 1), encryptedLine);
        QVERIFY(!keyCombo->isEnabled());
        QVERIFY(!page->currentUri().contains(QStringLiteral("keyfile")));

        // The host does not list that key: the login check fails and says so.
        QTest::mouseClick(test::child<QPushButton>(page, "testButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!page->isTesting(), kWaitMs);
        QString rows = checkRows(page).join(QLatin1Char('\n'));
        QVERIFY2(rowFor(checkRows(page), QStringLiteral("SSH login")).contains(QStringLiteral("|Failed|")),
                 qPrintable(rows));
        QVERIFY(rows.contains(page->loginKey()->fingerprint));

        // Generate a new key instead, and give its line to the host.
        const QString importedFingerprint = page->loginKey()->fingerprint;
        QTest::mouseClick(test::child<QPushButton>(page, "generateKey"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(page->loginKey() && page->loginKey()->fingerprint != importedFingerprint,
                                 kWaitMs);
        QCOMPARE(page->loginKey()->type, QStringLiteral("ssh-ed25519"));
        QCOMPARE(publicKey->text(), page->loginKey()->publicKeyLine);
        QVERIFY(!page->isComplete()); // a new key needs a new test
        {
            QFile authorized(m_sshd->dir() + QStringLiteral("/authorized_keys"));
            QVERIFY(authorized.open(QIODevice::Append));
            authorized.write(publicKey->text().toUtf8() + '\n');
        }
        QTest::mouseClick(test::child<QPushButton>(page, "testButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!page->isTesting(), kWaitMs);
        rows = checkRows(page).join(QLatin1Char('\n'));
        QVERIFY2(rowFor(checkRows(page), QStringLiteral("SSH login")).contains(QStringLiteral("|Passed|")),
                 qPrintable(rows));
        QVERIFY2(page->isComplete(), qPrintable(rows));
        QVERIFY(m_sshd->log().contains(page->loginKey()->fingerprint));
        const ssh::LoginKey chosen = *page->loginKey();

        wizard.next();
        QTest::mouseClick(test::child<QPushButton>(wizard.caPage(), "caRunButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(wizard.caPage()->isComplete(), kWaitMs);
        wizard.next();
        auto* view = test::child<QTreeView>(wizard.goldenPage(), "sourceList");
        QTRY_VERIFY_WITH_TIMEOUT(view->model()->rowCount() > 0, kWaitMs);
        auto* sources = qobject_cast<QStandardItemModel*>(view->model());
        const QList<QStandardItem*> goldenItems = sources->findItems(QStringLiteral("golden"));
        QVERIFY(!goldenItems.isEmpty());
        view->selectionModel()->select(sources->indexFromItem(goldenItems.first()),
                                       QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        wizard.next();
        test::child<QComboBox>(wizard.llmPage(), "llmProvider")->setCurrentText(QStringLiteral("ollama"));
        test::child<QLineEdit>(wizard.llmPage(), "llmModel")->setText(QStringLiteral("llama-test"));
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::SummaryPageId));
        QVERIFY(test::child<QPlainTextEdit>(wizard.summaryPage(), "summaryText")
                    ->toPlainText()
                    .contains(chosen.fingerprint));
        QTest::mouseClick(wizard.button(QWizard::FinishButton), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(wizard.result(), int(QDialog::Accepted), kWaitMs);

        auto loaded = test::must(services::loadSettings(env.configPath));
        const config::HostSettings* host = loaded.settings.host(page->hostName());
        QVERIFY(host);
        QCOMPARE(host->login, config::HostLogin::Keychain);
        QVERIFY(!host->uri.contains(QStringLiteral("keyfile")));
        auto store = test::must(secrets::openSecretStore({}));
        QCOMPARE(test::must(store->read(secrets::keys::hostLoginKey(host->name))), chosen.privateKey);
        QFile file(env.configPath);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray yaml = file.readAll();
        QVERIFY(yaml.contains("login_key: keychain"));
        QVERIFY(!yaml.contains("PRIVATE KEY"));
    }

    void cancelWritesNothing()
    {
        OnboardingWizard wizard(environment(QStringLiteral("cancelled/config.yaml")));
        wizard.show();
        testLocalHost(wizard);
        if (QTest::currentTestFailed())
            return;
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::CaPageId));
        QVERIFY(!wizard.button(QWizard::NextButton)->isEnabled()); // the CA is not made yet
        QTest::mouseClick(wizard.button(QWizard::CancelButton), Qt::LeftButton);
        QCOMPARE(wizard.result(), int(QDialog::Rejected));
        QVERIFY(!wizard.isVisible());
        QVERIFY(!QFile::exists(wizard.environment().configPath));
        QVERIFY(!QDir(m_dir + QStringLiteral("/cancelled")).exists());
    }

    void importsExistingCaKeys()
    {
        const QString userFile = m_dir + QStringLiteral("/import-user-ca");
        const QString hostFile = m_dir + QStringLiteral("/import-host-ca");
        const QString junkFile = m_dir + QStringLiteral("/not-a-key");
        auto userKey = test::must(ssh::KeyPair::generate(QStringLiteral("imported-user-ca")));
        auto hostKey = test::must(ssh::KeyPair::generate(QStringLiteral("imported-host-ca")));
        test::must(ssh::writePrivateKeyFile(userFile, userKey));
        test::must(ssh::writePrivateKeyFile(hostFile, hostKey));
        QFile junk(junkFile);
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("-----BEGIN RSA PRIVATE KEY-----\nnope\n");
        junk.close();

        OnboardingWizard wizard(environment(QStringLiteral("import/config.yaml")));
        QStringList answers = {junkFile, hostFile};
        wizard.setFileDialog([&](QWidget*, const QString&, const QString&, const QString&) {
            return answers.isEmpty() ? QString() : answers.takeFirst();
        });
        wizard.show();
        CaPage* ca = wizard.caPage();
        test::child<QRadioButton>(ca, "caImport")->setChecked(true);
        auto* run = test::child<QPushButton>(ca, "caRunButton");
        QVERIFY(!run->isEnabled()); // both files first
        QTest::mouseClick(test::child<QPushButton>(ca, "browseUserCa"), Qt::LeftButton);
        QTest::mouseClick(test::child<QPushButton>(ca, "browseHostCa"), Qt::LeftButton);
        QCOMPARE(test::child<QLineEdit>(ca, "userCaFile")->text(), junkFile);
        QCOMPARE(test::child<QLineEdit>(ca, "hostCaFile")->text(), hostFile);
        QVERIFY(run->isEnabled());
        QTest::mouseClick(run, Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(run->isEnabled(), kWaitMs);
        const QString refused = test::child<QLabel>(ca, "caMessage")->text();
        QVERIFY2(refused.contains(junkFile) && refused.contains(QStringLiteral("ssh-keygen -p")),
                 qPrintable(refused));
        QVERIFY(!ca->isComplete());

        test::child<QLineEdit>(ca, "userCaFile")->setText(userFile);
        QTest::mouseClick(run, Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(ca->isComplete(), kWaitMs);
        QCOMPARE(ca->summary()->userCaFingerprint, userKey.publicKey().fingerprint());
        QCOMPARE(ca->summary()->hostCaFingerprint, hostKey.publicKey().fingerprint());
        auto store = test::must(secrets::openSecretStore({}));
        QCOMPARE(test::must(ssh::KeyPair::fromOpenSshPrivateKey(
                                test::must(store->read(QString::fromLatin1(secrets::keys::kSshUserCa)))))
                     .publicKey(),
                 userKey.publicKey());
        QCOMPARE(test::must(ssh::KeyPair::fromOpenSshPrivateKey(
                                test::must(store->read(QString::fromLatin1(secrets::keys::kSshHostCa)))))
                     .publicKey(),
                 hostKey.publicKey());
    }

    void stoppingAHangingTestFreesThePage()
    {
        // A port that accepts and never speaks SSH: the test hangs until stopped.
        QTcpServer silent;
        QVERIFY(silent.listen(QHostAddress::LocalHost));
        OnboardingWizard wizard(environment(QStringLiteral("stopped/config.yaml")));
        wizard.show();
        HostPage* page = wizard.hostPage();
        test::child<QRadioButton>(page, "remoteRadio")->setChecked(true);
        test::child<QLineEdit>(page, "sshUser")->setText(QStringLiteral("root"));
        test::child<QLineEdit>(page, "sshHost")->setText(QStringLiteral("127.0.0.1"));
        test::child<QSpinBox>(page, "sshPort")->setValue(silent.serverPort());
        QTest::mouseClick(test::child<QPushButton>(page, "testButton"), Qt::LeftButton);
        QVERIFY(page->isTesting());
        QVERIFY(test::child<QProgressBar>(page, "testProgress")->isVisible());
        QTRY_VERIFY(silent.hasPendingConnections() || silent.waitForNewConnection(100));
        QTest::qWait(200);
        QVERIFY(page->isTesting()); // still waiting for a banner
        auto* stop = test::child<QPushButton>(page, "cancelTestButton");
        QVERIFY(stop->isEnabled());
        QElapsedTimer timer;
        timer.start();
        QTest::mouseClick(stop, Qt::LeftButton);
        QVERIFY(!page->isTesting());
        QVERIFY(timer.elapsed() < 1000);
        QVERIFY(!test::child<QProgressBar>(page, "testProgress")->isVisible());
        QVERIFY(rowFor(checkRows(page), QStringLiteral("Stopped")).contains(QStringLiteral("Test again")));
        QVERIFY(!page->isComplete());
        QVERIFY(test::child<QPushButton>(page, "testButton")->isEnabled());
    }

    void goldenBuildShowsProgressAndCancelKillsIt()
    {
        // A stand-in for golden-image.sh with the real one's progress lines; it starts a child of its own,
        // so cancelling must stop the whole process group, not just bash.
        const QString scripts = m_dir + QStringLiteral("/scripts");
        QDir().mkpath(scripts);
        QFile script(scripts + QStringLiteral("/golden-image.sh"));
        QVERIFY(script.open(QIODevice::WriteOnly));
        script.write("echo \"args: $*\"\n"
                     "echo 'progress: 5% debootstrap (0 s)'\n"
                     "sleep 300 & echo $! > \"$(dirname \"$0\")/child.pid\"\n"
                     "echo 'progress: 30% packages (1 s)'\n"
                     "wait\n");
        script.close();
        qputenv("FLUID_SCRIPTS_DIR", scripts.toUtf8());

        OnboardingWizard wizard(environment(QStringLiteral("golden/config.yaml")));
        wizard.show();
        testLocalHost(wizard);
        if (QTest::currentTestFailed())
            return;
        GoldenPage* golden = wizard.goldenPage();
        golden->initializePage();
        test::child<QRadioButton>(golden, "buildGolden")->setChecked(true);
        QVERIFY(!golden->isComplete());
        QTest::mouseClick(test::child<QPushButton>(golden, "buildButton"), Qt::LeftButton);
        auto* bar = test::child<QProgressBar>(golden, "buildProgress");
        QTRY_COMPARE_WITH_TIMEOUT(bar->value(), 30, kWaitMs);
        QVERIFY(bar->format().contains(QStringLiteral("packages")));
        QVERIFY(test::child<QPlainTextEdit>(golden, "buildLog")
                    ->toPlainText()
                    .contains(QStringLiteral("args: ")));
        QVERIFY(test::child<QPlainTextEdit>(golden, "buildLog")
                    ->toPlainText()
                    .contains(QStringLiteral("--define test:///default")));
        QVERIFY(golden->isBuilding());
        QTRY_VERIFY(QFile::exists(scripts + QStringLiteral("/child.pid")));
        QFile childPidFile(scripts + QStringLiteral("/child.pid"));
        QVERIFY(childPidFile.open(QIODevice::ReadOnly));
        const pid_t childPid = childPidFile.readAll().trimmed().toInt();
        QVERIFY(childPid > 0);
        QVERIFY(!golden->isComplete());
        QTest::mouseClick(test::child<QPushButton>(golden, "cancelBuildButton"), Qt::LeftButton);
        QVERIFY(test::child<QLabel>(golden, "goldenMessage")->text().contains(QStringLiteral("Stopping")));
        QTRY_VERIFY_WITH_TIMEOUT(!golden->isBuilding(), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(::kill(childPid, 0) != 0, 10000);
        QVERIFY(test::child<QLabel>(golden, "goldenMessage")->text().contains(QStringLiteral("cancelled")));
        QVERIFY(!golden->isComplete());

        // Closing the wizard during a build stops the build too: the page waits for it on the way out.
        QVERIFY(QFile::remove(scripts + QStringLiteral("/child.pid")));
        {
            OnboardingWizard closing(environment(QStringLiteral("golden3/config.yaml")));
            closing.show();
            testLocalHost(closing);
            if (QTest::currentTestFailed())
                return;
            closing.goldenPage()->initializePage();
            test::child<QRadioButton>(closing.goldenPage(), "buildGolden")->setChecked(true);
            QTest::mouseClick(test::child<QPushButton>(closing.goldenPage(), "buildButton"), Qt::LeftButton);
            QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(scripts + QStringLiteral("/child.pid")).size() > 0, kWaitMs);
            QVERIFY(closing.goldenPage()->isBuilding());
        }
        QFile closedPidFile(scripts + QStringLiteral("/child.pid"));
        QVERIFY(closedPidFile.open(QIODevice::ReadOnly));
        const pid_t closedChildPid = closedPidFile.readAll().trimmed().toInt();
        QVERIFY(closedChildPid > 0);
        QTRY_VERIFY_WITH_TIMEOUT(::kill(closedChildPid, 0) != 0, 10000);

        // Without the script the page says so, and how to fix it.
        qputenv("FLUID_SCRIPTS_DIR", (m_dir + QStringLiteral("/no-scripts-here")).toUtf8());
        OnboardingWizard::Environment env = environment(QStringLiteral("golden2/config.yaml"));
        env.exeDir = m_dir + QStringLiteral("/none/a/b/c"); // no scripts folder beside it either
        OnboardingWizard second(env);
        second.show();
        testLocalHost(second);
        if (QTest::currentTestFailed())
            return;
        second.goldenPage()->initializePage();
        test::child<QRadioButton>(second.goldenPage(), "buildGolden")->setChecked(true);
        QTest::mouseClick(test::child<QPushButton>(second.goldenPage(), "buildButton"), Qt::LeftButton);
        const QString message = test::child<QLabel>(second.goldenPage(), "goldenMessage")->text();
        QVERIFY2(message.contains(QStringLiteral("golden-image.sh was not found")) &&
                     message.contains(QStringLiteral("FLUID_SCRIPTS_DIR")),
                 qPrintable(message));
        qunsetenv("FLUID_SCRIPTS_DIR");
    }

    /// A successful build chooses the VM it defined on the host as the golden VM: Finish writes it to
    /// hosts[].golden. A build whose VM is not on the host chooses nothing and says so.
    void builtGoldenImageBecomesTheGoldenVm()
    {
        // A stand-in for golden-image.sh with the real one's output: progress lines, then "defined NAME (URI)
        // for FOLDER" once its `virsh define` succeeded. libvirt's test driver lives in this process, so the
        // test defines the VM there itself while the stand-in waits for it (the "go" file).
        const QString scripts = m_dir + QStringLiteral("/built-scripts");
        QDir().mkpath(scripts);
        QFile script(scripts + QStringLiteral("/golden-image.sh"));
        QVERIFY(script.open(QIODevice::WriteOnly));
        script.write(
            "echo \"args: $*\"\n"
            "echo 'progress: 5% building debian12-fwcfg-0123456789ab (0 s)'\n"
            "go=\"$(dirname \"$0\")/go\"\n"
            "while [ ! -e \"$go\" ]; do sleep 0.1; done\n"
            "echo 'progress: 100% built /images/debian12-fwcfg-0123456789ab (1 s)'\n"
            "echo \"defined $(cat \"$go\") (test:///default) for /images/debian12-fwcfg-0123456789ab\"\n");
        script.close();
        qputenv("FLUID_SCRIPTS_DIR", scripts.toUtf8());
        const QString built = QStringLiteral("golden-debian12-fwcfg");
        // Held open: the driver's state (and the VM defined below) lasts while a connection to it does.
        auto hv = test::must(test::connectTestDriver());
        const auto build = [&](GoldenPage* golden, const QString& defines,
                               const std::function<void()>& define) {
            QFile::remove(scripts + QStringLiteral("/go"));
            test::child<QRadioButton>(golden, "buildGolden")->setChecked(true);
            QTest::mouseClick(test::child<QPushButton>(golden, "buildButton"), Qt::LeftButton);
            QTRY_COMPARE_WITH_TIMEOUT(test::child<QProgressBar>(golden, "buildProgress")->value(), 5,
                                      kWaitMs);
            QVERIFY(!golden->isComplete());
            if (define)
                define();
            QFile go(scripts + QStringLiteral("/go"));
            QVERIFY(go.open(QIODevice::WriteOnly));
            go.write(defines.toUtf8());
            go.close();
            QTRY_VERIFY_WITH_TIMEOUT(!golden->isBuilding() && !golden->isLookingForBuiltVm(), kWaitMs);
            QVERIFY(golden->built());
        };

        OnboardingWizard wizard(environment(QStringLiteral("built/config.yaml")));
        wizard.show();
        testLocalHost(wizard);
        if (QTest::currentTestFailed())
            return;
        QVERIFY(!rowFor(checkRows(wizard.hostPage()), QStringLiteral("Source VMs")).isEmpty());
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::CaPageId));
        QTest::mouseClick(test::child<QPushButton>(wizard.caPage(), "caRunButton"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(wizard.caPage()->isComplete(), kWaitMs);
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::GoldenPageId));
        GoldenPage* golden = wizard.goldenPage();
        auto* sources =
            qobject_cast<QStandardItemModel*>(test::child<QTreeView>(golden, "sourceList")->model());
        QVERIFY(sources->findItems(built).isEmpty()); // not on the host when it was tested

        // The build claims a VM the host does not have: nothing is chosen, and the page says why.
        build(golden, QStringLiteral("golden-debian12-missing"), {});
        if (QTest::currentTestFailed())
            return;
        QVERIFY2(
            test::child<QLabel>(golden, "goldenMessage")->text().contains(QStringLiteral("not on the host")),
            qPrintable(test::child<QLabel>(golden, "goldenMessage")->text()));
        QVERIFY(golden->chosenSource().isEmpty());
        QVERIFY(!golden->isComplete());

        // The build defines the VM on the host: it is listed, chosen, and Finish writes it.
        build(golden, built, [&]() {
            test::must(hv->defineDomain(QString::fromLatin1(test::kTestDriverGoldenXml)
                                            .replace(QStringLiteral("<name>golden</name>"),
                                                     QStringLiteral("<name>%1</name>").arg(built))));
        });
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(golden->builtVm(), built);
        QCOMPARE(golden->chosenSource(), built);
        QVERIFY(golden->isComplete());
        QVERIFY(wizard.button(QWizard::NextButton)->isEnabled());
        const QList<QStandardItem*> listed = sources->findItems(built);
        QCOMPARE(listed.size(), 1);
        QCOMPARE(sources->item(listed.first()->row(), 3)->text(), QStringLiteral("Yes"));
        QCOMPARE(test::child<QTreeView>(golden, "sourceList")->selectionModel()->selectedRows(0).value(0),
                 listed.first()->index());
        QVERIFY2(test::child<QLabel>(golden, "goldenMessage")->text().contains(built),
                 qPrintable(test::child<QLabel>(golden, "goldenMessage")->text()));

        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::LlmPageId));
        test::child<QLineEdit>(wizard.llmPage(), "llmModel")->setText(QStringLiteral("test-model"));
        QVERIFY(wizard.llmPage()->isComplete());
        wizard.next();
        QCOMPARE(wizard.currentId(), int(OnboardingWizard::SummaryPageId));
        const QString summary =
            test::child<QPlainTextEdit>(wizard.summaryPage(), "summaryText")->toPlainText();
        QVERIFY2(summary.contains(QStringLiteral("Golden VM: %1 (the Debian golden image built").arg(built)),
                 qPrintable(summary));
        QTest::mouseClick(wizard.button(QWizard::FinishButton), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(wizard.result(), int(QDialog::Accepted), kWaitMs);
        auto loaded = services::loadSettings(wizard.environment().configPath);
        QVERIFY2(loaded.ok(), qPrintable(loaded.ok() ? QString() : loaded.error().toString()));
        QCOMPARE(loaded->settings.hosts.size(), 1);
        QCOMPARE(loaded->settings.hosts.first().golden, built);
        qunsetenv("FLUID_SCRIPTS_DIR");
        test::must(hv->undefineDomain(built));
    }
};

QTEST_MAIN(TstOnboarding)
#include "tst_onboarding.moc"

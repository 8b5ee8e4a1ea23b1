// SPDX-License-Identifier: Apache-2.0
// The settings dialog over a real config file: values shown, changed, checked with the loader's own checks
// (OK disabled, message next to the field), saved and read back equal.

#include "config/Config.h"
#include "MainWindow.h"
#include "services/Services.h"
#include "settings/SettingsDialog.h"
#include "TestSupport.h"

#include <QAction>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTest>

using namespace fluid;
using namespace fluid::ui;

namespace {

QPushButton* okButton(QWidget* dialog)
{
    return test::child<QDialogButtonBox>(dialog, "settingsButtons")->button(QDialogButtonBox::Ok);
}

} // namespace

class TstSettingsDialog : public QObject {
    Q_OBJECT

private:
    QString m_dir;

private Q_SLOTS:
    void initTestCase() { m_dir = test::makeTempDir(QStringLiteral("settingsdialog")); }

    void showsEditsValidatesAndSaves()
    {
        const QString path = m_dir + QStringLiteral("/config.yaml");
        config::Settings start;
        start.hosts.first().uri = QStringLiteral("test:///default");
        config::HostSettings lab;
        lab.name = QStringLiteral("lab");
        lab.uri = QStringLiteral("qemu+ssh://root@lab.example/system");
        lab.accelerator = config::Accelerator::Tcg;
        lab.limits = {4096, 4, 3};
        start.hosts.append(lab);
        start.sandbox.defaultVcpus = 2;
        start.agent.model = QStringLiteral("gpt-test");
        test::must(config::saveConfig(path, start));
        const config::Settings loaded = test::must(config::loadConfig(path)).settings;

        SettingsDialog dialog(path, loaded);
        dialog.show();
        QCOMPARE(dialog.settings(), loaded);
        QVERIFY(dialog.problems().isEmpty());
        QVERIFY(okButton(&dialog)->isEnabled());
        QCOMPARE(test::child<QSpinBox>(&dialog, "sandbox.default_vcpus")->value(), 2);
        QCOMPARE(test::child<QLineEdit>(&dialog, "agent.model")->text(), QStringLiteral("gpt-test"));
        QCOMPARE(test::child<QTableView>(&dialog, "hosts")->model()->rowCount(), 2);

        // Spin boxes carry the config's bounds.
        auto* ttl = test::child<QSpinBox>(&dialog, "ssh.cert_ttl_minutes");
        QCOMPARE(ttl->minimum(), config::bounds::kCertTtlMinutes.min);
        QCOMPARE(ttl->maximum(), config::bounds::kCertTtlMinutes.max);
        QCOMPARE(test::child<QSpinBox>(&dialog, "sandbox.default_memory_mib")->minimum(),
                 config::bounds::kDefaultMemoryMib.min);
        QCOMPARE(test::child<QSpinBox>(&dialog, "store.postgresql.port")->maximum(),
                 config::bounds::kPostgresqlPort.max);

        // Every field edits a key config.yaml has (a field for a key nothing reads is removed with the key).
        const QByteArray yaml = config::toYaml(loaded);
        for (const QWidget* field : dialog.findChildren<QWidget*>()) {
            const QString key = field->objectName();
            if (key.contains(QLatin1Char('.')) && !key.endsWith(QLatin1String(".error")))
                QVERIFY2(yaml.contains(key.section(QLatin1Char('.'), -1).toUtf8() + ':'), qPrintable(key));
        }

        // Invalid values: OK disabled, each message next to its field.
        test::child<QLineEdit>(&dialog, "agent.endpoint")->setText(QStringLiteral("ftp://models.example"));
        QVERIFY(!okButton(&dialog)->isEnabled());
        auto* endpointError = test::child<QLabel>(&dialog, "agent.endpoint.error");
        QVERIFY(!endpointError->isHidden());
        QVERIFY2(endpointError->text().contains(QStringLiteral("agent.endpoint: must be")),
                 qPrintable(endpointError->text()));
        test::child<QLineEdit>(&dialog, "store.sqlite_path")
            ->setText(QStringLiteral("relative/fluid.sqlite"));
        QVERIFY(!test::child<QLabel>(&dialog, "store.sqlite_path.error")->isHidden());
        QCOMPARE(dialog.problems().size(), 2);
        QVERIFY(
            test::child<QLabel>(&dialog, "settingsSummary")->text().contains(QStringLiteral("2 problem")));
        QTest::mouseClick(okButton(&dialog), Qt::LeftButton);
        QVERIFY(dialog.isVisible()); // a disabled OK saves nothing
        QCOMPARE(test::must(config::loadConfig(path)).settings, loaded);

        // A duplicate host name is caught across the list, shown under the hosts.
        dialog.setHostEditor(
            [](QWidget*, const config::HostSettings& host) -> std::optional<config::HostSettings> {
                config::HostSettings edited = host;
                edited.name = QStringLiteral("lab");
                edited.uri = QStringLiteral("qemu:///system");
                return edited;
            });
        dialog.addHost();
        QVERIFY(
            test::child<QLabel>(&dialog, "hosts.error")->text().contains(QStringLiteral("must be unique")));
        QVERIFY(!okButton(&dialog)->isEnabled());

        // Fix everything, change values, edit and remove hosts.
        test::child<QTableView>(&dialog, "hosts")->selectRow(2);
        dialog.removeHost();
        test::child<QTableView>(&dialog, "hosts")->selectRow(1);
        dialog.setHostEditor(
            [](QWidget*, const config::HostSettings& host) -> std::optional<config::HostSettings> {
                config::HostSettings edited = host;
                edited.accelerator = config::Accelerator::Kvm;
                edited.limits.maxSandboxes = 7;
                return edited;
            });
        dialog.editHost();
        test::child<QLineEdit>(&dialog, "agent.endpoint")
            ->setText(QStringLiteral("https://models.example/v1"));
        test::child<QLineEdit>(&dialog, "store.sqlite_path")
            ->setText(m_dir + QStringLiteral("/other.sqlite"));
        test::child<QSpinBox>(&dialog, "sandbox.default_memory_mib")->setValue(1024);
        ttl->setValue(9);
        test::child<QComboBox>(&dialog, "agent.provider")->setCurrentText(QStringLiteral("ollama"));
        QVERIFY2(dialog.problems().isEmpty(), qPrintable(dialog.problems().join(QLatin1Char('\n'))));
        QVERIFY(okButton(&dialog)->isEnabled());
        QVERIFY(test::child<QLabel>(&dialog, "agent.endpoint.error")->isHidden());

        QSignalSpy saved(&dialog, &SettingsDialog::saved);
        QTest::mouseClick(okButton(&dialog), Qt::LeftButton);
        QCOMPARE(saved.count(), 1);
        QCOMPARE(dialog.result(), int(QDialog::Accepted));

        const config::Settings reread = test::must(config::loadConfig(path)).settings;
        QCOMPARE(reread, dialog.settings());
        QCOMPARE(reread.hosts.size(), 2);
        QCOMPARE(reread.hosts.at(1).accelerator,
                 std::optional<config::Accelerator>(config::Accelerator::Kvm));
        QCOMPARE(reread.hosts.at(1).limits.maxSandboxes, 7);
        QCOMPARE(reread.hosts.at(1).limits.maxMemoryMib, 4096);
        QCOMPARE(reread.agent.endpoint, QStringLiteral("https://models.example/v1"));
        QCOMPARE(reread.agent.provider, config::AgentProvider::Ollama);
        QCOMPARE(reread.ssh.certTtlMinutes, 9);
        QCOMPARE(reread.sandbox.defaultMemoryMib, 1024);

        // Reopened from the file, the dialog shows exactly what was saved.
        SettingsDialog again(path, reread);
        QCOMPARE(again.settings(), reread);
    }

    void menuEntries()
    {
        services::Services services(
            test::storeServicesOptions(test::migratedStore(test::makeTempDir(QStringLiteral("menus")))));
        MainWindow window(services);
        auto* settings = window.findChild<QAction*>(QStringLiteral("actionSettings"));
        QVERIFY(settings);
        QCOMPARE(settings->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_Comma));
        QSignalSpy settingsAsked(&window, &MainWindow::settingsRequested);
        settings->trigger();
        QCOMPARE(settingsAsked.count(), 1);
        auto* setup = window.findChild<QAction*>(QStringLiteral("actionSetup"));
        QVERIFY(setup);
        QVERIFY(setup->text().contains(QStringLiteral("Set up Fluid")));
        QSignalSpy setupAsked(&window, &MainWindow::setupWizardRequested);
        setup->trigger();
        QCOMPARE(setupAsked.count(), 1);
    }

    void hostEditorChecksItsFields()
    {
        HostEditDialog editor({});
        auto* ok = editor.findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
        QVERIFY(!ok->isEnabled());
        editor.findChild<QLineEdit*>(QStringLiteral("name"))->setText(QStringLiteral("Bad Name"));
        editor.findChild<QLineEdit*>(QStringLiteral("uri"))->setText(QStringLiteral("qemu:///system"));
        QVERIFY(!ok->isEnabled());
        QVERIFY(editor.findChild<QLabel*>(QStringLiteral("hostError"))
                    ->text()
                    .contains(QStringLiteral("Name must be")));
        editor.findChild<QLineEdit*>(QStringLiteral("name"))->setText(QStringLiteral("good-name"));
        QVERIFY(ok->isEnabled());
        editor.findChild<QSpinBox*>(QStringLiteral("max_vcpus"))->setValue(8);
        QCOMPARE(editor.host().limits.maxVcpus, 8);
        QCOMPARE(editor.findChild<QSpinBox*>(QStringLiteral("max_vcpus"))->maximum(),
                 config::bounds::kHostMaxVcpus.max);

        // A keychain login key is for SSH hosts only.
        auto* login = editor.findChild<QComboBox*>(QStringLiteral("login_key"));
        QVERIFY(login);
        QCOMPARE(editor.host().login, config::HostLogin::Ssh);
        login->setCurrentText(QStringLiteral("keychain"));
        QVERIFY(!ok->isEnabled());
        QVERIFY(
            editor.findChild<QLabel*>(QStringLiteral("hostError"))->text().contains(QStringLiteral("SSH")));
        editor.findChild<QLineEdit*>(QStringLiteral("uri"))
            ->setText(QStringLiteral("qemu+ssh://root@kvm1/system"));
        QVERIFY(ok->isEnabled());
        QCOMPARE(editor.host().login, config::HostLogin::Keychain);
    }
};

QTEST_MAIN(TstSettingsDialog)
#include "tst_settingsdialog.moc"

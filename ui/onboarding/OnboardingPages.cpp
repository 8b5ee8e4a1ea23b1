// SPDX-License-Identifier: Apache-2.0
#include "OnboardingPages.h"

#include "base/Worker.h"
#include "config/Config.h"
#include "config/SettingsChecks.h"
#include "OnboardingWizard.h"
#include "services/Runtime.h"
#include "secrets/SecretStore.h"

#include <QAbstractButton>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStyle>
#include <QSysInfo>
#include <QTimer>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>
#include <csignal>
#include <unistd.h>

namespace fluid::ui {

namespace {

/// The folder offered for SSH keys (Environment::sshDir, else ~/.ssh).
QString keyFolder(const OnboardingWizard::Environment& env)
{
    return env.sshDir.isEmpty() ? QDir::homePath() + QStringLiteral("/.ssh") : env.sshDir;
}

QLabel* makeMessageLabel(const QString& objectName, QWidget* parent)
{
    auto* label = new QLabel(parent);
    label->setObjectName(objectName);
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

/// A label for a field's error, in the palette's link-visited colour so it stands out in light and dark
/// themes alike without a hard-coded colour.
QLabel* makeErrorLabel(const QString& objectName, QWidget* parent)
{
    QLabel* label = makeMessageLabel(objectName, parent);
    QPalette palette = label->palette();
    palette.setColor(QPalette::WindowText, palette.color(QPalette::LinkVisited));
    label->setPalette(palette);
    label->hide();
    return label;
}

QPushButton* makeButton(const QString& text, const QString& objectName, const QString& tip, QWidget* parent)
{
    auto* button = new QPushButton(text, parent);
    button->setObjectName(objectName);
    button->setToolTip(tip);
    button->setAccessibleName(QString(text).remove(QLatin1Char('&')).remove(QStringLiteral("…")));
    return button;
}

/// A form label whose mnemonic focuses `buddy` (QFormLayout only does that for rows holding one widget).
QLabel* buddyLabel(const QString& text, QWidget* buddy)
{
    auto* label = new QLabel(text, buddy->parentWidget());
    label->setBuddy(buddy);
    return label;
}

QString statusText(services::HostCheck::Status status)
{
    switch (status) {
    case services::HostCheck::Status::Passed:
        return QObject::tr("Passed");
    case services::HostCheck::Status::Failed:
        return QObject::tr("Failed");
    case services::HostCheck::Status::Warning:
        return QObject::tr("Warning");
    case services::HostCheck::Status::NeedsConfirmation:
        return QObject::tr("Confirm");
    }
    return {};
}

QIcon statusIcon(const QWidget* widget, services::HostCheck::Status status)
{
    switch (status) {
    case services::HostCheck::Status::Passed:
        return widget->style()->standardIcon(QStyle::SP_DialogApplyButton);
    case services::HostCheck::Status::Failed:
        return widget->style()->standardIcon(QStyle::SP_MessageBoxCritical);
    case services::HostCheck::Status::Warning:
        return widget->style()->standardIcon(QStyle::SP_MessageBoxWarning);
    case services::HostCheck::Status::NeedsConfirmation:
        return widget->style()->standardIcon(QStyle::SP_MessageBoxQuestion);
    }
    return {};
}

/// A host name for config from any text: lower case, [a-z0-9-], at most 40 characters.
QString hostNameFrom(const QString& text)
{
    QString name = text.toLower();
    name.replace(QRegularExpression(QStringLiteral("[^a-z0-9-]+")), QStringLiteral("-"));
    name.remove(QRegularExpression(QStringLiteral("^-+|-+$")));
    return name.left(40);
}

/// Sends `signal` to the process group a build runs in (it is started in its own session).
void signalGroup(qint64 pid, int signal)
{
    if (pid > 0)
        ::kill(-pid_t(pid), signal);
}

} // namespace

// ---------------------------------------------------------------------------------------------- HostPage

HostPage::HostPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("hostPage"));
    setTitle(tr("Where sandboxes run"));
    setSubTitle(tr("Fluid clones sandbox VMs on a libvirt host: this machine or a server reached over SSH."));

    m_local = new QRadioButton(tr("&This machine (local libvirt)"), this);
    m_local->setObjectName(QStringLiteral("localRadio"));
    m_local->setChecked(true);
    m_localUri = new QLineEdit(QStringLiteral("qemu:///system"), this);
    m_localUri->setObjectName(QStringLiteral("localUri"));
    m_localUri->setAccessibleName(tr("libvirt URI"));
    m_localUri->setToolTip(tr("The libvirt connection URI: qemu:///system for this machine's system "
                              "libvirt, or any other libvirt URI."));

    m_remote = new QRadioButton(tr("A &remote host over SSH"), this);
    m_remote->setObjectName(QStringLiteral("remoteRadio"));
    m_user = new QLineEdit(qEnvironmentVariable("USER"), this);
    m_user->setObjectName(QStringLiteral("sshUser"));
    m_user->setAccessibleName(tr("SSH user"));
    m_user->setToolTip(tr("The user Fluid logs in as; it must be allowed to use libvirt on the host."));
    m_host = new QLineEdit(this);
    m_host->setObjectName(QStringLiteral("sshHost"));
    m_host->setAccessibleName(tr("SSH host"));
    m_host->setPlaceholderText(tr("host name or address"));
    m_host->setToolTip(tr("The host's name or IP address."));
    m_port = new QSpinBox(this);
    m_port->setObjectName(QStringLiteral("sshPort"));
    m_port->setRange(1, 65535);
    m_port->setValue(22);
    m_port->setAccessibleName(tr("SSH port"));
    m_port->setToolTip(tr("The port the host's sshd listens on."));
    m_key = new QComboBox(this);
    m_key->setObjectName(QStringLiteral("sshKey"));
    m_key->setEditable(true);
    m_key->setAccessibleName(tr("SSH private key"));
    m_key->setToolTip(tr("The private key to log in with. Empty: your ssh-agent and default keys."));
    m_browseKey =
        makeButton(tr("&Browse…"), QStringLiteral("browseKey"), tr("Choose a private key file"), this);
    m_generateKey = makeButton(tr("&Generate key"), QStringLiteral("generateKey"),
                               tr("Makes a new Ed25519 login key that lives only in Fluid's keychain"), this);
    m_importKey = makeButton(tr("&Import key…"), QStringLiteral("importKey"),
                             tr("Reads a private key file into Fluid's keychain (asks for its passphrase "
                                "once); the file itself is not changed"),
                             this);
    m_forgetKey =
        makeButton(tr("Use &files instead"), QStringLiteral("forgetKey"),
                   tr("Logs in with ssh-agent, the default keys or the key file above instead"), this);
    m_loginKeyLabel = makeMessageLabel(QStringLiteral("loginKeyLabel"), this);
    m_publicKey = new QLineEdit(this);
    m_publicKey->setObjectName(QStringLiteral("loginPublicKey"));
    m_publicKey->setReadOnly(true);
    m_publicKey->setAccessibleName(tr("Public key for authorized_keys"));
    m_publicKey->setToolTip(tr("Add this line to ~/.ssh/authorized_keys of the user on the host."));
    m_copyPublicKey = makeButton(tr("&Copy"), QStringLiteral("copyPublicKey"),
                                 tr("Copies the public key line to the clipboard"), this);

    m_name = new QLineEdit(QStringLiteral("local"), this);
    m_name->setObjectName(QStringLiteral("hostName"));
    m_name->setAccessibleName(tr("Host name in Fluid"));
    m_name->setToolTip(tr("How Fluid names this host: lower-case letters, digits and '-', up to 40."));

    m_test = makeButton(tr("&Test connection"), QStringLiteral("testButton"),
                        tr("Checks the host step by step (without blocking the window)"), this);
    m_test->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
    m_cancel =
        makeButton(tr("&Stop test"), QStringLiteral("cancelTestButton"), tr("Stops a running test"), this);
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("testProgress"));
    m_progress->setRange(0, 0);
    m_progress->setTextVisible(false);
    m_progress->setAccessibleName(tr("Test running"));
    m_progress->hide();

    m_checks = new QStandardItemModel(0, 3, this);
    m_checks->setHorizontalHeaderLabels({tr("Check"), tr("Result"), tr("Details")});
    m_checkView = new QTreeView(this);
    m_checkView->setObjectName(QStringLiteral("checkResults"));
    m_checkView->setAccessibleName(tr("Connection test results"));
    m_checkView->setModel(m_checks);
    m_checkView->setRootIsDecorated(false);
    m_checkView->setWordWrap(true);
    m_checkView->setUniformRowHeights(false);
    m_checkView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_checkView->header()->setStretchLastSection(true);
    m_checkView->setColumnWidth(0, 150);
    m_checkView->setColumnWidth(1, 90);

    m_fingerprint = makeMessageLabel(QStringLiteral("fingerprintLabel"), this);
    m_fingerprint->hide();
    m_verified = new QCheckBox(tr("I have &verified this fingerprint with the host's administrator"), this);
    m_verified->setObjectName(QStringLiteral("verifyFingerprint"));
    m_verified->setToolTip(tr("Tick only when the fingerprint above equals the one the host itself shows."));
    m_verified->hide();
    m_trust = makeButton(tr("Trust the key and test &again"), QStringLiteral("trustButton"),
                         tr("Adds the host key to known_hosts and runs the test again"), this);
    m_trust->hide();
    m_message = makeMessageLabel(QStringLiteral("hostMessage"), this);

    auto* remoteForm = new QFormLayout;
    remoteForm->addRow(tr("&User:"), m_user);
    remoteForm->addRow(tr("H&ost:"), m_host);
    remoteForm->addRow(tr("&Port:"), m_port);
    auto* keyRow = new QHBoxLayout;
    keyRow->addWidget(m_key, 1);
    keyRow->addWidget(m_browseKey);
    remoteForm->addRow(buddyLabel(tr("&Key:"), m_key), keyRow);
    auto* keychainRow = new QHBoxLayout;
    keychainRow->addWidget(m_generateKey);
    keychainRow->addWidget(m_importKey);
    keychainRow->addWidget(m_forgetKey);
    keychainRow->addStretch(1);
    remoteForm->addRow(tr("Keychain key:"), keychainRow);
    remoteForm->addRow(m_loginKeyLabel);
    auto* publicRow = new QHBoxLayout;
    publicRow->addWidget(m_publicKey, 1);
    publicRow->addWidget(m_copyPublicKey);
    remoteForm->addRow(publicRow);
    auto* remoteBox = new QWidget(this);
    remoteBox->setObjectName(QStringLiteral("remoteFields"));
    remoteBox->setLayout(remoteForm);

    auto* nameForm = new QFormLayout;
    nameForm->addRow(tr("&Name in Fluid:"), m_name);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_test);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_progress, 1);
    auto* trustRow = new QHBoxLayout;
    trustRow->addWidget(m_verified, 1);
    trustRow->addWidget(m_trust);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_local);
    layout->addWidget(m_localUri);
    layout->addWidget(m_remote);
    layout->addWidget(remoteBox);
    layout->addLayout(nameForm);
    layout->addLayout(buttons);
    layout->addWidget(m_checkView, 1);
    layout->addWidget(m_fingerprint);
    layout->addLayout(trustRow);
    layout->addWidget(m_message);

    refreshKeys();
    for (QLineEdit* edit : {m_localUri, m_user, m_host})
        connect(edit, &QLineEdit::textChanged, this, &HostPage::fieldsChanged);
    connect(m_key, &QComboBox::currentTextChanged, this, &HostPage::fieldsChanged);
    connect(m_port, qOverload<int>(&QSpinBox::valueChanged), this, &HostPage::fieldsChanged);
    connect(m_name, &QLineEdit::textChanged, this, &HostPage::updateState);
    connect(m_name, &QLineEdit::textEdited, this, [this]() { m_name->setProperty("edited", true); });
    connect(m_local, &QRadioButton::toggled, this, &HostPage::fieldsChanged);
    connect(m_browseKey, &QPushButton::clicked, this, [this]() {
        const QString file = m_wizard->askForFile(this, tr("Choose an SSH private key"),
                                                  keyFolder(m_wizard->environment()), tr("All files (*)"));
        if (!file.isEmpty())
            m_key->setCurrentText(file);
    });
    connect(m_generateKey, &QPushButton::clicked, this, &HostPage::generateKey);
    connect(m_importKey, &QPushButton::clicked, this, &HostPage::importKey);
    connect(m_forgetKey, &QPushButton::clicked, this, &HostPage::forgetKey);
    connect(m_copyPublicKey, &QPushButton::clicked, this,
            [this]() { QApplication::clipboard()->setText(m_publicKey->text()); });
    connect(m_test, &QPushButton::clicked, this, &HostPage::startTest);
    connect(m_cancel, &QPushButton::clicked, this, &HostPage::cancelTest);
    connect(m_verified, &QCheckBox::toggled, this, &HostPage::updateState);
    connect(m_trust, &QPushButton::clicked, this, &HostPage::trustAndRetest);
    showLoginKey();
    fieldsChanged();
}

HostPage::~HostPage()
{
    if (m_cancelFlag)
        m_cancelFlag->store(true);
}

void HostPage::refreshKeys()
{
    const QString dir = keyFolder(m_wizard->environment());
    m_key->clear();
    m_key->addItem(QString());
    // A private key is a file with a .pub beside it: that is how ssh-keygen leaves them.
    const QFileInfoList files = QDir(dir).entryInfoList(QDir::Files, QDir::Name);
    for (const QFileInfo& f : files) {
        if (f.suffix() != QLatin1String("pub") &&
            QFileInfo::exists(f.absoluteFilePath() + QStringLiteral(".pub")))
            m_key->addItem(f.absoluteFilePath());
    }
}

QString HostPage::currentUri() const
{
    if (m_local->isChecked())
        return m_localUri->text().trimmed();
    return services::sshHypervisorUri(m_user->text().trimmed(), m_host->text().trimmed(), m_port->value(),
                                     m_loginKey ? QString() : m_key->currentText().trimmed());
}

QString HostPage::currentKeyIdentity() const
{
    return m_loginKey && !m_local->isChecked() ? m_loginKey->fingerprint : QString();
}

void HostPage::generateKey()
{
    const QString comment = QStringLiteral("fluid@%1").arg(hostNameFrom(QSysInfo::machineHostName()));
    takeKey([comment]() { return ssh::generateLoginKey(comment); });
}

void HostPage::importKey()
{
    const QString file = m_wizard->askForFile(this, tr("Choose the private key to keep in Fluid's keychain"),
                                              keyFolder(m_wizard->environment()), tr("All files (*)"));
    if (file.isEmpty())
        return;
    const auto read = [file](const QString& passphrase) -> Result<ssh::LoginKey> {
        auto text = ssh::readPrivateKeyFile(file);
        if (!text)
            return text.error();
        auto key = ssh::parseLoginKey(*text, passphrase);
        text->fill('\0');
        return key;
    };
    takeKey([read]() { return read(QString()); },
            [this, read, file](const Error& error) {
                if (error.code != ErrorCode::Refused)
                    return;
                const std::optional<QString> passphrase =
                    m_wizard->askForPassphrase(this, tr("The passphrase of %1:").arg(file));
                if (passphrase && !passphrase->isEmpty())
                    takeKey([read, passphrase = *passphrase]() { return read(passphrase); });
            });
}

void HostPage::forgetKey()
{
    m_loginKey.reset();
    showLoginKey();
    fieldsChanged();
}

void HostPage::takeKey(std::function<Result<ssh::LoginKey>()> make, std::function<void(const Error&)> onError)
{
    if (m_keyBusy)
        return;
    m_keyBusy = true;
    m_loginKeyLabel->setText(tr("Preparing the key…"));
    auto* watcher = new QFutureWatcher<Result<ssh::LoginKey>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, onError]() {
        watcher->deleteLater();
        m_keyBusy = false;
        const Result<ssh::LoginKey> key = watcher->result();
        if (key) {
            m_loginKey = *key;
            showLoginKey();
        } else {
            showLoginKey();
            m_loginKeyLabel->setText(tr("No key was taken: %1").arg(key.error().message));
            if (onError)
                onError(key.error());
        }
        fieldsChanged();
    });
    watcher->setFuture(runOnWorker<Result<ssh::LoginKey>>(
        [make = std::move(make)](QPromise<Result<ssh::LoginKey>>& p) { p.addResult(make()); }));
}

void HostPage::showLoginKey()
{
    const bool has = m_loginKey.has_value();
    m_forgetKey->setVisible(has);
    m_publicKey->setVisible(has);
    m_copyPublicKey->setVisible(has);
    m_publicKey->setText(has ? m_loginKey->publicKeyLine : QString());
    m_loginKeyLabel->setText(
        has ? tr("Fluid logs in with a %1 key kept in its keychain (%2). Add the line below to "
                 "~/.ssh/authorized_keys of the SSH user on the host, then test the connection. The key "
                 "is stored at Finish and reaches ssh only in memory.")
                  .arg(m_loginKey->type, m_loginKey->fingerprint)
            : tr("Or keep the login key in Fluid's keychain instead of a file: generate a new one, or import "
                 "one."));
}

QString HostPage::hostName() const
{
    return m_name->text().trimmed();
}

void HostPage::fieldsChanged()
{
    const bool local = m_local->isChecked();
    m_localUri->setEnabled(local);
    for (QWidget* w : std::initializer_list<QWidget*>{m_user, m_host, m_port, m_generateKey, m_importKey,
                                                      m_forgetKey, m_publicKey, m_copyPublicKey})
        w->setEnabled(!local);
    for (QWidget* w : std::initializer_list<QWidget*>{m_key, m_browseKey})
        w->setEnabled(!local && !m_loginKey);
    if (!m_name->property("edited").toBool()) {
        const QString suggested = local ? QStringLiteral("local") : hostNameFrom(m_host->text());
        if (!suggested.isEmpty())
            m_name->setText(suggested);
    }
    updateState();
}

void HostPage::addCheckRow(const services::HostCheck& check)
{
    auto* title = new QStandardItem(statusIcon(this, check.status), check.title);
    auto* status = new QStandardItem(statusText(check.status));
    auto* detail = new QStandardItem(check.detail);
    detail->setToolTip(check.detail);
    title->setToolTip(check.detail);
    m_checks->appendRow({title, status, detail});
}

void HostPage::startTest()
{
    if (m_running)
        return;
    m_checks->removeRows(0, m_checks->rowCount());
    m_report.reset();
    m_pendingFingerprint.clear();
    m_fingerprint->hide();
    m_verified->setChecked(false);
    m_verified->hide();
    m_trust->hide();
    m_testedUri = currentUri();
    m_testedKey = currentKeyIdentity();
    m_running = true;
    m_cancelFlag = std::make_shared<std::atomic<bool>>(false);

    services::HostProbeRequest request;
    request.uri = m_testedUri;
    request.knownHostsFile = m_wizard->environment().knownHostsFile;
    if (!m_local->isChecked() && m_loginKey)
        request.loginKey = m_loginKey->privateKey;
    else if (!m_local->isChecked())
        request.keyFile = m_key->currentText().trimmed();
    const services::HypervisorConnector connector = m_wizard->environment().connect;
    const std::shared_ptr<std::atomic<bool>> flag = m_cancelFlag;

    if (m_watcher)
        m_watcher->deleteLater();
    m_watcher = new QFutureWatcher<ProbeEvent>(this);
    connect(m_watcher, &QFutureWatcherBase::resultReadyAt, this, &HostPage::onEvent);
    connect(m_watcher, &QFutureWatcherBase::finished, this, &HostPage::onFinished);
    m_watcher->setFuture(runOnWorker<ProbeEvent>([request, connector, flag](QPromise<ProbeEvent>& promise) {
        services::HostProbeReport report = services::probeHost(
            request, connector,
            [&promise](const services::HostCheck& check) {
                promise.addResult(ProbeEvent{check, std::nullopt});
            },
            flag.get());
        promise.addResult(ProbeEvent{std::nullopt, std::move(report)});
    }));
    updateState();
}

void HostPage::cancelTest()
{
    if (!m_running)
        return;
    m_cancelFlag->store(true);
    // The blocking step finishes on its worker by itself; its result is dropped with the watcher.
    m_watcher->disconnect(this);
    m_watcher->deleteLater();
    m_watcher = nullptr;
    m_running = false;
    addCheckRow({tr("Stopped"), services::HostCheck::Status::Warning,
                 tr("The test was stopped before it finished. Test again to continue.")});
    updateState();
}

void HostPage::onEvent(int index)
{
    const ProbeEvent event = m_watcher->resultAt(index);
    if (event.step)
        addCheckRow(*event.step);
    if (event.report) {
        m_report = event.report;
        if (!m_report->unknownFingerprint.isEmpty()) {
            m_pendingFingerprint = m_report->unknownFingerprint;
            m_fingerprint->setText(
                tr("<b>Unknown host key.</b> The host presents the key with fingerprint<br><tt>%1</tt><br>"
                   "Compare it with the host's own fingerprint (on the host: <tt>ssh-keygen -lf "
                   "/etc/ssh/ssh_host_ed25519_key.pub</tt>). Continue only if they are equal.")
                    .arg(m_pendingFingerprint.toHtmlEscaped()));
            m_fingerprint->setProperty("fingerprint", m_pendingFingerprint);
            m_fingerprint->show();
            m_verified->show();
            m_trust->show();
        }
    }
}

void HostPage::onFinished()
{
    m_running = false;
    m_checkView->resizeColumnToContents(0);
    m_checkView->resizeColumnToContents(1);
    updateState();
}

void HostPage::trustAndRetest()
{
    if (!m_verified->isChecked() || m_pendingFingerprint.isEmpty() || m_running)
        return;
    const QString uri = m_testedUri;
    const QString fingerprint = m_pendingFingerprint;
    const QString knownHosts = m_wizard->environment().knownHostsFile;
    auto* watcher = new QFutureWatcher<Result<QString>>(this);
    m_trust->setEnabled(false);
    m_message->setText(tr("Adding the host key to known_hosts…"));
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher]() {
        watcher->deleteLater();
        const Result<QString> trusted = watcher->result();
        if (!trusted) {
            m_message->setText(tr("The host key could not be trusted: %1").arg(trusted.error().toString()));
            m_trust->setEnabled(true);
            return;
        }
        startTest();
    });
    watcher->setFuture(
        runOnWorker<Result<QString>>([uri, fingerprint, knownHosts](QPromise<Result<QString>>& p) {
            p.addResult(services::trustHypervisorHost(uri, fingerprint, knownHosts));
        }));
}

bool HostPage::isComplete() const
{
    if (m_running || !m_report || !m_report->ok() || m_testedUri != currentUri() ||
        m_testedKey != currentKeyIdentity())
        return false;
    return config::detail::checkText(config::detail::TextRule::HostName, hostName()).isEmpty();
}

void HostPage::updateState()
{
    m_test->setEnabled(!m_running && !currentUri().isEmpty());
    m_cancel->setEnabled(m_running);
    m_progress->setVisible(m_running);
    m_trust->setEnabled(!m_running && m_verified->isChecked());
    const QString nameProblem = config::detail::checkText(config::detail::TextRule::HostName, hostName());
    QString text;
    if (m_running)
        text = tr("Testing %1…").arg(m_testedUri);
    else if (!nameProblem.isEmpty())
        text = tr("The name %1 (found \"%2\").").arg(nameProblem, hostName());
    else if (!m_report || m_testedUri != currentUri() || m_testedKey != currentKeyIdentity())
        text = tr("Test the connection to continue.");
    else if (!m_pendingFingerprint.isEmpty())
        text = m_verified->isChecked()
                   ? tr("Press \"Trust the key and test again\" to add the key to known_hosts.")
                   : tr("Confirm the host key's fingerprint to continue: compare it, tick the box, then "
                        "trust it.");
    else if (!m_report->ok())
        text = tr("The test failed; the results above say what to do. Fix it and test again, or choose "
                  "another host.");
    else
        text = tr("The host is ready. Press Next.");
    m_message->setText(text);
    Q_EMIT completeChanged();
}

// ---------------------------------------------------------------------------------------------- CaPage

CaPage::CaPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("caPage"));
    setTitle(tr("Fluid's SSH certificate authority"));
    setSubTitle(tr("Fluid logs in to sandboxes with short-lived certificates from its own CA. The CA's "
                   "private keys are kept in your keychain, never in a file Fluid writes."));
    m_create = new QRadioButton(tr("&Create a new CA (or reuse the one already in the keychain)"), this);
    m_create->setObjectName(QStringLiteral("caCreate"));
    m_create->setChecked(true);
    m_import = new QRadioButton(tr("&Import existing CA private keys"), this);
    m_import->setObjectName(QStringLiteral("caImport"));
    m_userFile = new QLineEdit(this);
    m_userFile->setObjectName(QStringLiteral("userCaFile"));
    m_userFile->setAccessibleName(tr("User CA private key file"));
    m_userFile->setToolTip(tr("An unencrypted Ed25519 OpenSSH private key that signs user certificates."));
    m_hostFile = new QLineEdit(this);
    m_hostFile->setObjectName(QStringLiteral("hostCaFile"));
    m_hostFile->setAccessibleName(tr("Host CA private key file"));
    m_hostFile->setToolTip(tr("An unencrypted Ed25519 OpenSSH private key that signs sandbox host keys."));
    m_browseUser =
        makeButton(tr("Browse…"), QStringLiteral("browseUserCa"), tr("Choose the user CA key"), this);
    m_browseHost =
        makeButton(tr("Browse…"), QStringLiteral("browseHostCa"), tr("Choose the host CA key"), this);
    m_run = makeButton(tr("Create &CA"), QStringLiteral("caRunButton"),
                       tr("Stores the CA keys in the keychain and shows their public keys"), this);
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("caProgress"));
    m_progress->setRange(0, 0);
    m_progress->setTextVisible(false);
    m_progress->hide();
    m_publicKeys = new QPlainTextEdit(this);
    m_publicKeys->setObjectName(QStringLiteral("caPublicKeys"));
    m_publicKeys->setReadOnly(true);
    m_publicKeys->setAccessibleName(tr("CA public keys"));
    m_publicKeys->setPlaceholderText(tr("The CA's public keys appear here."));
    m_copy =
        makeButton(tr("Co&py public keys"), QStringLiteral("caCopy"), tr("Copies the lines above"), this);
    m_copy->setEnabled(false);
    m_message = makeMessageLabel(QStringLiteral("caMessage"), this);

    auto* form = new QFormLayout;
    auto* userRow = new QHBoxLayout;
    userRow->addWidget(m_userFile, 1);
    userRow->addWidget(m_browseUser);
    auto* hostRow = new QHBoxLayout;
    hostRow->addWidget(m_hostFile, 1);
    hostRow->addWidget(m_browseHost);
    form->addRow(buddyLabel(tr("&User CA key:"), m_userFile), userRow);
    form->addRow(buddyLabel(tr("&Host CA key:"), m_hostFile), hostRow);
    auto* runRow = new QHBoxLayout;
    runRow->addWidget(m_run);
    runRow->addWidget(m_progress, 1);
    runRow->addStretch();
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_create);
    layout->addWidget(m_import);
    layout->addLayout(form);
    layout->addLayout(runRow);
    layout->addWidget(m_publicKeys, 1);
    layout->addWidget(m_copy, 0, Qt::AlignLeft);
    layout->addWidget(m_message);

    const auto browse = [this](QLineEdit* target, const QString& title) {
        const QString file = m_wizard->askForFile(this, title, QDir::homePath(), tr("All files (*)"));
        if (!file.isEmpty())
            target->setText(file);
    };
    connect(m_browseUser, &QPushButton::clicked, this,
            [this, browse]() { browse(m_userFile, tr("Choose the user CA private key")); });
    connect(m_browseHost, &QPushButton::clicked, this,
            [this, browse]() { browse(m_hostFile, tr("Choose the host CA private key")); });
    connect(m_create, &QRadioButton::toggled, this, &CaPage::updateState);
    connect(m_userFile, &QLineEdit::textChanged, this, &CaPage::updateState);
    connect(m_hostFile, &QLineEdit::textChanged, this, &CaPage::updateState);
    connect(m_run, &QPushButton::clicked, this, &CaPage::run);
    connect(m_copy, &QPushButton::clicked, this,
            [this]() { QGuiApplication::clipboard()->setText(m_publicKeys->toPlainText()); });
    updateState();
}

CaPage::~CaPage() = default;

void CaPage::run()
{
    if (m_watcher)
        return;
    const secrets::SecretStoreOptions options = m_wizard->environment().secretStore;
    const bool create = m_create->isChecked();
    const QString userFile = m_userFile->text().trimmed();
    const QString hostFile = m_hostFile->text().trimmed();
    m_watcher = new QFutureWatcher<Result<services::CaSummary>>(this);
    connect(m_watcher, &QFutureWatcherBase::finished, this, [this]() {
        const Result<services::CaSummary> result = m_watcher->result();
        m_watcher->deleteLater();
        m_watcher = nullptr;
        if (!result) {
            m_message->setText(tr("The CA could not be stored: %1").arg(result.error().toString()));
        } else {
            m_summary = *result;
            m_publicKeys->setPlainText(
                tr("# User CA (%1): each sandbox's sshd trusts it (TrustedUserCAKeys)\n%2\n\n"
                   "# Host CA (%3): add to known_hosts to reach sandboxes with your own ssh\n%4\n")
                    .arg(result->userCaFingerprint, result->userCaLine, result->hostCaFingerprint,
                         result->hostCaLine));
            m_message->setText(tr("The CA keys are in the %1. Press Next.")
                                   .arg(m_wizard->environment().secretStore.backend ==
                                                secrets::SecretStoreOptions::Backend::Keychain
                                            ? tr("keychain")
                                            : tr("encrypted secrets file")));
        }
        updateState();
    });
    m_message->setText(tr("Storing the CA keys…"));
    m_watcher->setFuture(runOnWorker<Result<services::CaSummary>>(
        [options, create, userFile, hostFile](QPromise<Result<services::CaSummary>>& p) {
            auto store = secrets::openSecretStore(options);
            if (!store) {
                p.addResult(store.error());
                return;
            }
            p.addResult(create ? services::createCa(**store) : services::importCa(**store, userFile, hostFile));
        }));
    updateState();
}

bool CaPage::isComplete() const
{
    return m_summary.has_value() && !m_watcher;
}

void CaPage::updateState()
{
    const bool importing = m_import->isChecked();
    for (QWidget* w : std::initializer_list<QWidget*>{m_userFile, m_hostFile, m_browseUser, m_browseHost})
        w->setEnabled(importing && !m_watcher);
    m_run->setText(importing ? tr("&Import CA") : tr("Create &CA"));
    m_run->setEnabled(!m_watcher && (!importing || (!m_userFile->text().trimmed().isEmpty() &&
                                                    !m_hostFile->text().trimmed().isEmpty())));
    m_progress->setVisible(m_watcher != nullptr);
    m_copy->setEnabled(m_summary.has_value());
    if (!m_summary && !m_watcher && m_message->text().isEmpty())
        m_message->setText(importing ? tr("Choose both key files, then press Import CA.")
                                     : tr("Press Create CA to continue."));
    Q_EMIT completeChanged();
}

// ---------------------------------------------------------------------------------------------- GoldenPage

GoldenPage::GoldenPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("goldenPage"));
    setTitle(tr("The golden VM"));
    setSubTitle(tr("Every sandbox is a copy-on-write clone of a shut-off VM on the host. Choose one, or "
                   "build Fluid's Debian 12 golden image."));
    m_useExisting = new QRadioButton(tr("&Clone an existing VM of the host"), this);
    m_useExisting->setObjectName(QStringLiteral("useExistingVm"));
    m_useExisting->setChecked(true);
    m_sources = new QStandardItemModel(0, 4, this);
    m_sources->setHorizontalHeaderLabels({tr("VM"), tr("State"), tr("Size"), tr("Can be cloned")});
    m_sourceView = new QTreeView(this);
    m_sourceView->setObjectName(QStringLiteral("sourceList"));
    m_sourceView->setAccessibleName(tr("Source VMs of the host"));
    m_sourceView->setModel(m_sources);
    m_sourceView->setRootIsDecorated(false);
    m_sourceView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_sourceView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_sourceView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_sourceView->header()->setStretchLastSection(true);
    m_build = new QRadioButton(tr("&Build the Debian golden image (needs an apt mirror)"), this);
    m_build->setObjectName(QStringLiteral("buildGolden"));
    m_buildButton = makeButton(tr("&Build image"), QStringLiteral("buildButton"),
                               tr("Runs golden-image.sh build and defines the image on the host"), this);
    m_cancelBuild = makeButton(tr("Ca&ncel build"), QStringLiteral("cancelBuildButton"),
                               tr("Stops the build (its whole process group)"), this);
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("buildProgress"));
    m_progress->setRange(0, 100);
    m_progress->setValue(0);
    m_progress->setAccessibleName(tr("Build progress"));
    m_log = new QPlainTextEdit(this);
    m_log->setObjectName(QStringLiteral("buildLog"));
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(500);
    m_log->setAccessibleName(tr("Build output"));
    m_message = makeMessageLabel(QStringLiteral("goldenMessage"), this);

    auto* buildRow = new QHBoxLayout;
    buildRow->addWidget(m_buildButton);
    buildRow->addWidget(m_cancelBuild);
    buildRow->addWidget(m_progress, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_useExisting);
    layout->addWidget(m_sourceView, 2);
    layout->addWidget(m_build);
    layout->addLayout(buildRow);
    layout->addWidget(m_log, 1);
    layout->addWidget(m_message);

    connect(m_useExisting, &QRadioButton::toggled, this, &GoldenPage::updateState);
    connect(m_sourceView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &GoldenPage::updateState);
    connect(m_buildButton, &QPushButton::clicked, this, &GoldenPage::startBuild);
    connect(m_cancelBuild, &QPushButton::clicked, this, &GoldenPage::cancelBuild);
}

GoldenPage::~GoldenPage()
{
    if (m_process && m_process->state() != QProcess::NotRunning) {
        m_process->disconnect(this);
        signalGroup(m_process->processId(), SIGKILL);
        m_process->waitForFinished(3000);
    }
}

void GoldenPage::initializePage()
{
    const auto& report = m_wizard->hostPage()->report();
    if (fillSources(report ? report->sources : QList<services::SourceVmRow>()) == 0)
        m_build->setChecked(true);
    updateState();
}

int GoldenPage::fillSources(const QList<services::SourceVmRow>& rows)
{
    m_sources->removeRows(0, m_sources->rowCount());
    int cloneable = 0;
    for (const services::SourceVmRow& row : rows) {
        auto* name = new QStandardItem(row.name);
        auto* state = new QStandardItem(row.state);
        auto* size = new QStandardItem(tr("%1 vCPU, %2 MiB").arg(row.vcpus).arg(row.memoryMib));
        auto* verdict =
            new QStandardItem(row.refusal.isEmpty() ? (row.warning.isEmpty() ? tr("Yes") : row.warning)
                                                    : tr("No: %1").arg(row.refusal));
        const QString tip = row.refusal.isEmpty() ? row.warning : row.refusal;
        for (QStandardItem* item : {name, state, size, verdict}) {
            item->setToolTip(tip);
            if (!row.refusal.isEmpty())
                item->setFlags(item->flags() & ~(Qt::ItemIsSelectable | Qt::ItemIsEnabled));
        }
        m_sources->appendRow({name, state, size, verdict});
        cloneable += row.refusal.isEmpty() ? 1 : 0;
    }
    m_sourceView->resizeColumnToContents(0);
    m_sourceView->resizeColumnToContents(1);
    m_sourceView->resizeColumnToContents(2);
    return cloneable;
}

void GoldenPage::cleanupPage()
{
    // Going back keeps a running build: the person may only be checking the host page.
}

QString GoldenPage::chosenSource() const
{
    if (!m_useExisting->isChecked())
        return m_built ? m_builtVm : QString();
    const QModelIndexList rows = m_sourceView->selectionModel()->selectedRows(0);
    return rows.isEmpty() ? QString() : rows.first().data().toString();
}

qint64 GoldenPage::buildPid() const
{
    return m_process && m_process->state() != QProcess::NotRunning ? m_process->processId() : 0;
}

void GoldenPage::startBuild()
{
    if (buildPid() != 0)
        return;
    auto script = services::findGoldenImageScript(m_wizard->environment().exeDir);
    if (!script) {
        m_message->setText(tr("The golden image cannot be built here: %1 Choose an existing VM instead.")
                               .arg(script.error().message));
        return;
    }
    m_built = false;
    m_cancelled = false;
    m_definedVm.clear();
    m_builtVm.clear();
    m_partialLine.clear();
    m_log->clear();
    m_progress->setValue(0);
    if (m_process)
        m_process->deleteLater();
    m_process = new QProcess(this);
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    // Its own session and process group, so Cancel stops debootstrap and everything else it started.
    m_process->setChildProcessModifier([]() { ::setsid(); });
    connect(m_process, &QProcess::readyReadStandardOutput, this, &GoldenPage::onOutput);
    connect(m_process, &QProcess::finished, this, &GoldenPage::onBuildFinished);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart) {
            m_message->setText(
                tr("The build could not start: %1. Is bash installed?").arg(m_process->errorString()));
            updateState();
        }
    });
    m_process->start(
        QStringLiteral("bash"),
        services::goldenImageBuildArguments(*script, QStringLiteral("fwcfg"), m_wizard->chosenHost().uri));
    m_message->setText(tr("Building the golden image (this downloads Debian packages and takes minutes)…"));
    updateState();
}

void GoldenPage::cancelBuild()
{
    const qint64 pid = buildPid();
    if (pid == 0)
        return;
    m_cancelled = true;
    signalGroup(pid, SIGTERM);
    QPointer<QProcess> process = m_process;
    QTimer::singleShot(3000, this, [process, pid]() {
        if (process && process->state() != QProcess::NotRunning && process->processId() == pid)
            signalGroup(pid, SIGKILL);
    });
    m_message->setText(tr("Stopping the build…"));
}

void GoldenPage::onOutput()
{
    m_partialLine += m_process->readAllStandardOutput();
    qsizetype newline;
    while ((newline = m_partialLine.indexOf('\n')) >= 0) {
        const QString line = QString::fromUtf8(m_partialLine.left(newline));
        m_partialLine.remove(0, newline + 1);
        m_log->appendPlainText(line);
        if (auto progress = services::parseGoldenImageProgress(line)) {
            m_progress->setValue(progress->first);
            m_progress->setFormat(QStringLiteral("%p% ") + progress->second);
        }
        if (auto defined = services::parseGoldenImageDefined(line))
            m_definedVm = *defined;
    }
}

void GoldenPage::onBuildFinished(int exitCode, QProcess::ExitStatus status)
{
    onOutput();
    if (m_cancelled) {
        m_message->setText(tr("The build was cancelled. Build again or choose an existing VM."));
    } else if (status == QProcess::NormalExit && exitCode == 0) {
        m_built = true;
        m_progress->setValue(100);
        if (m_definedVm.isEmpty())
            m_message->setText(
                tr("The golden image is built, but the build did not say which VM it defined on "
                   "the host, so none is chosen. Build again, or choose an existing VM."));
        else
            chooseBuiltVm(m_definedVm);
    } else {
        m_message->setText(
            tr("The build failed (exit code %1). It downloads Debian packages, so it needs an apt mirror: "
               "set FLUID_DEBIAN_MIRROR to a mirror this machine can reach and build again, or choose an "
               "existing VM. Its output above says which step failed.")
                .arg(status == QProcess::NormalExit ? exitCode : -1));
    }
    updateState();
}

void GoldenPage::chooseBuiltVm(const QString& name)
{
    m_message->setText(tr("The golden image is built; looking for %1 on the host…").arg(name));
    const QString uri = m_wizard->chosenHost().uri;
    const QString knownHosts = m_wizard->environment().knownHostsFile;
    const services::HypervisorConnector connector = m_wizard->environment().connect;
    using Rows = Result<QList<services::SourceVmRow>>;
    m_listing = new QFutureWatcher<Rows>(this);
    connect(m_listing, &QFutureWatcherBase::finished, this, [this, name]() {
        const Rows rows = m_listing->result();
        m_listing->deleteLater();
        m_listing = nullptr;
        onBuiltVmListed(name, rows);
    });
    m_listing->setFuture(runOnWorker<Rows>([uri, knownHosts, connector](QPromise<Rows>& p) {
        p.addResult(services::listSourceVms(uri, knownHosts, connector));
    }));
    updateState();
}

void GoldenPage::onBuiltVmListed(const QString& name, const Result<QList<services::SourceVmRow>>& rows)
{
    if (!rows) {
        m_message->setText(
            tr("The golden image is built and defined as %1, but the host's VMs could not be "
               "listed to check it (%2). Build again (the image is cached, so this is quick), or "
               "choose an existing VM.")
                .arg(name, rows.error().message));
        updateState();
        return;
    }
    fillSources(*rows);
    const auto found = std::find_if(rows->cbegin(), rows->cend(),
                                    [&name](const services::SourceVmRow& row) { return row.name == name; });
    if (found == rows->cend()) {
        m_message->setText(
            tr("The golden image is built, but the VM %1 the build defined is not on the host. "
               "Build again, or choose an existing VM.")
                .arg(name));
    } else if (!found->refusal.isEmpty()) {
        m_message->setText(tr("The golden image is built and defined as %1, but it cannot be cloned: %2")
                               .arg(name, found->refusal));
    } else {
        m_builtVm = name;
        m_sourceView->selectionModel()->select(m_sources->index(int(found - rows->cbegin()), 0),
                                               QItemSelectionModel::ClearAndSelect |
                                                   QItemSelectionModel::Rows);
    }
    updateState();
}

bool GoldenPage::isComplete() const
{
    if (buildPid() != 0 || m_listing)
        return false;
    return !chosenSource().isEmpty();
}

void GoldenPage::updateState()
{
    const bool building = buildPid() != 0 || m_listing;
    m_sourceView->setEnabled(m_useExisting->isChecked() && !building);
    m_buildButton->setEnabled(m_build->isChecked() && !building);
    m_cancelBuild->setEnabled(buildPid() != 0);
    m_useExisting->setEnabled(!building);
    if (!building && m_build->isChecked() && !m_builtVm.isEmpty())
        m_message->setText(
            tr("The golden image is built and defined on the host as %1: sandboxes will be cloned "
               "from it. Press Next.")
                .arg(m_builtVm));
    if (!building && m_useExisting->isChecked())
        m_message->setText(
            chosenSource().isEmpty()
                ? tr("Select a VM that can be cloned (shut off, with a disk Fluid can overlay).")
                : tr("Sandboxes will be cloned from %1.").arg(chosenSource()));
    Q_EMIT completeChanged();
}

// ---------------------------------------------------------------------------------------------- LlmPage

LlmPage::LlmPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("llmPage"));
    setTitle(tr("The agent's language model"));
    setSubTitle(tr("The API key goes to your keychain (or Fluid's encrypted secrets file, when that is the "
                   "configured backend) when you finish; it is never written to the config."));
    const config::AgentSettings current = wizard->environment().base.agent;
    m_provider = new QComboBox(this);
    m_provider->setObjectName(QStringLiteral("llmProvider"));
    m_provider->setAccessibleName(tr("LLM provider"));
    m_provider->setToolTip(tr("Which API the agent talks to."));
    for (config::AgentProvider p : config::allValues<config::AgentProvider>())
        m_provider->addItem(config::toName(p), QVariant::fromValue(int(p)));
    m_provider->setCurrentText(config::toName(current.provider));
    m_model = new QLineEdit(current.model, this);
    m_model->setObjectName(QStringLiteral("llmModel"));
    m_model->setAccessibleName(tr("Model"));
    m_model->setPlaceholderText(tr("e.g. gpt-4o, claude-sonnet-4, llama3.1"));
    m_model->setToolTip(tr("The model name as the provider spells it."));
    m_endpoint = new QLineEdit(current.endpoint, this);
    m_endpoint->setObjectName(QStringLiteral("llmEndpoint"));
    m_endpoint->setAccessibleName(tr("Endpoint URL"));
    m_endpoint->setPlaceholderText(tr("empty: the provider's default"));
    m_endpoint->setToolTip(tr("An http:// or https:// URL; empty uses the provider's own endpoint."));
    m_endpointError = makeErrorLabel(QStringLiteral("llmEndpointError"), this);
    m_apiKey = new QLineEdit(this);
    m_apiKey->setObjectName(QStringLiteral("llmApiKey"));
    m_apiKey->setEchoMode(QLineEdit::Password);
    m_apiKey->setAccessibleName(tr("API key"));
    m_apiKey->setToolTip(tr("Stored in the keychain at Finish; leave empty to keep the key stored before."));
    m_message = makeMessageLabel(QStringLiteral("llmMessage"), this);

    auto* form = new QFormLayout(this);
    form->addRow(tr("&Provider:"), m_provider);
    form->addRow(tr("&Model:"), m_model);
    form->addRow(tr("&Endpoint:"), m_endpoint);
    form->addRow(QString(), m_endpointError);
    form->addRow(tr("API &key:"), m_apiKey);
    form->addRow(m_message);

    connect(m_provider, &QComboBox::currentIndexChanged, this, &LlmPage::updateState);
    for (QLineEdit* edit : {m_model, m_endpoint, m_apiKey})
        connect(edit, &QLineEdit::textChanged, this, &LlmPage::updateState);
    updateState();
}

LlmPage::~LlmPage() = default;

config::AgentSettings LlmPage::agentSettings() const
{
    config::AgentSettings agent = m_wizard->environment().base.agent;
    agent.provider = config::AgentProvider(m_provider->currentData().toInt());
    agent.model = m_model->text().trimmed();
    agent.endpoint = m_endpoint->text().trimmed();
    return agent;
}

QString LlmPage::apiKey() const
{
    return m_apiKey->text().trimmed();
}

bool LlmPage::isComplete() const
{
    return !agentSettings().model.isEmpty() &&
           config::detail::checkText(config::detail::TextRule::HttpUrlOrEmpty, agentSettings().endpoint)
               .isEmpty() &&
           config::detail::checkText(config::detail::TextRule::FreeText, agentSettings().model).isEmpty();
}

void LlmPage::updateState()
{
    const QString endpointProblem =
        config::detail::checkText(config::detail::TextRule::HttpUrlOrEmpty, m_endpoint->text().trimmed());
    m_endpointError->setText(endpointProblem.isEmpty() ? QString()
                                                       : tr("The endpoint %1.").arg(endpointProblem));
    m_endpointError->setVisible(!endpointProblem.isEmpty());
    const config::AgentProvider provider = config::AgentProvider(m_provider->currentData().toInt());
    const bool local = provider == config::AgentProvider::Ollama || provider == config::AgentProvider::Vllm;
    QString text;
    if (m_model->text().trimmed().isEmpty())
        text = tr("Enter the model the agent should use.");
    else if (!endpointProblem.isEmpty())
        text = tr("Fix the endpoint to continue.");
    else if (apiKey().isEmpty() && !local)
        text = tr("No API key entered: a key stored before under %1 is kept; without one the agent cannot "
                  "start.")
                   .arg(secrets::keys::llmApiKey(config::toName(provider)));
    m_message->setText(text);
    Q_EMIT completeChanged();
}

// ---------------------------------------------------------------------------------------------- SummaryPage

SummaryPage::SummaryPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("summaryPage"));
    setTitle(tr("Summary"));
    setSubTitle(tr("Finish writes these settings. Cancel writes nothing."));
    setFinalPage(true);
    m_summary = new QPlainTextEdit(this);
    m_summary->setObjectName(QStringLiteral("summaryText"));
    m_summary->setReadOnly(true);
    m_summary->setAccessibleName(tr("Settings to be written"));
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("writeProgress"));
    m_progress->setRange(0, 0);
    m_progress->setTextVisible(false);
    m_progress->hide();
    m_message = makeMessageLabel(QStringLiteral("summaryMessage"), this);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary, 1);
    layout->addWidget(m_progress);
    layout->addWidget(m_message);
}

SummaryPage::~SummaryPage() = default;

void SummaryPage::initializePage()
{
    const config::Settings settings = m_wizard->resultSettings();
    const config::HostSettings host = m_wizard->chosenHost();
    const auto ca = m_wizard->caPage()->summary();
    const QString source = m_wizard->chosenSourceVm();
    const QString key = m_wizard->llmPage()->apiKey();
    QStringList lines;
    lines << tr("Config file: %1").arg(m_wizard->environment().configPath);
    lines << tr("Host: %1 at %2").arg(host.name, host.uri);
    if (const auto& report = m_wizard->hostPage()->report(); report && report->info)
        lines << tr("      %1 CPUs, %2 MiB, accelerator %3")
                     .arg(report->info->cpus)
                     .arg(report->info->memoryTotalKib / 1024)
                     .arg(virt::acceleratorName(report->info->accelerator));
    lines << tr("All hosts: %1").arg([&settings]() {
        QStringList names;
        for (const config::HostSettings& h : settings.hosts)
            names << h.name;
        return names.join(QStringLiteral(", "));
    }());
    if (ca)
        lines << tr("SSH CA: user %1, host %2 (in the secret store)")
                     .arg(ca->userCaFingerprint, ca->hostCaFingerprint);
    if (source.isEmpty())
        lines << tr("Golden VM: none chosen");
    else if (source == m_wizard->goldenPage()->builtVm())
        lines << tr("Golden VM: %1 (the Debian golden image built on the previous page)").arg(source);
    else
        lines << tr("Golden VM: %1").arg(source);
    lines << tr("LLM: %1, model %2, endpoint %3")
                 .arg(config::toName(settings.agent.provider), settings.agent.model,
                      settings.agent.endpoint.isEmpty() ? tr("(provider default)") : settings.agent.endpoint);
    if (const auto& login = m_wizard->hostPage()->loginKey();
        login && host.login == config::HostLogin::Keychain)
        lines << tr("SSH login key: %1 %2, stored in the secret store as %3")
                     .arg(login->type, login->fingerprint, secrets::keys::hostLoginKey(host.name));
    lines << (key.isEmpty() ? tr("API key: unchanged")
                            : tr("API key: stored in the secret store as %1")
                                  .arg(secrets::keys::llmApiKey(config::toName(settings.agent.provider))));
    m_summary->setPlainText(lines.join(QLatin1Char('\n')));
    m_message->clear();
    if (auto valid = config::validate(settings); !valid)
        m_message->setText(tr("These settings cannot be saved: %1").arg(valid.error().message));
}

bool SummaryPage::isComplete() const
{
    return !m_watcher;
}

bool SummaryPage::validatePage()
{
    if (m_written)
        return true;
    if (m_watcher)
        return false;
    const config::Settings settings = m_wizard->resultSettings();
    const QString path = m_wizard->environment().configPath;
    const secrets::SecretStoreOptions options = m_wizard->environment().secretStore;
    const QString key = m_wizard->llmPage()->apiKey();
    // Secrets first, then the config that refers to them.
    QList<std::pair<QString, QByteArray>> secretsToStore;
    if (!key.isEmpty())
        secretsToStore.append(
            {secrets::keys::llmApiKey(config::toName(settings.agent.provider)), key.toUtf8()});
    if (const auto& login = m_wizard->hostPage()->loginKey(); login) {
        const config::HostSettings host = m_wizard->chosenHost();
        if (host.login == config::HostLogin::Keychain)
            secretsToStore.append({secrets::keys::hostLoginKey(host.name), login->privateKey});
    }
    m_watcher = new QFutureWatcher<Result<void>>(this);
    connect(m_watcher, &QFutureWatcherBase::finished, this, [this, settings, path]() {
        const Result<void> result = m_watcher->result();
        m_watcher->deleteLater();
        m_watcher = nullptr;
        m_progress->hide();
        m_wizard->button(QWizard::CancelButton)->setEnabled(true);
        m_wizard->button(QWizard::BackButton)->setEnabled(true);
        if (!result) {
            m_message->setText(tr("Nothing was finished: %1").arg(result.error().toString()));
            Q_EMIT completeChanged();
            return;
        }
        m_written = true;
        m_message->setText(tr("Written to %1.").arg(path));
        Q_EMIT m_wizard->configWritten(path, settings);
        m_wizard->accept();
    });
    m_progress->show();
    m_message->setText(secretsToStore.isEmpty() ? tr("Writing the config…")
                                                : tr("Storing the keys and writing the config…"));
    // Once the write starts it runs to its end: cancelling half-way would leave a key without a config.
    m_wizard->button(QWizard::CancelButton)->setEnabled(false);
    m_wizard->button(QWizard::BackButton)->setEnabled(false);
    m_watcher->setFuture(
        runOnWorker<Result<void>>([settings, path, options, secretsToStore](QPromise<Result<void>>& p) {
            if (auto valid = config::validate(settings); !valid) {
                p.addResult(valid.error());
                return;
            }
            if (!secretsToStore.isEmpty()) {
                auto store = secrets::openSecretStore(options);
                if (!store) {
                    p.addResult(store.error());
                    return;
                }
                for (const auto& [name, value] : secretsToStore) {
                    if (auto w = (*store)->write(name, value); !w) {
                        p.addResult(w.error());
                        return;
                    }
                }
            }
            p.addResult(config::saveConfig(path, settings));
        }));
    Q_EMIT completeChanged();
    return false;
}

} // namespace fluid::ui

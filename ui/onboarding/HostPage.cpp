// SPDX-License-Identifier: Apache-2.0
#include "HostPage.h"

#include "base/Worker.h"
#include "config/SettingsChecks.h"
#include "LoginKeyChooser.h"
#include "OnboardingWizard.h"
#include "PageWidgets.h"
#include "services/Wiring.h"

#include <QCheckBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QStyle>
#include <QTreeView>
#include <QVBoxLayout>

namespace fluid::ui {

using namespace onboarding;

namespace {

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

} // namespace

HostPage::HostPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("hostPage"));
    setTitle(tr("Where sandboxes run"));
    setSubTitle(tr("Fluid clones sandbox VMs on a libvirt host: this machine or a server reached over SSH."));

    createHostFields();
    createTestWidgets();
    layOut();
    connectSignals();
    fieldsChanged();
}

void HostPage::createHostFields()
{
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
    m_loginKeys = new LoginKeyChooser(
        keyFolder(m_wizard->environment().sshDir),
        [wizard = m_wizard](QWidget* parent, const QString& title, const QString& folder,
                            const QString& filter) {
            return wizard->askForFile(parent, title, folder, filter);
        },
        [wizard = m_wizard](QWidget* parent, const QString& prompt) {
            return wizard->askForPassphrase(parent, prompt);
        },
        this);

    m_name = new QLineEdit(QStringLiteral("local"), this);
    m_name->setObjectName(QStringLiteral("hostName"));
    m_name->setAccessibleName(tr("Host name in Fluid"));
    m_name->setToolTip(tr("How Fluid names this host: lower-case letters, digits and '-', up to 40."));
}

void HostPage::createTestWidgets()
{
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
}

void HostPage::layOut()
{
    auto* remoteForm = new QFormLayout;
    remoteForm->addRow(tr("&User:"), m_user);
    remoteForm->addRow(tr("H&ost:"), m_host);
    remoteForm->addRow(tr("&Port:"), m_port);
    remoteForm->addRow(m_loginKeys);
    m_loginKeys->alignLabelsWith(remoteForm);
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
}

void HostPage::connectSignals()
{
    for (QLineEdit* edit : {m_localUri, m_user, m_host})
        connect(edit, &QLineEdit::textChanged, this, &HostPage::fieldsChanged);
    connect(m_loginKeys, &LoginKeyChooser::changed, this, &HostPage::fieldsChanged);
    connect(m_port, qOverload<int>(&QSpinBox::valueChanged), this, &HostPage::fieldsChanged);
    connect(m_name, &QLineEdit::textChanged, this, &HostPage::updateState);
    connect(m_name, &QLineEdit::textEdited, this, [this]() { m_name->setProperty("edited", true); });
    connect(m_local, &QRadioButton::toggled, this, &HostPage::fieldsChanged);
    connect(m_test, &QPushButton::clicked, this, &HostPage::startTest);
    connect(m_cancel, &QPushButton::clicked, this, &HostPage::cancelTest);
    connect(m_verified, &QCheckBox::toggled, this, &HostPage::updateState);
    connect(m_trust, &QPushButton::clicked, this, &HostPage::trustAndRetest);
}

HostPage::~HostPage()
{
    if (m_cancelFlag)
        m_cancelFlag->store(true);
}

QString HostPage::currentUri() const
{
    if (m_local->isChecked())
        return m_localUri->text().trimmed();
    return services::sshHypervisorUri(m_user->text().trimmed(), m_host->text().trimmed(), m_port->value(),
                                      loginKey() ? QString() : m_loginKeys->keyFile());
}

QString HostPage::currentKeyIdentity() const
{
    return loginKey() && !m_local->isChecked() ? loginKey()->fingerprint : QString();
}

const std::optional<ssh::LoginKey>& HostPage::loginKey() const
{
    return m_loginKeys->loginKey();
}

void HostPage::generateKey()
{
    m_loginKeys->generateKey();
}

void HostPage::importKey()
{
    m_loginKeys->importKey();
}

void HostPage::forgetKey()
{
    m_loginKeys->forgetKey();
}

QString HostPage::hostName() const
{
    return m_name->text().trimmed();
}

void HostPage::fieldsChanged()
{
    const bool local = m_local->isChecked();
    m_localUri->setEnabled(local);
    for (QWidget* w : std::initializer_list<QWidget*>{m_user, m_host, m_port, m_loginKeys})
        w->setEnabled(!local);
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
    if (!m_local->isChecked() && loginKey())
        request.loginKey = loginKey()->privateKey;
    else if (!m_local->isChecked())
        request.keyFile = m_loginKeys->keyFile();
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

} // namespace fluid::ui

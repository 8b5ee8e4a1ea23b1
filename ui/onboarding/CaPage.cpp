// SPDX-License-Identifier: Apache-2.0
#include "CaPage.h"

#include "base/Worker.h"
#include "OnboardingWizard.h"
#include "PageWidgets.h"
#include "secrets/SecretStore.h"

#include <QClipboard>
#include <QDir>
#include <QFormLayout>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

namespace fluid::ui {

using namespace onboarding;

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
                   "# Host CA (%3): add to known_hosts to reach sandboxes with your own ssh. It vouches for\n"
                   "# sandboxes only: connect with -o HostKeyAlias=fluid-sbx-<sandbox id>.\n%4\n")
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
            p.addResult(create ? services::createCa(**store)
                               : services::importCa(**store, userFile, hostFile));
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

} // namespace fluid::ui

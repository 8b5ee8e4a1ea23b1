// SPDX-License-Identifier: Apache-2.0
#include "LoginKeyChooser.h"

#include "base/Worker.h"
#include "PageWidgets.h"

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSysInfo>

namespace fluid::ui {

using namespace onboarding;

LoginKeyChooser::LoginKeyChooser(const QString& keyFolder, FileDialog askForFile,
                                 PassphraseDialog askForPassphrase, QWidget* parent)
    : QWidget(parent)
    , m_keyFolder(keyFolder)
    , m_askForFile(std::move(askForFile))
    , m_askForPassphrase(std::move(askForPassphrase))
{
    setObjectName(QStringLiteral("loginKeyChooser"));
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

    m_form = new QFormLayout(this);
    m_form->setContentsMargins(0, 0, 0, 0);
    auto* keyRow = new QHBoxLayout;
    keyRow->addWidget(m_key, 1);
    keyRow->addWidget(m_browseKey);
    m_form->addRow(buddyLabel(tr("&Key:"), m_key), keyRow);
    auto* keychainRow = new QHBoxLayout;
    keychainRow->addWidget(m_generateKey);
    keychainRow->addWidget(m_importKey);
    keychainRow->addWidget(m_forgetKey);
    keychainRow->addStretch(1);
    m_form->addRow(tr("Keychain key:"), keychainRow);
    m_form->addRow(m_loginKeyLabel);
    auto* publicRow = new QHBoxLayout;
    publicRow->addWidget(m_publicKey, 1);
    publicRow->addWidget(m_copyPublicKey);
    m_form->addRow(publicRow);

    refreshKeys();
    connect(m_key, &QComboBox::currentTextChanged, this, &LoginKeyChooser::changed);
    connect(m_browseKey, &QPushButton::clicked, this, [this]() {
        const QString file =
            m_askForFile(this, tr("Choose an SSH private key"), m_keyFolder, tr("All files (*)"));
        if (!file.isEmpty())
            m_key->setCurrentText(file);
    });
    connect(m_generateKey, &QPushButton::clicked, this, &LoginKeyChooser::generateKey);
    connect(m_importKey, &QPushButton::clicked, this, &LoginKeyChooser::importKey);
    connect(m_forgetKey, &QPushButton::clicked, this, &LoginKeyChooser::forgetKey);
    connect(m_copyPublicKey, &QPushButton::clicked, this,
            [this]() { QApplication::clipboard()->setText(m_publicKey->text()); });
    showLoginKey();
}

LoginKeyChooser::~LoginKeyChooser() = default;

QString LoginKeyChooser::keyFile() const
{
    return m_key->currentText().trimmed();
}

void LoginKeyChooser::alignLabelsWith(QFormLayout* form)
{
    QList<QWidget*> labels;
    int width = 0;
    for (QFormLayout* f : {m_form, form}) {
        for (int row = 0; row < f->rowCount(); ++row) {
            QLayoutItem* item = f->itemAt(row, QFormLayout::LabelRole);
            if (item && item->widget()) {
                labels << item->widget();
                width = qMax(width, item->widget()->sizeHint().width());
            }
        }
    }
    for (QWidget* label : labels)
        label->setMinimumWidth(width);
}

void LoginKeyChooser::refreshKeys()
{
    m_key->clear();
    m_key->addItem(QString());
    // A private key is a file with a .pub beside it: that is how ssh-keygen leaves them.
    const QFileInfoList files = QDir(m_keyFolder).entryInfoList(QDir::Files, QDir::Name);
    for (const QFileInfo& f : files) {
        if (f.suffix() != QLatin1String("pub") &&
            QFileInfo::exists(f.absoluteFilePath() + QStringLiteral(".pub")))
            m_key->addItem(f.absoluteFilePath());
    }
}

void LoginKeyChooser::generateKey()
{
    const QString comment = QStringLiteral("fluid@%1").arg(hostNameFrom(QSysInfo::machineHostName()));
    takeKey([comment]() { return ssh::generateLoginKey(comment); });
}

void LoginKeyChooser::importKey()
{
    const QString file = m_askForFile(this, tr("Choose the private key to keep in Fluid's keychain"),
                                      m_keyFolder, tr("All files (*)"));
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
                    m_askForPassphrase(this, tr("The passphrase of %1:").arg(file));
                if (passphrase && !passphrase->isEmpty())
                    takeKey([read, passphrase = *passphrase]() { return read(passphrase); });
            });
}

void LoginKeyChooser::forgetKey()
{
    m_loginKey.reset();
    showLoginKey();
    Q_EMIT changed();
}

void LoginKeyChooser::takeKey(std::function<Result<ssh::LoginKey>()> make,
                              std::function<void(const Error&)> onError)
{
    if (m_busy)
        return;
    m_busy = true;
    m_loginKeyLabel->setText(tr("Preparing the key…"));
    auto* watcher = new QFutureWatcher<Result<ssh::LoginKey>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, onError]() {
        watcher->deleteLater();
        m_busy = false;
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
        Q_EMIT changed();
    });
    watcher->setFuture(runOnWorker<Result<ssh::LoginKey>>(
        [make = std::move(make)](QPromise<Result<ssh::LoginKey>>& p) { p.addResult(make()); }));
}

void LoginKeyChooser::showLoginKey()
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
    // A keychain key takes the place of the key file: the file fields wait until it is forgotten.
    m_key->setEnabled(!has);
    m_browseKey->setEnabled(!has);
}

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "ssh/LoginKey.h"

#include <QWidget>

#include <functional>
#include <optional>

class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;

namespace fluid::ui {

/// Chooses how Fluid logs in to a remote host over SSH: with ssh's own keys (ssh-agent and the default keys,
/// or a key file picked here), or with a login key kept in Fluid's keychain, generated here or imported from
/// a file, whose public line is shown for the host's authorized_keys. The keychain key stays in memory; its
/// owner stores it. GUI thread; generating and reading a key run on a worker.
class LoginKeyChooser : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LoginKeyChooser)
public:
    /// (parent, title, folder, filter) -> the chosen file, empty when cancelled.
    using FileDialog = std::function<QString(QWidget*, const QString&, const QString&, const QString&)>;
    /// (parent, prompt) -> the passphrase, nullopt when cancelled.
    using PassphraseDialog = std::function<std::optional<QString>(QWidget*, const QString&)>;

    /// Offers the private keys in `keyFolder`; asks for files and passphrases through the two dialogs.
    LoginKeyChooser(const QString& keyFolder, FileDialog askForFile, PassphraseDialog askForPassphrase,
                    QWidget* parent = nullptr);
    ~LoginKeyChooser() override;

    /// The private key file ssh logs in with; empty: ssh-agent and the default keys. Not used while
    /// loginKey() is set.
    QString keyFile() const;
    /// The key generated or imported for the keychain; nullopt when ssh's own keys or a key file are used.
    const std::optional<ssh::LoginKey>& loginKey() const { return m_loginKey; }
    /// True while a key is being generated or read.
    bool isBusy() const { return m_busy; }
    /// Gives the labels of this chooser and of `form` one width, so that their fields line up as in one
    /// form.
    void alignLabelsWith(QFormLayout* form);

public Q_SLOTS:
    /// A new Ed25519 key for the keychain.
    void generateKey();
    /// A private key file read into the keychain (asks for its passphrase when it has one).
    void importKey();
    /// Back to ssh's own keys or a key file.
    void forgetKey();
    /// Lists the private keys of the key folder again.
    void refreshKeys();

Q_SIGNALS:
    /// The key file or the keychain key changed.
    void changed();

private:
    /// Runs `make` on a worker and shows the key it gives, or why there is none.
    void takeKey(std::function<Result<ssh::LoginKey>()> make, std::function<void(const Error&)> onError = {});
    void showLoginKey();

    QString m_keyFolder;
    FileDialog m_askForFile;
    PassphraseDialog m_askForPassphrase;
    QFormLayout* m_form;
    QComboBox* m_key;
    QPushButton* m_browseKey;
    QPushButton* m_generateKey;
    QPushButton* m_importKey;
    QPushButton* m_forgetKey;
    QLabel* m_loginKeyLabel;
    QLineEdit* m_publicKey;
    QPushButton* m_copyPublicKey;
    std::optional<ssh::LoginKey> m_loginKey;
    bool m_busy = false;
};

} // namespace fluid::ui

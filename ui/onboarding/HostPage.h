// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "services/Onboarding.h"
#include "ssh/LoginKey.h"

#include <QFutureWatcher>
#include <QWizardPage>

#include <atomic>
#include <memory>
#include <optional>

class QCheckBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QStandardItemModel;
class QTreeView;

namespace fluid::ui {

class LoginKeyChooser;
class OnboardingWizard;

/// One event of a host test: a finished step, or the final report.
struct ProbeEvent {
    std::optional<services::HostCheck> step;
    std::optional<services::HostProbeReport> report;
};

/// Page a: which libvirt host, and a step-by-step connection test of it. GUI thread; the test and
/// every other blocking step run on a worker (runOnWorker).
class HostPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HostPage)
public:
    explicit HostPage(OnboardingWizard* wizard);
    ~HostPage() override;

    bool isComplete() const override;

    /// The libvirt URI the fields describe.
    QString currentUri() const;
    QString hostName() const;
    /// The last finished test of currentUri(), if any.
    const std::optional<services::HostProbeReport>& report() const { return m_report; }
    bool isTesting() const { return m_running; }
    /// The login key generated or imported on this page for the keychain (Finish stores it as the host's
    /// login key); nullopt when ssh's own keys or a key file are used.
    const std::optional<ssh::LoginKey>& loginKey() const;

public Q_SLOTS:
    void startTest();
    void cancelTest();
    void trustAndRetest();
    /// A new Ed25519 key for the keychain; its public line is shown for the host's authorized_keys.
    void generateKey();
    /// A private key file read into the keychain (asks for its passphrase when it has one).
    void importKey();
    /// Back to ssh's own keys or a key file.
    void forgetKey();

private:
    void createHostFields();
    void createTestWidgets();
    void layOut();
    void connectSignals();
    /// What the test of the current fields logs in with, so a changed key needs a new test.
    QString currentKeyIdentity() const;
    void onEvent(int index);
    void onFinished();
    void fieldsChanged();
    void updateState();
    void addCheckRow(const services::HostCheck& check);

    OnboardingWizard* m_wizard;
    QRadioButton* m_local;
    QRadioButton* m_remote;
    QLineEdit* m_localUri;
    QLineEdit* m_user;
    QLineEdit* m_host;
    QSpinBox* m_port;
    LoginKeyChooser* m_loginKeys;
    QLineEdit* m_name;
    QPushButton* m_test;
    QPushButton* m_cancel;
    QProgressBar* m_progress;
    QStandardItemModel* m_checks;
    QTreeView* m_checkView;
    QLabel* m_fingerprint;
    QCheckBox* m_verified;
    QPushButton* m_trust;
    QLabel* m_message;
    QFutureWatcher<ProbeEvent>* m_watcher = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancelFlag;
    bool m_running = false;
    QString m_testedUri;
    QString m_testedKey;
    std::optional<services::HostProbeReport> m_report;
    QString m_pendingFingerprint;
};

} // namespace fluid::ui

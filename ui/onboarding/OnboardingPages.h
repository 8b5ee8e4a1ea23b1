// SPDX-License-Identifier: Apache-2.0
#pragma once

// The pages of OnboardingWizard. Each lives on the GUI thread; blocking work goes to fluid::runOnWorker() (base/Worker.h).

#include "config/Settings.h"
#include "services/Onboarding.h"
#include "ssh/LoginKey.h"

#include <QFutureWatcher>
#include <QPointer>
#include <QProcess>
#include <QWizardPage>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QStandardItemModel;
class QTreeView;

namespace fluid::ui {

class OnboardingWizard;

/// One event of a host test: a finished step, or the final report.
struct ProbeEvent {
    std::optional<services::HostCheck> step;
    std::optional<services::HostProbeReport> report;
};

/// Page a: which libvirt host, and a step-by-step connection test of it.
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
    const std::optional<ssh::LoginKey>& loginKey() const { return m_loginKey; }

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
    /// Runs `make` on a worker and shows the key it gives, or why there is none.
    void takeKey(std::function<Result<ssh::LoginKey>()> make, std::function<void(const Error&)> onError = {});
    void showLoginKey();
    /// What the test of the current fields logs in with, so a changed key needs a new test.
    QString currentKeyIdentity() const;
    void onEvent(int index);
    void onFinished();
    void fieldsChanged();
    void refreshKeys();
    void updateState();
    void addCheckRow(const services::HostCheck& check);

    OnboardingWizard* m_wizard;
    QRadioButton* m_local;
    QRadioButton* m_remote;
    QLineEdit* m_localUri;
    QLineEdit* m_user;
    QLineEdit* m_host;
    QSpinBox* m_port;
    QComboBox* m_key;
    QPushButton* m_browseKey;
    QPushButton* m_generateKey;
    QPushButton* m_importKey;
    QPushButton* m_forgetKey;
    QLabel* m_loginKeyLabel;
    QLineEdit* m_publicKey;
    QPushButton* m_copyPublicKey;
    std::optional<ssh::LoginKey> m_loginKey;
    bool m_keyBusy = false;
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

/// Page b: create Fluid's SSH CA or import its keys, into the secret store; shows the public keys.
class CaPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CaPage)
public:
    explicit CaPage(OnboardingWizard* wizard);
    ~CaPage() override;

    bool isComplete() const override;
    std::optional<services::CaSummary> summary() const { return m_summary; }

public Q_SLOTS:
    void run();

private:
    void updateState();

    OnboardingWizard* m_wizard;
    QRadioButton* m_create;
    QRadioButton* m_import;
    QLineEdit* m_userFile;
    QLineEdit* m_hostFile;
    QPushButton* m_browseUser;
    QPushButton* m_browseHost;
    QPushButton* m_run;
    QProgressBar* m_progress;
    QPlainTextEdit* m_publicKeys;
    QPushButton* m_copy;
    QLabel* m_message;
    QFutureWatcher<Result<services::CaSummary>>* m_watcher = nullptr;
    std::optional<services::CaSummary> m_summary;
};

/// Page c: a cloneable source VM of the host, or the Debian golden image built by golden-image.sh.
class GoldenPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GoldenPage)
public:
    explicit GoldenPage(OnboardingWizard* wizard);
    ~GoldenPage() override;

    void initializePage() override;
    bool isComplete() const override;
    void cleanupPage() override;

    /// The golden VM chosen: the selected VM, or the VM the build defined on the host.
    QString chosenSource() const;
    bool built() const { return m_built; }
    /// The VM the last build defined on the host (golden-image.sh names it), once it was found there and
    /// can be cloned; empty before.
    QString builtVm() const { return m_builtVm; }
    /// True while the host's VMs are listed again to find the VM a build defined.
    bool isLookingForBuiltVm() const { return m_listing != nullptr; }
    /// PID of the running build, 0 when none.
    qint64 buildPid() const;

public Q_SLOTS:
    void startBuild();
    void cancelBuild();

private:
    void onOutput();
    void onBuildFinished(int exitCode, QProcess::ExitStatus status);
    void updateState();
    /// Lists `rows` (disabled when they cannot be cloned); returns how many can be.
    int fillSources(const QList<services::SourceVmRow>& rows);
    /// Lists the host's VMs again on a worker and chooses `name` (the VM the build defined) when it is
    /// there and can be cloned.
    void chooseBuiltVm(const QString& name);
    void onBuiltVmListed(const QString& name, const Result<QList<services::SourceVmRow>>& rows);

    OnboardingWizard* m_wizard;
    QRadioButton* m_useExisting;
    QRadioButton* m_build;
    QStandardItemModel* m_sources;
    QTreeView* m_sourceView;
    QPushButton* m_buildButton;
    QPushButton* m_cancelBuild;
    QProgressBar* m_progress;
    QPlainTextEdit* m_log;
    QLabel* m_message;
    QProcess* m_process = nullptr;
    QByteArray m_partialLine;
    bool m_built = false;
    bool m_cancelled = false;
    QString m_definedVm; ///< what the build's "defined NAME ..." line said
    QString m_builtVm;
    QFutureWatcher<Result<QList<services::SourceVmRow>>>* m_listing = nullptr;
};

/// Page d: LLM provider, model, endpoint and API key (the key goes to the secret store at Finish).
class LlmPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LlmPage)
public:
    explicit LlmPage(OnboardingWizard* wizard);
    ~LlmPage() override;

    bool isComplete() const override;
    config::AgentSettings agentSettings() const;
    QString apiKey() const;

private:
    void updateState();

    OnboardingWizard* m_wizard;
    QComboBox* m_provider;
    QLineEdit* m_model;
    QLineEdit* m_endpoint;
    QLabel* m_endpointError;
    QLineEdit* m_apiKey;
    QLabel* m_message;
};

/// Page e: what will be written; Finish stores the API key and writes config.yaml (atomically) on a worker.
class SummaryPage : public QWizardPage {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SummaryPage)
public:
    explicit SummaryPage(OnboardingWizard* wizard);
    ~SummaryPage() override;

    void initializePage() override;
    bool validatePage() override;
    bool isComplete() const override;
    bool isWriting() const { return m_watcher != nullptr; }

private:
    OnboardingWizard* m_wizard;
    QPlainTextEdit* m_summary;
    QProgressBar* m_progress;
    QLabel* m_message;
    QFutureWatcher<Result<void>>* m_watcher = nullptr;
    bool m_written = false;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "config/Settings.h"

#include <QDialog>
#include <QHash>

#include <functional>
#include <optional>

class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QStandardItemModel;
class QTableView;

namespace fluid::ui {

/// Edits one host of the hosts list: name, URI, accelerator override and limits, with the config's own
/// checks. GUI thread.
class HostEditDialog : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HostEditDialog)
public:
    explicit HostEditDialog(const config::HostSettings& host, QWidget* parent = nullptr);
    config::HostSettings host() const;

private:
    void validate();

    QLineEdit* m_name;
    QLineEdit* m_uri;
    QLineEdit* m_golden;
    QComboBox* m_login;
    QComboBox* m_accelerator;
    QSpinBox* m_maxMemory;
    QSpinBox* m_maxVcpus;
    QSpinBox* m_maxSandboxes;
    QLabel* m_error;
    QDialogButtonBox* m_buttons;
};

/// Every setting of config.yaml in one dialog: store, hosts (add/edit/remove with limits and accelerator
/// override), sandbox defaults, SSH certificate lifetime, agent and the secrets backend. Spin boxes take
/// their bounds from config::bounds; every change is checked with the same checks the config loader applies,
/// each problem is shown next to its field, and OK stays disabled while any remains. OK saves through
/// config::saveConfig (atomic). Each field's objectName is its dotted YAML key ("sandbox.default_vcpus"), its
/// error label's is the key + ".error".
///
/// Thread: GUI thread.
class SettingsDialog : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SettingsDialog)
public:
    SettingsDialog(const QString& configPath, const config::Settings& settings, QWidget* parent = nullptr);
    ~SettingsDialog() override;

    /// The settings the fields hold now.
    config::Settings settings() const;
    void setSettings(const config::Settings& settings);
    /// "<dotted key>: <problem>" for every problem of settings(); empty when OK may be pressed.
    QStringList problems() const;

    /// Replaces the modal host editor (tests answer it): gets the host to edit, returns the edited host or
    /// nullopt when cancelled.
    using HostEditor =
        std::function<std::optional<config::HostSettings>(QWidget*, const config::HostSettings&)>;
    void setHostEditor(HostEditor editor) { m_hostEditor = std::move(editor); }

public Q_SLOTS:
    void addHost();
    void editHost();
    void removeHost();
    void accept() override;

Q_SIGNALS:
    /// The settings were written to the config file.
    void saved(const fluid::config::Settings& settings);

private:
    QWidget* storeTab();
    QWidget* hostsTab();
    QWidget* sandboxTab();
    QWidget* agentTab();
    QLabel* errorLabel(const QString& key);
    QSpinBox* spin(const QString& key, config::IntRange range, const QString& tip);
    QLineEdit* line(const QString& key, const QString& tip);
    template <typename E>
    QComboBox* choice(const QString& key, const QString& tip);
    void refreshHosts();
    void validate();
    std::optional<config::HostSettings> runHostEditor(const config::HostSettings& host);

    QString m_configPath;
    config::Settings m_loaded;
    QList<config::HostSettings> m_hosts;
    HostEditor m_hostEditor;
    QHash<QString, QLabel*> m_errors;
    QStandardItemModel* m_hostModel = nullptr;
    QTableView* m_hostView = nullptr;
    QLabel* m_summary = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
    bool m_filling = true; // no checks while the fields are built and filled
};

} // namespace fluid::ui

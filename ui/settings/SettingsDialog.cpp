// SPDX-License-Identifier: Apache-2.0
#include "SettingsDialog.h"

#include "config/Config.h"
#include "config/SettingsChecks.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableView>
#include <QTabWidget>
#include <QVBoxLayout>

namespace fluid::ui {

namespace {

using config::detail::TextRule;

QLabel* makeError(const QString& objectName, QWidget* parent)
{
    auto* label = new QLabel(parent);
    label->setObjectName(objectName);
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    // Derived from the palette so it reads in light and dark themes alike.
    QPalette palette = label->palette();
    palette.setColor(QPalette::WindowText, palette.color(QPalette::LinkVisited));
    label->setPalette(palette);
    label->hide();
    return label;
}

QSpinBox* makeSpin(config::IntRange range, QWidget* parent)
{
    auto* spin = new QSpinBox(parent);
    spin->setRange(range.min, range.max);
    spin->setToolTip(QString());
    return spin;
}

QString acceleratorText(const std::optional<config::Accelerator>& a)
{
    return a ? config::toName(*a) : QObject::tr("as sandbox default");
}

} // namespace

// ----------------------------------------------------------------------------------------------
// HostEditDialog

HostEditDialog::HostEditDialog(const config::HostSettings& host, QWidget* parent)
    : QDialog(parent)
{
    setObjectName(QStringLiteral("hostEditDialog"));
    setWindowTitle(host.name.isEmpty() ? tr("Add host") : tr("Edit host %1").arg(host.name));
    m_name = new QLineEdit(host.name, this);
    m_name->setObjectName(QStringLiteral("name"));
    m_name->setAccessibleName(tr("Host name"));
    m_name->setToolTip(tr("Lower-case letters, digits and '-', up to 40 characters; unique."));
    m_uri = new QLineEdit(host.uri, this);
    m_uri->setObjectName(QStringLiteral("uri"));
    m_uri->setAccessibleName(tr("libvirt URI"));
    m_uri->setToolTip(tr("qemu:///system, qemu+ssh://user@host/system, ..."));
    m_golden = new QLineEdit(host.golden, this);
    m_golden->setObjectName(QStringLiteral("golden"));
    m_golden->setAccessibleName(tr("Golden VM"));
    m_golden->setPlaceholderText(tr("none"));
    m_golden->setToolTip(tr("The source VM new sandboxes on this host are cloned from when none is named."));
    m_login = new QComboBox(this);
    m_login->setObjectName(QStringLiteral("login_key"));
    m_login->setAccessibleName(tr("SSH login key"));
    m_login->setToolTip(
        tr("ssh: ssh-agent, ~/.ssh/config, the URI's keyfile or the default keys. keychain: the "
           "key the set-up wizard keeps in Fluid's keychain for this host (SSH hosts only)."));
    for (config::HostLogin l : config::allValues<config::HostLogin>())
        m_login->addItem(config::toName(l), int(l));
    m_login->setCurrentIndex(m_login->findData(int(host.login)));
    m_accelerator = new QComboBox(this);
    m_accelerator->setObjectName(QStringLiteral("accelerator"));
    m_accelerator->setAccessibleName(tr("Accelerator override"));
    m_accelerator->setToolTip(tr("Overrides the sandbox default accelerator on this host."));
    m_accelerator->addItem(acceleratorText(std::nullopt), -1);
    for (config::Accelerator a : config::allValues<config::Accelerator>())
        m_accelerator->addItem(config::toName(a), int(a));
    m_accelerator->setCurrentIndex(host.accelerator ? m_accelerator->findData(int(*host.accelerator)) : 0);
    m_maxMemory = makeSpin(config::bounds::kHostMaxMemoryMib, this);
    m_maxMemory->setObjectName(QStringLiteral("max_memory_mib"));
    m_maxMemory->setSuffix(tr(" MiB"));
    m_maxMemory->setSpecialValueText(tr("no limit"));
    m_maxMemory->setValue(host.limits.maxMemoryMib);
    m_maxVcpus = makeSpin(config::bounds::kHostMaxVcpus, this);
    m_maxVcpus->setObjectName(QStringLiteral("max_vcpus"));
    m_maxVcpus->setSpecialValueText(tr("no limit"));
    m_maxVcpus->setValue(host.limits.maxVcpus);
    m_maxSandboxes = makeSpin(config::bounds::kHostMaxSandboxes, this);
    m_maxSandboxes->setObjectName(QStringLiteral("max_sandboxes"));
    m_maxSandboxes->setSpecialValueText(tr("no limit"));
    m_maxSandboxes->setValue(host.limits.maxSandboxes);
    for (QSpinBox* s : {m_maxMemory, m_maxVcpus, m_maxSandboxes})
        s->setToolTip(tr("What Fluid may take from this host; 0 means no limit beyond what it has free."));
    m_error = makeError(QStringLiteral("hostError"), this);
    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    auto* form = new QFormLayout(this);
    form->addRow(tr("&Name:"), m_name);
    form->addRow(tr("&URI:"), m_uri);
    form->addRow(tr("&Golden VM:"), m_golden);
    form->addRow(tr("&Login key:"), m_login);
    form->addRow(tr("&Accelerator:"), m_accelerator);
    form->addRow(tr("Max &memory:"), m_maxMemory);
    form->addRow(tr("Max &vCPUs:"), m_maxVcpus);
    form->addRow(tr("Max &sandboxes:"), m_maxSandboxes);
    form->addRow(m_error);
    form->addRow(m_buttons);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_name, &QLineEdit::textChanged, this, &HostEditDialog::validate);
    connect(m_uri, &QLineEdit::textChanged, this, &HostEditDialog::validate);
    connect(m_golden, &QLineEdit::textChanged, this, &HostEditDialog::validate);
    connect(m_login, &QComboBox::currentIndexChanged, this, &HostEditDialog::validate);
    validate();
}

config::HostSettings HostEditDialog::host() const
{
    config::HostSettings h;
    h.name = m_name->text().trimmed();
    h.uri = m_uri->text().trimmed();
    h.golden = m_golden->text().trimmed();
    h.login = config::HostLogin(m_login->currentData().toInt());
    const int a = m_accelerator->currentData().toInt();
    if (a >= 0)
        h.accelerator = config::Accelerator(a);
    h.limits = {m_maxMemory->value(), m_maxVcpus->value(), m_maxSandboxes->value()};
    return h;
}

void HostEditDialog::validate()
{
    QStringList problems;
    if (QString p = config::detail::checkText(TextRule::HostName, host().name); !p.isEmpty())
        problems << tr("Name %1.").arg(p);
    if (QString p = config::detail::checkText(TextRule::LibvirtUri, host().uri); !p.isEmpty())
        problems << tr("URI %1.").arg(p);
    if (QString p = config::detail::checkText(TextRule::DomainNameOrEmpty, host().golden); !p.isEmpty())
        problems << tr("Golden VM %1.").arg(p);
    if (host().login == config::HostLogin::Keychain && !config::isOverSsh(host().uri))
        problems << tr("A keychain login key is only for hosts reached over SSH (qemu+ssh://…).");
    m_error->setText(problems.join(QLatin1Char('\n')));
    m_error->setVisible(!problems.isEmpty());
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(problems.isEmpty());
}

// ----------------------------------------------------------------------------------------------
// SettingsDialog

SettingsDialog::SettingsDialog(const QString& configPath, const config::Settings& settings, QWidget* parent)
    : QDialog(parent)
    , m_configPath(configPath)
    , m_loaded(settings)
{
    setObjectName(QStringLiteral("settingsDialog"));
    setWindowTitle(tr("Fluid settings"));
    auto* tabs = new QTabWidget(this);
    tabs->setObjectName(QStringLiteral("settingsTabs"));
    tabs->addTab(hostsTab(), tr("&Hosts"));
    tabs->addTab(sandboxTab(), tr("&Sandboxes"));
    tabs->addTab(agentTab(), tr("&Agent"));
    tabs->addTab(storeTab(), tr("S&tore && secrets"));
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("settingsSummary"));
    m_summary->setWordWrap(true);
    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_buttons->setObjectName(QStringLiteral("settingsButtons"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(tabs, 1);
    layout->addWidget(m_summary);
    layout->addWidget(m_buttons);
    connect(m_buttons, &QDialogButtonBox::accepted, this, &SettingsDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    resize(760, 560);
    setSettings(settings);
}

SettingsDialog::~SettingsDialog() = default;

QLabel* SettingsDialog::errorLabel(const QString& key)
{
    QLabel* label = makeError(key + QStringLiteral(".error"), this);
    m_errors.insert(key, label);
    return label;
}

QSpinBox* SettingsDialog::spin(const QString& key, config::IntRange range, const QString& tip)
{
    QSpinBox* s = makeSpin(range, this);
    s->setObjectName(key);
    s->setAccessibleName(key);
    s->setToolTip(tip + tr(" (%1 to %2)").arg(range.min).arg(range.max));
    connect(s, qOverload<int>(&QSpinBox::valueChanged), this, &SettingsDialog::validate);
    return s;
}

QLineEdit* SettingsDialog::line(const QString& key, const QString& tip)
{
    auto* edit = new QLineEdit(this);
    edit->setObjectName(key);
    edit->setAccessibleName(key);
    edit->setToolTip(tip);
    connect(edit, &QLineEdit::textChanged, this, &SettingsDialog::validate);
    return edit;
}

template <typename E>
QComboBox* SettingsDialog::choice(const QString& key, const QString& tip)
{
    auto* combo = new QComboBox(this);
    combo->setObjectName(key);
    combo->setAccessibleName(key);
    combo->setToolTip(tip);
    for (E value : config::allValues<E>())
        combo->addItem(config::toName(value), int(value));
    connect(combo, &QComboBox::currentIndexChanged, this, &SettingsDialog::validate);
    return combo;
}

QWidget* SettingsDialog::storeTab()
{
    auto* page = new QWidget(this);
    auto* form = new QFormLayout(page);
    form->addRow(
        tr("Store &backend:"),
        choice<config::StoreBackend>(QStringLiteral("store.backend"),
                                     tr("SQLite (a file on this machine) or a shared PostgreSQL server.")));
    form->addRow(tr("SQLite &file:"),
                 line(QStringLiteral("store.sqlite_path"),
                      tr("Empty: the default database file; otherwise an absolute path.")));
    form->addRow(QString(), errorLabel(QStringLiteral("store.sqlite_path")));
    form->addRow(tr("PostgreSQL &host:"), line(QStringLiteral("store.postgresql.host"),
                                               tr("Host name, IP address or socket folder.")));
    form->addRow(QString(), errorLabel(QStringLiteral("store.postgresql.host")));
    form->addRow(tr("PostgreSQL &port:"), spin(QStringLiteral("store.postgresql.port"),
                                               config::bounds::kPostgresqlPort, tr("TCP port")));
    form->addRow(tr("&Database:"), line(QStringLiteral("store.postgresql.database"), tr("Database name.")));
    form->addRow(QString(), errorLabel(QStringLiteral("store.postgresql.database")));
    form->addRow(tr("&User:"),
                 line(QStringLiteral("store.postgresql.user"),
                      tr("Database user; its password lives in the keychain (store/postgresql).")));
    form->addRow(QString(), errorLabel(QStringLiteral("store.postgresql.user")));
    form->addRow(tr("&TLS (sslmode):"),
                 choice<config::PgSslMode>(
                     QStringLiteral("store.postgresql.sslmode"),
                     tr("auto: verify-full for a server on another machine, prefer for this machine.")));
    form->addRow(tr("Server &CA file:"), line(QStringLiteral("store.postgresql.ssl_root_cert"),
                                              tr("Empty: ~/.postgresql/root.crt; otherwise an absolute path "
                                                 "to the CA that signed the server's certificate.")));
    form->addRow(QString(), errorLabel(QStringLiteral("store.postgresql.ssl_root_cert")));
    form->addRow(
        tr("&Secrets backend:"),
        choice<config::SecretsBackend>(QStringLiteral("secrets.backend"),
                                       tr("The OS keychain, or an encrypted file as an explicit fallback.")));
    form->addRow(tr("&Encrypted file:"), line(QStringLiteral("secrets.encrypted_file"),
                                              tr("Empty: the default file; otherwise an absolute path.")));
    form->addRow(QString(), errorLabel(QStringLiteral("secrets.encrypted_file")));
    return page;
}

QWidget* SettingsDialog::hostsTab()
{
    auto* page = new QWidget(this);
    m_hostModel = new QStandardItemModel(0, 8, this);
    m_hostModel->setHorizontalHeaderLabels({tr("Name"), tr("URI"), tr("Golden VM"), tr("Login key"),
                                            tr("Accelerator"), tr("Max memory"), tr("Max vCPUs"),
                                            tr("Max sandboxes")});
    m_hostView = new QTableView(page);
    m_hostView->setObjectName(QStringLiteral("hosts"));
    m_hostView->setAccessibleName(tr("Hosts"));
    m_hostView->setModel(m_hostModel);
    m_hostView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_hostView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_hostView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_hostView->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_hostView->verticalHeader()->hide();
    auto* add = new QPushButton(tr("&Add…"), page);
    add->setObjectName(QStringLiteral("addHost"));
    add->setToolTip(tr("Adds a libvirt host"));
    auto* edit = new QPushButton(tr("&Edit…"), page);
    edit->setObjectName(QStringLiteral("editHost"));
    edit->setToolTip(tr("Edits the selected host"));
    auto* remove = new QPushButton(tr("&Remove"), page);
    remove->setObjectName(QStringLiteral("removeHost"));
    remove->setToolTip(tr("Removes the selected host from the config (its sandboxes stay on the host)"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(add);
    buttons->addWidget(edit);
    buttons->addWidget(remove);
    buttons->addStretch();
    auto* layout = new QVBoxLayout(page);
    layout->addWidget(m_hostView, 1);
    layout->addLayout(buttons);
    layout->addWidget(errorLabel(QStringLiteral("hosts")));
    connect(add, &QPushButton::clicked, this, &SettingsDialog::addHost);
    connect(edit, &QPushButton::clicked, this, &SettingsDialog::editHost);
    connect(remove, &QPushButton::clicked, this, &SettingsDialog::removeHost);
    connect(m_hostView, &QTableView::doubleClicked, this, &SettingsDialog::editHost);
    return page;
}

QWidget* SettingsDialog::sandboxTab()
{
    auto* page = new QWidget(this);
    auto* form = new QFormLayout(page);
    form->addRow(tr("Default &vCPUs:"), spin(QStringLiteral("sandbox.default_vcpus"),
                                             config::bounds::kDefaultVcpus, tr("vCPUs of a new sandbox")));
    QSpinBox* memory = spin(QStringLiteral("sandbox.default_memory_mib"), config::bounds::kDefaultMemoryMib,
                            tr("Memory of a new sandbox"));
    memory->setSuffix(tr(" MiB"));
    form->addRow(tr("Default &memory:"), memory);
    form->addRow(tr("&Accelerator:"),
                 choice<config::Accelerator>(QStringLiteral("sandbox.accelerator"),
                                             tr("auto uses KVM when the host has it, else TCG.")));
    QSpinBox* ready = spin(QStringLiteral("sandbox.ready_timeout_s"), config::bounds::kReadyTimeoutS,
                           tr("How long a new sandbox may take to answer SSH"));
    ready->setSuffix(tr(" s"));
    form->addRow(tr("&Ready timeout:"), ready);
    QSpinBox* ttl = spin(QStringLiteral("ssh.cert_ttl_minutes"), config::bounds::kCertTtlMinutes,
                         tr("Lifetime of the SSH certificates Fluid issues for sandbox logins"));
    ttl->setSuffix(tr(" min"));
    form->addRow(tr("SSH certificate &lifetime:"), ttl);
    return page;
}

QWidget* SettingsDialog::agentTab()
{
    auto* page = new QWidget(this);
    auto* form = new QFormLayout(page);
    form->addRow(tr("&Provider:"), choice<config::AgentProvider>(QStringLiteral("agent.provider"),
                                                                 tr("Which LLM API the agent talks to.")));
    form->addRow(tr("&Model:"),
                 line(QStringLiteral("agent.model"), tr("The model name as the provider spells it.")));
    form->addRow(QString(), errorLabel(QStringLiteral("agent.model")));
    form->addRow(tr("&Endpoint:"),
                 line(QStringLiteral("agent.endpoint"),
                      tr("Empty: the provider's default; otherwise an http:// or https:// URL.")));
    form->addRow(QString(), errorLabel(QStringLiteral("agent.endpoint")));
    auto* note = new QLabel(
        tr("The API key lives in the keychain; the set-up wizard (File → Set up Fluid…) stores it."), page);
    note->setWordWrap(true);
    form->addRow(note);
    return page;
}

void SettingsDialog::setSettings(const config::Settings& s)
{
    m_filling = true;
    const auto setText = [this](const char* key, const QString& text) {
        findChild<QLineEdit*>(QString::fromLatin1(key))->setText(text);
    };
    const auto setValue = [this](const char* key, int value) {
        findChild<QSpinBox*>(QString::fromLatin1(key))->setValue(value);
    };
    const auto setChoice = [this](const char* key, int value) {
        QComboBox* combo = findChild<QComboBox*>(QString::fromLatin1(key));
        combo->setCurrentIndex(combo->findData(value));
    };
    setChoice("store.backend", int(s.store.backend));
    setText("store.sqlite_path", s.store.sqlitePath);
    setText("store.postgresql.host", s.store.postgresql.host);
    setValue("store.postgresql.port", s.store.postgresql.port);
    setText("store.postgresql.database", s.store.postgresql.database);
    setText("store.postgresql.user", s.store.postgresql.user);
    setChoice("store.postgresql.sslmode", int(s.store.postgresql.sslMode));
    setText("store.postgresql.ssl_root_cert", s.store.postgresql.sslRootCert);
    setChoice("secrets.backend", int(s.secrets.backend));
    setText("secrets.encrypted_file", s.secrets.encryptedFile);
    setValue("sandbox.default_vcpus", s.sandbox.defaultVcpus);
    setValue("sandbox.default_memory_mib", s.sandbox.defaultMemoryMib);
    setChoice("sandbox.accelerator", int(s.sandbox.accelerator));
    setValue("sandbox.ready_timeout_s", s.sandbox.readyTimeoutS);
    setValue("ssh.cert_ttl_minutes", s.ssh.certTtlMinutes);
    setChoice("agent.provider", int(s.agent.provider));
    setText("agent.model", s.agent.model);
    setText("agent.endpoint", s.agent.endpoint);
    m_hosts = s.hosts;
    m_filling = false;
    refreshHosts();
}

config::Settings SettingsDialog::settings() const
{
    const auto text = [this](const char* key) {
        return findChild<QLineEdit*>(QString::fromLatin1(key))->text().trimmed();
    };
    const auto value = [this](const char* key) {
        return findChild<QSpinBox*>(QString::fromLatin1(key))->value();
    };
    const auto pick = [this](const char* key) {
        return findChild<QComboBox*>(QString::fromLatin1(key))->currentData().toInt();
    };
    config::Settings s = m_loaded;
    s.store.backend = config::StoreBackend(pick("store.backend"));
    s.store.sqlitePath = text("store.sqlite_path");
    s.store.postgresql.host = text("store.postgresql.host");
    s.store.postgresql.port = value("store.postgresql.port");
    s.store.postgresql.database = text("store.postgresql.database");
    s.store.postgresql.user = text("store.postgresql.user");
    s.store.postgresql.sslMode = config::PgSslMode(pick("store.postgresql.sslmode"));
    s.store.postgresql.sslRootCert = text("store.postgresql.ssl_root_cert");
    s.secrets.backend = config::SecretsBackend(pick("secrets.backend"));
    s.secrets.encryptedFile = text("secrets.encrypted_file");
    s.hosts = m_hosts;
    s.sandbox.defaultVcpus = value("sandbox.default_vcpus");
    s.sandbox.defaultMemoryMib = value("sandbox.default_memory_mib");
    s.sandbox.accelerator = config::Accelerator(pick("sandbox.accelerator"));
    s.sandbox.readyTimeoutS = value("sandbox.ready_timeout_s");
    s.ssh.certTtlMinutes = value("ssh.cert_ttl_minutes");
    s.agent.provider = config::AgentProvider(pick("agent.provider"));
    s.agent.model = text("agent.model");
    s.agent.endpoint = text("agent.endpoint");
    return s;
}

QStringList SettingsDialog::problems() const
{
    QStringList out;
    for (const config::detail::Problem& p : config::detail::checkSettings(settings()))
        out << p.key + QStringLiteral(": ") + p.text;
    return out;
}

void SettingsDialog::refreshHosts()
{
    m_hostModel->removeRows(0, m_hostModel->rowCount());
    const auto limit = [](int v) {
        return v == 0 ? tr("no limit") : QString::number(v);
    };
    for (const config::HostSettings& h : m_hosts) {
        QList<QStandardItem*> row = {
            new QStandardItem(h.name),
            new QStandardItem(h.uri),
            new QStandardItem(h.golden),
            new QStandardItem(config::toName(h.login)),
            new QStandardItem(acceleratorText(h.accelerator)),
            new QStandardItem(h.limits.maxMemoryMib ? tr("%1 MiB").arg(h.limits.maxMemoryMib) : limit(0)),
            new QStandardItem(limit(h.limits.maxVcpus)),
            new QStandardItem(limit(h.limits.maxSandboxes))};
        m_hostModel->appendRow(row);
    }
    m_hostView->resizeColumnToContents(0);
    validate();
}

std::optional<config::HostSettings> SettingsDialog::runHostEditor(const config::HostSettings& host)
{
    if (m_hostEditor)
        return m_hostEditor(this, host);
    HostEditDialog dialog(host, this);
    if (dialog.exec() != QDialog::Accepted)
        return std::nullopt;
    return dialog.host();
}

void SettingsDialog::addHost()
{
    config::HostSettings fresh;
    fresh.uri = QStringLiteral("qemu+ssh://user@host/system");
    if (auto host = runHostEditor(fresh)) {
        m_hosts.append(*host);
        refreshHosts();
    }
}

void SettingsDialog::editHost()
{
    const QModelIndexList rows = m_hostView->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return;
    const int row = rows.first().row();
    if (auto host = runHostEditor(m_hosts.value(row))) {
        m_hosts[row] = *host;
        refreshHosts();
        m_hostView->selectRow(row);
    }
}

void SettingsDialog::removeHost()
{
    const QModelIndexList rows = m_hostView->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return;
    m_hosts.removeAt(rows.first().row());
    refreshHosts();
}

void SettingsDialog::validate()
{
    if (m_filling)
        return;
    const QList<config::detail::Problem> problems = config::detail::checkSettings(settings());
    QHash<QString, QStringList> byField;
    QStringList unplaced;
    for (const config::detail::Problem& p : problems) {
        QString field;
        for (auto it = m_errors.cbegin(); it != m_errors.cend(); ++it) {
            const QString& key = it.key();
            if ((p.key == key || p.key.startsWith(key + QLatin1Char('[')) ||
                 p.key.startsWith(key + QLatin1Char('.'))) &&
                key.size() > field.size())
                field = key;
        }
        const QString line = p.key + QStringLiteral(": ") + p.text;
        if (field.isEmpty())
            unplaced << line;
        else
            byField[field] << line;
    }
    for (auto it = m_errors.cbegin(); it != m_errors.cend(); ++it) {
        const QStringList lines = byField.value(it.key());
        it.value()->setText(lines.join(QLatin1Char('\n')));
        it.value()->setVisible(!lines.isEmpty());
    }
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(problems.isEmpty());
    QString summary =
        tr("Hosts and sandbox defaults apply when you save: added hosts are opened, changed ones reconnected "
           "and removed ones closed. Changes to the store or the secrets backend apply when Fluid restarts.");
    if (!problems.isEmpty())
        summary = tr("%n problem(s) to fix before saving (shown next to the fields).", nullptr,
                     int(problems.size())) +
                  (unplaced.isEmpty() ? QString() : QLatin1Char('\n') + unplaced.join(QLatin1Char('\n')));
    m_summary->setText(summary);
}

void SettingsDialog::accept()
{
    const config::Settings s = settings();
    // A small local file, written atomically (QSaveFile) like the config is read at start-up.
    if (auto saved = config::saveConfig(m_configPath, s); !saved) {
        m_summary->setText(tr("The settings were not saved: %1").arg(saved.error().toString()));
        return;
    }
    m_loaded = s;
    Q_EMIT saved(s);
    QDialog::accept();
}

} // namespace fluid::ui

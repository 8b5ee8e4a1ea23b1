// SPDX-License-Identifier: Apache-2.0
#include "Services.h"

#include "Admission.h"
#include "approval/ApprovalBroker.h"
#include "base/Worker.h"
#include "GateProcess.h"
#include "secrets/SecretStore.h"
#include "store/StoreWorker.h"

#include <QFileInfo>

namespace fluid::services {

Services::Services(Options options, QObject* parent)
    : QObject(parent)
    , m_config(std::move(options.config))
    , m_passphrase(std::move(options.passphrase))
    , m_clock(options.clock ? *options.clock : Clock::system())
    , m_approvalPollMs(options.approvalPollMs)
    , m_adjustHostSetup(std::move(options.adjustHostSetup))
    , m_egressGateProgram(options.egressGateProgram)
    , m_anchorAudit(options.anchorAudit)
    , m_operations(std::make_unique<OperationRegistry>(m_clock))
    , m_approvals(std::make_unique<approval::ApprovalBroker>(m_clock, m_approvalPollMs))
{
    // The store and the secret store stay the ones Fluid started with: changing those needs a restart (the
    // settings dialog says so). The CA loader is made once so that it loads the CA once.
    m_loadCa = cachedCaLoader(secretStoreCaLoader(m_config.settings, m_passphrase));
    const config::Settings settings = m_config.settings;
    const QString passphrase = m_passphrase;
    const bool anchorAudit = m_anchorAudit;
    m_storeWorker = std::make_unique<store::StoreWorker>([settings, passphrase, anchorAudit]() {
        return resolveDatabaseOptions(settings, passphrase, anchorAudit);
    });
    connect(m_storeWorker.get(), &store::StoreWorker::opened, this, [this](bool ok, const QString& message) {
        if (ok)
            storeReady(*m_storeWorker->databaseOptions());
        Q_EMIT storeOpened(ok, message);
    });
}

Services::~Services() = default;

secrets::SecretStoreOptions Services::secretStoreOptions() const
{
    return services::secretStoreOptions(m_config.settings, m_passphrase);
}

Result<std::unique_ptr<secrets::SecretStore>> Services::openSecretStore() const
{
    return secrets::openSecretStore(secretStoreOptions());
}

CaLoader Services::caLoader() const
{
    return m_loadCa;
}

LoginKeyLoader Services::loginKeyLoader(const config::HostSettings& host) const
{
    return services::loginKeyLoader(m_config.settings, host, m_passphrase);
}

void Services::start()
{
    m_storeWorker->start();
}

Result<store::Database*> Services::openStoreHere(bool mustExist)
{
    if (m_here)
        return m_here.get();
    auto options = resolveDatabaseOptions(m_config.settings, m_passphrase, m_anchorAudit);
    if (!options)
        return options.error();
    if (mustExist && options->backend == store::Backend::Sqlite && !QFileInfo::exists(options->sqlitePath))
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("There is no store at %1 yet: Fluid has recorded nothing there")
                             .arg(options->sqlitePath));
    auto db = store::openAndMigrate(*options);
    if (!db)
        return db.error();
    m_here = std::move(*db);
    storeReady(*options);
    return m_here.get();
}

void Services::storeReady(const store::DatabaseOptions& options)
{
    m_database = options;
    m_approvals->setStore(options);
    m_hosts = std::make_unique<HostSessionSet>(
        [this](const config::Settings&, const config::HostSettings& host) { return hostSetup(host); });
    m_hosts->apply(m_config.settings);
}

QString Services::applySettings(const config::Settings& settings)
{
    m_config.settings = settings;
    m_config.fromFile = true;
    if (!m_hosts)
        return {};
    return m_hosts->apply(settings).describe();
}

HostSession::Setup Services::hostSetup(const config::HostSettings& host) const
{
    HostSession::Setup setup =
        HostSession::setupFor(m_config.settings, host, m_database.value_or(store::DatabaseOptions{}),
                              m_loadCa, loginKeyLoader(host));
    setup.operations = m_operations.get();
    if (m_database)
        setup.admit = approvalGate(m_approvals.get(), *m_database);
    // The gate is a process here. For a local host it listens on the bridge; for a host reached over SSH it
    // starts a relay on that host's bridge (RemoteRelay) that passes connections back through the SSH
    // connection.
    const bool local = host.uri.startsWith(QLatin1String("qemu:///"));
    if (!m_egressGateProgram.isEmpty() && (local || config::isOverSsh(host.uri))) {
        const GateLaunch launch =
            gateLaunchFor(setup.manager.network, m_egressGateProgram,
                          m_config.fromFile ? m_config.path : QString(), host.name, !local);
        setup.ensureEgressGate = [launch] {
            return ensureEgressGate(launch);
        };
    }
    if (m_adjustHostSetup)
        m_adjustHostSetup(setup);
    return setup;
}

Result<std::unique_ptr<HostSession>> Services::openHostSession(const QString& hostName)
{
    if (!m_database)
        return makeError(ErrorCode::Unavailable, QStringLiteral("The store is not open"));
    auto host = hostSettings(m_config.settings, hostName);
    if (!host)
        return host.error();
    HostSession::Setup setup = hostSetup(*host);
    setup.reconcileOnOpen = false;
    auto session = std::make_unique<HostSession>(std::move(setup));
    auto opened = await(session->open());
    if (!opened)
        return opened.error();
    return session;
}

} // namespace fluid::services

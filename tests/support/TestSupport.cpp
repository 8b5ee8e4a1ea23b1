// SPDX-License-Identifier: Apache-2.0
#include "TestSupport.h"

#include "base/Signals.h"
#include "store/Database.h"
#include "virt/LibvirtHypervisor.h"

#include <QDir>
#include <QElapsedTimer>
#include <QMutex>
#include <QTest>
#include <QUuid>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace {

/// Every test process starts the way the app does (fluid::prepareProcess), before Qt Test's main runs:
/// Qt Test would otherwise install its own SIGPIPE handler first.
const bool g_processPrepared = [] {
    fluid::prepareProcess();
    return true;
}();

} // namespace

namespace fluid::test {

namespace {
QString sqliteFileIn(const QString& dir)
{
    return dir + QStringLiteral("/fluid.sqlite");
}
} // namespace

store::DatabaseOptions migratedStore(const QString& dir)
{
    store::DatabaseOptions options;
    options.sqlitePath = sqliteFileIn(dir);
    must(store::openAndMigrate(options));
    return options;
}

void skipWholeTest(const QString& reason)
{
    std::fprintf(stdout, "SKIPPED: %s\n", qPrintable(reason));
    std::fflush(stdout);
    std::exit(kSkipExitCode);
}

QString makeTempDir(const QString& prefix)
{
    QString base = qEnvironmentVariable("FLUID_TEST_TMP");
    if (base.isEmpty())
        base = QDir::tempPath();
    const QString dir = base + QLatin1Char('/') + prefix + QLatin1Char('-') +
                        QUuid::createUuid().toString(QUuid::Id128).left(12);
    QDir().mkpath(dir);
    return dir;
}

OperationLog::OperationLog(services::OperationRegistry* registry)
    : m_registry(registry)
{
    using R = services::OperationRegistry;
    connect(registry, &R::started, this, [this](const services::OperationInfo& i) { started << i; });
    connect(registry, &R::changed, this, [this](const services::OperationInfo& i) { progress << i; });
    connect(registry, &R::finished, this, [this](const services::OperationInfo& i) { finished << i; });
}

bool OperationLog::said(const QString& text, quint64 operation) const
{
    return std::any_of(progress.cbegin(), progress.cend(), [&](const services::OperationInfo& i) {
        return (operation == 0 || i.id == operation) && i.progress.text().contains(text);
    });
}

std::optional<services::OperationInfo> OperationLog::waitFinished(quint64 operation, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    for (;;) {
        // The registry knows at once; the signal may still be on its way.
        if (auto info = m_registry->find(operation); info && !info->running())
            return info;
        if (timer.elapsed() > timeoutMs)
            return std::nullopt;
        QTest::qWait(20);
    }
}

services::Services::Options storeServicesOptions(const store::DatabaseOptions& store)
{
    services::Services::Options o;
    o.config.fromFile = true;
    o.config.settings.store.sqlitePath = store.sqlitePath;
    o.config.settings.hosts.clear();
    return o;
}

services::Services::Options testDriverServicesOptions(const QString& dir, virt::Hypervisor** raw)
{
    services::Services::Options o;
    o.config.fromFile = true;
    o.config.settings.store.sqlitePath = sqliteFileIn(dir);
    config::HostSettings host;
    host.name = QStringLiteral("local");
    host.uri = QStringLiteral("test:///default");
    o.config.settings.hosts = {host}; // instead of the default local qemu:///system
    o.adjustHostSetup = [dir, raw](services::HostSession::Setup& setup) {
        const services::HostSession::Setup test = testDriverSessionSetup(dir, raw);
        setup.manager.localFileDir = test.manager.localFileDir;
        setup.manager.poolName = test.manager.poolName;
        setup.manager.poolPath = test.manager.poolPath;
        setup.manager.probe = test.manager.probe;
        setup.manager.issueIdentity = test.manager.issueIdentity; // none: no keychain in unit tests
        setup.createDefaults.memoryMib = test.createDefaults.memoryMib;
        setup.createDefaults.vcpus = test.createDefaults.vcpus;
        setup.createDefaults.waitReady = test.createDefaults.waitReady;
        setup.connect = test.connect;
    };
    return o;
}

const char kTestDriverGoldenXml[] = R"(<domain type='test'>
  <name>golden</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/default-pool/golden.img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>)";

Result<std::unique_ptr<virt::Hypervisor>> connectTestDriver(const QString& uri)
{
    auto hv = virt::LibvirtHypervisor::connect(uri);
    if (!hv)
        return hv.error();
    // A second definition without the first one's UUID is refused: define it once, one connection at a time.
    static QMutex mutex;
    QMutexLocker lock(&mutex);
    if (!(*hv)->domainXml(QStringLiteral("golden"))) {
        (void)(*hv)->createVolume(QStringLiteral("default-pool"), QStringLiteral("golden.img"), 1 << 20,
                                  QStringLiteral("raw"));
        if (auto d = (*hv)->defineDomain(QString::fromLatin1(kTestDriverGoldenXml)); !d)
            return d.error();
    }
    return std::unique_ptr<virt::Hypervisor>(std::move(*hv));
}

services::HostSession::Setup testDriverSessionSetup(const QString& dir, virt::Hypervisor** raw)
{
    services::HostSession::Setup s;
    s.host.name = QStringLiteral("local");
    s.host.uri = QStringLiteral("test:///default");
    s.database.sqlitePath = sqliteFileIn(dir);
    s.manager.localFileDir = dir + QStringLiteral("/hostfiles");
    s.manager.poolName = QStringLiteral("default-pool");
    s.manager.poolPath = QStringLiteral("/default-pool");
    s.manager.probe = [](const QString&, int) {
        return false;
    };
    s.createDefaults.memoryMib = 2; // the test driver's host has 3 MiB free
    s.createDefaults.vcpus = 1;
    s.createDefaults.waitReady = false;
    s.connect = [raw](const QString& uri) -> Result<std::unique_ptr<virt::Hypervisor>> {
        auto hv = connectTestDriver(uri);
        if (hv && raw)
            *raw = hv->get();
        return hv;
    };
    return s;
}

} // namespace fluid::test

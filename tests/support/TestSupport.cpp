// SPDX-License-Identifier: Apache-2.0
#include "TestSupport.h"

#include "base/Signals.h"

#include <QDir>
#include <QUuid>

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

} // namespace fluid::test

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"
#include "services/HostSession.h"
#include "services/Services.h"

#include <QElapsedTimer>
#include <QFuture>
#include <QObject>
#include <QSignalSpy>
#include <QString>
#include <QTest>

namespace fluid::test {

/// Exit code that ctest reports as Skipped (SKIP_RETURN_CODE 77).
inline constexpr int kSkipExitCode = 77;

/// Prints "SKIPPED: reason" and exits with kSkipExitCode. For a test that cannot run on this machine;
/// never use QSKIP for that, since ctest counts QSKIP as passed.
[[noreturn]] void skipWholeTest(const QString& reason);

/// A fresh directory under the build tree's test-tmp (FLUID_TEST_TMP), removed by the caller or left for
/// post-mortem; unique per call.
QString makeTempDir(const QString& prefix);

/// A SQLite store at `dir`/fluid.sqlite (where testDriverSessionSetup(dir) keeps its rows), created and
/// migrated as the app does at start-up; returns its options. A failure ends the test run.
store::DatabaseOptions migratedStore(const QString& dir);

/// A golden VM for libvirt's test driver: a raw disk /default-pool/golden.img in the driver's pool.
extern const char kTestDriverGoldenXml[];

/// A connection to libvirt's test driver at `uri` with the golden VM of kTestDriverGoldenXml (and its disk)
/// defined, unless another connection defined it before: test:///default is one state for the whole
/// process, kept while any connection to it is open. Thread-safe.
Result<std::unique_ptr<virt::Hypervisor>>
connectTestDriver(const QString& uri = QStringLiteral("test:///default"));

/// A HostSession setup for libvirt's test driver (test:///default, host "local") over the SQLite store in
/// `dir`: the golden VM of kTestDriverGoldenXml defined on connect, creates of 2 MiB and 1 vCPU (the
/// driver's host has 3 MiB free) that do not wait for the guest, and a readiness probe that never answers.
/// When `raw` is given it receives the session's connection, to change things behind the session's back.
services::HostSession::Setup testDriverSessionSetup(const QString& dir, virt::Hypervisor** raw = nullptr);

/// Services::Options over the SQLite store `store` names, with no host.
services::Services::Options storeServicesOptions(const store::DatabaseOptions& store);

/// Services::Options over the SQLite store in `dir` with one host, "local" on libvirt's test driver, whose
/// sessions are set up as testDriverSessionSetup() does (`raw` likewise).
services::Services::Options testDriverServicesOptions(const QString& dir, virt::Hypervisor** raw = nullptr);

/// Records what an OperationRegistry reports (from any thread), for assertions.
class OperationLog : public QObject {
    Q_OBJECT
public:
    explicit OperationLog(services::OperationRegistry* registry);
    /// True once progress of `operation` (0: of any operation) said `text`.
    bool said(const QString& text, quint64 operation = 0) const;
    /// Waits (events running) until `operation` has ended and returns how; nullopt after timeoutMs.
    std::optional<services::OperationInfo> waitFinished(quint64 operation, int timeoutMs = 20000);

    QList<services::OperationInfo> started;
    QList<services::OperationInfo> progress;
    QList<services::OperationInfo> finished;

private:
    services::OperationRegistry* m_registry;
};

/// Waits for a future without blocking the event loop, so queued signals still arrive meanwhile.
template <typename T>
T await(QFuture<T> future, int timeoutMs = 60000)
{
    QElapsedTimer t;
    t.start();
    while (!future.isFinished() && t.elapsed() < timeoutMs)
        QTest::qWait(5);
    if (!future.isFinished())
        qFatal("a future did not finish within %d ms", timeoutMs);
    return future.result();
}

/// The value of a Result that must succeed; a failure aborts the test with the error's text.
template <typename T>
T must(Result<T> r)
{
    if (!r)
        qFatal("unexpected error: %s", qPrintable(r.error().toString()));
    return std::move(r).value();
}

inline void must(Result<void> r)
{
    if (!r)
        qFatal("unexpected error: %s", qPrintable(r.error().toString()));
}

/// The child of `parent` named `name`; ends the test run (qFatal) when there is none, so a renamed widget
/// fails loudly instead of dereferencing null.
template <typename T>
T* child(const QObject* parent, const char* name)
{
    T* w = parent->findChild<T*>(QString::fromLatin1(name));
    if (!w)
        qFatal("no child %s", name);
    return w;
}

} // namespace fluid::test

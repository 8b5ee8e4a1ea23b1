// SPDX-License-Identifier: Apache-2.0
#include "InspectHelper.h"

#include "base/Logging.h"
#include "base/Process.h"
#include "ssh/RemoteShell.h"

#include <QAtomicInt>
#include <QDateTime>
#include <QPromise>
#include <QStandardPaths>
#include <QThreadPool>

#include <unistd.h>

namespace fluid::inspect {
namespace {

QByteArray quoted(const QString& s)
{
    return ssh::shellQuote(s.toUtf8());
}

/// The helper sent over SSH: its base folder and arguments set first, then the program, with the input as
/// a here-document for the whole of it (base64 never contains the terminator line).
class RemoteHelper final : public InspectHelper {
public:
    explicit RemoteHelper(std::shared_ptr<ssh::RemoteShell> host)
        : m_host(std::move(host))
    {
    }
    QFuture<Result<ssh::ExecResult>> call(HelperCall c) override
    {
        QByteArray command;
        if (!c.baseDir.isEmpty())
            command += "FLUID_INSPECT_BASE=" + quoted(c.baseDir) + "\nexport FLUID_INSPECT_BASE\n";
        command += "set -- " + quoted(c.verb);
        for (const QString& a : c.args)
            command += ' ' + quoted(a);
        command += "\n{\n" + inspectHelperScript() + "\n}";
        if (!c.input.isNull())
            command += " <<'FLUID_INPUT_END'\n" + c.input.toBase64() + "\nFLUID_INPUT_END";
        command += '\n';
        ssh::ExecRequest r;
        r.command = std::move(command);
        r.shell = QStringLiteral("/bin/sh");
        r.timeout = std::chrono::milliseconds(c.timeoutMs);
        r.stdoutCap = c.stdoutCap;
        r.auditLabel = QStringLiteral("snapshot inspection: %1").arg(c.what);
        return m_host->exec(std::move(r));
    }
    QString where() const override { return QStringLiteral("on the host"); }

private:
    std::shared_ptr<ssh::RemoteShell> m_host;
};

ssh::ExecResult toExecResult(const ProcessResult& p)
{
    ssh::ExecResult r;
    r.stdoutData.head = p.out;
    r.stdoutData.totalBytes = p.outBytes;
    r.stderrData.head = p.err;
    r.stderrData.totalBytes = p.errBytes;
    if (!p.crashed && !p.timedOut && !p.cancelled)
        r.exitCode = p.exitCode;
    r.timedOut = p.timedOut;
    r.durationMs = p.elapsedMs;
    return r;
}

bool onPath(const QString& program)
{
    return !QStandardPaths::findExecutable(program).isEmpty();
}

/// sudo's own refusal (no rule for this person, a password wanted, the helper not installed), as opposed
/// to the helper's answer.
bool sudoRefused(const ProcessResult& p)
{
    if (p.exitCode != 1)
        return false;
    for (const char* phrase :
         {"a password is required", "is not allowed to execute", "may not run sudo",
          "is not in the sudoers file", "command not found", "a terminal is required", "no tty present"}) {
        if (p.err.contains(phrase) && p.err.contains("sudo:"))
            return true;
    }
    return false;
}

class LocalHelper final : public InspectHelper {
public:
    explicit LocalHelper(LocalHelperOptions options)
        : m_options(std::move(options))
    {
        m_pool.setMaxThreadCount(4);
        if (m_options.mode == LocalHelperOptions::Mode::Auto)
            m_options.mode =
                ::geteuid() == 0 ? LocalHelperOptions::Mode::Direct : LocalHelperOptions::Mode::Sudo;
    }
    ~LocalHelper() override { m_pool.waitForDone(); }

    QFuture<Result<ssh::ExecResult>> call(HelperCall c) override
    {
        auto promise = std::make_shared<QPromise<Result<ssh::ExecResult>>>();
        QFuture<Result<ssh::ExecResult>> future = promise->future();
        promise->start();
        m_pool.start([this, c = std::move(c), promise] {
            promise->addResult(run(c));
            promise->finish();
        });
        return future;
    }
    QString where() const override { return QStringLiteral("on this machine"); }

private:
    /// One call, audited as a root command on this machine when a sink and gate are set.
    Result<ssh::ExecResult> run(const HelperCall& c)
    {
        ssh::AuditContext context;
        context.target = QStringLiteral("root@localhost (this machine, fluid-inspect-helper)");
        ssh::ExecRequest audited;
        audited.command = "fluid-inspect-helper " + quoted(c.verb);
        for (const QString& a : c.args)
            audited.command += ' ' + quoted(a);
        audited.auditLabel = QStringLiteral("snapshot inspection: %1").arg(c.what);
        if (m_options.auditGate) {
            auto stored = m_options.auditGate(ssh::commandStartRecord(context, audited));
            stored.waitForFinished();
            const Result<void> ok =
                stored.resultCount() > 0
                    ? stored.result()
                    : Result<void>(
                          makeError(ErrorCode::Unavailable, QStringLiteral("the audit log did not answer")));
            if (!ok)
                return makeError(
                    ErrorCode::Unavailable,
                    QStringLiteral("The command was not run: its audit record could not be stored"),
                    ok.error().message);
        }
        const QDateTime started = QDateTime::currentDateTimeUtc();
        auto result = runUnaudited(c);
        if (m_options.auditSink) {
            ssh::ExecResult logged = result ? *result : ssh::ExecResult{};
            logged.startedAt = started;
            logged.finishedAt = QDateTime::currentDateTimeUtc();
            logged.durationMs = started.msecsTo(logged.finishedAt);
            const Error* error = result ? nullptr : &result.error();
            m_options.auditSink(ssh::commandAuditRecord(context, audited, logged, error));
        }
        return result;
    }

    Result<ssh::ExecResult> runUnaudited(const HelperCall& c)
    {
        ProcessSpec spec;
        spec.timeoutMs = c.timeoutMs;
        spec.maxOutputBytes = c.stdoutCap;
        if (!c.input.isNull())
            spec.input = c.input.toBase64() + '\n';
        QStringList verbAndArgs{c.verb};
        verbAndArgs += c.args;
        if (m_options.mode == LocalHelperOptions::Mode::Direct) {
            spec.program = QStringLiteral("/bin/sh");
            spec.arguments = QStringList{QStringLiteral("-c"), QString::fromUtf8(inspectHelperScript()),
                                         QStringLiteral("fluid-inspect-helper")} +
                             verbAndArgs;
            if (!c.baseDir.isEmpty())
                spec.environment.set(QStringLiteral("FLUID_INSPECT_BASE"), c.baseDir);
            return finish(c, runProcess(spec, c.cancel));
        }
        // Not root: the installed helper, which holds every argument to what Fluid sends.
        const int via = m_via.loadAcquire();
        if (via != kViaPkexec && onPath(QStringLiteral("sudo"))) {
            spec.program = QStringLiteral("sudo");
            spec.arguments =
                QStringList{QStringLiteral("-n"), QStringLiteral("--"), m_options.installedPath} +
                verbAndArgs;
            auto r = runProcess(spec, c.cancel);
            if (!r || !sudoRefused(*r) || via == kViaSudo || !onPath(QStringLiteral("pkexec"))) {
                if (r && r->exitCode == 0)
                    m_via.storeRelease(kViaSudo);
                return finish(c, std::move(r));
            }
            qCInfo(lcInspect) << "sudo refused the inspection helper, trying pkexec:" << r->err.trimmed();
        }
        if (onPath(QStringLiteral("pkexec"))) {
            spec.program = QStringLiteral("pkexec");
            spec.arguments = QStringList{m_options.installedPath} + verbAndArgs;
            auto r = runProcess(spec, c.cancel);
            if (r && r->exitCode == 0)
                m_via.storeRelease(kViaPkexec);
            return finish(c, std::move(r));
        }
        return makeError(ErrorCode::Unavailable, notAllowedMessage(),
                         QStringLiteral("neither sudo nor pkexec is installed"));
    }

    QString notAllowedMessage() const
    {
        return QStringLiteral(
                   "Reading a sandbox's disk needs root for its mounts, and Fluid runs as you: an "
                   "administrator allows Fluid's inspection helper %1 for you with the sudoers rule Fluid "
                   "ships (/etc/sudoers.d/fluid: members of group libvirt may run it as root) or its polkit "
                   "action (docs/inspect.md)")
            .arg(m_options.installedPath);
    }

    Result<ssh::ExecResult> finish(const HelperCall& c, Result<ProcessResult> r)
    {
        if (!r)
            return r.error();
        if (r->cancelled)
            return makeError(ErrorCode::Cancelled, QStringLiteral("%1 was cancelled").arg(c.what));
        if (m_options.mode != LocalHelperOptions::Mode::Direct && sudoRefused(*r))
            return makeError(ErrorCode::PermissionDenied, notAllowedMessage(),
                             QString::fromUtf8(r->err).trimmed());
        return toExecResult(*r);
    }

    static constexpr int kViaUnknown = 0;
    static constexpr int kViaSudo = 1;
    static constexpr int kViaPkexec = 2;

    LocalHelperOptions m_options;
    QThreadPool m_pool;
    QAtomicInt m_via{kViaUnknown};
};

} // namespace

QString installedHelperPath()
{
    return QStringLiteral(FLUID_INSPECT_HELPER_PATH);
}

std::shared_ptr<InspectHelper> remoteInspectHelper(std::shared_ptr<ssh::RemoteShell> host)
{
    return std::make_shared<RemoteHelper>(std::move(host));
}

std::shared_ptr<InspectHelper> localInspectHelper(LocalHelperOptions options)
{
    return std::make_shared<LocalHelper>(std::move(options));
}

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#include "Process.h"

#include "Logging.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>

#include <csignal>
#include <unistd.h>

namespace fluid {
namespace {

constexpr int kPollMs = 20;

void startInOwnGroup(QProcess& p)
{
    // Its own session and process group: a cancel or timeout reaches everything it started.
    p.setChildProcessModifier([]() { ::setsid(); });
}

Result<void> checkStarted(QProcess& p, const ProcessSpec& spec)
{
    if (p.waitForStarted(30000))
        return {};
    const bool missing =
        QStandardPaths::findExecutable(spec.program).isEmpty() && !QFileInfo(spec.program).isExecutable();
    return makeError(ErrorCode::Unavailable,
                     missing ? QStringLiteral("%1 is not installed (not found on PATH)").arg(spec.program)
                             : QStringLiteral("%1 could not be started").arg(spec.program),
                     p.errorString());
}

QString tail(const QByteArray& bytes, int maxChars = 600)
{
    const QString text = QString::fromUtf8(bytes).trimmed();
    return text.size() > maxChars ? QStringLiteral("…") + text.right(maxChars) : text;
}

/// Ends the group: SIGTERM, then SIGKILL when it has not ended within the grace time.
void stopGroup(QProcess& p, qint64 pid, int graceMs)
{
    signalProcessGroup(pid, SIGTERM);
    if (!p.waitForFinished(qMax(1, graceMs))) {
        signalProcessGroup(pid, SIGKILL);
        p.waitForFinished(5000);
    }
    // The leader may be gone while others of its group live on: they get the last word too.
    signalProcessGroup(pid, SIGKILL);
}

} // namespace

ProcessEnvironment ProcessEnvironment::minimal()
{
    ProcessEnvironment e;
    for (const char* name : {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR"})
        e.inherit(QString::fromLatin1(name));
    if (!e.contains(QStringLiteral("PATH")))
        e.set(QStringLiteral("PATH"),
              QStringLiteral("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    return e;
}

ProcessEnvironment& ProcessEnvironment::inherit(const QString& name)
{
    if (qEnvironmentVariableIsSet(name.toLocal8Bit().constData()))
        m_vars.insert(name, qEnvironmentVariable(name.toLocal8Bit().constData()));
    return *this;
}

ProcessEnvironment& ProcessEnvironment::set(const QString& name, const QString& value)
{
    m_vars.insert(name, value);
    return *this;
}

QProcessEnvironment ProcessEnvironment::toQt() const
{
    QProcessEnvironment env;
    for (auto it = m_vars.cbegin(); it != m_vars.cend(); ++it)
        env.insert(it.key(), it.value());
    return env;
}

QString ProcessResult::describe() const
{
    QString how;
    if (cancelled)
        how = QStringLiteral("was cancelled");
    else if (timedOut)
        how = QStringLiteral("timed out after %1 s").arg(elapsedMs / 1000.0, 0, 'f', 1);
    else if (crashed)
        how = QStringLiteral("was killed by a signal");
    else
        how = QStringLiteral("exit code %1").arg(exitCode);
    const QString said = tail(err.isEmpty() ? out : err);
    return said.isEmpty() ? how : QStringLiteral("%1: %2").arg(how, said);
}

Error ProcessResult::toError(const QString& what, ErrorCode code) const
{
    const ErrorCode c = cancelled ? ErrorCode::Cancelled : timedOut ? ErrorCode::Timeout : code;
    return makeError(c, QStringLiteral("%1 failed").arg(what), describe());
}

Result<ProcessResult> runProcess(const ProcessSpec& spec, const CancelToken& cancel, const OutputSink& output)
{
    QProcess p;
    p.setProcessEnvironment(spec.environment.toQt());
    if (!spec.workingDirectory.isEmpty())
        p.setWorkingDirectory(spec.workingDirectory);
    p.setProcessChannelMode(spec.mergeOutput ? QProcess::MergedChannels : QProcess::SeparateChannels);
    startInOwnGroup(p);
    QElapsedTimer elapsed;
    elapsed.start();
    p.start(spec.program, spec.arguments);
    if (auto started = checkStarted(p, spec); !started)
        return started.error();
    const qint64 pid = p.processId();
    if (!spec.input.isEmpty())
        p.write(spec.input);
    p.closeWriteChannel();

    ProcessResult r;
    const auto take = [&](bool isStderr) {
        if (isStderr && spec.mergeOutput)
            return; // nothing arrives there, and Qt warns when it is read
        const QByteArray chunk = isStderr ? p.readAllStandardError() : p.readAllStandardOutput();
        if (chunk.isEmpty())
            return;
        QByteArray& kept = isStderr ? r.err : r.out;
        (isStderr ? r.errBytes : r.outBytes) += chunk.size();
        const qint64 room = spec.maxOutputBytes - kept.size();
        if (room >= chunk.size()) {
            kept += chunk;
        } else {
            if (room > 0)
                kept += chunk.left(room);
            (isStderr ? r.errTruncated : r.outTruncated) = true;
        }
        if (output)
            output(chunk, isStderr);
    };
    QDeadlineTimer deadline = spec.timeoutMs > 0 ? QDeadlineTimer(spec.timeoutMs) : QDeadlineTimer::Forever;
    bool finished = false;
    while (!finished) {
        finished = p.waitForFinished(kPollMs) || p.state() == QProcess::NotRunning;
        take(false);
        take(true);
        if (finished)
            break;
        if (cancel.isCancelled() || deadline.hasExpired()) {
            (cancel.isCancelled() ? r.cancelled : r.timedOut) = true;
            stopGroup(p, pid, spec.killGraceMs);
            take(false);
            take(true);
            break;
        }
    }
    r.elapsedMs = elapsed.elapsed();
    r.crashed = p.exitStatus() == QProcess::CrashExit;
    r.exitCode = r.crashed ? -1 : p.exitCode();
    return r;
}

void LineSplitter::feed(const QByteArray& chunk, const LineFn& line)
{
    m_partial += chunk;
    qsizetype newline;
    qsizetype from = 0;
    while ((newline = m_partial.indexOf('\n', from)) >= 0) {
        QByteArray l = m_partial.mid(from, newline - from);
        if (l.endsWith('\r'))
            l.chop(1);
        line(l);
        from = newline + 1;
    }
    m_partial.remove(0, from);
}

void LineSplitter::finish(const LineFn& line)
{
    if (!m_partial.isEmpty())
        line(std::exchange(m_partial, QByteArray()));
}

Result<std::unique_ptr<BackgroundProcess>> BackgroundProcess::start(const ProcessSpec& spec)
{
    std::unique_ptr<BackgroundProcess> bp(new BackgroundProcess);
    bp->m_process = std::make_unique<QProcess>();
    bp->m_program = spec.program;
    QProcess& p = *bp->m_process;
    p.setProcessEnvironment(spec.environment.toQt());
    if (!spec.workingDirectory.isEmpty())
        p.setWorkingDirectory(spec.workingDirectory);
    if (spec.logFile.isEmpty()) {
        p.setStandardOutputFile(QProcess::nullDevice());
        p.setStandardErrorFile(QProcess::nullDevice());
    } else {
        p.setStandardOutputFile(spec.logFile, QIODevice::Append);
        p.setStandardErrorFile(spec.logFile, QIODevice::Append);
    }
    p.setStandardInputFile(QProcess::nullDevice());
    startInOwnGroup(p);
    p.start(spec.program, spec.arguments);
    if (auto started = checkStarted(p, spec); !started)
        return started.error();
    bp->m_pid = p.processId();
    return bp;
}

BackgroundProcess::~BackgroundProcess()
{
    stop();
}

bool BackgroundProcess::isRunning() const
{
    return m_process && m_process->state() != QProcess::NotRunning;
}

bool BackgroundProcess::waitForExit(int ms)
{
    if (!isRunning())
        return true;
    return m_process->waitForFinished(ms) || !isRunning();
}

void BackgroundProcess::stop(int graceMs)
{
    if (!isRunning())
        return;
    stopGroup(*m_process, m_pid, graceMs);
    if (isRunning())
        qCWarning(lcCore) << m_program << "(pid" << m_pid << ") did not end after SIGKILL";
}

void signalProcessGroup(qint64 pgid, int signal)
{
    if (pgid > 1)
        ::kill(-pid_t(pgid), signal);
}

} // namespace fluid

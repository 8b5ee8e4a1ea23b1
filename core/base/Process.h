// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Cancel.h"
#include "Result.h"

#include <QByteArray>
#include <QHash>
#include <QProcessEnvironment>
#include <QStringList>

#include <functional>
#include <memory>

class QProcess;

namespace fluid {

/// The environment a child process gets. Never Fluid's own, which may hold a secrets passphrase or an API
/// key: only a few harmless variables (PATH, HOME, USER, LOGNAME, LANG, LC_ALL, TZ, TMPDIR, when set) and
/// what the caller names. A value; any thread.
class ProcessEnvironment {
public:
    static ProcessEnvironment minimal();
    /// Copies `name` from Fluid's environment when it is set there.
    ProcessEnvironment& inherit(const QString& name);
    ProcessEnvironment& set(const QString& name, const QString& value);
    QString value(const QString& name) const { return m_vars.value(name); }
    bool contains(const QString& name) const { return m_vars.contains(name); }
    QProcessEnvironment toQt() const;

private:
    QHash<QString, QString> m_vars;
};

/// One program to run.
struct ProcessSpec {
    QString program;
    QStringList arguments;
    QString workingDirectory;
    ProcessEnvironment environment = ProcessEnvironment::minimal();
    QByteArray input;                        ///< written to stdin, which is then closed
    int timeoutMs = 0;                       ///< 0: no limit
    qint64 maxOutputBytes = 4 * 1024 * 1024; ///< kept per stream; the rest is counted, not kept
    bool mergeOutput = false;                ///< stderr joins stdout
    int killGraceMs = 3000; ///< after SIGTERM to its process group, SIGKILL follows this late
    /// For BackgroundProcess: where its output goes (appended); empty: discarded.
    QString logFile;
};

/// How a run ended and what it printed.
struct ProcessResult {
    int exitCode = -1;
    bool crashed = false;   ///< ended by a signal
    bool timedOut = false;  ///< stopped by Fluid at timeoutMs
    bool cancelled = false; ///< stopped by Fluid through the cancel token
    QByteArray out;
    QByteArray err;
    bool outTruncated = false;
    bool errTruncated = false;
    qint64 outBytes = 0; ///< everything produced, before any cut
    qint64 errBytes = 0;
    qint64 elapsedMs = 0;

    bool succeeded() const { return !crashed && !timedOut && !cancelled && exitCode == 0; }
    /// "exit code 2: <the end of stderr>", "timed out after 30 s", ... for people.
    QString describe() const;
    /// An Error for a run that did not succeed: `what` failed, how, and the end of its output (Timeout,
    /// Cancelled, or `code` for the rest).
    Error toError(const QString& what, ErrorCode code = ErrorCode::Unavailable) const;
};

/// Receives output as it arrives, on the thread that runs the process (`isStderr` false for stdout).
using OutputSink = std::function<void(const QByteArray& chunk, bool isStderr)>;

/// Runs a program to its end on the calling thread (no event loop needed) in its own session and process
/// group, so that a cancel or a timeout stops everything it started: SIGTERM to the group, SIGKILL after
/// killGraceMs. A program that cannot start is an Error (Unavailable, "X is not installed" when it is not on
/// PATH); everything after the start is in the ProcessResult, whose output is capped at maxOutputBytes per
/// stream while `output` sees all of it. Any thread.
Result<ProcessResult> runProcess(const ProcessSpec& spec, const CancelToken& cancel = {},
                                 const OutputSink& output = {});

/// Splits streamed output into lines: feed() each chunk, finish() at the end for a last line without a
/// newline. One per stream.
class LineSplitter {
public:
    using LineFn = std::function<void(const QByteArray& line)>;
    void feed(const QByteArray& chunk, const LineFn& line);
    void finish(const LineFn& line);

private:
    QByteArray m_partial;
};

/// A helper that keeps running in the background while Fluid works with it (qemu-nbd, a FUSE export), in
/// its own process group, its output appended to spec.logFile. stop() (and the destructor) end the whole
/// group: SIGTERM, then SIGKILL after the grace time. Lives on the thread that started it.
class BackgroundProcess {
public:
    static Result<std::unique_ptr<BackgroundProcess>> start(const ProcessSpec& spec);
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    qint64 pid() const { return m_pid; }
    bool isRunning() const;
    /// Waits up to `ms` for it to end by itself; true when it has ended.
    bool waitForExit(int ms);
    void stop(int graceMs = 3000);

private:
    BackgroundProcess() = default;
    std::unique_ptr<QProcess> m_process;
    qint64 m_pid = 0;
    QString m_program;
};

/// Sends `signal` to the process group `pgid` leads (a process started by runProcess or BackgroundProcess is
/// its group's leader). Does nothing for pgid <= 1.
void signalProcessGroup(qint64 pgid, int signal);

} // namespace fluid

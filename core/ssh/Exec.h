// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QPair>
#include <QString>

#include <chrono>
#include <optional>

namespace fluid::ssh {

/// One command to run on a remote machine. The command text reaches the remote shell byte for byte: Fluid
/// never quotes or rewrites it (it travels on the channel's stdin and is handed to the shell unchanged), so
/// quotes, $vars, backticks, heredocs and non-UTF-8 bytes mean exactly what they mean in a terminal.
struct ExecRequest {
    QByteArray command;
    /// Set for the command only; names must match [A-Za-z_][A-Za-z0-9_]*, values may hold any byte but NUL.
    QList<QPair<QByteArray, QByteArray>> environment;
    /// Wall time after which the command's whole process group is killed; zero: no limit.
    std::chrono::milliseconds timeout{std::chrono::minutes(10)};
    /// Bytes kept per stream; beyond that the head and tail (half each) are kept and the cut is counted.
    qint64 stdoutCap = 1024 * 1024;
    qint64 stderrCap = 256 * 1024;
    /// Interpreter for the command: empty is the account's login shell ($SHELL), as `ssh host cmd` does.
    QString shell;
    /// Short text for the audit log instead of the command's first line (for example a tool's name).
    QString auditLabel;
    /// Keep the command text out of every process list on the remote machine (it carries a secret): it
    /// stays in a shell variable and runs through eval instead of being an argument of `sh -c`.
    bool hideFromProcessList = false;
};

/// What was kept of one output stream: the first and last bytes, and how much there was in all.
struct CapturedOutput {
    QByteArray head; ///< everything when nothing was cut
    QByteArray tail; ///< empty when nothing was cut
    qint64 totalBytes = 0;

    bool truncated() const { return totalBytes > head.size() + tail.size(); }
    qint64 cutBytes() const { return totalBytes - head.size() - tail.size(); }
    /// head + "\n[... N bytes cut ...]\n" + tail when cut, else all of it.
    QByteArray text() const;
};

/// Keeps the head and the tail of a byte stream within a cap (head cap/2, tail the rest) and counts every
/// byte; memory stays O(cap) however long the stream. Not thread-safe: one per stream.
class OutputCapture {
public:
    explicit OutputCapture(qint64 cap);
    void append(const char* data, qsizetype size);
    void append(const QByteArray& data) { append(data.constData(), data.size()); }
    CapturedOutput result() const;

private:
    qint64 m_headCap;
    qint64 m_tailCap;
    QByteArray m_head;
    QByteArray m_tail; ///< up to 2*tailCap before compaction
    qint64 m_total = 0;
};

struct ExecResult {
    CapturedOutput stdoutData;
    CapturedOutput stderrData;
    std::optional<int> exitCode; ///< empty when it ended by a signal or was cut off
    QString signal;              ///< e.g. "KILL" when the remote reported a signal
    bool timedOut = false;
    QDateTime startedAt;
    QDateTime finishedAt;
    qint64 durationMs = 0;

    bool succeeded() const { return exitCode == 0; }
};

/// POSIX shell single-quoting: the result is one word that means exactly `bytes`.
QByteArray shellQuote(const QByteArray& bytes);

/// InvalidArgument unless the request can be sent: no NUL in the command, valid environment names, no NUL
/// in values, a shell path of plain characters, non-negative caps.
Result<void> validateExecRequest(const ExecRequest& request);

/// The fixed wrapper Fluid execs on the remote side. It prints "<marker> <pid>\n" first (the process group
/// to kill on timeout; the client strips that line), reads the command text from stdin, and runs it with
/// stdin at /dev/null under the requested environment and shell. `commandSize` picks the form: commands
/// that fit in one exec argument are exec'd as `shell -c`, so the exit signal is reported faithfully;
/// larger ones are eval'd by the wrapper shell.
QByteArray execWrapper(const ExecRequest& request, const QByteArray& marker);

/// Largest command handed to `shell -c` as one argument (Linux allows 128 KiB per argument).
inline constexpr qsizetype kMaxArgumentCommand = 120 * 1024;

} // namespace fluid::ssh

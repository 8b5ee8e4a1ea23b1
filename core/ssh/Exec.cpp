// SPDX-License-Identifier: Apache-2.0
#include "Exec.h"

#include <QRegularExpression>

namespace fluid::ssh {

QByteArray CapturedOutput::text() const
{
    if (!truncated())
        return head + tail;
    return head + "\n[... " + QByteArray::number(cutBytes()) + " bytes cut ...]\n" + tail;
}

OutputCapture::OutputCapture(qint64 cap)
    : m_headCap(qMax<qint64>(0, cap) / 2)
    , m_tailCap(qMax<qint64>(0, cap) - qMax<qint64>(0, cap) / 2)
{
}

void OutputCapture::append(const char* data, qsizetype size)
{
    if (size <= 0)
        return;
    m_total += size;
    const qsizetype toHead = qsizetype(qMin<qint64>(size, m_headCap - m_head.size()));
    if (toHead > 0) {
        m_head.append(data, toHead);
        data += toHead;
        size -= toHead;
    }
    if (size <= 0 || m_tailCap == 0)
        return;
    if (size >= m_tailCap) {
        m_tail = QByteArray(data + size - m_tailCap, qsizetype(m_tailCap));
        return;
    }
    m_tail.append(data, size);
    // Compact only when twice the cap is buffered, so each byte is moved O(1) times on average.
    if (m_tail.size() > 2 * m_tailCap)
        m_tail = m_tail.right(qsizetype(m_tailCap));
}

CapturedOutput OutputCapture::result() const
{
    CapturedOutput out;
    out.totalBytes = m_total;
    out.head = m_head;
    const QByteArray tail = m_tail.size() > m_tailCap ? m_tail.right(qsizetype(m_tailCap)) : m_tail;
    if (m_total <= m_head.size() + tail.size()) {
        out.head += tail;
    } else {
        out.tail = tail;
    }
    return out;
}

QByteArray shellQuote(const QByteArray& bytes)
{
    QByteArray out = "'";
    for (char c : bytes) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    out += '\'';
    return out;
}

Result<void> validateExecRequest(const ExecRequest& request)
{
    static const QRegularExpression nameRe(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
    static const QRegularExpression shellRe(QStringLiteral("^/[A-Za-z0-9/._+-]*$"));
    if (request.command.contains('\0'))
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The command contains a NUL byte, which no shell can run; remove it."));
    for (const auto& [name, value] : request.environment) {
        if (!nameRe.match(QString::fromLatin1(name)).hasMatch())
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("\"%1\" is not a valid environment variable name.")
                                 .arg(QString::fromUtf8(name.left(80))));
        if (value.contains('\0'))
            return makeError(
                ErrorCode::InvalidArgument,
                QStringLiteral("The value of %1 contains a NUL byte.").arg(QString::fromLatin1(name)));
    }
    if (!request.shell.isEmpty() && !shellRe.match(request.shell).hasMatch())
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("The shell must be an absolute path of plain characters, not \"%1\".")
                             .arg(request.shell.left(80)));
    if (request.stdoutCap < 0 || request.stderrCap < 0 || request.timeout.count() < 0)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Output caps and timeout must not be negative."));
    return {};
}

QByteArray execWrapper(const ExecRequest& request, const QByteArray& marker)
{
    QByteArray run = "exec ";
    if (!request.environment.isEmpty()) {
        run += "env --";
        for (const auto& [name, value] : request.environment)
            run += ' ' + shellQuote(name + '=' + value);
        run += ' ';
    }
    run += request.shell.isEmpty() ? QByteArray("\"${SHELL:-/bin/sh}\"") : shellQuote(request.shell.toUtf8());

    // `$(cat; printf .)` then stripping the dot keeps trailing newlines that $(...) would drop.
    const QByteArray read = "s=$(cat; printf .); s=${s%.}";
    QByteArray w = "printf '%s %s\\n' " + marker + " \"$$\"; ";
    if (request.command.size() <= kMaxArgumentCommand && !request.hideFromProcessList)
        w += read + "; " + run + " -c \"$s\" 0</dev/null";
    else
        w += run + " -c " + shellQuote(read + "; exec 0</dev/null; eval \"$s\"");
    return w;
}

} // namespace fluid::ssh

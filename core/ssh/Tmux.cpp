// SPDX-License-Identifier: Apache-2.0
#include "Tmux.h"

#include <QRegularExpression>

namespace fluid::ssh::tmux {
namespace {

ExecRequest request(const QByteArray& command, const QString& label)
{
    ExecRequest r;
    r.command = command;
    r.timeout = std::chrono::seconds(30);
    r.auditLabel = label;
    return r;
}

QByteArray quoted(const QString& s)
{
    return shellQuote(s.toUtf8());
}

} // namespace

Result<void> validateTarget(const QString& target)
{
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9_.:%-]{1,100}$"));
    if (!re.match(target).hasMatch())
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("\"%1\" is not a tmux target Fluid accepts: use letters, digits and _ - . : %.")
                .arg(target.left(100)));
    return {};
}

Result<ExecRequest> newSession(const QString& session, int cols, int rows, const QByteArray& command)
{
    if (auto v = validateTarget(session); !v)
        return v.error();
    if (session.contains(QLatin1Char(':')) || session.contains(QLatin1Char('.')))
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("A tmux session name cannot contain : or ."));
    QByteArray cmd = "tmux new-session -d -s " + quoted(session) + " -x " +
                     QByteArray::number(qMax(2, cols)) + " -y " + QByteArray::number(qMax(2, rows));
    if (!command.isEmpty())
        cmd += ' ' + shellQuote(command);
    return request(cmd, QStringLiteral("tmux new-session %1").arg(session));
}

Result<ExecRequest> sendKeys(const QString& target, const QByteArray& text, bool pressEnter)
{
    if (auto v = validateTarget(target); !v)
        return v.error();
    QByteArray cmd = "tmux send-keys -t " + quoted(target) + " -l -- " + shellQuote(text);
    if (pressEnter)
        cmd += " && tmux send-keys -t " + quoted(target) + " Enter";
    return request(cmd, QStringLiteral("tmux send-keys %1").arg(target));
}

Result<ExecRequest> sendKeyNames(const QString& target, const QStringList& keys)
{
    if (auto v = validateTarget(target); !v)
        return v.error();
    static const QRegularExpression keyRe(QStringLiteral("^[A-Za-z0-9-]{1,20}$"));
    QByteArray cmd = "tmux send-keys -t " + quoted(target);
    for (const QString& k : keys) {
        if (!keyRe.match(k).hasMatch())
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("\"%1\" is not a tmux key name.").arg(k.left(40)));
        cmd += ' ' + k.toLatin1();
    }
    return request(cmd, QStringLiteral("tmux send-keys %1 %2").arg(target, keys.join(QLatin1Char(' '))));
}

Result<ExecRequest> capturePane(const QString& target, int historyLines)
{
    if (auto v = validateTarget(target); !v)
        return v.error();
    QByteArray cmd = "tmux capture-pane -p -t " + quoted(target);
    if (historyLines > 0)
        cmd += " -S -" + QByteArray::number(historyLines);
    return request(cmd, QStringLiteral("tmux capture-pane %1").arg(target));
}

Result<ExecRequest> killSession(const QString& session)
{
    if (auto v = validateTarget(session); !v)
        return v.error();
    return request("tmux kill-session -t " + quoted(session),
                   QStringLiteral("tmux kill-session %1").arg(session));
}

} // namespace fluid::ssh::tmux

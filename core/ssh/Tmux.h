// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Exec.h"

#include <QStringList>

namespace fluid::ssh::tmux {

// Builders for tmux commands run over RemoteShell::exec, so an agent or the terminal view can drive a
// long-lived shell inside the sandbox. Targets ("session", "session:window.pane") are checked, and text is
// shell-quoted, so nothing in them can break out of the tmux command. Plain functions; any thread.

/// InvalidArgument unless `target` is 1-100 characters of letters, digits and _ - . : %
Result<void> validateTarget(const QString& target);

/// Starts a detached session (cols x rows), running `command` instead of the default shell when given.
Result<ExecRequest> newSession(const QString& session, int cols = 200, int rows = 50,
                               const QByteArray& command = {});
/// Types `text` literally into the pane (send-keys -l), then presses Enter when asked.
Result<ExecRequest> sendKeys(const QString& target, const QByteArray& text, bool pressEnter = false);
/// Sends named keys such as "C-c", "Enter", "Up", "F5" (letters, digits and - only).
Result<ExecRequest> sendKeyNames(const QString& target, const QStringList& keys);
/// Prints the pane's visible text, plus `historyLines` lines of scrollback above it.
Result<ExecRequest> capturePane(const QString& target, int historyLines = 0);
Result<ExecRequest> killSession(const QString& session);

} // namespace fluid::ssh::tmux

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Result.h"
#include "ssh/CommandAudit.h"
#include "ssh/Exec.h"

#include <QFuture>
#include <QString>
#include <QStringList>

#include <memory>

namespace fluid::ssh {
class RemoteShell;
}

namespace fluid::inspect {

/// One call of fluid-inspect-helper (core/inspect/fluid-inspect-helper): a verb and its arguments.
struct HelperCall {
    QString verb;
    QStringList args;
    QByteArray input; ///< sent base64-encoded on stdin when not null
    QString baseDir;  ///< the helper's work folder (FLUID_INSPECT_BASE); sudo fixes /run/fluid-inspect
    int timeoutMs = 30000;
    qint64 stdoutCap = 4 * 1024 * 1024;
    QString what;       ///< for errors and the audit log: "the disk export"
    CancelToken cancel; ///< a local call is stopped at once; a remote one when its future is cancelled
};

/// Where the privileged steps of a snapshot diff run: the same helper program, on a remote hypervisor host
/// over Fluid's SSH connection (sent with each call; nothing is installed there), or on this machine (run
/// directly when Fluid is root, else the installed helper through `sudo -n`, or pkexec where sudo has no
/// rule for this person). Thread-safe.
class InspectHelper {
public:
    virtual ~InspectHelper() = default;
    /// Starts one call; the future ends with how it ended (a non-zero exit is a result, not an error).
    virtual QFuture<Result<ssh::ExecResult>> call(HelperCall call) = 0;
    /// "on the host", "on this machine": for messages.
    virtual QString where() const = 0;
};

/// The helper program's text, as compiled into Fluid.
QByteArray inspectHelperScript();
/// Where the installed helper lives (CMAKE_INSTALL_FULL_LIBEXECDIR/fluid/fluid-inspect-helper); the path
/// the shipped sudoers rule and polkit action name.
QString installedHelperPath();

/// The helper on a remote host, through a root shell there (every call audited by the shell's audit sink).
std::shared_ptr<InspectHelper> remoteInspectHelper(std::shared_ptr<ssh::RemoteShell> host);

struct LocalHelperOptions {
    enum class Mode {
        Auto,   ///< Direct when this process is root, else Sudo
        Direct, ///< the compiled-in helper under /bin/sh (needs root)
        Sudo,   ///< `sudo -n <installedPath>`, then pkexec when sudo has no rule
    };
    Mode mode = Mode::Auto;
    QString installedPath = installedHelperPath();
    /// Root commands on this machine are audited like those on a remote host: each call's command.start
    /// record must pass the gate before it runs (else it does not run), and its command.run record goes to
    /// the sink. Unset: not audited (tests).
    ssh::AuditSink auditSink;
    ssh::AuditGate auditGate;
};
/// The helper on this machine.
std::shared_ptr<InspectHelper> localInspectHelper(LocalHelperOptions options = {});

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Cancel.h"
#include "base/Process.h"
#include "base/Progress.h"
#include "base/Result.h"

#include <QString>
#include <QStringList>

#include <functional>
#include <optional>

namespace fluid::services {

// Fluid's Debian golden image, built by scripts/golden-image.sh: the one runner behind the set-up wizard's
// Build button and `fluid image build|path`. Thread: any; every function that runs the script blocks until
// it ends, so call those from a worker, never from the GUI thread.

/// What to build: `golden-image.sh build --flavour FLAVOUR [--define URI]`.
struct GoldenImageBuild {
    QString flavour = QStringLiteral("fwcfg"); ///< fwcfg or cloudinit (the script refuses others)
    /// Also define the image as a shut-off VM on this libvirt host, to clone from; empty: do not.
    QString defineUri;
    /// Folder of the running executable, for findGoldenImageScript().
    QString exeDir;
    /// The golden-image.sh to run; empty: the one findGoldenImageScript(exeDir) finds.
    QString script;
};

/// What a finished build reported.
struct GoldenImageResult {
    QString imageDir;  ///< the image's folder ("built DIR", "cached DIR"); empty when the script did not say
    QString definedVm; ///< the VM its "defined NAME (URI) for DIR" line names; empty without defineUri
    bool cached = false; ///< the image was built before and reused
};

/// One line the build printed (`isError` for its stderr), on the thread that runs the build.
using GoldenImageLog = std::function<void(const QString& line, bool isError)>;

/// Builds (or reuses) the golden image, reporting each "progress: N% ..." line to `progress` and every line
/// to `log` as it arrives (both on the calling thread; hand them on, do not wait). The script runs in its own
/// process group with goldenImageEnvironment(); cancelling `cancel` stops the whole group (SIGTERM, SIGKILL 3
/// s later) and gives a Cancelled error. Errors say what failed and what to do: NotFound when the script is
/// missing, Unavailable when bash cannot run it or a signal killed it, Unknown when it failed, with the end
/// of its output as the detail. Blocks until the script has ended.
Result<GoldenImageResult> buildGoldenImage(const GoldenImageBuild& build, const ProgressSink& progress,
                                           const GoldenImageLog& log, const CancelToken& cancel);

/// Where the image of a flavour is (`golden-image.sh path`).
struct GoldenImageLocation {
    QString imageDir;
    bool complete = false; ///< false: not built yet (or only half)
};

/// Asks golden-image.sh where the image of `flavour` is and whether it is complete. Errors as for
/// buildGoldenImage(). Blocks (briefly: the script only hashes its recipe).
Result<GoldenImageLocation> locateGoldenImage(const QString& flavour, const QString& exeDir);

/// golden-image.sh: from FLUID_SCRIPTS_DIR, the source tree beside a build (relative to `exeDir`), or the
/// installed share folder. NotFound says how to point Fluid at it.
Result<QString> findGoldenImageScript(const QString& exeDir);

/// Arguments for `bash` that build the golden image (and define it on `defineUri` when not empty).
QStringList goldenImageBuildArguments(const QString& script, const QString& flavour,
                                      const QString& defineUri);

/// The environment golden-image.sh runs with: ProcessEnvironment::minimal() and only the variables the
/// script and the tools it starts read, when they are set. Never Fluid's secrets passphrase or an API key.
ProcessEnvironment goldenImageEnvironment();

/// A "progress: 42% text (12 s)" line of golden-image.sh: fraction 0.42, message "text (12 s)", stage
/// "text"; nullopt for other lines.
std::optional<Progress> parseGoldenImageProgress(const QString& line);
/// The libvirt domain a "defined NAME (URI) for FOLDER" line of golden-image.sh names (the VM it defined on
/// the host for the image); nullopt for other lines.
std::optional<QString> parseGoldenImageDefined(const QString& line);

} // namespace fluid::services

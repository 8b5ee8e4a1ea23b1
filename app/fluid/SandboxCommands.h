// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "CliSupport.h"

namespace fluid::app {

/// `fluid host ...`, `fluid sandbox ...` and `fluid approval ...`: clients of the same services the desktop
/// app uses (a HostSession's operations, the approval broker), for scripting and tests. Main thread; each
/// command waits for its work with this thread's events running.
int runHostCommand(const cli::Parsed& p);
int runSandboxCommand(const cli::Parsed& p);
int runApprovalCommand(const cli::Parsed& p);
/// `fluid image build|path`: runs scripts/golden-image.sh, the same builder the test bed uses.
int runImageCommand(const cli::Parsed& p);

extern const char kSandboxUsage[];

} // namespace fluid::app

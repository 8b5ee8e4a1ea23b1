// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "CliSupport.h"

namespace fluid::app {

/// `fluid host ...`, `fluid sandbox ...` and `fluid approval ...`: the same SandboxManager and
/// ApprovalBroker code paths the desktop app uses, for scripting and tests. Main thread; blocking.
int runHostCommand(const cli::Parsed& p);
int runSandboxCommand(const cli::Parsed& p);
int runApprovalCommand(const cli::Parsed& p);
/// `fluid image build|path`: runs scripts/golden-image.sh, the same builder the test bed uses.
int runImageCommand(const cli::Parsed& p);

extern const char kSandboxUsage[];

} // namespace fluid::app

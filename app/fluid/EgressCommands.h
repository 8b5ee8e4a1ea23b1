// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "CliSupport.h"

namespace fluid::app {

/// `fluid egress list|allow|revoke|serve`: what sandboxes may reach through the egress gate, and the gate
/// itself (`serve`, which front ends start on demand: services::ensureEgressGate).
int runEgressCommand(const cli::Parsed& p);

extern const char kEgressUsage[];

} // namespace fluid::app

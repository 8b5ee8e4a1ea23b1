// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "store/Database.h"
#include "virt/SandboxManager.h"

namespace fluid::approval {
class ApprovalBroker;
}

namespace fluid::services {

/// The admission gate the services give every host session: a create beyond a host's limits files a
/// "resources" approval request through `broker` (with what it would go beyond, for a person to read) and its
/// future finishes when the request is decided: approved (its content hash unchanged) lets the create go on;
/// rejected is Refused with the person's comment; expired is Timeout. Called on a worker (it files the
/// request over that thread's store connection); the wait holds no thread. `broker` must outlive the
/// sessions.
virt::AdmissionGate approvalGate(approval::ApprovalBroker* broker, const store::DatabaseOptions& database);

} // namespace fluid::services

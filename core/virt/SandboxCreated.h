// SPDX-License-Identifier: Apache-2.0
#pragma once

// What SandboxManager's create and its rollback share (SandboxManager.cpp, SandboxCreate.cpp); not a public
// header.

#include "DomainXml.h"
#include "SandboxManager.h"

namespace fluid::virt {

/// "fluid-<name>.<what>": a volume or file that belongs to sandbox <name>. Names have no dots, so the first
/// dot ends the name even when the name has dashes.
QString hostFileName(const QString& sandboxName, const QString& what);

/// What a create has made so far, for rollback.
struct SandboxManager::Created {
    model::Sandbox row;
    SandboxXmlSpec spec; ///< the domain XML being put together
    bool rowInserted = false;
    QStringList hostFiles; ///< volumes or local files
    bool defined = false;
    bool started = false;
};

} // namespace fluid::virt

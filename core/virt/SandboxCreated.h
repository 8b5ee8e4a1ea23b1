// SPDX-License-Identifier: Apache-2.0
#pragma once

// What SandboxManager's create, its rollback and reconcile share (SandboxManager.cpp, SandboxCreate.cpp,
// SandboxReconcile.cpp); not a public header.

#include "DomainXml.h"
#include "SandboxManager.h"
#include "store/Lease.h"

namespace fluid::virt {

/// "fluid-<store id>-<name>.<what>": a volume or file that belongs to sandbox <name> of the store with that
/// id; in Fluid's own pool or folder, only that store removes it. Names have no dots, so the first dot ends
/// the name.
QString hostFileName(const QString& storeId, const QString& sandboxName, const QString& what);

/// The domain is this sandbox's: its mark names the row, and this store or (made before marks named a store)
/// no store.
bool ownsDomain(const DomainMark& mark, const model::Sandbox& row, const QString& storeId);

/// The lease a create holds on its row while it works ("create:<sandbox id>").
QString createLeaseName(const QString& sandboxId);

/// What a create has made so far, for rollback.
struct SandboxManager::Created {
    model::Sandbox row;
    SandboxXmlSpec spec; ///< the domain XML being put together
    bool rowInserted = false;
    /// Held while the create works, so a reconcile elsewhere leaves the row alone.
    std::optional<store::Lease> lease;
    QStringList hostFiles; ///< volumes or local files
    bool defined = false;
    bool started = false;
};

} // namespace fluid::virt

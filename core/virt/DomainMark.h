// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

namespace fluid::virt {

/// Fluid's mark on a sandbox domain, one element in the domain's <metadata> in Fluid's namespace
/// (kMetadataNamespace): the sandbox's id, what it was cloned from, and the id of the store that made it.
/// Reconcile, destroy and clean-up act only on domains whose mark names their own store (or, on sandboxes
/// made before marks named a store, their own row). Plain data.
struct DomainMark {
    QString sandboxId;
    QString sourceName;
    QString storeId; ///< empty on sandboxes made before marks named their store

    bool isSandbox() const { return !sandboxId.isEmpty(); }
};

/// The mark as XML: <fluid:sandbox xmlns:fluid="..."><fluid:id/><fluid:source/><fluid:store/></...> with
/// the namespace, for domain XML; without it (<sandbox><id/>...) for virDomainSetMetadata, which adds its
/// own.
QString domainMarkXml(const DomainMark& mark, bool withNamespace);

/// Reads a mark element, with or without its namespace; an empty mark when it is not one.
DomainMark parseDomainMark(const QString& elementXml);

} // namespace fluid::virt

// SPDX-License-Identifier: Apache-2.0
// SandboxManager's reconcile: after a crash, what this store made and no longer owns goes, what it still owns
// is brought up to date, and what is not its own (or is being worked on elsewhere) is left alone.
#include "SandboxManager.h"

#include "Names.h"
#include "SandboxCreated.h"
#include "store/Lease.h"
#include "store/Queries.h"
#include "store/Repository.h"

namespace fluid::virt {
using model::Sandbox;
using model::SandboxState;

Result<ReconcileReport> SandboxManager::reconcile(const QString& hostId)
{
    QString heldBy;
    auto lease = store::Lease::acquire(m_db, QStringLiteral("reconcile:") + hostId, m_options.leaseTtlMs,
                                       m_clock, &heldBy);
    if (!lease)
        return lease.error();
    if (!*lease)
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("Another Fluid is cleaning up this host right now; try again when it "
                                        "is done"),
                         QStringLiteral("held by %1").arg(heldBy));
    auto mine = storeId();
    if (!mine)
        return mine.error();
    // What is on the host first, then the rows: a create elsewhere inserts its row before it makes anything,
    // so whatever is listed here has its row in what is read next.
    auto domains = m_hv.domains();
    if (!domains)
        return domains.error();
    auto files = hostFiles(*mine);
    if (!files)
        return files.error();
    auto rows = store::liveSandboxes(m_db, hostId);
    if (!rows)
        return rows.error();
    QHash<QString, DomainSummary> byName;
    for (const DomainSummary& d : std::as_const(*domains))
        byName.insert(d.name, d);

    ReconcileReport report;
    QSet<QString> handledIds;
    QSet<QString> handledNames;
    for (const Sandbox& row : std::as_const(*rows)) {
        if (auto kept = (*lease)->keepAlive(); !kept)
            return kept.error();
        handledIds.insert(row.id);
        reconcileRow(row, byName, *files, *mine, report, handledNames);
    }
    removeOrphanDomains(*domains, handledIds, *mine, report);
    if (auto kept = (*lease)->keepAlive(); !kept)
        return kept.error();
    removeOrphanFiles(*files, handledNames, report);
    return report;
}

void SandboxManager::reconcileRow(Sandbox row, const QHash<QString, DomainSummary>& domains,
                                  const HostFiles& files, const QString& storeId, ReconcileReport& report,
                                  QSet<QString>& handledNames)
{
    if (row.state == SandboxState::Creating) {
        reconcileCreate(row, files, storeId, report, handledNames);
        return;
    }
    const auto domain = domains.constFind(row.domainName);
    if (domain == domains.cend() || !ownsDomain(domain->mark, row, storeId)) {
        // Gone, or a domain of that name that is not this sandbox's: the row ends, the domain is left be.
        const bool gone = domain == domains.cend();
        row.state = SandboxState::Destroyed;
        row.error =
            gone ? QStringLiteral("its domain disappeared from the host")
                 : QStringLiteral("the domain %1 on the host is not this sandbox's").arg(row.domainName);
        row.updatedAt = m_clock.now();
        if (auto r = store::SandboxRepository(m_db).update(row); !r)
            report.problems << r.error().toString();
        report.updatedRows << QStringLiteral("%1: %2, marked destroyed").arg(row.name, row.error);
        if (!gone)
            report.leftAlone << QStringLiteral("%1: not this sandbox's domain").arg(row.domainName);
        audit(model::Actor::system(), QStringLiteral("reconcile.missing"),
              QStringLiteral("%1: %2; marked destroyed").arg(row.name, row.error), row.id);
        return;
    }
    handledNames.insert(row.name);
    if (domain->mark.storeId.isEmpty()) {
        // Made before marks named a store: this store's row names it, so it is this store's.
        DomainMark mark = domain->mark;
        mark.storeId = storeId;
        if (auto r = m_hv.setDomainMark(row.domainName, mark); !r) {
            report.problems << r.error().toString();
        } else {
            report.updatedRows << QStringLiteral("%1: marked as this store's").arg(row.name);
            audit(model::Actor::system(), QStringLiteral("reconcile.adopt"),
                  QStringLiteral("Marked %1's domain as this store's").arg(row.name), row.id);
        }
    }
    const SandboxState state =
        domain->state == DomainState::ShutOff ? SandboxState::Stopped : SandboxState::Running;
    if (state != row.state) {
        row.state = state;
        row.updatedAt = m_clock.now();
        if (auto r = store::SandboxRepository(m_db).update(row); !r)
            report.problems << r.error().toString();
        report.updatedRows << QStringLiteral("%1: now %2").arg(row.name, model::enumName(state));
    }
}

void SandboxManager::reconcileCreate(const Sandbox& row, const HostFiles& files, const QString& storeId,
                                     ReconcileReport& report, QSet<QString>& handledNames)
{
    QString heldBy;
    auto lease = store::Lease::acquire(m_db, createLeaseName(row.id), m_options.leaseTtlMs, m_clock, &heldBy);
    if (!lease || !*lease) {
        handledNames.insert(row.name);
        if (!lease)
            report.problems << lease.error().toString();
        else
            report.leftAlone << QStringLiteral("%1: being created by %2").arg(row.name, heldBy);
        return;
    }
    // The create may have finished or rolled back between the listing and the lease.
    auto current = store::SandboxRepository(m_db).get(row.id);
    if (!current || current->state != SandboxState::Creating) {
        handledNames.insert(row.name);
        if (!current && current.error().code != ErrorCode::NotFound)
            report.problems << current.error().toString();
        return;
    }
    auto mark = m_hv.domainMark(row.domainName);
    if (!mark && mark.error().code != ErrorCode::NotFound) {
        handledNames.insert(row.name);
        report.problems << mark.error().toString();
        return;
    }
    Created leftover;
    leftover.row = *current;
    leftover.rowInserted = true;
    leftover.defined = leftover.started = mark && ownsDomain(*mark, row, storeId);
    leftover.hostFiles = files.marked.value(row.name);
    if (leftover.defined)
        leftover.hostFiles << files.legacy.value(row.name);
    leftover.lease.emplace(std::move(**lease));
    handledNames.insert(row.name);
    if (auto r = rollback(leftover); !r) {
        report.problems << r.error().toString();
        return;
    }
    if (leftover.defined)
        report.removedDomains << row.domainName;
    report.removedVolumes << leftover.hostFiles;
    report.updatedRows << QStringLiteral("%1: unfinished create removed").arg(row.name);
    audit(model::Actor::system(), QStringLiteral("reconcile.create"),
          QStringLiteral("Removed %1, left half-created by a create that stopped").arg(row.name), row.id);
}

void SandboxManager::removeOrphanDomains(const QList<DomainSummary>& domains, const QSet<QString>& handledIds,
                                         const QString& storeId, ReconcileReport& report)
{
    for (const DomainSummary& d : domains) {
        // Only this store's mark counts: unmarked domains, and other stores', are never Fluid's to remove.
        if (d.mark.storeId != storeId || !d.mark.isSandbox() || handledIds.contains(d.mark.sandboxId))
            continue;
        // A live row of another host of this store (the same libvirt under two names) still owns it.
        auto row = store::SandboxRepository(m_db).get(d.mark.sandboxId);
        if (row && row->state != SandboxState::Destroyed)
            continue;
        if (!row && row.error().code != ErrorCode::NotFound) {
            report.problems << row.error().toString();
            continue;
        }
        if (auto r = m_hv.destroyDomain(d.name); !r && r.error().code != ErrorCode::NotFound)
            report.problems << r.error().toString();
        if (auto r = m_hv.undefineDomain(d.name); !r) {
            report.problems << r.error().toString();
            continue;
        }
        report.removedDomains << d.name;
        audit(model::Actor::system(), QStringLiteral("reconcile.domain"),
              QStringLiteral("Removed domain %1 that no sandbox owns").arg(d.name), QString());
    }
}

void SandboxManager::removeOrphanFiles(const HostFiles& files, const QSet<QString>& handledNames,
                                       ReconcileReport& report)
{
    // Files named the old way are never swept: without a domain to vouch for them, they could be anyone's.
    QStringList orphans;
    for (auto it = files.marked.cbegin(); it != files.marked.cend(); ++it) {
        if (!handledNames.contains(it.key()))
            orphans << it.value();
    }
    for (const QString& path : std::as_const(orphans)) {
        if (auto r = removeHostFile(path); !r) {
            report.problems << r.error().toString();
            continue;
        }
        report.removedVolumes << path;
        audit(model::Actor::system(), QStringLiteral("reconcile.volume"),
              QStringLiteral("Removed %1 that no sandbox owns").arg(path), QString());
    }
}

} // namespace fluid::virt

// SPDX-License-Identifier: Apache-2.0
#include "Lease.h"

#include "base/Logging.h"
#include "Queries.h"

#include <QCoreApplication>
#include <QRandomGenerator>
#include <QSysInfo>

namespace fluid::store {
namespace {

/// Unique per claim, and readable: a person seeing "held by" can tell which machine and process has it.
QString newHolder()
{
    return QStringLiteral("%1 pid %2 #%3")
        .arg(QSysInfo::machineHostName())
        .arg(QCoreApplication::applicationPid())
        .arg(QRandomGenerator::system()->generate64(), 16, 16, QLatin1Char('0'));
}

} // namespace

Lease::Lease(Database& db, QString name, QString holder, qint64 ttlMs, const Clock& clock)
    : m_db(&db)
    , m_name(std::move(name))
    , m_holder(std::move(holder))
    , m_ttlMs(ttlMs)
    , m_clock(&clock)
    , m_renewedAtMs(clock.nowMs())
{
}

Lease::Lease(Lease&& other) noexcept
    : m_db(other.m_db)
    , m_name(std::move(other.m_name))
    , m_holder(std::move(other.m_holder))
    , m_ttlMs(other.m_ttlMs)
    , m_clock(other.m_clock)
    , m_renewedAtMs(other.m_renewedAtMs)
    , m_held(other.m_held)
{
    other.m_held = false;
}

Lease::~Lease()
{
    release();
}

Result<std::optional<Lease>> Lease::acquire(Database& db, const QString& name, qint64 ttlMs,
                                            const Clock& clock, QString* heldBy)
{
    const QString holder = newHolder();
    const qint64 now = clock.nowMs();
    auto current = acquireLease(db, name, holder, now, now + ttlMs);
    if (!current)
        return current.error();
    if (*current != holder) {
        if (heldBy)
            *heldBy = *current;
        return std::optional<Lease>();
    }
    return std::optional<Lease>(Lease(db, name, holder, ttlMs, clock));
}

Result<void> Lease::renew()
{
    if (!m_held)
        return makeError(ErrorCode::Refused, QStringLiteral("The lease %1 was released").arg(m_name));
    const qint64 now = m_clock->nowMs();
    auto renewed = renewLease(*m_db, m_name, m_holder, now + m_ttlMs);
    if (!renewed)
        return renewed.error();
    if (!*renewed) {
        m_held = false;
        return makeError(ErrorCode::Refused,
                         QStringLiteral("The lease %1 ran out and another process took it over").arg(m_name));
    }
    m_renewedAtMs = now;
    return {};
}

Result<void> Lease::keepAlive()
{
    if (m_held && m_clock->nowMs() - m_renewedAtMs < m_ttlMs / 4)
        return {};
    return renew();
}

void Lease::release()
{
    if (!m_held)
        return;
    m_held = false;
    if (auto r = releaseLease(*m_db, m_name, m_holder); !r)
        qCWarning(lcStore) << "lease" << m_name
                           << "not released (it runs out by itself):" << r.error().toString();
}

} // namespace fluid::store

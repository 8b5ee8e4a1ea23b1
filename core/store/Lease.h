// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Clock.h"
#include "Database.h"

#include <optional>

namespace fluid::store {

/// A claim on a name in the store ("create:<sandbox id>", "reconcile:<host id>") that one holder has at a
/// time, across threads and processes, until it is released or its time runs out. The holder renews it
/// while it works (keepAlive), so another process takes it over only from a holder that stopped: one that
/// died, or hangs. Lives on the Database's thread; the Database must outlive it.
class Lease {
public:
    /// Takes the lease when it is free or its time ran out; std::nullopt when a live holder has it, then
    /// `heldBy` (when given) says who ("host pid N ...").
    static Result<std::optional<Lease>> acquire(Database& db, const QString& name, qint64 ttlMs,
                                                const Clock& clock = Clock::system(),
                                                QString* heldBy = nullptr);
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    /// Releases it.
    ~Lease();

    const QString& name() const { return m_name; }
    const QString& holder() const { return m_holder; }

    /// Renews the lease for another full term; Refused when it ran out and another holder took it.
    Result<void> renew();
    /// renew() once a quarter of the term has passed since the last renewal; cheap to call often.
    Result<void> keepAlive();
    /// Gives the lease up; nothing happens when it was lost or released already.
    void release();

private:
    Lease(Database& db, QString name, QString holder, qint64 ttlMs, const Clock& clock);

    Database* m_db;
    QString m_name;
    QString m_holder;
    qint64 m_ttlMs;
    const Clock* m_clock;
    qint64 m_renewedAtMs = 0;
    bool m_held = true;
};

} // namespace fluid::store

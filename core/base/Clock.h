// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDateTime>
#include <QMutex>

namespace fluid {

/// Where "now" comes from. Core code asks a Clock instead of QDateTime::currentDateTimeUtc() so tests can
/// set time (certificate expiry, approval timeouts, audit timestamps). Thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    virtual QDateTime now() const = 0;
    qint64 nowMs() const { return now().toMSecsSinceEpoch(); }

    /// The process-wide system clock.
    static Clock& system();
};

/// A clock that only moves when told to; for tests.
class ManualClock : public Clock {
public:
    explicit ManualClock(QDateTime start = QDateTime::fromMSecsSinceEpoch(1'700'000'000'000, Qt::UTC));
    QDateTime now() const override;
    void set(QDateTime t);
    void advance(qint64 ms);

private:
    mutable QMutex m_mutex;
    QDateTime m_now;
};

} // namespace fluid

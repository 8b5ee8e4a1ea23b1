// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "Database.h"

#include <QList>
#include <QStringList>

namespace fluid::store {

/// One schema step. Statements are written once; "%BLOB%" becomes BLOB (SQLite) or BYTEA (PostgreSQL),
/// and the backend-specific lists hold what cannot be shared (triggers).
struct Migration {
    int version;
    QString description;
    QStringList common;
    QStringList sqliteOnly;
    QStringList postgresOnly;

    QStringList statements(Backend backend) const;
};

/// Every migration, oldest first; versions are 1, 2, 3, ...
const QList<Migration>& migrations();

} // namespace fluid::store

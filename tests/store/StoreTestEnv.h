// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "store/Database.h"

namespace fluid::test {

/// The backend a store test runs against, from FLUID_TEST_BACKEND (sqlite | postgresql). For PostgreSQL
/// the connection comes from the env file the "postgres" ctest fixture writes (FLUID_TEST_PG_ENV).
/// fresh() gives options for an empty store: a new SQLite file, or the PostgreSQL database with its
/// public schema dropped and recreated.
class StoreTestEnv {
public:
    static store::Backend backend();
    static QString backendName();
    static store::DatabaseOptions fresh();
    /// The PostgreSQL test server's CA certificate (the fixture turns TLS on for 127.0.0.1 only).
    static QString postgresCa();
};

} // namespace fluid::test

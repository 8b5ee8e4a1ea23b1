// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QLoggingCategory>

// One category per domain; enable with QT_LOGGING_RULES="fluid.store.debug=true".
Q_DECLARE_LOGGING_CATEGORY(lcCore)
Q_DECLARE_LOGGING_CATEGORY(lcStore)
Q_DECLARE_LOGGING_CATEGORY(lcConfig)
Q_DECLARE_LOGGING_CATEGORY(lcSecrets)
Q_DECLARE_LOGGING_CATEGORY(lcVirt)
Q_DECLARE_LOGGING_CATEGORY(lcSsh)
Q_DECLARE_LOGGING_CATEGORY(lcInspect)
Q_DECLARE_LOGGING_CATEGORY(lcAnsible)
Q_DECLARE_LOGGING_CATEGORY(lcAgent)
Q_DECLARE_LOGGING_CATEGORY(lcApproval)
Q_DECLARE_LOGGING_CATEGORY(lcEgress)
Q_DECLARE_LOGGING_CATEGORY(lcApi)
Q_DECLARE_LOGGING_CATEGORY(lcUi)

namespace fluid {

/// Routes every Qt log message through the redactor before the previous handler prints it, so a secret
/// that slips into a log call never reaches stderr or a log file. Call once, early in main().
void installRedactingMessageHandler();

} // namespace fluid

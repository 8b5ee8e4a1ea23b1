// SPDX-License-Identifier: Apache-2.0
#include "Logging.h"

#include "Redact.h"

Q_LOGGING_CATEGORY(lcCore, "fluid.core", QtInfoMsg)
Q_LOGGING_CATEGORY(lcStore, "fluid.store", QtInfoMsg)
Q_LOGGING_CATEGORY(lcConfig, "fluid.config", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSecrets, "fluid.secrets", QtInfoMsg)
Q_LOGGING_CATEGORY(lcVirt, "fluid.virt", QtInfoMsg)
Q_LOGGING_CATEGORY(lcSsh, "fluid.ssh", QtInfoMsg)
Q_LOGGING_CATEGORY(lcInspect, "fluid.inspect", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAnsible, "fluid.ansible", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAgent, "fluid.agent", QtInfoMsg)
Q_LOGGING_CATEGORY(lcApproval, "fluid.approval", QtInfoMsg)
Q_LOGGING_CATEGORY(lcEgress, "fluid.egress", QtInfoMsg)
Q_LOGGING_CATEGORY(lcApi, "fluid.api", QtInfoMsg)
Q_LOGGING_CATEGORY(lcUi, "fluid.ui", QtInfoMsg)

namespace fluid {
namespace {
QtMessageHandler g_previous = nullptr;

void redactingHandler(QtMsgType type, const QMessageLogContext& context, const QString& message)
{
    if (g_previous)
        g_previous(type, context, redact(message));
}
} // namespace

void installRedactingMessageHandler()
{
    QtMessageHandler previous = qInstallMessageHandler(redactingHandler);
    if (previous != redactingHandler)
        g_previous = previous;
}

} // namespace fluid

// SPDX-License-Identifier: Apache-2.0
#include "Admission.h"

#include "approval/ApprovalBroker.h"

#include <QJsonArray>

namespace fluid::services {

virt::AdmissionGate approvalGate(approval::ApprovalBroker* broker, const store::DatabaseOptions& database)
{
    return [broker, database](const virt::AdmissionRequest& r, const ProgressSink& progress,
                              const CancelToken& cancel) -> QFuture<Result<void>> {
        auto db = store::threadConnection(database);
        if (!db)
            return QtFuture::makeReadyFuture(Result<void>(db.error()));
        model::Approval a;
        a.kind = QStringLiteral("resources");
        a.request = QStringLiteral("Create sandbox %1 (%2 MiB, %3 vCPU) on %4 beyond its limits")
                        .arg(r.sandboxName)
                        .arg(r.memoryMib)
                        .arg(r.vcpus)
                        .arg(r.hostLabel);
        a.context = QJsonObject{{QStringLiteral("sandbox"), r.sandboxName},
                                {QStringLiteral("host"), r.hostUri},
                                {QStringLiteral("memoryMib"), r.memoryMib},
                                {QStringLiteral("vcpus"), r.vcpus},
                                {QStringLiteral("over"), QJsonArray::fromStringList(r.over)}};
        a.sessionId = r.sessionId;
        auto filed = broker->request(**db, a, r.actor, r.ttlMs);
        if (!filed)
            return QtFuture::makeReadyFuture(Result<void>(filed.error()));
        const QString over = r.over.join(QStringLiteral("; "));
        if (progress)
            progress(Progress{QStringLiteral("waiting for approval"),
                              QStringLiteral("waiting for approval %1: %2").arg(filed->id, over), -1});
        return broker->decision(filed->id, cancel)
            .then([filed = *filed, over](Result<model::Approval> decided) -> Result<void> {
                if (!decided)
                    return decided.error();
                switch (decided->status) {
                case model::ApprovalStatus::Approved:
                    if (decided->contentHash != filed.contentHash)
                        return makeError(
                            ErrorCode::Tampered,
                            QStringLiteral("Approval %1 changed after it was asked").arg(filed.id));
                    return {};
                case model::ApprovalStatus::Rejected:
                    return makeError(
                        ErrorCode::Refused,
                        QStringLiteral("%1 rejected the request: %2")
                            .arg(decided->decidedBy, decided->comment.isEmpty() ? over : decided->comment));
                case model::ApprovalStatus::Expired:
                    return makeError(ErrorCode::Timeout,
                                     QStringLiteral("Nobody decided approval %1 in time").arg(filed.id));
                case model::ApprovalStatus::Pending:
                    break;
                }
                return makeError(ErrorCode::Unknown,
                                 QStringLiteral("Approval %1 is still pending").arg(filed.id));
            });
    };
}

} // namespace fluid::services

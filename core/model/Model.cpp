// SPDX-License-Identifier: Apache-2.0
#include "Model.h"

#include <QUuid>

#include <array>

namespace fluid::model {
namespace {
template <typename E, size_t N>
std::optional<E> fromName(const std::array<const char*, N>& names, const QString& text)
{
    for (size_t i = 0; i < N; ++i) {
        if (text == QLatin1String(names[i]))
            return static_cast<E>(i);
    }
    return std::nullopt;
}

constexpr std::array<const char*, 5> kSandboxStates = {"creating", "running", "stopped", "error",
                                                       "destroyed"};
constexpr std::array<const char*, 4> kApprovalStatuses = {"pending", "approved", "rejected", "expired"};
} // namespace

QString newId()
{
    return QUuid::createUuid().toString(QUuid::WithoutBraces);
}

QString sandboxStateName(SandboxState state)
{
    return QLatin1String(kSandboxStates[static_cast<size_t>(state)]);
}

std::optional<SandboxState> sandboxStateFromString(const QString& text)
{
    return fromName<SandboxState>(kSandboxStates, text);
}

QString approvalStatusName(ApprovalStatus status)
{
    return QLatin1String(kApprovalStatuses[static_cast<size_t>(status)]);
}

std::optional<ApprovalStatus> approvalStatusFromString(const QString& text)
{
    return fromName<ApprovalStatus>(kApprovalStatuses, text);
}

} // namespace fluid::model

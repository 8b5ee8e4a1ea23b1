// SPDX-License-Identifier: Apache-2.0
#include "Result.h"

namespace fluid {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::Unknown:
        return QStringLiteral("unknown");
    case ErrorCode::InvalidArgument:
        return QStringLiteral("invalid-argument");
    case ErrorCode::NotFound:
        return QStringLiteral("not-found");
    case ErrorCode::AlreadyExists:
        return QStringLiteral("already-exists");
    case ErrorCode::PermissionDenied:
        return QStringLiteral("permission-denied");
    case ErrorCode::Unavailable:
        return QStringLiteral("unavailable");
    case ErrorCode::Io:
        return QStringLiteral("io");
    case ErrorCode::Database:
        return QStringLiteral("database");
    case ErrorCode::Config:
        return QStringLiteral("config");
    case ErrorCode::Crypto:
        return QStringLiteral("crypto");
    case ErrorCode::Timeout:
        return QStringLiteral("timeout");
    case ErrorCode::Cancelled:
        return QStringLiteral("cancelled");
    case ErrorCode::Tampered:
        return QStringLiteral("tampered");
    case ErrorCode::Refused:
        return QStringLiteral("refused");
    case ErrorCode::ConnectionLost:
        return QStringLiteral("connection-lost");
    }
    return QStringLiteral("unknown");
}

QString Error::toString() const
{
    return detail.isEmpty() ? message : message + QStringLiteral(" (") + detail + QLatin1Char(')');
}

} // namespace fluid

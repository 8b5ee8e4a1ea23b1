// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

#include <optional>
#include <utility>
#include <variant>

namespace fluid {

/// What kind of failure an Error is; callers branch on this, people read the message.
enum class ErrorCode {
    Unknown,
    InvalidArgument,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    Unavailable,
    Io,
    Database,
    Config,
    Crypto,
    Timeout,
    Cancelled,
    Tampered,
    Refused,
    /// An established connection stopped answering or broke; the work on it did not finish.
    ConnectionLost,
};

QString errorCodeName(ErrorCode code);

/// A failure a person can act on: `message` says what failed and what to do, `detail` carries the
/// underlying library's words (already redacted).
struct Error {
    ErrorCode code = ErrorCode::Unknown;
    QString message;
    QString detail;

    QString toString() const;
};

/// Either a value or an Error. The one error type across core APIs; no exceptions cross a boundary.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value)
        : m_v(std::move(value))
    {
    }
    Result(Error error)
        : m_v(std::move(error))
    {
    }

    bool ok() const { return std::holds_alternative<T>(m_v); }
    explicit operator bool() const { return ok(); }

    const T& value() const& { return std::get<T>(m_v); }
    T& value() & { return std::get<T>(m_v); }
    T&& value() && { return std::get<T>(std::move(m_v)); }
    const T& operator*() const& { return value(); }
    T& operator*() & { return value(); }
    const T* operator->() const { return &value(); }
    T* operator->() { return &value(); }

    const Error& error() const { return std::get<Error>(m_v); }
    T valueOr(T fallback) const { return ok() ? value() : std::move(fallback); }

private:
    std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error)
        : m_error(std::move(error))
    {
    }

    bool ok() const { return !m_error.has_value(); }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return *m_error; }

private:
    std::optional<Error> m_error;
};

inline Error makeError(ErrorCode code, QString message, QString detail = {})
{
    return Error{code, std::move(message), std::move(detail)};
}

} // namespace fluid

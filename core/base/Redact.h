// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

namespace fluid {

/// Replaces secrets in text with "[REDACTED]" markers before the text is logged, stored or sent to an
/// LLM: private key blocks, well-known API key and token shapes, credentials in URLs, Authorization
/// headers, key=value pairs whose key names a secret, and every exact value registered with
/// registerSecret(). Thread-safe.
QString redact(const QString& text);

/// Registers an exact secret value (for example an API key just read from the keychain) so that every
/// later redact() call removes it wherever it appears. Values shorter than 6 characters are ignored:
/// they would redact ordinary words.
void registerSecret(const QString& value);

/// Marker text that replaces a secret.
inline constexpr char kRedacted[] = "[REDACTED]";

} // namespace fluid

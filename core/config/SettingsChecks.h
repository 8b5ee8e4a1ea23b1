// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to core/config: the checks and message wording shared by parseConfig() and validate().

#include "config/Settings.h"
#include "config/SettingsSchema.h"

#include <QList>
#include <QString>
#include <QStringList>

namespace fluid::config::detail {

/// One thing wrong with a setting: `key` is dotted ("hosts[1].uri"), `text` says what is allowed and what
/// was found ("must be ... (found "x")"). Plain data; thread: any.
struct Problem {
    QString key;
    QString text;
};

/// Every problem in `settings`: ranges, enums, text formats, and rules across fields (at least one host,
/// unique host names). Pure; thread: any.
QList<Problem> checkSettings(const Settings& settings);

/// "must be ..." when `value` breaks `rule`, else an empty string.
QString checkText(TextRule rule, const QString& value);

/// "must be an integer from <min> to <max>".
QString intRule(IntRange range);

/// "must be one of a, b, c".
template <typename E>
QString choiceRule()
{
    return QStringLiteral("must be one of ") + allNames<E>().join(QStringLiteral(", "));
}

/// " (found "<value>")": redacted, control characters escaped, shortened when long.
QString found(const QString& value);

/// The candidate closest to `word` by edit distance (transpositions count once), when it is close enough
/// to be a likely typo; else an empty string.
QString closestMatch(const QString& word, const QStringList& candidates);

/// True for a key that names a secret: api_key, apiKey, password, passphrase, token, secret, private_key,
/// client_secret, ... but not "secrets" or "context_limit_tokens".
bool isSecretKeyName(const QString& key);

} // namespace fluid::config::detail

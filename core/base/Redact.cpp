// SPDX-License-Identifier: Apache-2.0
#include "Redact.h"

#include <QMutex>
#include <QRegularExpression>
#include <QSet>

namespace fluid {
namespace {

struct Rule {
    QRegularExpression pattern;
    QString replacement;
};

const QList<Rule>& rules()
{
    static const QList<Rule> list = [] {
        const auto ci = QRegularExpression::CaseInsensitiveOption;
        const QString r = QString::fromLatin1(kRedacted);
        // A key naming a secret, its quote if any, and the separator: "password=", "api_key": ", ...
        const QString secretKey = QStringLiteral(
            "\\b([A-Za-z0-9_.\\-]*(?:password|passwd|passphrase|secret|token|api[_\\-]?key|access[_\\-]?key|"
            "private[_\\-]?key)[A-Za-z0-9_.\\-]*[\"']?\\s*[:=]\\s*");
        return QList<Rule>{
            {QRegularExpression(QStringLiteral(
                 "-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\\s\\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)")),
             QStringLiteral("[REDACTED PRIVATE KEY]")},
            // Provider key shapes: OpenAI / Anthropic / OpenRouter, GitHub, AWS access keys, Slack.
            {QRegularExpression(QStringLiteral("\\bsk-[A-Za-z0-9_\\-]{16,}")), r},
            {QRegularExpression(QStringLiteral("\\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}")),
             r},
            {QRegularExpression(QStringLiteral("\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b")), r},
            {QRegularExpression(QStringLiteral("\\bxox[abprs]-[A-Za-z0-9\\-]{10,}")), r},
            // user:password@ in URLs.
            {QRegularExpression(QStringLiteral("([A-Za-z][A-Za-z0-9+.\\-]*://[^/\\s:@]+:)[^@\\s/]+@")),
             QStringLiteral("\\1") + r + QLatin1Char('@')},
            // Authorization: Bearer/Basic/Token xyz, and a bare "Bearer xyz".
            {QRegularExpression(
                 QStringLiteral("\\b(authorization\\s*[:=]\\s*(?:bearer|basic|token)\\s+)[^\\s'\"]+"), ci),
             QStringLiteral("\\1") + r},
            {QRegularExpression(QStringLiteral("\\b(bearer\\s+)[A-Za-z0-9._~+/=\\-]{12,}"), ci),
             QStringLiteral("\\1") + r},
            // password=..., "api_key": "...", SECRET_TOKEN: ..., --password ...
            // Quoted values keep their quotes so redacted JSON stays valid JSON.
            {QRegularExpression(secretKey + QStringLiteral("\")[^\"]*\""), ci),
             QStringLiteral("\\1") + r + QLatin1Char('"')},
            {QRegularExpression(secretKey + QStringLiteral("')[^']*'"), ci),
             QStringLiteral("\\1") + r + QLatin1Char('\'')},
            {QRegularExpression(secretKey + QStringLiteral(")[^\\s,;}\"']+"), ci), QStringLiteral("\\1") + r},
        };
    }();
    return list;
}

QMutex g_mutex;
QSet<QString> g_secrets;

} // namespace

void registerSecret(const QString& value)
{
    if (value.size() < 6)
        return;
    QMutexLocker lock(&g_mutex);
    g_secrets.insert(value);
}

QString redact(const QString& text)
{
    if (text.isEmpty())
        return text;
    QString out = text;
    {
        QMutexLocker lock(&g_mutex);
        for (const QString& secret : std::as_const(g_secrets))
            out.replace(secret, QString::fromLatin1(kRedacted));
    }
    for (const Rule& rule : rules())
        out.replace(rule.pattern, rule.replacement);
    return out;
}

} // namespace fluid

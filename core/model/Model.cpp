// SPDX-License-Identifier: Apache-2.0
#include "Model.h"

#include <QUuid>

namespace fluid::model {
namespace {
constexpr std::array<const char*, 3> kPartTypes = {"text", "tool_call", "tool_result"};
} // namespace

QString newId()
{
    return QUuid::createUuid().toString(QUuid::WithoutBraces);
}

ContentPart ContentPart::textPart(const QString& text)
{
    ContentPart p;
    p.text = text;
    return p;
}

ContentPart ContentPart::toolCall(const QString& id, const QString& name, const QJsonObject& arguments)
{
    ContentPart p;
    p.kind = Kind::ToolCall;
    p.toolCallId = id;
    p.toolName = name;
    p.arguments = arguments;
    return p;
}

ContentPart ContentPart::toolResult(const QString& id, const QString& text, bool isError)
{
    ContentPart p;
    p.kind = Kind::ToolResult;
    p.toolCallId = id;
    p.text = text;
    p.isError = isError;
    return p;
}

QJsonArray contentToJson(const QList<ContentPart>& parts)
{
    QJsonArray out;
    for (const ContentPart& p : parts) {
        QJsonObject o{{QStringLiteral("type"), QLatin1String(kPartTypes[size_t(p.kind)])}};
        switch (p.kind) {
        case ContentPart::Kind::Text:
            o.insert(QStringLiteral("text"), p.text);
            break;
        case ContentPart::Kind::ToolCall:
            o.insert(QStringLiteral("id"), p.toolCallId);
            o.insert(QStringLiteral("name"), p.toolName);
            o.insert(QStringLiteral("arguments"), p.arguments);
            break;
        case ContentPart::Kind::ToolResult:
            o.insert(QStringLiteral("id"), p.toolCallId);
            o.insert(QStringLiteral("text"), p.text);
            if (p.isError)
                o.insert(QStringLiteral("error"), true);
            break;
        }
        out.append(o);
    }
    return out;
}

QList<ContentPart> contentFromJson(const QJsonArray& json)
{
    QList<ContentPart> parts;
    for (const QJsonValue& v : json) {
        const QJsonObject o = v.toObject();
        const QString type = o.value(QStringLiteral("type")).toString();
        if (type == QLatin1String("tool_call")) {
            parts << ContentPart::toolCall(o.value(QStringLiteral("id")).toString(),
                                           o.value(QStringLiteral("name")).toString(),
                                           o.value(QStringLiteral("arguments")).toObject());
        } else if (type == QLatin1String("tool_result")) {
            parts << ContentPart::toolResult(o.value(QStringLiteral("id")).toString(),
                                             o.value(QStringLiteral("text")).toString(),
                                             o.value(QStringLiteral("error")).toBool());
        } else if (type == QLatin1String("text")) {
            parts << ContentPart::textPart(o.value(QStringLiteral("text")).toString());
        } else {
            parts << ContentPart::textPart(QStringLiteral("[%1]").arg(type));
        }
    }
    return parts;
}

QString Message::text() const
{
    QStringList texts;
    for (const ContentPart& p : content) {
        if (p.kind == ContentPart::Kind::Text)
            texts << p.text;
    }
    return texts.join(QLatin1Char('\n'));
}

} // namespace fluid::model

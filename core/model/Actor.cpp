// SPDX-License-Identifier: Apache-2.0
#include "Actor.h"

#include <pwd.h>
#include <unistd.h>

namespace fluid::model {
namespace {
struct Prefix {
    Actor::Kind kind;
    const char* text;
};
constexpr Prefix kPrefixes[] = {
    {Actor::Kind::Person, "person"},
    {Actor::Kind::Agent, "agent"},
    {Actor::Kind::ApiToken, "token"},
    {Actor::Kind::System, "system"},
};
} // namespace

Actor Actor::person(const QString& login)
{
    return Actor(Kind::Person, login);
}

Actor Actor::localPerson()
{
    // The account the process runs as, not $USER: a person cannot record themselves as someone else by
    // changing an environment variable.
    if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name)
        return person(QString::fromLocal8Bit(pw->pw_name));
    return person(QString::number(::geteuid()));
}

Actor Actor::agent(const QString& sessionId)
{
    return Actor(Kind::Agent, sessionId);
}

Actor Actor::apiToken(const QString& tokenId)
{
    return Actor(Kind::ApiToken, tokenId);
}

QString Actor::toString() const
{
    for (const Prefix& p : kPrefixes) {
        if (p.kind == m_kind)
            return m_id.isEmpty() ? QLatin1String(p.text) : QLatin1String(p.text) + QLatin1Char(':') + m_id;
    }
    return QStringLiteral("system");
}

std::optional<Actor> Actor::fromString(const QString& text)
{
    const qsizetype colon = text.indexOf(QLatin1Char(':'));
    const QString head = colon < 0 ? text : text.left(colon);
    const QString id = colon < 0 ? QString() : text.mid(colon + 1);
    for (const Prefix& p : kPrefixes) {
        if (head == QLatin1String(p.text)) {
            if (p.kind == Kind::System)
                return id.isEmpty() ? std::optional<Actor>(Actor()) : std::nullopt;
            if (p.kind != Kind::Person && id.isEmpty())
                return std::nullopt;
            return Actor(p.kind, id);
        }
    }
    return std::nullopt;
}

} // namespace fluid::model

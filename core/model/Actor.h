// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

#include <optional>

namespace fluid::model {

/// Who acted: a person (by login name), an agent session, a REST API token, or Fluid itself (reconcile,
/// expiry, libvirt's events). Every service call that acts takes one and every audit record names it
/// (toString()); nothing records a literal. A value; any thread.
class Actor {
public:
    enum class Kind { Person, Agent, ApiToken, System };

    /// Fluid itself.
    Actor() = default;

    static Actor person(const QString& login);
    /// The person running this Fluid: the operating system's login name of this process's user.
    static Actor localPerson();
    static Actor agent(const QString& sessionId);
    static Actor apiToken(const QString& tokenId);
    static Actor system() { return Actor(); }

    Kind kind() const { return m_kind; }
    /// The login name, session id or token id; empty for the system.
    const QString& id() const { return m_id; }
    bool isPerson() const { return m_kind == Kind::Person; }

    /// "person:alice", "agent:<session id>", "token:<token id>", "system": what audit records store.
    QString toString() const;
    /// The form toString() writes; an older record's bare "person" reads as a person with no login name.
    static std::optional<Actor> fromString(const QString& text);

    bool operator==(const Actor&) const = default;

private:
    Actor(Kind kind, QString id)
        : m_kind(kind)
        , m_id(std::move(id))
    {
    }

    Kind m_kind = Kind::System;
    QString m_id;
};

} // namespace fluid::model

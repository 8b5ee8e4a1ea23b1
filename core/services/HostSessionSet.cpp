// SPDX-License-Identifier: Apache-2.0
#include "HostSessionSet.h"

namespace fluid::services {

QString HostSessionSet::Changes::describe() const
{
    QStringList parts;
    const auto add = [&parts](const QStringList& hosts, const QString& what) {
        if (!hosts.isEmpty())
            parts << QStringLiteral("%1 %2").arg(hosts.join(QStringLiteral(", ")), what);
    };
    add(added, QStringLiteral("added"));
    add(changed, QStringLiteral("reconnected with its new settings"));
    add(removed, QStringLiteral("closed"));
    return parts.isEmpty() ? QString() : QStringLiteral("Hosts: %1.").arg(parts.join(QStringLiteral("; ")));
}

HostSessionSet::HostSessionSet(SetupFactory makeSetup, QObject* parent)
    : QObject(parent)
    , m_makeSetup(std::move(makeSetup))
{
}

HostSessionSet::~HostSessionSet() = default;

HostSessionSet::Changes HostSessionSet::apply(const config::Settings& settings)
{
    m_settings = settings;
    Changes changes;
    QStringList gone;
    for (auto& [name, live] : m_live) {
        const config::HostSettings* wanted = settings.host(name);
        if (!wanted) {
            changes.removed << name;
            gone << name;
        } else if (!(*wanted == live.host)) {
            changes.changed << name;
            gone << name;
        } else {
            changes.kept << name;
            live.session->setDefaults(m_makeSetup(settings, *wanted));
        }
    }
    for (const QString& name : std::as_const(gone))
        closeSession(name);
    changes.added = openMissing();
    // A changed host whose old session is still closing from an earlier apply() opens later, as changed.
    for (const config::HostSettings& host : settings.hosts)
        if (m_closing.count(host.name) && !changes.changed.contains(host.name) &&
            !changes.removed.contains(host.name))
            changes.changed << host.name;
    return changes;
}

HostSession* HostSessionSet::session(const QString& host) const
{
    const auto it = m_live.find(host);
    return it == m_live.end() ? nullptr : it->second.session;
}

QList<HostSession*> HostSessionSet::sessions() const
{
    QList<HostSession*> list;
    for (const config::HostSettings& host : m_settings.hosts)
        if (HostSession* s = session(host.name))
            list << s;
    return list;
}

int HostSessionSet::order(const QString& host) const
{
    for (qsizetype i = 0; i < m_settings.hosts.size(); ++i)
        if (m_settings.hosts[i].name == host)
            return int(i);
    return -1;
}

QStringList HostSessionSet::openMissing()
{
    QStringList opened;
    for (const config::HostSettings& host : m_settings.hosts) {
        if (m_live.count(host.name) || m_closing.count(host.name))
            continue;
        auto* session = new HostSession(m_makeSetup(m_settings, host), this);
        m_live[host.name] = Live{host, session};
        opened << host.name;
        Q_EMIT sessionAdded(session);
    }
    return opened;
}

void HostSessionSet::closeSession(const QString& host)
{
    const auto it = m_live.find(host);
    if (it == m_live.end())
        return;
    HostSession* session = it->second.session;
    m_live.erase(it);
    m_closing[host] = session;
    connect(session, &HostSession::closed, this, [this, host]() { onClosed(host); });
    Q_EMIT sessionRemoved(session);
    session->close();
}

void HostSessionSet::onClosed(const QString& host)
{
    const auto it = m_closing.find(host);
    if (it == m_closing.end())
        return;
    HostSession* session = it->second;
    m_closing.erase(it);
    Q_EMIT sessionClosed(host);
    // Not deleted here: this runs inside the session's own closed() signal.
    session->deleteLater();
    openMissing();
}

} // namespace fluid::services

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "config/Settings.h"
#include "HostSession.h"

#include <QObject>
#include <QStringList>

#include <functional>
#include <map>

namespace fluid::services {

/// The HostSession of every configured host, by host name, kept in step with the settings. apply() after
/// each save compares the hosts with the ones the sessions were made for: an unchanged host keeps its
/// session (its open terminals and running operations go on; new sandbox defaults apply to later
/// operations), a removed host's session is closed, an added host gets a new session, and a changed host's
/// session is closed and a new one opened once the old one has closed, so two sessions never manage one
/// host at the same time. Closing never blocks the caller (HostSession::close()); a closed session is
/// deleted afterwards. Front ends follow sessionAdded()/sessionRemoved().
///
/// Thread: create, call and destroy on one thread (the GUI thread). The sessions are its children:
/// destroying it destroys them, which waits for their workers.
class HostSessionSet : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HostSessionSet)
public:
    /// The Setup of one host's session from the settings (HostSession::setupFor in the app).
    using SetupFactory =
        std::function<HostSession::Setup(const config::Settings&, const config::HostSettings&)>;

    /// What apply() did, host names by outcome.
    struct Changes {
        QStringList kept;    ///< unchanged: the same session goes on
        QStringList added;   ///< a new session was opened
        QStringList changed; ///< the old session is closing; the new one opens once it has closed
        QStringList removed; ///< the session is closing
        /// "Hosts: beta added; alpha reconnected with its new settings; gamma closed." (empty: nothing
        /// changed).
        QString describe() const;
    };

    explicit HostSessionSet(SetupFactory makeSetup, QObject* parent = nullptr);
    ~HostSessionSet() override;

    /// Makes the sessions follow settings.hosts (see the class comment).
    Changes apply(const config::Settings& settings);

    /// The open session of `host`, or nullptr (none configured, or its old session is still closing).
    HostSession* session(const QString& host) const;
    /// The open sessions, in the order of the hosts in the settings.
    QList<HostSession*> sessions() const;
    /// The place of `host` among the hosts in the settings (-1: not configured).
    int order(const QString& host) const;
    /// Sessions closed by apply() that have not finished closing yet.
    int closingCount() const { return int(m_closing.size()); }

Q_SIGNALS:
    /// A new session, not opened yet (HostsDock::addHostSession opens it).
    void sessionAdded(fluid::services::HostSession* session);
    /// The session is being closed: drop it now. It is deleted after it has closed.
    void sessionRemoved(fluid::services::HostSession* session);
    /// A session apply() closed has finished closing and is about to be deleted.
    void sessionClosed(const QString& host);

private:
    struct Live {
        config::HostSettings host;
        HostSession* session = nullptr;
    };

    /// Opens a session for every configured host that has none and no closing one; returns their names.
    QStringList openMissing();
    void closeSession(const QString& host);
    void onClosed(const QString& host);

    SetupFactory m_makeSetup;
    config::Settings m_settings;
    std::map<QString, Live> m_live;
    std::map<QString, HostSession*> m_closing;
};

} // namespace fluid::services

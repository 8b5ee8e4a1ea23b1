// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDockWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;
class QTimer;

namespace fluid {
class Clock;
}

namespace fluid::store {
class StoreWorker;
}

namespace fluid::ui {

class AuditLogModel;

/// The audit log dock: newest events, filters by sandbox, kind and time (last hour, 24 hours, 7 days, or
/// any time; "now" from an injectable clock), and whether the hash chain verifies. Loads and verifies
/// through the StoreWorker, never on the GUI thread.
/// New events appear by themselves: while the dock is visible it asks the store for the newest row's seq
/// every few seconds (one indexed query on the store's thread; events are written by other connections
/// too: sandbox operations, terminals, agents) and reloads when it changed; it asks again as soon as it is
/// shown.
class AuditDock : public QDockWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AuditDock)
public:
    explicit AuditDock(store::StoreWorker* store, QWidget* parent = nullptr, const Clock* clock = nullptr);

    AuditLogModel* model() const { return m_model; }
    /// The chain status line as shown ("Chain verified: ..." / "Chain broken at row N: ...").
    QString chainStatus() const;
    /// How often new events are looked for while the dock is visible (default 2 s).
    void setPollInterval(int ms);

public Q_SLOTS:
    void refresh();
    void verifyChain();
    /// Reloads if the log has a newer event than last seen (a no-op while hidden or already asking).
    void pollForNewEvents();

Q_SIGNALS:
    void chainVerified(bool intact, const QString& text);
    void refreshed();

private:
    store::StoreWorker* m_store;
    AuditLogModel* m_model;
    QTableView* m_view;
    QLineEdit* m_sandboxFilter;
    QLineEdit* m_kindFilter;
    QLabel* m_chainLabel;
    QComboBox* m_timeFilter;
    const Clock* m_clock;
    QTimer* m_poll;
    qint64 m_seenSeq = -1;
    bool m_polling = false;
};

} // namespace fluid::ui

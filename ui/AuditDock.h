// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDockWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;

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
class AuditDock : public QDockWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AuditDock)
public:
    explicit AuditDock(store::StoreWorker* store, QWidget* parent = nullptr, const Clock* clock = nullptr);

    AuditLogModel* model() const { return m_model; }
    /// The chain status line as shown ("Chain verified: ..." / "Chain broken at row N: ...").
    QString chainStatus() const;

public Q_SLOTS:
    void refresh();
    void verifyChain();

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
};

} // namespace fluid::ui

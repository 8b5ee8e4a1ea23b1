// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDockWidget>

class QLabel;
class QLineEdit;
class QTableView;

namespace fluid::store {
class StoreWorker;
}

namespace fluid::ui {

class AuditLogModel;

/// The audit log dock: newest events, filters by sandbox and kind, and whether the hash chain verifies.
/// Loads and verifies through the StoreWorker, never on the GUI thread.
class AuditDock : public QDockWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AuditDock)
public:
    explicit AuditDock(store::StoreWorker* store, QWidget* parent = nullptr);

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
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "approval/ApprovalInbox.h"
#include "ApprovalDetails.h"
#include "model/Model.h"

#include <QDockWidget>
#include <QSet>

#include <memory>
#include <optional>

class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSystemTrayIcon;
class QTableView;
class QTextBrowser;
class QTimer;
class QVBoxLayout;

namespace fluid {
class Clock;
}

namespace fluid::store {
class StoreWorker;
}

namespace fluid::approval {
class ApprovalBroker;
}

namespace fluid::ui {

class ApprovalModel;

/// The approval inbox: requests waiting for a person (pending), decided and expired ones (history), and
/// the full context of the selected one (what, why, which sandbox, the resources asked, a diff when the
/// request carries one, the content hash; written by ApprovalDetails). Approve and Reject decide through
/// ApprovalBroker on the StoreWorker, bound to the hash of what the pane shows: a request that changed after
/// it was shown is refused by the broker. The store is polled every 1.5 s with approval::readInbox on the
/// StoreWorker (other processes file requests too); the title and the View-menu entry carry the pending
/// count, and new requests raise a notification. GUI thread.
class ApprovalInboxDock : public QDockWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ApprovalInboxDock)
public:
    /// How new requests are announced (the desktop by default; a test records them instead).
    class Notifier {
    public:
        virtual ~Notifier() = default;
        virtual void notify(ApprovalInboxDock* dock, const QString& title, const QString& text) = 0;
    };

    /// A tray notification when the desktop has a system tray; otherwise the window's status bar (through
    /// statusMessage) and QApplication::alert on the window.
    class DesktopNotifier : public Notifier {
    public:
        DesktopNotifier();
        ~DesktopNotifier() override;
        void notify(ApprovalInboxDock* dock, const QString& title, const QString& text) override;

    private:
        std::unique_ptr<QSystemTrayIcon> m_tray;
    };

    /// store may be null (no store): the dock says so. Polling starts when the store has opened. Decisions
    /// go through `broker` (the process's, so a create waiting for one goes on at once).
    explicit ApprovalInboxDock(store::StoreWorker* store, approval::ApprovalBroker* broker,
                               QWidget* parent = nullptr, const Clock* clock = nullptr);
    ~ApprovalInboxDock() override;

    static constexpr int kPollIntervalMs = 1500;

    void setNotifier(std::unique_ptr<Notifier> notifier);
    /// Who decisions are recorded as; the local person (model::Actor::localPerson()) by default.
    void setDecider(const model::Actor& who);
    const model::Actor& decider() const { return m_decider; }

    ApprovalModel* pendingModel() const { return m_pending; }
    ApprovalModel* historyModel() const { return m_history; }
    QTableView* pendingView() const { return m_pendingView; }
    QTableView* historyView() const { return m_historyView; }
    QTextBrowser* details() const { return m_details; }
    QPlainTextEdit* commentEdit() const { return m_comment; }
    QPushButton* approveButton() const { return m_approve; }
    QPushButton* rejectButton() const { return m_reject; }
    /// The last line the dock said about a decision ("Approved: ...", "Could not approve: ...").
    QString messageText() const;
    int pendingCount() const;
    /// The request the details pane shows, as it was when shown (empty when nothing is selected).
    const std::optional<model::Approval>& shown() const { return m_shown; }
    /// Selects the approval with this id in whichever list holds it; false when neither does.
    bool select(const QString& id);

public Q_SLOTS:
    /// Reads pending and history from the store now (coalesced with a poll already running).
    void refresh();
    void approveSelected();
    void rejectSelected();

Q_SIGNALS:
    /// A line for the window's status bar; timeoutMs 0 keeps it until the next one.
    void statusMessage(const QString& text, int timeoutMs);
    /// After every store poll has been applied.
    void refreshed();
    void pendingCountChanged(int count);
    /// A decision was recorded (ok) or refused/failed (message says why).
    void decisionFinished(const QString& id, bool ok, const QString& message);

private:
    QWidget* buildPendingPane();
    QWidget* buildHistoryPane();
    /// The banner, the details, the comment and the Approve and Reject buttons.
    QWidget* buildDetailsPane();
    void addDecisionControls(QVBoxLayout* layout);
    /// Keyboard shortcuts, buttons, list selections and the banner's link.
    void connectActions();
    /// Polls now when the store is open, once it opens otherwise; says why not when it cannot.
    void pollOnceTheStoreIsOpen();
    void startPolling();
    /// One store poll; the history only when it may have changed.
    void poll();
    void applyInbox(approval::Inbox inbox);
    /// Notifies once about each request not seen pending before.
    void announceNew(const QList<model::Approval>& pending);
    /// Keeps the pane on the shown request as the lists change: reselects it, warns when a pending one
    /// changed under the reader, shows a decided one as it is now, clears the pane when it is gone.
    void followShown();
    void onSelectionChanged(QTableView* from);
    void showApproval(const std::optional<model::Approval>& approval);
    /// The request now in the lists with the shown one's id.
    std::optional<model::Approval> currentOf(const QString& id) const;
    void decide(bool approve);
    void setMessage(const QString& text, bool problem);
    void updateTitle();
    void updateButtons();

    store::StoreWorker* m_store;
    approval::ApprovalBroker* m_broker;
    const Clock& m_clock;
    ApprovalDetails m_presenter;
    ApprovalModel* m_pending;
    ApprovalModel* m_history;
    QTableView* m_pendingView;
    QTableView* m_historyView;
    QLabel* m_pendingEmpty;
    QLabel* m_changedBanner;
    QTextBrowser* m_details;
    QPlainTextEdit* m_comment;
    QPushButton* m_approve;
    QPushButton* m_reject;
    QLabel* m_message;
    QTimer* m_poll;
    std::unique_ptr<Notifier> m_notifier;
    model::Actor m_decider;
    std::optional<model::Approval> m_shown;
    QSet<QString> m_announced; ///< pending ids already notified
    bool m_polling = false;
    bool m_pollAgain = false;
    bool m_historyDirty = true; ///< the next poll reads the history whatever happened
    int m_pollCount = 0;
    bool m_deciding = false;
    bool m_syncing = false; ///< selection changes made by the dock itself, not the person
    int m_lastCount = -1;
};

} // namespace fluid::ui

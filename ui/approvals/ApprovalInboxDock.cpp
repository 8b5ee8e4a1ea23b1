// SPDX-License-Identifier: Apache-2.0
#include "ApprovalInboxDock.h"

#include "approval/ApprovalBroker.h"
#include "ApprovalDetails.h"
#include "ApprovalModel.h"
#include "base/Clock.h"
#include "store/StoreWorker.h"

#include <QAction>
#include <QApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QSplitter>
#include <QSystemTrayIcon>
#include <QTableView>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>

namespace fluid::ui {
using model::Approval;
using model::ApprovalStatus;

namespace {

/// One of the two request lists: whole rows, one at a time, the What column taking the spare width.
void setUpList(QTableView* view, ApprovalModel* model, const QString& name, const QString& accessible,
               std::initializer_list<int> hidden)
{
    view->setModel(model);
    view->setObjectName(name);
    view->setAccessibleName(accessible);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setSelectionMode(QAbstractItemView::SingleSelection);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->verticalHeader()->hide();
    view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    view->horizontalHeader()->setSectionResizeMode(ApprovalModel::What, QHeaderView::Stretch);
    for (int column : hidden)
        view->setColumnHidden(column, true);
    // Room for a few rows even in a short dock: the lists are what a person scans first.
    view->setMinimumHeight(view->horizontalHeader()->sizeHint().height() +
                           view->verticalHeader()->defaultSectionSize() * 3 + 2 * view->frameWidth());
}

} // namespace

ApprovalInboxDock::DesktopNotifier::DesktopNotifier() = default;
ApprovalInboxDock::DesktopNotifier::~DesktopNotifier() = default;

void ApprovalInboxDock::DesktopNotifier::notify(ApprovalInboxDock* dock, const QString& title,
                                                const QString& text)
{
    Q_EMIT dock->statusMessage(text, 15000);
    if (QSystemTrayIcon::isSystemTrayAvailable() && QSystemTrayIcon::supportsMessages()) {
        if (!m_tray) {
            QIcon icon = dock->window()->windowIcon();
            if (icon.isNull())
                icon = QIcon(QStringLiteral(":/fluid/fluid.svg"));
            m_tray = std::make_unique<QSystemTrayIcon>(icon);
            m_tray->setToolTip(QStringLiteral("Fluid"));
            QPointer<ApprovalInboxDock> target(dock);
            QObject::connect(m_tray.get(), &QSystemTrayIcon::messageClicked, dock, [target]() {
                if (!target)
                    return;
                target->show();
                target->raise();
                target->window()->activateWindow();
            });
            m_tray->show();
        }
        m_tray->showMessage(title, text, QSystemTrayIcon::Information, 15000);
    } else {
        QApplication::alert(dock->window());
    }
}

ApprovalInboxDock::ApprovalInboxDock(store::StoreWorker* store, approval::ApprovalBroker* broker,
                                     QWidget* parent, const Clock* clock)
    : QDockWidget(tr("Approvals"), parent)
    , m_store(store)
    , m_broker(broker)
    , m_clock(clock ? *clock : Clock::system())
    , m_presenter(m_clock)
    , m_pending(new ApprovalModel(&m_clock, this))
    , m_history(new ApprovalModel(&m_clock, this))
    , m_pendingView(new QTableView)
    , m_historyView(new QTableView)
    , m_pendingEmpty(new QLabel)
    , m_changedBanner(new QLabel)
    , m_details(new QTextBrowser)
    , m_comment(new QPlainTextEdit)
    , m_approve(new QPushButton(tr("&Approve")))
    , m_reject(new QPushButton(tr("&Reject")))
    , m_message(new QLabel)
    , m_poll(new QTimer(this))
    , m_notifier(std::make_unique<DesktopNotifier>())
    , m_decider(model::Actor::localPerson())
{
    setObjectName(QStringLiteral("approvalDock"));
    setUpList(m_pendingView, m_pending, QStringLiteral("approvalPending"), tr("Pending approval requests"),
              {ApprovalModel::DecidedBy, ApprovalModel::Decided, ApprovalModel::Comment});
    setUpList(m_historyView, m_history, QStringLiteral("approvalHistory"), tr("Decided approval requests"),
              {ApprovalModel::Age, ApprovalModel::Expires});

    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->setChildrenCollapsible(false);
    splitter->addWidget(buildPendingPane());
    splitter->addWidget(buildHistoryPane());
    splitter->addWidget(buildDetailsPane());
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 3);
    splitter->setStretchFactor(2, 5);
    auto* body = new QWidget;
    auto* layout = new QVBoxLayout(body);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(splitter);
    setWidget(body);

    connectActions();
    m_poll->setInterval(kPollIntervalMs);
    connect(m_poll, &QTimer::timeout, this, &ApprovalInboxDock::poll);
    updateButtons();
    pollOnceTheStoreIsOpen();
}

QWidget* ApprovalInboxDock::buildPendingPane()
{
    auto* pane = new QWidget;
    auto* layout = new QVBoxLayout(pane);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* title = new QLabel(tr("<b>Waiting for a decision</b>"));
    title->setBuddy(m_pendingView);
    layout->addWidget(title);
    m_pendingEmpty->setObjectName(QStringLiteral("approvalPendingEmpty"));
    m_pendingEmpty->setWordWrap(true);
    m_pendingEmpty->setEnabled(false);
    m_pendingEmpty->setText(tr("Reading approval requests…"));
    layout->addWidget(m_pendingEmpty);
    layout->addWidget(m_pendingView, 1);
    m_pendingView->hide();
    return pane;
}

QWidget* ApprovalInboxDock::buildHistoryPane()
{
    auto* pane = new QWidget;
    auto* layout = new QVBoxLayout(pane);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(new QLabel(tr("<b>History</b>")));
    layout->addWidget(m_historyView, 1);
    return pane;
}

QWidget* ApprovalInboxDock::buildDetailsPane()
{
    auto* pane = new QWidget;
    auto* layout = new QVBoxLayout(pane);
    layout->setContentsMargins(0, 0, 0, 0);
    m_changedBanner->setObjectName(QStringLiteral("approvalChanged"));
    m_changedBanner->setWordWrap(true);
    m_changedBanner->setTextFormat(Qt::RichText);
    m_changedBanner->setAutoFillBackground(true);
    m_changedBanner->setBackgroundRole(QPalette::ToolTipBase);
    m_changedBanner->setForegroundRole(QPalette::ToolTipText);
    m_changedBanner->setMargin(4);
    m_changedBanner->hide();
    layout->addWidget(m_changedBanner);
    m_details->setObjectName(QStringLiteral("approvalDetails"));
    m_details->setAccessibleName(tr("Request details"));
    m_details->setOpenLinks(false);
    m_details->setPlaceholderText(tr("Select a request to see what it asks for, why, and its content hash."));
    layout->addWidget(m_details, 1);
    addDecisionControls(layout);
    return pane;
}

void ApprovalInboxDock::addDecisionControls(QVBoxLayout* layout)
{
    auto* commentLabel = new QLabel(tr("Co&mment:"));
    commentLabel->setBuddy(m_comment);
    m_comment->setObjectName(QStringLiteral("approvalComment"));
    m_comment->setAccessibleName(tr("Decision comment"));
    m_comment->setToolTip(tr("Why you decide as you do; recorded with the decision and in the audit log. "
                             "Required to reject."));
    m_comment->setPlaceholderText(tr("Optional to approve, required to reject"));
    m_comment->setTabChangesFocus(true);
    m_comment->setFixedHeight(m_comment->fontMetrics().lineSpacing() * 3 + 12);
    layout->addWidget(commentLabel);
    layout->addWidget(m_comment);

    auto* buttons = new QHBoxLayout;
    m_message->setObjectName(QStringLiteral("approvalMessage"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    buttons->addWidget(m_message, 1);
    m_reject->setObjectName(QStringLiteral("approvalReject"));
    m_reject->setAccessibleName(tr("Reject request"));
    m_reject->setToolTip(
        tr("Reject the request shown, with the comment saying why (Alt+R, Ctrl+Shift+Return)"));
    m_approve->setObjectName(QStringLiteral("approvalApprove"));
    m_approve->setAccessibleName(tr("Approve request"));
    m_approve->setToolTip(tr("Approve exactly the request shown, bound to its content hash (Alt+A, "
                             "Ctrl+Return)"));
    buttons->addWidget(m_reject);
    buttons->addWidget(m_approve);
    layout->addLayout(buttons);
}

void ApprovalInboxDock::connectActions()
{
    auto* approveKey = new QAction(tr("Approve"), this);
    approveKey->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    approveKey->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    addAction(approveKey);
    auto* rejectKey = new QAction(tr("Reject"), this);
    rejectKey->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Return));
    rejectKey->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    addAction(rejectKey);
    connect(approveKey, &QAction::triggered, this, &ApprovalInboxDock::approveSelected);
    connect(rejectKey, &QAction::triggered, this, &ApprovalInboxDock::rejectSelected);
    connect(m_approve, &QPushButton::clicked, this, &ApprovalInboxDock::approveSelected);
    connect(m_reject, &QPushButton::clicked, this, &ApprovalInboxDock::rejectSelected);
    connect(m_pendingView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this]() { onSelectionChanged(m_pendingView); });
    connect(m_historyView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this]() { onSelectionChanged(m_historyView); });
    connect(m_changedBanner, &QLabel::linkActivated, this, [this]() {
        if (m_shown)
            showApproval(currentOf(m_shown->id));
    });
}

void ApprovalInboxDock::pollOnceTheStoreIsOpen()
{
    if (!m_store) {
        m_pendingEmpty->setText(tr("No store is configured, so there are no approval requests to show. Set "
                                   "store in the configuration and restart Fluid."));
    } else if (m_store->databaseOptions()) {
        startPolling();
    } else {
        connect(m_store, &store::StoreWorker::opened, this, [this](bool ok, const QString& message) {
            if (ok) {
                startPolling();
            } else {
                m_pendingEmpty->setText(
                    tr("The store could not be opened (%1), so approval requests cannot be read. Fix the "
                       "store settings and restart Fluid.")
                        .arg(message));
            }
        });
    }
}

ApprovalInboxDock::~ApprovalInboxDock() = default;

void ApprovalInboxDock::setNotifier(std::unique_ptr<Notifier> notifier)
{
    m_notifier = std::move(notifier);
}

void ApprovalInboxDock::setDecider(const model::Actor& who)
{
    m_decider = who;
}

QString ApprovalInboxDock::messageText() const
{
    return m_message->text();
}

int ApprovalInboxDock::pendingCount() const
{
    return m_pending->rowCount();
}

bool ApprovalInboxDock::select(const QString& id)
{
    for (QTableView* view : {m_pendingView, m_historyView}) {
        const int row = static_cast<ApprovalModel*>(view->model())->rowOf(id);
        if (row >= 0) {
            view->selectionModel()->setCurrentIndex(view->model()->index(row, 0),
                                                    QItemSelectionModel::ClearAndSelect |
                                                        QItemSelectionModel::Rows);
            return true;
        }
    }
    return false;
}

void ApprovalInboxDock::startPolling()
{
    m_poll->start();
    refresh();
}

void ApprovalInboxDock::refresh()
{
    m_historyDirty = true;
    poll();
}

void ApprovalInboxDock::poll()
{
    if (!m_store || !m_store->databaseOptions())
        return;
    if (m_polling) {
        m_pollAgain = true;
        return;
    }
    m_polling = true;
    approval::ApprovalBroker* broker = m_broker;
    QSet<QString> known;
    for (const Approval& a : m_pending->approvals())
        known.insert(a.id);
    const bool forceHistory = m_historyDirty || m_pollCount++ % approval::kInboxHistoryEvery == 0;
    m_historyDirty = false;
    m_store->run<approval::Inbox>(
        this,
        [broker, known, forceHistory](store::Database& db) {
            return approval::readInbox(db, *broker, known, forceHistory);
        },
        [this](Result<approval::Inbox> inbox) {
            m_polling = false;
            if (inbox) {
                applyInbox(std::move(*inbox));
            } else {
                m_pendingEmpty->setText(
                    tr("Cannot read approval requests: %1").arg(inbox.error().toString()));
                m_pendingEmpty->show();
                m_pendingView->hide();
            }
            if (m_pollAgain) {
                m_pollAgain = false;
                poll();
            }
            Q_EMIT refreshed();
        });
}

void ApprovalInboxDock::applyInbox(approval::Inbox inbox)
{
    // Rows leaving a list deselect themselves; the pane follows the shown request in followShown() instead.
    m_syncing = true;
    m_pending->setApprovals(inbox.pending);
    if (inbox.history)
        m_history->setApprovals(*inbox.history);
    m_syncing = false;
    m_pending->tick();
    m_history->tick();
    const bool empty = inbox.pending.isEmpty();
    m_pendingEmpty->setText(tr("Nothing waits for a decision."));
    m_pendingEmpty->setVisible(empty);
    m_pendingView->setVisible(!empty);

    announceNew(inbox.pending);
    followShown();
    updateTitle();
    updateButtons();
}

void ApprovalInboxDock::announceNew(const QList<Approval>& pending)
{
    QStringList fresh;
    for (const Approval& a : pending) {
        if (!m_announced.contains(a.id)) {
            m_announced.insert(a.id);
            fresh << a.id;
        }
    }
    if (!fresh.isEmpty() && m_notifier) {
        const Approval& first = pending.at(m_pending->rowOf(fresh.first()));
        const QString text =
            fresh.size() == 1
                ? tr("%1 asks: %2")
                      .arg(first.requestedBy.isEmpty() ? tr("Fluid") : first.requestedBy, first.request)
                : tr("%n approval requests wait for your decision", nullptr, int(fresh.size()));
        m_notifier->notify(this, tr("Approval needed"), text);
    }
}

void ApprovalInboxDock::followShown()
{
    if (!m_shown)
        return;
    const std::optional<Approval> current = currentOf(m_shown->id);
    const bool stillSelected =
        (m_pendingView->selectionModel()->hasSelection() &&
         m_pending->rowOf(m_shown->id) == m_pendingView->selectionModel()->selectedRows().value(0).row()) ||
        (m_historyView->selectionModel()->hasSelection() &&
         m_history->rowOf(m_shown->id) == m_historyView->selectionModel()->selectedRows().value(0).row());
    if (!current) {
        showApproval(std::nullopt);
        return;
    }
    if (!stillSelected) {
        m_syncing = true;
        m_pendingView->clearSelection();
        m_historyView->clearSelection();
        select(m_shown->id);
        m_syncing = false;
    }
    switch (ApprovalDetails::follow(*m_shown, *current)) {
    case ApprovalDetails::Follow::Keep:
        break;
    case ApprovalDetails::Follow::Warn:
        m_changedBanner->setText(
            tr("This request changed in the store after it was shown here. Approving the version "
               "below will be refused. <a href=\"reload\">Show what it asks now</a>"));
        m_changedBanner->show();
        break;
    case ApprovalDetails::Follow::Reshow:
        showApproval(current);
        break;
    }
}

std::optional<Approval> ApprovalInboxDock::currentOf(const QString& id) const
{
    if (const int row = m_pending->rowOf(id); row >= 0)
        return m_pending->approvalAt(row);
    if (const int row = m_history->rowOf(id); row >= 0)
        return m_history->approvalAt(row);
    return std::nullopt;
}

void ApprovalInboxDock::onSelectionChanged(QTableView* from)
{
    if (m_syncing)
        return;
    QTableView* other = from == m_pendingView ? m_historyView : m_pendingView;
    const QModelIndexList rows = from->selectionModel()->selectedRows();
    if (rows.isEmpty()) {
        if (!other->selectionModel()->hasSelection())
            showApproval(std::nullopt);
        return;
    }
    m_syncing = true;
    other->clearSelection();
    m_syncing = false;
    const Approval& a = static_cast<ApprovalModel*>(from->model())->approvalAt(rows.first().row());
    if (m_shown && m_shown->id != a.id) {
        m_comment->clear();
        setMessage(QString(), false);
    }
    showApproval(a);
}

void ApprovalInboxDock::showApproval(const std::optional<Approval>& approval)
{
    m_shown = approval;
    m_changedBanner->hide();
    if (approval)
        m_details->setHtml(m_presenter.html(*approval, m_details->palette()));
    else
        m_details->clear();
    updateButtons();
}

void ApprovalInboxDock::approveSelected()
{
    decide(true);
}

void ApprovalInboxDock::rejectSelected()
{
    decide(false);
}

void ApprovalInboxDock::decide(bool approve)
{
    if (!m_shown || m_deciding || !m_store)
        return;
    const Approval shown = *m_shown;
    if (shown.status != ApprovalStatus::Pending) {
        setMessage(
            tr("This request is already %1; there is nothing to decide.").arg(model::enumName(shown.status)),
            true);
        return;
    }
    if (m_pending->isOverdue(shown)) {
        setMessage(
            tr("This request expired at %1 and can no longer be decided; whoever asked has to ask again.")
                .arg(ApprovalModel::localTime(shown.expiresAt)),
            true);
        return;
    }
    const QString comment = m_comment->toPlainText().trimmed();
    if (!approve && comment.isEmpty()) {
        setMessage(
            tr("Rejecting needs a comment: say why in the comment field, so whoever asked knows what to "
               "change. Then reject again."),
            true);
        m_comment->setFocus();
        return;
    }
    m_deciding = true;
    updateButtons();
    setMessage(approve ? tr("Approving…") : tr("Rejecting…"), false);
    approval::ApprovalBroker* broker = m_broker;
    const model::Actor who = m_decider;
    m_store->run<Approval>(
        this,
        [broker, shown, approve, who, comment](store::Database& db) {
            return broker->decide(db, shown.id, approve, who, comment, shown.contentHash);
        },
        [this, shown, approve](Result<Approval> decided) {
            m_deciding = false;
            QString text;
            if (decided) {
                text = (approve ? tr("Approved as %1: %2") : tr("Rejected as %1: %2"))
                           .arg(decided->decidedBy, decided->request);
                setMessage(text, false);
                m_comment->clear();
                Q_EMIT statusMessage(text, 5000);
            } else {
                text = (approve ? tr("Could not approve: %1") : tr("Could not reject: %1"))
                           .arg(decided.error().message);
                setMessage(text, true);
            }
            Q_EMIT decisionFinished(shown.id, decided.ok(), text);
            updateButtons();
            m_historyDirty = true;
            refresh();
        });
}

void ApprovalInboxDock::setMessage(const QString& text, bool problem)
{
    m_message->setText(text);
    QFont font = m_message->font();
    font.setBold(problem);
    m_message->setFont(font);
}

void ApprovalInboxDock::updateTitle()
{
    const int count = m_pending->rowCount();
    setWindowTitle(count > 0 ? tr("Approvals (%1)").arg(count) : tr("Approvals"));
    // After the title: QDockWidget copies the title into its toggle action; the menu entry gets a mnemonic.
    toggleViewAction()->setText(count > 0 ? tr("A&pprovals (%1)").arg(count) : tr("A&pprovals"));
    if (count != m_lastCount) {
        m_lastCount = count;
        Q_EMIT pendingCountChanged(count);
    }
}

void ApprovalInboxDock::updateButtons()
{
    const bool decidable = m_shown && m_shown->status == ApprovalStatus::Pending && !m_deciding;
    m_approve->setEnabled(decidable);
    m_reject->setEnabled(decidable);
    m_comment->setEnabled(decidable);
}

} // namespace fluid::ui

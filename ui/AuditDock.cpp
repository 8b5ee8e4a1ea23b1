// SPDX-License-Identifier: Apache-2.0
#include "AuditDock.h"

#include "AuditLogModel.h"
#include "base/Clock.h"
#include "store/AuditLog.h"
#include "store/StoreWorker.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QTableView>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace fluid::ui {

AuditDock::AuditDock(store::StoreWorker* store, QWidget* parent, const Clock* clock)
    : QDockWidget(tr("Audit log"), parent)
    , m_store(store)
    , m_model(new AuditLogModel(this))
    , m_view(new QTableView)
    , m_sandboxFilter(new QLineEdit)
    , m_kindFilter(new QLineEdit)
    , m_chainLabel(new QLabel)
    , m_timeFilter(new QComboBox)
    , m_clock(clock ? clock : &Clock::system())
    , m_poll(new QTimer(this))
{
    setObjectName(QStringLiteral("auditDock"));
    auto* body = new QWidget;
    auto* layout = new QVBoxLayout(body);
    layout->setContentsMargins(4, 4, 4, 4);

    auto* filters = new QHBoxLayout;
    m_sandboxFilter->setPlaceholderText(tr("Sandbox id"));
    m_sandboxFilter->setAccessibleName(tr("Filter by sandbox"));
    m_sandboxFilter->setClearButtonEnabled(true);
    m_kindFilter->setPlaceholderText(tr("Kind, e.g. sandbox."));
    m_kindFilter->setAccessibleName(tr("Filter by kind"));
    m_kindFilter->setObjectName(QStringLiteral("auditKindFilter"));
    m_kindFilter->setClearButtonEnabled(true);
    auto* refreshButton = new QToolButton;
    refreshButton->setText(tr("Refresh"));
    refreshButton->setToolTip(tr("Reload the newest events (F5)"));
    refreshButton->setShortcut(QKeySequence::Refresh);
    auto* verifyButton = new QToolButton;
    verifyButton->setText(tr("Verify chain"));
    verifyButton->setObjectName(QStringLiteral("verifyChain"));
    verifyButton->setToolTip(tr("Recompute every row's hash and check that each links to the one before"));
    filters->addWidget(m_sandboxFilter, 1);
    filters->addWidget(m_kindFilter, 1);
    m_timeFilter->setObjectName(QStringLiteral("auditTimeFilter"));
    m_timeFilter->setAccessibleName(tr("Filter by time"));
    m_timeFilter->setToolTip(tr("Show only events from this recent period"));
    m_timeFilter->addItem(tr("Any time"), 0);
    m_timeFilter->addItem(tr("Last hour"), 3600);
    m_timeFilter->addItem(tr("Last 24 hours"), 24 * 3600);
    m_timeFilter->addItem(tr("Last 7 days"), 7 * 24 * 3600);
    filters->addWidget(m_timeFilter);
    filters->addWidget(refreshButton);
    filters->addWidget(verifyButton);
    layout->addLayout(filters);

    m_view->setModel(m_model);
    m_view->setObjectName(QStringLiteral("auditView"));
    m_view->setAccessibleName(tr("Audit events"));
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setAlternatingRowColors(true);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layout->addWidget(m_view, 1);

    m_chainLabel->setObjectName(QStringLiteral("chainStatus"));
    m_chainLabel->setText(tr("Chain not verified yet"));
    layout->addWidget(m_chainLabel);
    setWidget(body);

    // Typing in a filter reloads once the person pauses.
    auto* debounce = new QTimer(this);
    debounce->setSingleShot(true);
    debounce->setInterval(250);
    connect(debounce, &QTimer::timeout, this, &AuditDock::refresh);
    connect(m_sandboxFilter, &QLineEdit::textChanged, debounce, qOverload<>(&QTimer::start));
    connect(m_kindFilter, &QLineEdit::textChanged, debounce, qOverload<>(&QTimer::start));
    connect(m_timeFilter, &QComboBox::currentIndexChanged, this, &AuditDock::refresh);
    connect(refreshButton, &QToolButton::clicked, this, &AuditDock::refresh);
    connect(verifyButton, &QToolButton::clicked, this, &AuditDock::verifyChain);

    m_poll->setInterval(2000);
    connect(m_poll, &QTimer::timeout, this, &AuditDock::pollForNewEvents);
    connect(this, &QDockWidget::visibilityChanged, this, [this](bool visible) {
        if (visible)
            pollForNewEvents();
    });
    m_poll->start();
}

void AuditDock::setPollInterval(int ms)
{
    m_poll->setInterval(ms);
}

void AuditDock::pollForNewEvents()
{
    if (!m_store || m_polling || !isVisible())
        return;
    m_polling = true;
    m_store->run<qint64>(
        this, [](store::Database& db) { return store::AuditLog(db).latestSeq(); },
        [this](Result<qint64> seq) {
            m_polling = false;
            if (!seq || *seq == m_seenSeq) // not open yet: the next tick asks again
                return;
            m_seenSeq = *seq;
            refresh();
        });
}

QString AuditDock::chainStatus() const
{
    return m_chainLabel->text();
}

void AuditDock::refresh()
{
    if (!m_store)
        return;
    store::AuditFilter filter;
    filter.sandboxId = m_sandboxFilter->text().trimmed();
    filter.kindPrefix = m_kindFilter->text().trimmed();
    if (const int seconds = m_timeFilter->currentData().toInt(); seconds > 0)
        filter.from = m_clock->now().addSecs(-seconds);
    m_store->run<QList<model::AuditEvent>>(
        this, [filter](store::Database& db) { return store::AuditLog(db).list(filter); },
        [this](Result<QList<model::AuditEvent>> events) {
            if (events) {
                m_model->setEvents(std::move(*events));
            } else {
                m_chainLabel->setText(tr("Cannot read the audit log: %1").arg(events.error().toString()));
            }
            Q_EMIT refreshed();
        });
}

void AuditDock::verifyChain()
{
    if (!m_store)
        return;
    m_chainLabel->setText(tr("Verifying the chain…"));
    m_store->run<store::AuditVerifyReport>(
        this, [](store::Database& db) { return store::AuditLog(db).verify(); },
        [this](Result<store::AuditVerifyReport> report) {
            QString text;
            bool intact = false;
            if (!report) {
                text = tr("Cannot verify the audit log: %1").arg(report.error().toString());
            } else if (report->intact()) {
                intact = true;
                text = tr("Chain verified: %n row(s) intact", nullptr, int(report->rowsChecked)) +
                       QStringLiteral("; ") + report->anchorNote;
                m_model->setBrokenSeq(std::nullopt);
            } else if (report->firstBrokenSeq) {
                text = tr("Chain broken at row %1: %2").arg(*report->firstBrokenSeq).arg(report->reason);
                m_model->setBrokenSeq(report->firstBrokenSeq);
            } else {
                // Every row verifies, but not against the checkpoint outside the database.
                text = tr("Chain broken: %1 (fluid audit reanchor once you have looked)")
                           .arg(report->anchorBroken.value_or(QString()));
                m_model->setBrokenSeq(std::nullopt);
            }
            m_chainLabel->setText(text);
            Q_EMIT chainVerified(intact, text);
        });
}

} // namespace fluid::ui

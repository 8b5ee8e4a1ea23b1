// SPDX-License-Identifier: Apache-2.0
#include "HostsDock.h"

#include "base/Clock.h"
#include "HostTreeModel.h"
#include "OperationListModel.h"
#include "services/HostSession.h"

#include <QAction>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListView>
#include <QMenu>
#include <QMessageBox>
#include <QStyle>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

namespace fluid::ui {

namespace {
constexpr int kStatusTimeoutMs = 8000;

QString noHostText()
{
    return HostsDock::tr("No libvirt host configured: add one in Edit → Settings… (Hosts), or in config.yaml "
                         "hosts:");
}

/// What the person entered in a dialog, or nothing when they cancelled it.
template <typename Dialog, typename Answer>
std::optional<Answer> answer(Dialog& dialog, Answer (Dialog::*get)() const)
{
    if (dialog.exec() != QDialog::Accepted)
        return std::nullopt;
    return (dialog.*get)();
}
} // namespace

std::optional<CreateRequest> HostsDock::Prompts::askCreate(QWidget* parent, const QString& source,
                                                           const CreateRequest& defaults)
{
    CreateSandboxDialog dialog(source, defaults, parent);
    return answer(dialog, &CreateSandboxDialog::request);
}

bool HostsDock::Prompts::confirm(QWidget* parent, const QString& title, const QString& text)
{
    return QMessageBox::question(parent, title, text, QMessageBox::Yes | QMessageBox::Cancel,
                                 QMessageBox::Cancel) == QMessageBox::Yes;
}

std::optional<QString> HostsDock::Prompts::askSnapshotName(QWidget* parent, const QString& sandbox,
                                                           const QString& suggestion)
{
    SnapshotNameDialog dialog(sandbox, suggestion, parent);
    return answer(dialog, &SnapshotNameDialog::name);
}

std::optional<DiffRequest> HostsDock::Prompts::askDiff(QWidget* parent, const QString& sandbox,
                                                       const QStringList& snapshots,
                                                       const DiffRequest& defaults)
{
    DiffPickDialog dialog(sandbox, snapshots, defaults, parent);
    return answer(dialog, &DiffPickDialog::request);
}

HostsDock::HostsDock(QWidget* parent, const Clock* clock)
    : QDockWidget(tr("Hosts & sandboxes"), parent)
    , m_model(new HostTreeModel(this, clock))
    , m_view(new QTreeView)
    , m_empty(new QLabel)
    , m_operations(new OperationListModel(this))
    , m_operationsView(new QListView)
    , m_prompts(std::make_unique<Prompts>())
    , m_clock(clock ? clock : &Clock::system())
{
    setObjectName(QStringLiteral("hostsDock"));
    auto* body = new QWidget;
    auto* layout = new QVBoxLayout(body);
    layout->setContentsMargins(4, 4, 4, 4);

    auto* toolbar = new QToolBar;
    toolbar->setObjectName(QStringLiteral("hostsToolbar"));
    toolbar->setIconSize(QSize(16, 16));
    using H = HostsDock;
    const QList<QAction*> actions = {
        makeAction(Action::Create, tr("&Create sandbox…"), QKeySequence(Qt::CTRL | Qt::Key_N),
                   QStyle::SP_FileDialogNewFolder,
                   tr("Clone a new sandbox from the selected source VM, or from the host's golden VM"),
                   &H::createSandbox),
        makeAction(Action::Start, tr("&Start"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S),
                   QStyle::SP_MediaPlay, tr("Start the selected sandbox"), &H::startSandbox),
        makeAction(Action::Stop, tr("S&top"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_X),
                   QStyle::SP_MediaStop, tr("Shut the selected sandbox down (forced after the stop timeout)"),
                   &H::stopSandbox),
        makeAction(Action::Destroy, tr("&Destroy…"), QKeySequence(Qt::Key_Delete), QStyle::SP_TrashIcon,
                   tr("Power off and delete the selected sandbox with its disks and snapshots"),
                   &H::destroySandbox),
        makeAction(Action::Snapshot, tr("Take s&napshot…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P),
                   QStyle::SP_DialogSaveButton, tr("Take a snapshot of the selected sandbox"),
                   &H::takeSnapshot),
        makeAction(Action::Revert, tr("&Revert to snapshot"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z),
                   QStyle::SP_ArrowBack, tr("Return the sandbox to the selected snapshot"),
                   &H::revertSnapshot),
        makeAction(Action::Refresh, tr("Re&fresh"), QKeySequence(Qt::Key_F5), QStyle::SP_BrowserReload,
                   tr("Reload source VMs and sandboxes (reconnects a host that could not be reached)"),
                   &H::refresh),
    };
    for (QAction* a : actions) {
        toolbar->addAction(a);
        if (a == m_actions.value(Action::Revert))
            toolbar->addSeparator();
    }
    toolbar->addAction(makeAction(
        Action::OpenTerminal, tr("Open &terminal"), QKeySequence(Qt::CTRL | Qt::Key_T),
        QStyle::SP_ComputerIcon, tr("Open a root shell on the selected running sandbox in the terminal dock"),
        &H::openTerminal));
    toolbar->insertAction(
        action(Action::Refresh),
        makeAction(
            Action::Diff, tr("&Diff…"), QKeySequence(Qt::CTRL | Qt::Key_D), QStyle::SP_FileDialogContentsView,
            tr("Show what changed in the sandbox between two snapshots, or since one"), &H::diffSelected));
    layout->addWidget(toolbar);

    m_empty->setObjectName(QStringLiteral("hostsEmpty"));
    m_empty->setWordWrap(true);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setText(noHostText());
    layout->addWidget(m_empty, 1);

    m_view->setObjectName(QStringLiteral("hostsView"));
    m_view->setAccessibleName(tr("Hosts, source VMs and sandboxes"));
    m_view->setModel(m_model);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    m_view->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_view->header()->setStretchLastSection(false);
    layout->addWidget(m_view, 1);

    auto* opsHeader = new QHBoxLayout;
    auto* opsLabel = new QLabel(tr("Operations"));
    opsHeader->addWidget(opsLabel, 1);
    QAction* cancel =
        makeAction(Action::CancelOperation, tr("Cancel"), QKeySequence(), QStyle::SP_DialogCancelButton,
                   tr("Cancel the selected create (it rolls back)"), &H::cancelOperation);
    auto* cancelButton = new QToolButton;
    cancelButton->setDefaultAction(cancel);
    cancelButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    auto* dismissButton = new QToolButton;
    dismissButton->setObjectName(QStringLiteral("dismissOperations"));
    dismissButton->setText(tr("Dismiss"));
    dismissButton->setToolTip(tr("Remove finished operations from the list"));
    connect(dismissButton, &QToolButton::clicked, m_operations, &OperationListModel::dismissFinished);
    opsHeader->addWidget(cancelButton);
    opsHeader->addWidget(dismissButton);
    layout->addLayout(opsHeader);
    m_operationsView->setObjectName(QStringLiteral("operationsView"));
    m_operationsView->setAccessibleName(tr("Operations"));
    m_operationsView->setModel(m_operations);
    m_operationsView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_operationsView->setMaximumHeight(90);
    opsLabel->setBuddy(m_operationsView);
    layout->addWidget(m_operationsView);
    setWidget(body);

    connect(m_view, &QTreeView::customContextMenuRequested, this, &HostsDock::showContextMenu);
    connect(m_view, &QTreeView::expanded, this, &HostsDock::onExpanded);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &HostsDock::updateActions);
    connect(m_model, &QAbstractItemModel::dataChanged, this, &HostsDock::updateActions);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, &HostsDock::updateActions);
    connect(m_operationsView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &HostsDock::updateActions);
    connect(m_operations, &QAbstractItemModel::dataChanged, this, &HostsDock::updateActions);
    connect(m_operations, &QAbstractItemModel::rowsRemoved, this, &HostsDock::updateActions);
    connect(m_operations, &OperationListModel::statusMessage, this, &HostsDock::statusMessage);
    connect(m_operations, &OperationListModel::operationFinished, this, &HostsDock::onOperationFinished);

    auto* ages = new QTimer(this);
    ages->setInterval(30000);
    connect(ages, &QTimer::timeout, m_model, &HostTreeModel::touchAges);
    ages->start();

    updateEmptyState();
    updateActions();
}

HostsDock::~HostsDock() = default;

QAction* HostsDock::makeAction(Action which, const QString& text, const QKeySequence& shortcut, int icon,
                               const QString& tip, void (HostsDock::*slot)())
{
    auto* a = new QAction(style()->standardIcon(QStyle::StandardPixmap(icon)), text, this);
    a->setObjectName(QStringLiteral("hosts%1").arg(int(which)));
    if (!shortcut.isEmpty()) {
        a->setShortcut(shortcut);
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        a->setToolTip(QStringLiteral("%1 (%2)").arg(tip, shortcut.toString(QKeySequence::NativeText)));
    } else {
        a->setToolTip(tip);
    }
    addAction(a); // shortcuts work wherever the focus is inside the dock
    connect(a, &QAction::triggered, this, slot);
    m_actions.insert(which, a);
    return a;
}

QAction* HostsDock::action(Action which) const
{
    return m_actions.value(which);
}

void HostsDock::setPrompts(std::unique_ptr<Prompts> prompts)
{
    m_prompts = std::move(prompts);
}

void HostsDock::setEmptyText(const QString& text)
{
    m_empty->setText(text);
}

QString HostsDock::emptyText() const
{
    return m_empty->text();
}

void HostsDock::updateEmptyState()
{
    const bool empty = m_sessions.isEmpty();
    m_empty->setVisible(empty);
    m_view->setVisible(!empty);
}

void HostsDock::setOperations(services::OperationRegistry* registry)
{
    m_operations->setRegistry(registry);
}

void HostsDock::addHostSession(services::HostSession* session, int order)
{
    if (!m_operations->registry())
        m_operations->setRegistry(session->operations());
    const QString host = session->hostName();
    m_sessions.append(session);
    m_model->addHost(host, session->uri(), order);
    updateEmptyState();
    m_view->expand(m_model->hostIndex(host));

    connect(session, &services::HostSession::opened, this, [this, host](bool ok, const QString& message) {
        m_opening.remove(host);
        m_model->setHostState(host, ok, ok ? tr("connected") : tr("not connected"), message);
        if (ok) {
            Q_EMIT statusMessage(message, kStatusTimeoutMs);
            for (int g = 0; g < m_model->rowCount(m_model->hostIndex(host)); ++g)
                m_view->expand(m_model->index(g, 0, m_model->hostIndex(host)));
        } else {
            m_operations->addNote(tr("%1: cannot connect").arg(host), message);
        }
        updateActions();
    });
    connect(session, &services::HostSession::connectionChanged, this,
            [this, host](bool up, const QString& reason) {
                m_model->setHostState(host, up, up ? tr("connected") : tr("reconnecting…"), reason);
                Q_EMIT statusMessage(up ? tr("%1: connection restored").arg(host)
                                        : tr("%1: connection lost, reconnecting: %2").arg(host, reason),
                                     up ? kStatusTimeoutMs : 0);
                updateActions();
            });
    connect(session, &services::HostSession::hostInfoChanged, this,
            [this, host](const QString& summary) { m_model->setHostInfo(host, summary); });
    connect(session, &services::HostSession::sourcesChanged, this,
            [this, host](const QList<services::HostSession::Source>& sources) {
                m_model->setSources(host, sources);
            });
    connect(session, &services::HostSession::sandboxesChanged, this,
            [this, host](const QList<model::Sandbox>& sandboxes) { m_model->setSandboxes(host, sandboxes); });
    connect(session, &services::HostSession::snapshotsLoaded, this,
            [this, host](const QString& sandboxId, const QList<virt::SnapshotInfo>& snapshots) {
                m_model->setSnapshots(host, sandboxId, snapshots);
            });
    connect(session, &services::HostSession::snapshotsLoaded, this, [this](const QString& sandboxId) {
        if (!m_pendingDiff.isValid() ||
            m_pendingDiff.data(HostTreeModel::SandboxIdRole).toString() != sandboxId)
            return;
        const QModelIndex row = m_pendingDiff;
        m_pendingDiff = QPersistentModelIndex();
        diffAt(row, true);
    });

    if (!session->isOpen()) {
        m_opening.insert(host);
        session->open();
    }
    updateActions();
}

void HostsDock::removeHostSession(services::HostSession* session)
{
    if (!m_sessions.contains(session))
        return;
    const QString host = session->hostName();
    disconnect(session, nullptr, this, nullptr);
    m_sessions.removeAll(session);
    m_opening.remove(host);
    for (auto it = m_reloadAfter.begin(); it != m_reloadAfter.end();)
        it = it.value().first == session ? m_reloadAfter.erase(it) : std::next(it);
    if (m_pendingDiff.isValid() && m_pendingDiff.data(HostTreeModel::HostRole).toString() == host)
        m_pendingDiff = QPersistentModelIndex();
    const int running = m_operations->forgetHost(host);
    m_model->removeHost(host);
    if (m_sessions.isEmpty())
        m_empty->setText(noHostText());
    updateEmptyState();
    updateActions();
    Q_EMIT statusMessage(running > 0
                             ? tr("%1 closed; %n running operation(s) there left the list: creates and "
                                  "diffs are cancelled (a create rolls back), others finish on their own.",
                                  nullptr, running)
                                   .arg(host)
                             : tr("%1 closed.").arg(host),
                         kStatusTimeoutMs);
}

services::HostSession* HostsDock::sessionNamed(const QString& host) const
{
    for (const QPointer<services::HostSession>& s : m_sessions)
        if (s && s->hostName() == host)
            return s;
    return nullptr;
}

services::HostSession* HostsDock::sessionFor(const QModelIndex& index) const
{
    return index.isValid() ? sessionNamed(index.siblingAtColumn(0).data(HostTreeModel::HostRole).toString())
                           : nullptr;
}

QModelIndex HostsDock::selected() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows(0);
    return rows.isEmpty() ? QModelIndex() : rows.first();
}

void HostsDock::updateActions()
{
    using Kind = HostTreeModel::Kind;
    using model::SandboxState;
    const QModelIndex index = selected();
    const Kind kind = HostTreeModel::kindOf(index);
    services::HostSession* session = sessionFor(index);
    const bool up =
        session && m_model->hostIndex(session->hostName()).data(HostTreeModel::ConnectedRole).toBool();
    const QModelIndex first = index.siblingAtColumn(0);
    const auto state = SandboxState(first.data(HostTreeModel::SandboxStateRole).toInt());
    const bool sandbox = up && kind == Kind::Sandbox;

    action(Action::Create)->setEnabled(up && !createSource(index).isEmpty());
    action(Action::Start)->setEnabled(sandbox && state == SandboxState::Stopped);
    action(Action::Stop)->setEnabled(sandbox && state == SandboxState::Running);
    action(Action::Destroy)->setEnabled(sandbox && state != SandboxState::Creating);
    action(Action::Snapshot)
        ->setEnabled(sandbox && (state == SandboxState::Running || state == SandboxState::Stopped));
    action(Action::Revert)->setEnabled(up && kind == Kind::Snapshot);
    action(Action::Refresh)->setEnabled(!m_sessions.isEmpty());
    action(Action::OpenTerminal)
        ->setEnabled(sandbox && state == SandboxState::Running &&
                     !first.siblingAtColumn(HostTreeModel::Ip).data().toString().isEmpty());
    action(Action::Diff)->setEnabled(up && (kind == Kind::Sandbox || kind == Kind::Snapshot));

    const QModelIndexList ops = m_operationsView->selectionModel()->selectedIndexes();
    action(Action::CancelOperation)
        ->setEnabled(!ops.isEmpty() && ops.first().data(OperationListModel::CancellableRole).toBool());
}

void HostsDock::showContextMenu(const QPoint& pos)
{
    QMenu menu(this);
    for (Action a : {Action::Create, Action::Start, Action::Stop, Action::Snapshot, Action::Revert,
                     Action::Diff, Action::Destroy})
        if (action(a)->isEnabled())
            menu.addAction(action(a));
    if (action(Action::OpenTerminal)->isEnabled())
        menu.addAction(action(Action::OpenTerminal));
    if (!menu.isEmpty())
        menu.addSeparator();
    menu.addAction(action(Action::Refresh));
    menu.exec(m_view->viewport()->mapToGlobal(pos));
}

void HostsDock::onExpanded(const QModelIndex& index)
{
    if (HostTreeModel::kindOf(index) != HostTreeModel::Kind::Sandbox)
        return;
    if (services::HostSession* session = sessionFor(index)) {
        const QModelIndex placeholder = m_model->index(0, 0, index);
        if (HostTreeModel::kindOf(placeholder) == HostTreeModel::Kind::Placeholder)
            m_model->setData(placeholder, tr("Loading snapshots…"));
        session->loadSnapshots(index.data(HostTreeModel::SandboxIdRole).toString());
    }
}

QString HostsDock::createSource(const QModelIndex& index) const
{
    using Kind = HostTreeModel::Kind;
    const Kind kind = HostTreeModel::kindOf(index);
    const QModelIndex first = index.siblingAtColumn(0);
    if (kind == Kind::Source)
        return first.data(HostTreeModel::CloneableRole).toBool()
                   ? first.data(HostTreeModel::KeyRole).toString()
                   : QString();
    // Anywhere else under a host: its golden VM, when it has one that can be cloned.
    services::HostSession* session = sessionFor(index);
    if (!session || session->golden().isEmpty())
        return {};
    const QModelIndex golden = m_model->sourceIndex(session->hostName(), session->golden());
    return golden.isValid() && golden.data(HostTreeModel::CloneableRole).toBool() ? session->golden()
                                                                                  : QString();
}

void HostsDock::createSandbox()
{
    const QModelIndex index = selected();
    services::HostSession* session = sessionFor(index);
    if (!session || !action(Action::Create)->isEnabled())
        return;
    const QString source = createSource(index);
    const virt::CreateOptions defaults = session->createDefaults();
    const auto request = m_prompts->askCreate(this, source, {QString(), defaults.memoryMib, defaults.vcpus});
    if (!request || !m_sessions.contains(session))
        return;
    services::CreateRequest create;
    create.source = source;
    create.name = request->name;
    create.memoryMib = request->memoryMib;
    create.vcpus = request->vcpus;
    session->create(create, m_actor);
    updateActions();
}

void HostsDock::startSandbox()
{
    const QModelIndex index = selected();
    if (services::HostSession* session = sessionFor(index); session && action(Action::Start)->isEnabled())
        session->start(index.siblingAtColumn(0).data(HostTreeModel::SandboxIdRole).toString(), m_actor);
}

void HostsDock::stopSandbox()
{
    const QModelIndex index = selected();
    if (services::HostSession* session = sessionFor(index); session && action(Action::Stop)->isEnabled())
        session->stop(index.siblingAtColumn(0).data(HostTreeModel::SandboxIdRole).toString(), m_actor);
}

void HostsDock::destroySandbox()
{
    const QModelIndex index = selected();
    services::HostSession* session = sessionFor(index);
    if (!session || !action(Action::Destroy)->isEnabled())
        return;
    const QString id = index.siblingAtColumn(0).data(HostTreeModel::SandboxIdRole).toString();
    const QString name = index.siblingAtColumn(0).data().toString();
    if (!m_prompts->confirm(this, tr("Destroy %1?").arg(name),
                            tr("Destroy sandbox %1? It is powered off and deleted with its disks and "
                               "snapshots. This cannot be undone.")
                                .arg(name)) ||
        !m_sessions.contains(session))
        return;
    session->destroy(id, m_actor);
}

void HostsDock::takeSnapshot()
{
    const QModelIndex index = selected();
    services::HostSession* session = sessionFor(index);
    if (!session || !action(Action::Snapshot)->isEnabled())
        return;
    const QString id = index.siblingAtColumn(0).data(HostTreeModel::SandboxIdRole).toString();
    const QString suggestion =
        QStringLiteral("snap-%1").arg(m_clock->now().toString(QStringLiteral("yyyyMMdd-HHmmss")));
    const auto name =
        m_prompts->askSnapshotName(this, index.siblingAtColumn(0).data().toString(), suggestion);
    if (!name || !m_sessions.contains(session))
        return;
    reloadSnapshotsAfter(session, session->snapshot(id, *name, m_actor).id(), id);
}

void HostsDock::revertSnapshot()
{
    const QModelIndex index = selected();
    services::HostSession* session = sessionFor(index);
    if (!session || !action(Action::Revert)->isEnabled())
        return;
    const QString id = index.siblingAtColumn(0).data(HostTreeModel::SandboxIdRole).toString();
    const QString snapshot = index.siblingAtColumn(0).data(HostTreeModel::KeyRole).toString();
    const QString sandbox = index.parent().siblingAtColumn(0).data().toString();
    if (!m_prompts->confirm(this, tr("Revert %1?").arg(sandbox),
                            tr("Revert %1 to snapshot %2? Everything changed since that snapshot is lost.")
                                .arg(sandbox, snapshot)) ||
        !m_sessions.contains(session))
        return;
    reloadSnapshotsAfter(session, session->revert(id, snapshot, m_actor).id(), id);
}

void HostsDock::refresh()
{
    services::HostSession* only = sessionFor(selected());
    for (const QPointer<services::HostSession>& session : std::as_const(m_sessions)) {
        if (!session || (only && session != only))
            continue;
        const QString host = session->hostName();
        if (session->isOpen()) {
            session->refresh();
            const QModelIndex sandboxes = m_model->index(1, 0, m_model->hostIndex(host));
            for (int r = 0; r < m_model->rowCount(sandboxes); ++r)
                if (const QModelIndex i = m_model->index(r, 0, sandboxes); m_view->isExpanded(i))
                    session->loadSnapshots(i.data(HostTreeModel::SandboxIdRole).toString());
        } else if (!m_opening.contains(host)) {
            m_opening.insert(host);
            m_model->setHostState(host, false, tr("connecting…"), {});
            session->open();
        }
    }
}

void HostsDock::cancelOperation()
{
    const QModelIndexList ops = m_operationsView->selectionModel()->selectedIndexes();
    if (ops.isEmpty() || !ops.first().data(OperationListModel::CancellableRole).toBool() ||
        !m_operations->registry())
        return;
    m_operations->registry()->cancel(ops.first().data(OperationListModel::OperationIdRole).value<quint64>());
}

void HostsDock::diffSelected()
{
    if (action(Action::Diff)->isEnabled())
        diffAt(selected(), false);
}

void HostsDock::diffAt(const QModelIndex& index, bool loaded)
{
    using Kind = HostTreeModel::Kind;
    services::HostSession* session = sessionFor(index);
    const Kind kind = HostTreeModel::kindOf(index);
    if (!session || (kind != Kind::Sandbox && kind != Kind::Snapshot))
        return;
    const QModelIndex sandboxRow =
        kind == Kind::Snapshot ? index.parent().siblingAtColumn(0) : index.siblingAtColumn(0);
    const QString id = sandboxRow.data(HostTreeModel::SandboxIdRole).toString();
    const QString name = sandboxRow.data().toString();
    QStringList snapshots;
    bool placeholder = false;
    for (int r = 0; r < m_model->rowCount(sandboxRow); ++r) {
        const QModelIndex child = m_model->index(r, 0, sandboxRow);
        if (HostTreeModel::kindOf(child) == Kind::Snapshot)
            snapshots << child.data(HostTreeModel::KeyRole).toString();
        else if (HostTreeModel::kindOf(child) == Kind::Placeholder)
            placeholder = true;
    }
    if (snapshots.isEmpty()) {
        if (placeholder && !loaded) {
            m_pendingDiff = sandboxRow;
            Q_EMIT statusMessage(tr("Loading the snapshots of %1…").arg(name), 0);
            session->loadSnapshots(id);
            return;
        }
        m_operations->addNote(
            tr("%1: nothing to diff").arg(name),
            tr("the sandbox has no snapshots; take one first (Take snapshot…, Ctrl+Shift+P)"));
        return;
    }
    const DiffRequest defaults{kind == Kind::Snapshot
                                   ? index.siblingAtColumn(0).data(HostTreeModel::KeyRole).toString()
                                   : snapshots.first(),
                               QString()};
    const auto request = m_prompts->askDiff(this, name, snapshots, defaults);
    if (!request || !m_sessions.contains(session))
        return;
    const quint64 operation = session->diff(id, request->from, request->to, m_actor).id();
    // A diff against "now" takes a snapshot: the list shows it once the diff ends.
    if (request->to.isEmpty())
        reloadSnapshotsAfter(session, operation, id);
    Q_EMIT diffStarted(session->operations(), operation, name);
}

void HostsDock::reloadSnapshotsAfter(services::HostSession* session, quint64 operation,
                                     const QString& sandboxId)
{
    m_reloadAfter.insert(operation, {session, sandboxId});
    // An operation that failed at once has already ended.
    if (auto info = session->operations()->find(operation); info && !info->running())
        onOperationFinished(*info);
    updateActions();
}

void HostsDock::onOperationFinished(const services::OperationInfo& info)
{
    const auto reload = m_reloadAfter.take(info.id);
    if (reload.first && m_sessions.contains(reload.first))
        reload.first->loadSnapshots(reload.second);
    updateActions();
}

void HostsDock::openTerminal()
{
    const QModelIndex index = selected();
    services::HostSession* session = sessionFor(index);
    if (!session || !action(Action::OpenTerminal)->isEnabled())
        return;
    const QModelIndex first = index.siblingAtColumn(0);
    model::Sandbox sandbox;
    sandbox.id = first.data(HostTreeModel::SandboxIdRole).toString();
    sandbox.name = first.data(Qt::DisplayRole).toString();
    sandbox.hostId = session->hostId();
    sandbox.state = model::SandboxState(first.data(HostTreeModel::SandboxStateRole).toInt());
    sandbox.ip = first.siblingAtColumn(HostTreeModel::Ip).data().toString();
    Q_EMIT openTerminalRequested(session, sandbox);
}

} // namespace fluid::ui

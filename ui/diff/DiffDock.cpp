// SPDX-License-Identifier: Apache-2.0
#include "DiffDock.h"

#include "base/Worker.h"
#include "DiffPathModel.h"
#include "inspect/DiffEngine.h"
#include "JsonTableModel.h"
#include "services/Operations.h"
#include "SideBySideView.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QSaveFile>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStyle>
#include <QTableView>
#include <QTabWidget>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

namespace fluid::ui {

namespace {
constexpr int kStatusTimeoutMs = 8000;

QString fieldsText(const QJsonObject& row)
{
    const QJsonObject fields = row.value(QStringLiteral("fields")).toObject();
    QStringList parts;
    for (auto it = fields.begin(); it != fields.end(); ++it) {
        if (it.value().isObject()) {
            const QJsonObject ba = it.value().toObject();
            parts << QStringLiteral("%1: %2 → %3")
                         .arg(it.key(), ba.value(QStringLiteral("before")).toVariant().toString(),
                              ba.value(QStringLiteral("after")).toVariant().toString());
        } else if (it.value().isBool()) {
            parts << QStringLiteral("%1: %2").arg(it.key(), it.value().toBool() ? QObject::tr("yes")
                                                                                : QObject::tr("no"));
        } else {
            parts << QStringLiteral("%1=%2").arg(it.key(), it.value().toVariant().toString());
        }
    }
    return parts.join(QStringLiteral(", "));
}

QString countsText(const QJsonObject& counts)
{
    QStringList parts;
    for (auto it = counts.begin(); it != counts.end(); ++it)
        if (it.value().toInt() > 0 && it.key() != QLatin1String("total"))
            parts << QStringLiteral("%1 %2").arg(it.value().toInt()).arg(it.key());
    return parts.join(QStringLiteral(", "));
}

int total(const QJsonObject& counts)
{
    int n = 0;
    for (auto it = counts.begin(); it != counts.end(); ++it)
        if (it.key() != QLatin1String("total"))
            n += it.value().toInt();
    return n;
}

/// Writes the document on a worker thread; the result is an error text, empty on success.
QString writeExport(const QJsonObject& document, const QString& path, DiffDock::ExportFormat format)
{
    const QByteArray bytes = format == DiffDock::ExportFormat::Json
                                 ? QJsonDocument(document).toJson(QJsonDocument::Indented)
                                 : inspect::toUnifiedPatch(document);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return QObject::tr("cannot open %1 for writing: %2").arg(path, file.errorString());
    if (file.write(bytes) != bytes.size() || !file.commit())
        return QObject::tr("cannot write %1: %2").arg(path, file.errorString());
    return {};
}
} // namespace

std::optional<DiffDock::ExportRequest> DiffDock::Prompts::askExport(QWidget* parent,
                                                                    const QString& suggestedPath)
{
    const QString json = tr("Diff document (*.json)");
    const QString patch = tr("Unified patch (*.patch *.diff)");
    QString selected = json;
    const QString path = QFileDialog::getSaveFileName(parent, tr("Export snapshot diff"), suggestedPath,
                                                      QStringLiteral("%1;;%2").arg(json, patch), &selected);
    if (path.isEmpty())
        return std::nullopt;
    const bool isPatch =
        selected == patch || path.endsWith(QLatin1String(".patch")) || path.endsWith(QLatin1String(".diff"));
    return ExportRequest{path, isPatch ? ExportFormat::Patch : ExportFormat::Json};
}

DiffDock::DiffDock(QWidget* parent)
    : QDockWidget(tr("Snapshot diff"), parent)
    , m_header(new QLabel)
    , m_error(new QLabel)
    , m_tabs(new QTabWidget)
    , m_paths(new DiffPathModel(this))
    , m_filter(new DiffPathFilter(this))
    , m_pathView(new QTreeView)
    , m_sideBySide(new SideBySideView)
    , m_filterEdit(new QLineEdit)
    , m_aspectBox(new QComboBox)
    , m_progressRow(new QWidget)
    , m_progressText(new QLabel)
    , m_progress(new QProgressBar)
    , m_cancel(new QToolButton)
    , m_exportWatcher(new QFutureWatcher<QString>(this))
    , m_prompts(std::make_unique<Prompts>())
{
    setObjectName(QStringLiteral("diffDock"));
    auto* body = new QWidget;
    auto* layout = new QVBoxLayout(body);
    layout->setContentsMargins(4, 4, 4, 4);

    auto* headerRow = new QHBoxLayout;
    m_header->setObjectName(QStringLiteral("diffHeader"));
    m_header->setTextFormat(Qt::RichText);
    m_header->setWordWrap(true);
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
    headerRow->addWidget(m_header, 1);
    m_export = new QAction(style()->standardIcon(QStyle::SP_DialogSaveButton), tr("&Export…"), this);
    m_export->setObjectName(QStringLiteral("diffExport"));
    m_export->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    m_export->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_export->setToolTip(tr("Save the diff as a JSON document or a unified patch (%1)")
                             .arg(m_export->shortcut().toString(QKeySequence::NativeText)));
    addAction(m_export);
    connect(m_export, &QAction::triggered, this, &DiffDock::askExport);
    auto* exportButton = new QToolButton;
    exportButton->setDefaultAction(m_export);
    exportButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    headerRow->addWidget(exportButton);
    layout->addLayout(headerRow);

    auto* progressLayout = new QHBoxLayout(m_progressRow);
    progressLayout->setContentsMargins(0, 0, 0, 0);
    m_progressText->setObjectName(QStringLiteral("diffProgressText"));
    m_progress->setObjectName(QStringLiteral("diffProgress"));
    m_progress->setAccessibleName(tr("Diff progress"));
    m_progress->setRange(0, 100);
    m_cancel->setObjectName(QStringLiteral("diffCancel"));
    m_cancel->setText(tr("Cancel"));
    m_cancel->setIcon(style()->standardIcon(QStyle::SP_DialogCancelButton));
    m_cancel->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_cancel->setToolTip(tr("Stop the diff (the snapshot mounts are released)"));
    connect(m_cancel, &QToolButton::clicked, this, [this]() {
        if (m_registry && m_operation) {
            m_registry->cancel(m_operation);
            m_progressText->setText(tr("Cancelling…"));
            m_cancel->setEnabled(false);
        }
    });
    progressLayout->addWidget(m_progressText);
    progressLayout->addWidget(m_progress, 1);
    progressLayout->addWidget(m_cancel);
    m_progressRow->hide();
    layout->addWidget(m_progressRow);

    m_error->setObjectName(QStringLiteral("diffError"));
    m_error->setWordWrap(true);
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error->setAutoFillBackground(true);
    m_error->setMargin(6);
    m_error->hide();
    layout->addWidget(m_error);

    // Files: filters, the tree, the side-by-side view of the selected file.
    auto* files = new QWidget;
    auto* filesLayout = new QVBoxLayout(files);
    filesLayout->setContentsMargins(0, 4, 0, 0);
    auto* filters = new QHBoxLayout;
    m_filterEdit->setObjectName(QStringLiteral("diffFilter"));
    m_filterEdit->setPlaceholderText(tr("Filter paths…"));
    m_filterEdit->setAccessibleName(tr("Filter changed paths"));
    m_filterEdit->setClearButtonEnabled(true);
    connect(m_filterEdit, &QLineEdit::textChanged, m_filter, &DiffPathFilter::setText);
    filters->addWidget(m_filterEdit, 1);
    const QList<std::pair<QString, QString>> kinds = {{QStringLiteral("added"), tr("Added")},
                                                      {QStringLiteral("removed"), tr("Removed")},
                                                      {QStringLiteral("modified"), tr("Modified")}};
    for (const auto& [kind, label] : kinds) {
        auto* toggle = new QToolButton;
        toggle->setObjectName(QStringLiteral("diffShow-%1").arg(kind));
        toggle->setText(label);
        toggle->setCheckable(true);
        toggle->setChecked(true);
        toggle->setProperty("change", kind);
        toggle->setToolTip(tr("Show %1 paths").arg(kind));
        toggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
        connect(toggle, &QToolButton::toggled, this, &DiffDock::updateChangeFilter);
        m_changeToggles << toggle;
        filters->addWidget(toggle);
    }
    m_aspectBox->setObjectName(QStringLiteral("diffAspect"));
    m_aspectBox->setAccessibleName(tr("Aspect filter"));
    m_aspectBox->setToolTip(tr("Only paths whose content, mode, owner, type or link target changed"));
    m_aspectBox->addItem(tr("Any aspect"), QString());
    for (const auto& [aspect, label] :
         QList<std::pair<QString, QString>>{{QStringLiteral("content"), tr("Content")},
                                            {QStringLiteral("mode"), tr("Mode")},
                                            {QStringLiteral("owner"), tr("Owner")},
                                            {QStringLiteral("type"), tr("Type")},
                                            {QStringLiteral("target"), tr("Link target")}})
        m_aspectBox->addItem(label, aspect);
    connect(m_aspectBox, &QComboBox::currentIndexChanged, this,
            [this]() { m_filter->setAspect(m_aspectBox->currentData().toString()); });
    filters->addWidget(m_aspectBox);
    filesLayout->addLayout(filters);

    m_filter->setSourceModel(m_paths);
    m_pathView->setObjectName(QStringLiteral("diffPaths"));
    m_pathView->setAccessibleName(tr("Changed paths"));
    m_pathView->setModel(m_filter);
    m_pathView->setUniformRowHeights(true);
    m_pathView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_pathView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_pathView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    // Sized once per document: ResizeToContents would measure every row of a large diff on each change.
    m_pathView->header()->setSectionResizeMode(QHeaderView::Interactive);
    m_pathView->header()->setDefaultSectionSize(110);
    connect(m_pathView->selectionModel(), &QItemSelectionModel::currentChanged, this,
            &DiffDock::showSelected);
    connect(m_filter, &QAbstractItemModel::rowsInserted, m_pathView, &QTreeView::expandAll);
    connect(m_filter, &QAbstractItemModel::layoutChanged, m_pathView, &QTreeView::expandAll);
    connect(m_filter, &QAbstractItemModel::modelReset, m_pathView, &QTreeView::expandAll);

    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName(QStringLiteral("diffFilesSplitter"));
    split->addWidget(m_pathView);
    split->addWidget(m_sideBySide);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);
    split->setSizes({420, 800});
    filesLayout->addWidget(split, 1);
    m_tabs->setObjectName(QStringLiteral("diffTabs"));
    m_tabs->addTab(files, tr("Files"));

    using C = JsonTableModel;
    m_packages =
        new C({C::key(tr("Package"), QStringLiteral("name")), C::key(tr("Arch"), QStringLiteral("arch")),
               C::key(tr("Change"), QStringLiteral("change"), true),
               C::key(tr("Before"), QStringLiteral("before")), C::key(tr("After"), QStringLiteral("after"))},
              this);
    m_units = new C(
        {C::key(tr("Unit"), QStringLiteral("unit")), C::key(tr("Change"), QStringLiteral("change"), true),
         C::key(tr("Detail"), QStringLiteral("detail")), C::key(tr("Path"), QStringLiteral("path"))},
        this);
    m_accounts = new C({C::key(tr("Kind"), QStringLiteral("kind")),
                        C::key(tr("Name"), QStringLiteral("name")),
                        C::key(tr("Change"), QStringLiteral("change"), true),
                        {tr("Fields"), fieldsText, false}},
                       this);
    m_cron = new C(
        {C::key(tr("File"), QStringLiteral("file")), C::key(tr("Change"), QStringLiteral("change"), true),
         C::key(tr("Kind"), QStringLiteral("kind")), C::key(tr("Added entries"), QStringLiteral("added")),
         C::key(tr("Removed entries"), QStringLiteral("removed"))},
        this);
    m_etc = new C(
        {C::key(tr("Path"), QStringLiteral("path")), C::key(tr("Change"), QStringLiteral("change"), true)},
        this);
    m_packagesNote = new QLabel;
    m_packagesNote->setObjectName(QStringLiteral("diffPackagesNote"));
    m_packagesNote->setWordWrap(true);
    m_packagesNote->hide();
    addTable(m_packages, tr("Packages"), QStringLiteral("diffPackages"), m_packagesNote);
    addTable(m_units, tr("Services"), QStringLiteral("diffUnits"));
    addTable(m_accounts, tr("Users"), QStringLiteral("diffAccounts"));
    addTable(m_cron, tr("Cron"), QStringLiteral("diffCron"));
    addTable(m_etc, tr("/etc"), QStringLiteral("diffEtc"));
    layout->addWidget(m_tabs, 1);
    setWidget(body);

    connect(m_exportWatcher, &QFutureWatcher<QString>::finished, this, [this]() {
        const QString error = m_exportWatcher->future().result();
        const bool ok = error.isEmpty();
        const QString message = ok ? tr("Diff exported to %1").arg(m_exportPath)
                                   : tr("Export failed: %1. Choose another file or folder.").arg(error);
        m_export->setEnabled(!m_document.isEmpty());
        Q_EMIT statusMessage(message, ok ? kStatusTimeoutMs : 0);
        Q_EMIT exportFinished(ok, m_exportPath, message);
    });
    applyPalette();
    setDocument({}, {});
}

DiffDock::~DiffDock()
{
    // An export in flight writes to its own copy; wait so it does not outlive the window silently.
    m_exportWatcher->waitForFinished();
}

QTableView* DiffDock::addTable(JsonTableModel* model, const QString& title, const QString& name, QLabel* note)
{
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(model);
    auto* view = new QTableView;
    view->setObjectName(name);
    view->setAccessibleName(title);
    view->setModel(proxy);
    view->setSortingEnabled(true);
    view->sortByColumn(-1, Qt::AscendingOrder);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->setAlternatingRowColors(true);
    view->verticalHeader()->hide();
    view->horizontalHeader()->setStretchLastSection(true);
    view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    if (note) {
        auto* page = new QWidget;
        auto* pageLayout = new QVBoxLayout(page);
        pageLayout->setContentsMargins(0, 0, 0, 0);
        pageLayout->addWidget(note);
        pageLayout->addWidget(view, 1);
        m_tabs->addTab(page, title);
    } else {
        m_tabs->addTab(view, title);
    }
    return view;
}

void DiffDock::setPrompts(std::unique_ptr<Prompts> prompts)
{
    m_prompts = std::move(prompts);
}

void DiffDock::showDiff(const model::Diff& diff, const QString& sandboxName)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(diff.content, &error);
    if (doc.isNull() || !doc.isObject()) {
        m_error->setText(tr("The stored diff %1 cannot be read: %2. Run the diff again.")
                             .arg(diff.id, error.errorString()));
        m_error->show();
        return;
    }
    setDocument(doc.object(), sandboxName);
}

void DiffDock::setDocument(const QJsonObject& document, const QString& sandboxName)
{
    m_document = document;
    m_sandboxName = sandboxName;
    m_error->hide();
    m_paths->setDocument(document);
    m_packages->setRows(
        document.value(QStringLiteral("packages")).toObject().value(QStringLiteral("changes")).toArray());
    QStringList notes;
    for (const QJsonValue& n :
         document.value(QStringLiteral("packages")).toObject().value(QStringLiteral("notes")).toArray())
        notes << n.toString();
    m_packagesNote->setText(notes.join(QLatin1Char('\n')));
    m_packagesNote->setVisible(!notes.isEmpty());
    m_units->setRows(document.value(QStringLiteral("units")).toArray());
    m_accounts->setRows(document.value(QStringLiteral("accounts")).toArray());
    m_cron->setRows(document.value(QStringLiteral("cron")).toArray());
    m_etc->setRows(document.value(QStringLiteral("etc")).toArray());
    m_pathView->expandAll();
    for (int c = 0; c < DiffPathModel::ColumnCount; ++c)
        m_pathView->resizeColumnToContents(c);
    m_sideBySide->setEntry({});
    m_export->setEnabled(!document.isEmpty());
    updateHeader();
}

void DiffDock::updateHeader()
{
    if (m_document.isEmpty()) {
        m_header->setText(tr("No diff shown. Select a sandbox or snapshot in Hosts & sandboxes and choose "
                             "<b>Diff…</b> (Ctrl+D)."));
        for (int i = 0; i < m_tabs->count(); ++i)
            m_tabs->setTabText(i, m_tabs->tabText(i).section(QStringLiteral(" ("), 0, 0));
        return;
    }
    const QJsonObject summary = inspect::summarize(m_document);
    const QJsonObject paths = summary.value(QStringLiteral("paths")).toObject();
    const auto side = [this](const char* key) {
        const QString name =
            m_document.value(QLatin1String(key)).toObject().value(QStringLiteral("snapshot")).toString();
        return name.isEmpty() ? tr("current state") : name;
    };
    QStringList layers;
    const int files = paths.value(QStringLiteral("total")).toInt();
    layers << tr("%n file(s)", nullptr, files) +
                  (files ? QStringLiteral(" (%1)").arg(countsText(paths)) : QString());
    const QList<std::pair<QString, int>> counts = {
        {tr("package(s)"), total(summary.value(QStringLiteral("packages")).toObject())},
        {tr("service change(s)"), total(summary.value(QStringLiteral("units")).toObject())},
        {tr("account change(s)"), total(summary.value(QStringLiteral("accounts")).toObject())},
        {tr("cron change(s)"), summary.value(QStringLiteral("cron")).toInt()},
        {tr("/etc change(s)"), summary.value(QStringLiteral("etc")).toInt()}};
    for (const auto& [what, n] : counts)
        layers << QStringLiteral("%1 %2").arg(n).arg(what);
    m_header->setText(QStringLiteral("<b>%1</b>: %2 → %3<br>%4")
                          .arg(m_sandboxName.toHtmlEscaped(), side("from").toHtmlEscaped(),
                               side("to").toHtmlEscaped(),
                               layers.join(QStringLiteral(" · ")).toHtmlEscaped()));
    const QList<int> tabCounts = {
        files, counts[0].second, counts[1].second, counts[2].second, counts[3].second, counts[4].second};
    for (int i = 0; i < m_tabs->count() && i < tabCounts.size(); ++i)
        m_tabs->setTabText(i, QStringLiteral("%1 (%2)")
                                  .arg(m_tabs->tabText(i).section(QStringLiteral(" ("), 0, 0))
                                  .arg(tabCounts[i]));
}

void DiffDock::updateChangeFilter()
{
    QStringList changes;
    for (QToolButton* t : std::as_const(m_changeToggles))
        if (t->isChecked())
            changes << t->property("change").toString();
    m_filter->setChanges(changes);
}

void DiffDock::showSelected()
{
    const QModelIndex current = m_filter->mapToSource(m_pathView->currentIndex());
    m_sideBySide->setEntry(m_paths->entry(current));
}

void DiffDock::follow(services::OperationRegistry* registry, quint64 operation, const QString& sandboxName)
{
    if (m_registry != registry) {
        if (m_registry)
            disconnect(m_registry, nullptr, this, nullptr);
        m_registry = registry;
        connect(registry, &services::OperationRegistry::changed, this, &DiffDock::onOperationChanged);
        connect(registry, &services::OperationRegistry::finished, this, &DiffDock::onOperationFinished);
    }
    m_operation = operation;
    m_followedName = sandboxName;
    m_error->hide();
    setRunning(true, tr("Diffing %1…").arg(sandboxName));
    // Signals of an operation that has already ended were delivered before it was followed.
    if (auto info = registry->find(operation); info && !info->running())
        onOperationFinished(*info);
}

void DiffDock::onOperationChanged(const services::OperationInfo& info)
{
    if (info.id != m_operation)
        return;
    if (info.cancelRequested) {
        m_progressText->setText(tr("Cancelling…"));
        return;
    }
    m_progressText->setText(
        info.progress.fraction >= 0
            ? QStringLiteral("%1 (%2%)").arg(info.progress.text()).arg(int(info.progress.fraction * 100))
            : info.progress.text());
    if (info.progress.fraction >= 0)
        m_progress->setValue(int(info.progress.fraction * 100));
}

void DiffDock::onOperationFinished(const services::OperationInfo& info)
{
    if (info.id != m_operation || !m_registry)
        return;
    const QString name = m_followedName;
    const auto result = m_registry->result<model::Diff>(info.id);
    stopFollowing();
    const bool ok = info.state == services::OperationState::Succeeded && result && *result;
    if (ok) {
        showDiff(**result, name);
    } else {
        m_error->setText(tr("The diff of %1 failed: %2").arg(name, info.outcome));
        m_error->show();
    }
    Q_EMIT statusMessage(ok ? info.outcome : m_error->text(), ok ? kStatusTimeoutMs : 0);
}

void DiffDock::stopFollowing()
{
    m_operation = 0;
    setRunning(false, {});
}

void DiffDock::setRunning(bool running, const QString& text)
{
    m_progressRow->setVisible(running);
    m_progressText->setText(text);
    m_progress->setValue(0);
    m_cancel->setEnabled(running);
}

void DiffDock::askExport()
{
    if (m_document.isEmpty() || m_exportWatcher->isRunning())
        return;
    const QString name = QStringLiteral("%1-%2-%3.json")
                             .arg(m_sandboxName.isEmpty() ? QStringLiteral("diff") : m_sandboxName,
                                  m_document.value(QStringLiteral("from"))
                                      .toObject()
                                      .value(QStringLiteral("snapshot"))
                                      .toString(),
                                  m_document.value(QStringLiteral("to"))
                                      .toObject()
                                      .value(QStringLiteral("snapshot"))
                                      .toString());
    const auto request = m_prompts->askExport(this, QDir::home().filePath(name));
    if (request)
        exportTo(request->path, request->format);
}

void DiffDock::exportTo(const QString& path, ExportFormat format)
{
    if (m_exportWatcher->isRunning()) {
        Q_EMIT exportFinished(false, path,
                              tr("An export is still being written; try again when it is done."));
        return;
    }
    m_exportPath = path;
    m_export->setEnabled(false);
    Q_EMIT statusMessage(tr("Exporting to %1…").arg(path), 0);
    m_exportWatcher->setFuture(
        runAsync([document = m_document, path, format]() { return writeExport(document, path, format); }));
}

void DiffDock::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange)
        applyPalette();
    QDockWidget::changeEvent(event);
}

void DiffDock::applyPalette()
{
    const DiffPalette colours = DiffPalette::from(palette());
    m_paths->setPalette(colours);
    for (JsonTableModel* m : {m_packages, m_units, m_accounts, m_cron, m_etc})
        m->setPalette(colours);
    QPalette errorPalette = m_error->palette();
    errorPalette.setColor(QPalette::Window, colours.removedLine);
    errorPalette.setColor(QPalette::WindowText, palette().color(QPalette::Text));
    m_error->setPalette(errorPalette);
}

} // namespace fluid::ui

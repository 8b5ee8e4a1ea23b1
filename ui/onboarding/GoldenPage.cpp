// SPDX-License-Identifier: Apache-2.0
#include "GoldenPage.h"

#include "base/Worker.h"
#include "HostPage.h"
#include "OnboardingWizard.h"
#include "PageWidgets.h"
#include "services/GoldenImage.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QStandardItemModel>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>

namespace fluid::ui {

using namespace onboarding;

GoldenPage::GoldenPage(OnboardingWizard* wizard)
    : QWizardPage(wizard)
    , m_wizard(wizard)
{
    setObjectName(QStringLiteral("goldenPage"));
    setTitle(tr("The golden VM"));
    setSubTitle(tr("Every sandbox is a copy-on-write clone of a shut-off VM on the host. Choose one, or "
                   "build Fluid's Debian 12 golden image."));
    m_useExisting = new QRadioButton(tr("&Clone an existing VM of the host"), this);
    m_useExisting->setObjectName(QStringLiteral("useExistingVm"));
    m_useExisting->setChecked(true);
    m_sources = new QStandardItemModel(0, 4, this);
    m_sources->setHorizontalHeaderLabels({tr("VM"), tr("State"), tr("Size"), tr("Can be cloned")});
    m_sourceView = new QTreeView(this);
    m_sourceView->setObjectName(QStringLiteral("sourceList"));
    m_sourceView->setAccessibleName(tr("Source VMs of the host"));
    m_sourceView->setModel(m_sources);
    m_sourceView->setRootIsDecorated(false);
    m_sourceView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_sourceView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_sourceView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_sourceView->header()->setStretchLastSection(true);
    m_build = new QRadioButton(tr("&Build the Debian golden image (needs an apt mirror)"), this);
    m_build->setObjectName(QStringLiteral("buildGolden"));
    m_buildButton = makeButton(tr("&Build image"), QStringLiteral("buildButton"),
                               tr("Runs golden-image.sh build and defines the image on the host"), this);
    m_cancelBuild = makeButton(tr("Ca&ncel build"), QStringLiteral("cancelBuildButton"),
                               tr("Stops the build (its whole process group)"), this);
    m_progress = new QProgressBar(this);
    m_progress->setObjectName(QStringLiteral("buildProgress"));
    m_progress->setRange(0, 100);
    m_progress->setValue(0);
    m_progress->setAccessibleName(tr("Build progress"));
    m_log = new QPlainTextEdit(this);
    m_log->setObjectName(QStringLiteral("buildLog"));
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(500);
    m_log->setAccessibleName(tr("Build output"));
    m_message = makeMessageLabel(QStringLiteral("goldenMessage"), this);

    auto* buildRow = new QHBoxLayout;
    buildRow->addWidget(m_buildButton);
    buildRow->addWidget(m_cancelBuild);
    buildRow->addWidget(m_progress, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_useExisting);
    layout->addWidget(m_sourceView, 2);
    layout->addWidget(m_build);
    layout->addLayout(buildRow);
    layout->addWidget(m_log, 1);
    layout->addWidget(m_message);

    connect(m_useExisting, &QRadioButton::toggled, this, &GoldenPage::updateState);
    connect(m_sourceView->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &GoldenPage::updateState);
    connect(m_buildButton, &QPushButton::clicked, this, &GoldenPage::startBuild);
    connect(m_cancelBuild, &QPushButton::clicked, this, &GoldenPage::cancelBuild);
}

GoldenPage::~GoldenPage()
{
    // A build never outlives the page: its process group is stopped and its worker has ended on return.
    m_cancel.cancel();
    if (m_watcher)
        m_watcher->disconnect(this);
    m_buildRun.waitForFinished();
}

void GoldenPage::initializePage()
{
    const auto& report = m_wizard->hostPage()->report();
    if (fillSources(report ? report->sources : QList<services::SourceVmRow>()) == 0)
        m_build->setChecked(true);
    updateState();
}

int GoldenPage::fillSources(const QList<services::SourceVmRow>& rows)
{
    m_sources->removeRows(0, m_sources->rowCount());
    int cloneable = 0;
    for (const services::SourceVmRow& row : rows) {
        auto* name = new QStandardItem(row.name);
        auto* state = new QStandardItem(row.state);
        auto* size = new QStandardItem(tr("%1 vCPU, %2 MiB").arg(row.vcpus).arg(row.memoryMib));
        auto* verdict =
            new QStandardItem(row.refusal.isEmpty() ? (row.warning.isEmpty() ? tr("Yes") : row.warning)
                                                    : tr("No: %1").arg(row.refusal));
        const QString tip = row.refusal.isEmpty() ? row.warning : row.refusal;
        for (QStandardItem* item : {name, state, size, verdict}) {
            item->setToolTip(tip);
            if (!row.refusal.isEmpty())
                item->setFlags(item->flags() & ~(Qt::ItemIsSelectable | Qt::ItemIsEnabled));
        }
        m_sources->appendRow({name, state, size, verdict});
        cloneable += row.refusal.isEmpty() ? 1 : 0;
    }
    m_sourceView->resizeColumnToContents(0);
    m_sourceView->resizeColumnToContents(1);
    m_sourceView->resizeColumnToContents(2);
    return cloneable;
}

void GoldenPage::cleanupPage()
{
    // Going back keeps a running build: the person may only be checking the host page.
}

QString GoldenPage::chosenSource() const
{
    if (!m_useExisting->isChecked())
        return m_built ? m_builtVm : QString();
    const QModelIndexList rows = m_sourceView->selectionModel()->selectedRows(0);
    return rows.isEmpty() ? QString() : rows.first().data().toString();
}

void GoldenPage::startBuild()
{
    if (isBuilding())
        return;
    auto script = services::findGoldenImageScript(m_wizard->environment().exeDir);
    if (!script) {
        m_message->setText(tr("The golden image cannot be built here: %1 Choose an existing VM instead.")
                               .arg(script.error().message));
        return;
    }
    m_built = false;
    m_builtVm.clear();
    m_log->clear();
    m_progress->setValue(0);
    services::GoldenImageBuild build;
    build.script = *script;
    build.defineUri = m_wizard->chosenHost().uri;
    m_cancel = CancelToken();
    const CancelToken cancel = m_cancel;
    m_watcher = new QFutureWatcher<BuildEvent>(this);
    connect(m_watcher, &QFutureWatcherBase::resultReadyAt, this, &GoldenPage::onBuildEvent);
    m_buildRun = runOnWorker<BuildEvent>([build, cancel](QPromise<BuildEvent>& promise) {
        auto built = services::buildGoldenImage(
            build,
            [&promise](const Progress& p) {
                promise.addResult(BuildEvent{{}, false, p, {}});
            },
            [&promise](const QString& line, bool isError) {
                promise.addResult(BuildEvent{line, isError, {}, {}});
            },
            cancel);
        promise.addResult(BuildEvent{{}, false, {}, std::move(built)});
    });
    m_watcher->setFuture(m_buildRun);
    m_message->setText(tr("Building the golden image (this downloads Debian packages and takes minutes)…"));
    updateState();
}

void GoldenPage::cancelBuild()
{
    if (!isBuilding())
        return;
    m_cancel.cancel();
    m_message->setText(tr("Stopping the build…"));
}

void GoldenPage::onBuildEvent(int index)
{
    const BuildEvent event = m_watcher->resultAt(index);
    if (event.line)
        m_log->appendPlainText(*event.line);
    if (event.progress) {
        m_progress->setValue(qRound(event.progress->fraction * 100));
        m_progress->setFormat(QStringLiteral("%p% ") + event.progress->message);
    }
    if (event.done) {
        m_watcher->disconnect(this);
        m_watcher->deleteLater();
        m_watcher = nullptr;
        onBuildFinished(*event.done);
    }
}

void GoldenPage::onBuildFinished(const Result<services::GoldenImageResult>& result)
{
    if (!result) {
        const Error& error = result.error();
        if (error.code == ErrorCode::Cancelled)
            m_message->setText(tr("The build was cancelled. Build again or choose an existing VM."));
        else if (error.code == ErrorCode::NotFound)
            m_message->setText(tr("The golden image cannot be built here: %1 Choose an existing VM instead.")
                                   .arg(error.message));
        else
            m_message->setText(tr("%1 Or choose an existing VM instead.").arg(error.message));
    } else {
        m_built = true;
        m_progress->setValue(100);
        if (result->definedVm.isEmpty())
            m_message->setText(
                tr("The golden image is built, but the build did not say which VM it defined on "
                   "the host, so none is chosen. Build again, or choose an existing VM."));
        else
            chooseBuiltVm(result->definedVm);
    }
    updateState();
}

void GoldenPage::chooseBuiltVm(const QString& name)
{
    m_message->setText(tr("The golden image is built; looking for %1 on the host…").arg(name));
    const QString uri = m_wizard->chosenHost().uri;
    const QString knownHosts = m_wizard->environment().knownHostsFile;
    const services::HypervisorConnector connector = m_wizard->environment().connect;
    using Rows = Result<QList<services::SourceVmRow>>;
    m_listing = new QFutureWatcher<Rows>(this);
    connect(m_listing, &QFutureWatcherBase::finished, this, [this, name]() {
        const Rows rows = m_listing->result();
        m_listing->deleteLater();
        m_listing = nullptr;
        onBuiltVmListed(name, rows);
    });
    m_listing->setFuture(runOnWorker<Rows>([uri, knownHosts, connector](QPromise<Rows>& p) {
        p.addResult(services::listSourceVms(uri, knownHosts, connector));
    }));
    updateState();
}

void GoldenPage::onBuiltVmListed(const QString& name, const Result<QList<services::SourceVmRow>>& rows)
{
    if (!rows) {
        m_message->setText(
            tr("The golden image is built and defined as %1, but the host's VMs could not be "
               "listed to check it (%2). Build again (the image is cached, so this is quick), or "
               "choose an existing VM.")
                .arg(name, rows.error().message));
        updateState();
        return;
    }
    fillSources(*rows);
    const auto found = std::find_if(rows->cbegin(), rows->cend(),
                                    [&name](const services::SourceVmRow& row) { return row.name == name; });
    if (found == rows->cend()) {
        m_message->setText(
            tr("The golden image is built, but the VM %1 the build defined is not on the host. "
               "Build again, or choose an existing VM.")
                .arg(name));
    } else if (!found->refusal.isEmpty()) {
        m_message->setText(tr("The golden image is built and defined as %1, but it cannot be cloned: %2")
                               .arg(name, found->refusal));
    } else {
        m_builtVm = name;
        m_sourceView->selectionModel()->select(m_sources->index(int(found - rows->cbegin()), 0),
                                               QItemSelectionModel::ClearAndSelect |
                                                   QItemSelectionModel::Rows);
    }
    updateState();
}

bool GoldenPage::isComplete() const
{
    if (isBuilding() || m_listing)
        return false;
    return !chosenSource().isEmpty();
}

void GoldenPage::updateState()
{
    const bool building = isBuilding() || m_listing;
    m_sourceView->setEnabled(m_useExisting->isChecked() && !building);
    m_buildButton->setEnabled(m_build->isChecked() && !building);
    m_cancelBuild->setEnabled(isBuilding());
    m_useExisting->setEnabled(!building);
    if (!building && m_build->isChecked() && !m_builtVm.isEmpty())
        m_message->setText(
            tr("The golden image is built and defined on the host as %1: sandboxes will be cloned "
               "from it. Press Next.")
                .arg(m_builtVm));
    if (!building && m_useExisting->isChecked())
        m_message->setText(
            chosenSource().isEmpty()
                ? tr("Select a VM that can be cloned (shut off, with a disk Fluid can overlay).")
                : tr("Sandboxes will be cloned from %1.").arg(chosenSource()));
    Q_EMIT completeChanged();
}

} // namespace fluid::ui

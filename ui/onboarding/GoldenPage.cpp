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
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QStandardItemModel>
#include <QTimer>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>
#include <csignal>
#include <unistd.h>

namespace fluid::ui {

using namespace onboarding;

namespace {

/// Sends `signal` to the process group a build runs in (it is started in its own session).
void signalGroup(qint64 pid, int signal)
{
    if (pid > 0)
        ::kill(-pid_t(pid), signal);
}

} // namespace

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
    if (m_process && m_process->state() != QProcess::NotRunning) {
        m_process->disconnect(this);
        signalGroup(m_process->processId(), SIGKILL);
        m_process->waitForFinished(3000);
    }
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

qint64 GoldenPage::buildPid() const
{
    return m_process && m_process->state() != QProcess::NotRunning ? m_process->processId() : 0;
}

void GoldenPage::startBuild()
{
    if (buildPid() != 0)
        return;
    auto script = services::findGoldenImageScript(m_wizard->environment().exeDir);
    if (!script) {
        m_message->setText(tr("The golden image cannot be built here: %1 Choose an existing VM instead.")
                               .arg(script.error().message));
        return;
    }
    m_built = false;
    m_cancelled = false;
    m_definedVm.clear();
    m_builtVm.clear();
    m_partialLine.clear();
    m_log->clear();
    m_progress->setValue(0);
    if (m_process)
        m_process->deleteLater();
    m_process = new QProcess(this);
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    // Its own session and process group, so Cancel stops debootstrap and everything else it started.
    m_process->setChildProcessModifier([]() { ::setsid(); });
    connect(m_process, &QProcess::readyReadStandardOutput, this, &GoldenPage::onOutput);
    connect(m_process, &QProcess::finished, this, &GoldenPage::onBuildFinished);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart) {
            m_message->setText(
                tr("The build could not start: %1. Is bash installed?").arg(m_process->errorString()));
            updateState();
        }
    });
    m_process->start(
        QStringLiteral("bash"),
        services::goldenImageBuildArguments(*script, QStringLiteral("fwcfg"), m_wizard->chosenHost().uri));
    m_message->setText(tr("Building the golden image (this downloads Debian packages and takes minutes)…"));
    updateState();
}

void GoldenPage::cancelBuild()
{
    const qint64 pid = buildPid();
    if (pid == 0)
        return;
    m_cancelled = true;
    signalGroup(pid, SIGTERM);
    QPointer<QProcess> process = m_process;
    QTimer::singleShot(3000, this, [process, pid]() {
        if (process && process->state() != QProcess::NotRunning && process->processId() == pid)
            signalGroup(pid, SIGKILL);
    });
    m_message->setText(tr("Stopping the build…"));
}

void GoldenPage::onOutput()
{
    m_partialLine += m_process->readAllStandardOutput();
    qsizetype newline;
    while ((newline = m_partialLine.indexOf('\n')) >= 0) {
        const QString line = QString::fromUtf8(m_partialLine.left(newline));
        m_partialLine.remove(0, newline + 1);
        m_log->appendPlainText(line);
        if (auto progress = services::parseGoldenImageProgress(line)) {
            m_progress->setValue(qRound(progress->fraction * 100));
            m_progress->setFormat(QStringLiteral("%p% ") + progress->message);
        }
        if (auto defined = services::parseGoldenImageDefined(line))
            m_definedVm = *defined;
    }
}

void GoldenPage::onBuildFinished(int exitCode, QProcess::ExitStatus status)
{
    onOutput();
    if (m_cancelled) {
        m_message->setText(tr("The build was cancelled. Build again or choose an existing VM."));
    } else if (status == QProcess::NormalExit && exitCode == 0) {
        m_built = true;
        m_progress->setValue(100);
        if (m_definedVm.isEmpty())
            m_message->setText(
                tr("The golden image is built, but the build did not say which VM it defined on "
                   "the host, so none is chosen. Build again, or choose an existing VM."));
        else
            chooseBuiltVm(m_definedVm);
    } else {
        m_message->setText(
            tr("The build failed (exit code %1). It downloads Debian packages, so it needs an apt mirror: "
               "set FLUID_DEBIAN_MIRROR to a mirror this machine can reach and build again, or choose an "
               "existing VM. Its output above says which step failed.")
                .arg(status == QProcess::NormalExit ? exitCode : -1));
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
    if (buildPid() != 0 || m_listing)
        return false;
    return !chosenSource().isEmpty();
}

void GoldenPage::updateState()
{
    const bool building = buildPid() != 0 || m_listing;
    m_sourceView->setEnabled(m_useExisting->isChecked() && !building);
    m_buildButton->setEnabled(m_build->isChecked() && !building);
    m_cancelBuild->setEnabled(buildPid() != 0);
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

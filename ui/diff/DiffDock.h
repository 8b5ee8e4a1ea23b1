// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "DiffPalette.h"
#include "model/Model.h"
#include "services/Operations.h"

#include <QDockWidget>
#include <QFutureWatcher>
#include <QJsonObject>
#include <QPointer>

#include <memory>
#include <optional>

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QTabWidget;
class QTableView;
class QToolButton;
class QTreeView;

namespace fluid::ui {

class DiffPathFilter;
class DiffPathModel;
class JsonTableModel;
class SideBySideView;

/// The "Snapshot diff" dock: what changed in a sandbox between two snapshots. A header names the sandbox,
/// from → to and the counts (inspect::summarize); tabs show the changed files (a filterable tree with a
/// side-by-side view of the selected file), packages, services, users & groups, cron and /etc. While a
/// HostSession diff runs the dock shows its progress with Cancel, then its result or its error. Export…
/// writes the document as JSON or a unified patch on a worker thread. GUI thread.
class DiffDock : public QDockWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DiffDock)
public:
    enum class ExportFormat { Json, Patch };
    struct ExportRequest {
        QString path;
        ExportFormat format = ExportFormat::Json;
    };

    /// How the dock asks where to export (a file dialog by default; a test answers with its own).
    class Prompts {
    public:
        virtual ~Prompts() = default;
        virtual std::optional<ExportRequest> askExport(QWidget* parent, const QString& suggestedPath);
    };

    explicit DiffDock(QWidget* parent = nullptr);
    ~DiffDock() override;

    void setPrompts(std::unique_ptr<Prompts> prompts);

    /// Shows a stored diff (model::Diff::content is the document).
    void showDiff(const model::Diff& diff, const QString& sandboxName);
    /// Shows a document directly (the same as a stored diff's content).
    void setDocument(const QJsonObject& document, const QString& sandboxName);
    QJsonObject document() const { return m_document; }

    /// Follows a HostSession::diff operation in `registry`: progress with Cancel, then its result or its
    /// error (at once when it has already ended). Following another operation stops following the previous
    /// one (which keeps running).
    void follow(services::OperationRegistry* registry, quint64 operation, const QString& sandboxName);
    bool isRunning() const { return m_operation != 0; }

    /// Writes the document to `path` off the GUI thread; exportFinished() tells how it went.
    void exportTo(const QString& path, ExportFormat format);

    DiffPathModel* pathModel() const { return m_paths; }
    DiffPathFilter* pathFilter() const { return m_filter; }
    QTreeView* pathView() const { return m_pathView; }
    SideBySideView* sideBySide() const { return m_sideBySide; }
    JsonTableModel* packagesModel() const { return m_packages; }
    JsonTableModel* unitsModel() const { return m_units; }
    JsonTableModel* accountsModel() const { return m_accounts; }
    JsonTableModel* cronModel() const { return m_cron; }
    JsonTableModel* etcModel() const { return m_etc; }
    QTabWidget* tabs() const { return m_tabs; }
    QLabel* headerLabel() const { return m_header; }
    QLabel* errorLabel() const { return m_error; }
    /// What the package layer could not read (e.g. an rpm database), above the packages table.
    QLabel* packagesNote() const { return m_packagesNote; }
    QProgressBar* progressBar() const { return m_progress; }
    QToolButton* cancelButton() const { return m_cancel; }
    QAction* exportAction() const { return m_export; }
    QLineEdit* filterEdit() const { return m_filterEdit; }
    QComboBox* aspectBox() const { return m_aspectBox; }
    /// The Added / Removed / Modified filter toggles, in that order.
    QList<QToolButton*> changeToggles() const { return m_changeToggles; }

Q_SIGNALS:
    void exportFinished(bool ok, const QString& path, const QString& message);
    /// A line for the window's status bar; timeoutMs 0 keeps it until the next one.
    void statusMessage(const QString& text, int timeoutMs);

protected:
    void changeEvent(QEvent* event) override;

private:
    QTableView* addTable(JsonTableModel* model, const QString& title, const QString& name,
                         QLabel* note = nullptr);
    void updateHeader();
    void updateChangeFilter();
    void showSelected();
    void askExport();
    void stopFollowing();
    void onOperationChanged(const services::OperationInfo& info);
    void onOperationFinished(const services::OperationInfo& info);
    void setRunning(bool running, const QString& text);
    void applyPalette();

    QLabel* m_header;
    QLabel* m_error;
    QTabWidget* m_tabs;
    DiffPathModel* m_paths;
    DiffPathFilter* m_filter;
    QTreeView* m_pathView;
    SideBySideView* m_sideBySide;
    JsonTableModel* m_packages;
    JsonTableModel* m_units;
    JsonTableModel* m_accounts;
    JsonTableModel* m_cron;
    JsonTableModel* m_etc;
    QLabel* m_packagesNote = nullptr;
    QLineEdit* m_filterEdit;
    QComboBox* m_aspectBox;
    QList<QToolButton*> m_changeToggles;
    QWidget* m_progressRow;
    QLabel* m_progressText;
    QProgressBar* m_progress;
    QToolButton* m_cancel;
    QAction* m_export;
    QJsonObject m_document;
    QString m_sandboxName;
    QPointer<services::OperationRegistry> m_registry;
    quint64 m_operation = 0;
    QString m_followedName;
    QFutureWatcher<QString>* m_exportWatcher;
    QString m_exportPath;
    std::unique_ptr<Prompts> m_prompts;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QMainWindow>

class QLabel;

namespace fluid::ui {

/// Fluid's main window: dock layout (restored from the last session), menus, status bar. GUI thread;
/// it only paints and reacts, all work happens in core services on workers.
class MainWindow : public QMainWindow {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Shows a short message in the status bar's permanent area (store, chain state).
    void setStoreStatus(const QString& text, bool healthy);

public Q_SLOTS:
    void showAbout();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void createMenus();
    void createDocks();
    void restoreLayout();

    QLabel* m_storeStatus = nullptr;
    QMenu* m_viewMenu = nullptr;
};

} // namespace fluid::ui

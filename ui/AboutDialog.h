// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDialog>

namespace fluid::ui {

/// Help > About: Fluid's version and the versions of the libraries it runs with. GUI thread.
class AboutDialog : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AboutDialog)
public:
    explicit AboutDialog(QWidget* parent = nullptr);
};

} // namespace fluid::ui

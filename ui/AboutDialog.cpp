// SPDX-License-Identifier: Apache-2.0
#include "AboutDialog.h"

#include "base/BuildInfo.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QIcon>
#include <QLabel>
#include <QVBoxLayout>

namespace fluid::ui {

AboutDialog::AboutDialog(QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(tr("About Fluid"));
    setObjectName(QStringLiteral("aboutDialog"));

    auto* layout = new QVBoxLayout(this);
    auto* header = new QHBoxLayout;
    auto* icon = new QLabel;
    icon->setPixmap(QIcon(QStringLiteral(":/fluid/fluid.svg")).pixmap(64, 64));
    header->addWidget(icon);
    auto* title = new QLabel(tr("<h2>Fluid %1</h2><p>AI agents do infrastructure work in disposable sandbox "
                                "VMs;<br>a person reviews every change before it reaches production.</p>")
                                 .arg(fluidVersion().toHtmlEscaped()));
    title->setTextFormat(Qt::RichText);
    header->addWidget(title, 1);
    layout->addLayout(header);

    auto* versions = new QFormLayout;
    versions->setObjectName(QStringLiteral("versions"));
    for (const ComponentVersion& c : componentVersions()) {
        auto* value = new QLabel(c.version);
        value->setTextInteractionFlags(Qt::TextSelectableByMouse);
        value->setAccessibleName(tr("%1 version").arg(c.name));
        versions->addRow(c.name + QLatin1Char(':'), value);
    }
    layout->addLayout(versions);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

} // namespace fluid::ui

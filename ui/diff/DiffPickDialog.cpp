// SPDX-License-Identifier: Apache-2.0
#include "DiffPickDialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>

namespace fluid::ui {

DiffPickDialog::DiffPickDialog(const QString& sandbox, const QStringList& snapshots,
                               const DiffRequest& defaults, QWidget* parent)
    : QDialog(parent)
    , m_from(new QComboBox)
    , m_to(new QComboBox)
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel))
{
    setWindowTitle(tr("Diff %1").arg(sandbox));
    auto* form = new QFormLayout(this);
    auto* intro = new QLabel(tr("Compare two states of %1. The disks are read on the host, read-only; "
                                "“now” takes a fresh snapshot first.")
                                 .arg(sandbox));
    intro->setWordWrap(true);
    form->addRow(intro);
    m_from->setObjectName(QStringLiteral("diffFrom"));
    m_from->setAccessibleName(tr("From snapshot"));
    m_from->setToolTip(tr("The older state"));
    m_from->addItems(snapshots);
    m_to->setObjectName(QStringLiteral("diffTo"));
    m_to->setAccessibleName(tr("To snapshot"));
    m_to->setToolTip(tr("The newer state; “Now” snapshots the sandbox first"));
    for (const QString& s : snapshots)
        m_to->addItem(s, s);
    m_to->addItem(tr("Now (takes a fresh snapshot)"), QString());
    if (const int i = m_from->findText(defaults.from); i >= 0)
        m_from->setCurrentIndex(i);
    m_to->setCurrentIndex(defaults.to.isEmpty() ? m_to->count() - 1
                                                : std::max(0, m_to->findData(defaults.to)));
    auto* fromLabel = new QLabel(tr("&From:"));
    fromLabel->setBuddy(m_from);
    auto* toLabel = new QLabel(tr("&To:"));
    toLabel->setBuddy(m_to);
    form->addRow(fromLabel, m_from);
    form->addRow(toLabel, m_to);
    form->addRow(m_buttons);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("&Diff"));
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    const auto update = [this]() {
        m_buttons->button(QDialogButtonBox::Ok)->setEnabled(canAccept());
    };
    connect(m_from, &QComboBox::currentIndexChanged, this, update);
    connect(m_to, &QComboBox::currentIndexChanged, this, update);
    update();
}

DiffRequest DiffPickDialog::request() const
{
    return {m_from->currentText(), m_to->currentData().toString()};
}

bool DiffPickDialog::canAccept() const
{
    return m_from->currentIndex() >= 0 && m_from->currentText() != m_to->currentData().toString();
}

} // namespace fluid::ui

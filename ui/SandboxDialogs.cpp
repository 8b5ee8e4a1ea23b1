// SPDX-License-Identifier: Apache-2.0
#include "SandboxDialogs.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpressionValidator>
#include <QSpinBox>

namespace fluid::ui {

namespace {

/// A name field that only takes what `pattern` allows, and OK/Cancel buttons whose OK follows it.
QDialogButtonBox* nameForm(QDialog* dialog, QFormLayout* form, QLineEdit* name, const QString& pattern,
                           bool emptyAllowed)
{
    name->setValidator(new QRegularExpressionValidator(QRegularExpression(pattern), name));
    name->setAccessibleName(QObject::tr("Name"));
    form->insertRow(0, QObject::tr("&Name:"), name);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    form->addRow(buttons);
    QObject::connect(buttons, &QDialogButtonBox::accepted, dialog, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    const auto follow = [name, buttons, emptyAllowed]() {
        buttons->button(QDialogButtonBox::Ok)
            ->setEnabled(name->hasAcceptableInput() || (emptyAllowed && name->text().isEmpty()));
    };
    QObject::connect(name, &QLineEdit::textChanged, dialog, follow);
    follow();
    return buttons;
}

} // namespace

CreateSandboxDialog::CreateSandboxDialog(const QString& source, const CreateRequest& defaults,
                                         QWidget* parent)
    : QDialog(parent)
    , m_name(new QLineEdit)
    , m_memory(new QSpinBox)
    , m_vcpus(new QSpinBox)
{
    setObjectName(QStringLiteral("createSandboxDialog"));
    setWindowTitle(tr("Create sandbox from %1").arg(source));
    auto* form = new QFormLayout(this);
    m_name->setPlaceholderText(tr("empty: a generated sbx-… name"));
    m_name->setToolTip(
        tr("Lower-case letters, digits and dashes, up to 40, starting with a letter or digit"));
    m_memory->setRange(1, 1024 * 1024);
    m_memory->setSuffix(tr(" MiB"));
    m_memory->setValue(defaults.memoryMib);
    m_memory->setAccessibleName(tr("Memory"));
    m_vcpus->setRange(1, 512);
    m_vcpus->setValue(defaults.vcpus);
    m_vcpus->setAccessibleName(tr("vCPUs"));
    form->addRow(tr("&Memory:"), m_memory);
    form->addRow(tr("&vCPUs:"), m_vcpus);
    m_buttons = nameForm(this, form, m_name, QStringLiteral("[a-z0-9][a-z0-9-]{0,39}"), true);
    m_name->setText(defaults.name);
}

CreateRequest CreateSandboxDialog::request() const
{
    return {m_name->text(), m_memory->value(), m_vcpus->value()};
}

bool CreateSandboxDialog::canAccept() const
{
    return m_buttons->button(QDialogButtonBox::Ok)->isEnabled();
}

SnapshotNameDialog::SnapshotNameDialog(const QString& sandbox, const QString& suggestion, QWidget* parent)
    : QDialog(parent)
    , m_name(new QLineEdit)
{
    setObjectName(QStringLiteral("snapshotNameDialog"));
    setWindowTitle(tr("Take a snapshot of %1").arg(sandbox));
    auto* form = new QFormLayout(this);
    m_name->setToolTip(tr("Lower-case letters, digits, dots, dashes and underscores, up to 64"));
    m_buttons = nameForm(this, form, m_name, QStringLiteral("[a-z0-9][a-z0-9._-]{0,63}"), false);
    m_name->setText(suggestion);
}

QString SnapshotNameDialog::name() const
{
    return m_name->text();
}

bool SnapshotNameDialog::canAccept() const
{
    return m_buttons->button(QDialogButtonBox::Ok)->isEnabled();
}

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDialog>

class QDialogButtonBox;
class QLineEdit;
class QSpinBox;

namespace fluid::ui {

/// What the person asked for when creating a sandbox (empty name: Fluid generates one).
struct CreateRequest {
    QString name;
    int memoryMib = 0;
    int vcpus = 0;
};

/// Asks for a new sandbox's name, memory and vCPUs. OK stays disabled while the name is not a valid sandbox
/// name ([a-z0-9][a-z0-9-]{0,39}, or empty). GUI thread.
class CreateSandboxDialog : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CreateSandboxDialog)
public:
    CreateSandboxDialog(const QString& source, const CreateRequest& defaults, QWidget* parent = nullptr);

    CreateRequest request() const;
    QLineEdit* nameEdit() const { return m_name; }
    QSpinBox* memoryEdit() const { return m_memory; }
    QSpinBox* vcpusEdit() const { return m_vcpus; }
    bool canAccept() const;

private:
    QLineEdit* m_name;
    QSpinBox* m_memory;
    QSpinBox* m_vcpus;
    QDialogButtonBox* m_buttons;
};

/// Asks for a snapshot name ([a-z0-9][a-z0-9._-]{0,63}), prefilled with a suggestion. GUI thread.
class SnapshotNameDialog : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SnapshotNameDialog)
public:
    SnapshotNameDialog(const QString& sandbox, const QString& suggestion, QWidget* parent = nullptr);

    QString name() const;
    QLineEdit* nameEdit() const { return m_name; }
    bool canAccept() const;

private:
    QLineEdit* m_name;
    QDialogButtonBox* m_buttons;
};

} // namespace fluid::ui

// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDialog>

class QComboBox;
class QDialogButtonBox;

namespace fluid::ui {

/// What a person picked to diff: two snapshot names; an empty `to` means the sandbox's state now.
struct DiffRequest {
    QString from;
    QString to;
};

/// Asks which two states of a sandbox to compare: "from" lists its snapshots, "to" lists them too plus
/// "Now (takes a fresh snapshot)". From and to must differ. GUI thread.
class DiffPickDialog : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DiffPickDialog)
public:
    DiffPickDialog(const QString& sandbox, const QStringList& snapshots, const DiffRequest& defaults,
                   QWidget* parent = nullptr);

    DiffRequest request() const;
    QComboBox* fromBox() const { return m_from; }
    QComboBox* toBox() const { return m_to; }
    bool canAccept() const;

private:
    QComboBox* m_from;
    QComboBox* m_to;
    QDialogButtonBox* m_buttons;
};

} // namespace fluid::ui

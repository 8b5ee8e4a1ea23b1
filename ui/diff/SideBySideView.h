// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "DiffPalette.h"

#include <QJsonObject>
#include <QWidget>

class QLabel;
class QStackedWidget;
class QTableView;

namespace fluid::ui {

class SideBySideModel;

/// Two text panes (old | new) over one SideBySideModel, with line numbers, aligned hunks (filler rows on
/// the other side), removed/added line backgrounds and the differing spans inside a line tinted more
/// strongly; the panes scroll together. Files without line hunks show the model's message (why, sizes,
/// sha256) instead. Colours come from the palette. GUI thread.
class SideBySideView : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SideBySideView)
public:
    explicit SideBySideView(QWidget* parent = nullptr);

    /// Shows one paths[] entry of a diff document; an empty object clears the view.
    void setEntry(const QJsonObject& entry);

    SideBySideModel* model() const { return m_model; }
    QTableView* oldPane() const { return m_old; }
    QTableView* newPane() const { return m_new; }
    /// The text shown instead of the panes (no selection, binary, too large, ...).
    QLabel* messageLabel() const { return m_message; }
    bool showsMessage() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    QTableView* makePane(const QString& name, const QString& accessible);
    void applyPalette();

    SideBySideModel* m_model;
    QStackedWidget* m_stack;
    QTableView* m_old;
    QTableView* m_new;
    QLabel* m_message;
    QLabel* m_title;
    DiffPalette m_palette;
};

} // namespace fluid::ui

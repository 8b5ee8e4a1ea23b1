// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "services/Operations.h"

#include <QAbstractListModel>
#include <QPointer>
#include <QSet>

#include <deque>

namespace fluid::ui {

/// The hosts dock's list of operations, read from the OperationRegistry: the running ones (with their
/// progress) first, newest first, then failures (kept until dismissed, at most kMaxFailures) with their
/// message. Notes are failures that are no operation (a host that cannot connect, nothing to diff).
/// Operations of a host that was closed leave the list, and so do their endings. GUI thread.
class OperationListModel : public QAbstractListModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(OperationListModel)
public:
    enum Role { OperationIdRole = Qt::UserRole + 1, RunningRole, CancellableRole, HostRole, DescriptionRole };
    static constexpr int kMaxFailures = 20;

    explicit OperationListModel(QObject* parent = nullptr);

    /// Follows `registry` (the one every host session registers in); rows of an earlier one are dropped.
    void setRegistry(services::OperationRegistry* registry);
    services::OperationRegistry* registry() const { return m_registry; }

    /// Lists a failure that is no operation.
    void addNote(const QString& text, const QString& detail);
    /// Hides the host's running operations and their endings (the host was closed); returns how many ran.
    int forgetHost(const QString& host);
    /// Removes the failures.
    void dismissFinished();

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    /// A line for the window's status bar; timeoutMs 0 keeps it until the next one.
    void statusMessage(const QString& text, int timeoutMs);
    /// An operation of a shown host ended (ok or not); after the list changed.
    void operationFinished(const fluid::services::OperationInfo& info);

private:
    struct Row {
        services::OperationInfo info; ///< id 0 for a note
        QString note;                 ///< a note's text and detail
        QString detail;
    };
    void onStarted(const services::OperationInfo& info);
    void onChanged(const services::OperationInfo& info);
    void onFinished(const services::OperationInfo& info);
    int rowOf(quint64 id) const;
    void addFailureRow(Row row);
    bool isShown(const services::OperationInfo& info) const;

    QPointer<services::OperationRegistry> m_registry;
    QList<Row> m_running;  ///< newest first
    QList<Row> m_failures; ///< newest first
    QSet<quint64> m_forgotten;
};

} // namespace fluid::ui

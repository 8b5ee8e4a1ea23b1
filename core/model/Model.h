// SPDX-License-Identifier: Apache-2.0
#pragma once

// Fluid's value types: plain data that every layer passes around and the store persists. No behaviour
// beyond small helpers; any thread. Ids are UUID strings made by newId(); times are UTC.

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace fluid::model {

QString newId();

/// A libvirt host Fluid manages (local qemu:///system or remote qemu+ssh://).
struct Host {
    QString id;
    QString name;
    QString uri;
    QString hostKeyFingerprint; ///< SHA256:... confirmed by a person; empty for local hosts
    QDateTime createdAt;
};

/// A VM on a host that sandboxes can be cloned from (a golden VM).
struct SourceVm {
    QString id;
    QString hostId;
    QString domainName;
    QString domainUuid;
    QString diskPath;
    QString diskFormat; ///< qcow2 | raw
    int memoryMib = 0;
    int vcpus = 0;
    bool golden = false; ///< built by Fluid's image builder
    QDateTime createdAt;
};

enum class SandboxState { Creating, Running, Stopped, Error, Destroyed };
QString sandboxStateName(SandboxState state);
std::optional<SandboxState> sandboxStateFromString(const QString& text);

/// A disposable VM cloned from a source VM through a qcow2 overlay.
struct Sandbox {
    QString id;
    QString name;
    QString hostId;
    QString sourceVmId; ///< empty when the source is gone
    QString domainName;
    SandboxState state = SandboxState::Creating;
    QString ip;
    int memoryMib = 0;
    int vcpus = 0;
    QString accelerator; ///< kvm | tcg, as chosen at create
    QString overlayPath;
    QString hostPublicKey; ///< the SSH host key Fluid injected (OpenSSH line); clients pin it
    QString error;
    QDateTime createdAt;
    QDateTime updatedAt;
};

/// An internal libvirt snapshot of a sandbox.
struct Snapshot {
    QString id;
    QString sandboxId;
    QString name;
    QString kind; ///< baseline | manual | auto
    QString description;
    QDateTime createdAt;
};

/// A computed difference between two snapshots, stored so asking again is free.
struct Diff {
    QString id;
    QString sandboxId;
    QString fromSnapshotId;
    QString toSnapshotId;
    QJsonObject summary;
    QByteArray content; ///< JSON document of the full diff
    QDateTime createdAt;
};

/// One command run in a sandbox, with its captured output.
struct Command {
    QString id;
    QString sandboxId;
    QString sessionId;
    QString command;
    QByteArray stdoutData;
    QByteArray stderrData;
    std::optional<int> exitCode;
    QString signal; ///< e.g. "KILL" when it ended by a signal
    bool timedOut = false;
    bool stdoutTruncated = false;
    bool stderrTruncated = false;
    qint64 stdoutBytes = 0; ///< total produced, before any cut
    qint64 stderrBytes = 0;
    QDateTime startedAt;
    QDateTime finishedAt;
};

/// A conversation between a person, an agent and a sandbox.
struct AgentSession {
    QString id;
    QString sandboxId;
    QString task;
    QString mode; ///< read-only | edit
    QString provider;
    QString model;
    QString state; ///< active | finished | failed | cancelled
    QDateTime createdAt;
    QDateTime endedAt;
};

struct Message {
    QString id;
    QString sessionId;
    int seq = 0;
    QString role; ///< system | user | assistant | tool
    QString content;
    int tokens = 0;
    QDateTime createdAt;
};

struct ToolCall {
    QString id;
    QString sessionId;
    QString messageId;
    QString name;
    QJsonObject arguments;
    QString result;
    QString status; ///< pending | ok | error | denied
    QDateTime startedAt;
    QDateTime finishedAt;
};

enum class ApprovalStatus { Pending, Approved, Rejected, Expired };
QString approvalStatusName(ApprovalStatus status);
std::optional<ApprovalStatus> approvalStatusFromString(const QString& text);

/// A request that blocks until a person decides. The decision binds to contentHash.
struct Approval {
    QString id;
    QString kind; ///< resources | egress | apply | ...
    QString sandboxId;
    QString sessionId;
    QString request;     ///< one line: what is asked
    QJsonObject context; ///< why, and the details a person needs
    QString contentHash; ///< sha256 of the exact content approved
    ApprovalStatus status = ApprovalStatus::Pending;
    QString requestedBy;
    QString decidedBy;
    QString comment;
    QDateTime createdAt;
    QDateTime expiresAt;
    QDateTime decidedAt;
};

struct Playbook {
    QString id;
    QString sandboxId;
    QString sessionId;
    QString name;
    QString hosts; ///< the play's hosts pattern
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct PlaybookTask {
    QString id;
    QString playbookId;
    int position = 0;
    QString name;
    QString module;
    QJsonObject args;
    QDateTime createdAt;
};

/// One append-only entry in the hash-chained audit log.
struct AuditEvent {
    qint64 seq = 0;
    QDateTime time;
    QString actor; ///< person, agent:<session>, system
    QString kind;  ///< e.g. sandbox.create, command.run, approval.decide
    QString sandboxId;
    QString sessionId;
    QString summary;
    QJsonObject data;
    QString prevHash;
    QString hash;
};

} // namespace fluid::model

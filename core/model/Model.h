// SPDX-License-Identifier: Apache-2.0
#pragma once

// Fluid's value types: plain data that every layer passes around and the store persists. No behaviour
// beyond small helpers; any thread. Ids are UUID strings made by newId(); times are UTC.

#include "Actor.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <array>
#include <optional>

namespace fluid::model {

QString newId();

/// The one name table of an enum stored as text (the store's columns, the CLI, the REST API): specialised
/// below for each such enum, names in the order of its enumerators.
template <typename E>
struct EnumNames;

/// The stored name of an enumerator ("running", "read-only", ...).
template <typename E>
QString enumName(E value)
{
    return QLatin1String(EnumNames<E>::names[static_cast<size_t>(value)]);
}

/// The enumerator a stored name stands for; nullopt for a name this Fluid does not know.
template <typename E>
std::optional<E> enumFromName(const QString& text)
{
    const auto& names = EnumNames<E>::names;
    for (size_t i = 0; i < names.size(); ++i) {
        if (text == QLatin1String(names[i]))
            return static_cast<E>(i);
    }
    return std::nullopt;
}

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
template <>
struct EnumNames<SandboxState> {
    static constexpr std::array<const char*, 5> names{"creating", "running", "stopped", "error", "destroyed"};
};

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
    /// The principal its sshd accepts for root (sandboxPrincipal()); empty for sandboxes made before
    /// principals had a namespace of their own, whose principal is their name.
    QString principal;
    QString error;
    QDateTime createdAt;
    QDateTime updatedAt;
};

/// The SSH principal of sandbox `sandboxId`: in Fluid's own namespace, never the chosen name, so a sandbox
/// called "production" yields nothing a production host would accept.
inline QString sandboxPrincipal(const QString& sandboxId)
{
    return QStringLiteral("fluid-sbx-") + sandboxId;
}

/// The principal `s`'s sshd accepts (its name for a sandbox made before principals had a namespace).
inline QString principalOf(const Sandbox& s)
{
    return s.principal.isEmpty() ? s.name : s.principal;
}

/// Why a snapshot was taken: the baseline an agent session starts from, by a person, or by Fluid (a diff
/// against "now").
enum class SnapshotKind { Baseline, Manual, Auto };
template <>
struct EnumNames<SnapshotKind> {
    static constexpr std::array<const char*, 3> names{"baseline", "manual", "auto"};
};

/// An internal libvirt snapshot of a sandbox.
struct Snapshot {
    QString id;
    QString sandboxId;
    QString name;
    SnapshotKind kind = SnapshotKind::Manual;
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

/// What an agent may do in its sandbox: only look (read-only tools), or change it.
enum class AgentMode { ReadOnly, Edit };
template <>
struct EnumNames<AgentMode> {
    static constexpr std::array<const char*, 2> names{"read-only", "edit"};
};

enum class AgentSessionState { Active, Finished, Failed, Cancelled };
template <>
struct EnumNames<AgentSessionState> {
    static constexpr std::array<const char*, 4> names{"active", "finished", "failed", "cancelled"};
};

/// A conversation between a person, an agent and a sandbox.
struct AgentSession {
    QString id;
    QString sandboxId;
    QString task;
    AgentMode mode = AgentMode::ReadOnly;
    QString provider;
    QString model;
    AgentSessionState state = AgentSessionState::Active;
    QDateTime createdAt;
    QDateTime endedAt;
};

enum class MessageRole { System, User, Assistant, Tool };
template <>
struct EnumNames<MessageRole> {
    static constexpr std::array<const char*, 4> names{"system", "user", "assistant", "tool"};
};

/// One part of a message's content: text, a call of a tool the assistant made, or a tool's result (which
/// answers the call with the same toolCallId).
struct ContentPart {
    enum class Kind { Text, ToolCall, ToolResult };
    Kind kind = Kind::Text;
    QString text;          ///< Text: the text; ToolResult: what the tool returned
    QString toolCallId;    ///< ToolCall, ToolResult
    QString toolName;      ///< ToolCall
    QJsonObject arguments; ///< ToolCall
    bool isError = false;  ///< ToolResult: the tool failed

    static ContentPart textPart(const QString& text);
    static ContentPart toolCall(const QString& id, const QString& name, const QJsonObject& arguments);
    static ContentPart toolResult(const QString& id, const QString& text, bool isError = false);
    bool operator==(const ContentPart&) const = default;
};

/// Content as stored: a JSON array of {"type": "text"|"tool_call"|"tool_result", ...} objects.
QJsonArray contentToJson(const QList<ContentPart>& parts);
/// The parts of stored content; unknown part types are kept as text parts naming the type.
QList<ContentPart> contentFromJson(const QJsonArray& json);

struct Message {
    QString id;
    QString sessionId;
    int seq = 0;
    MessageRole role = MessageRole::User;
    QList<ContentPart> content;
    int tokens = 0;
    QDateTime createdAt;

    /// The text parts joined with newlines.
    QString text() const;
};

enum class ToolCallStatus { Pending, Ok, Error, Denied };
template <>
struct EnumNames<ToolCallStatus> {
    static constexpr std::array<const char*, 4> names{"pending", "ok", "error", "denied"};
};

struct ToolCall {
    QString id;
    QString sessionId;
    QString messageId;
    QString name;
    QJsonObject arguments;
    QString result;
    ToolCallStatus status = ToolCallStatus::Pending;
    QDateTime startedAt;
    QDateTime finishedAt;
};

enum class ApprovalStatus { Pending, Approved, Rejected, Expired };
template <>
struct EnumNames<ApprovalStatus> {
    static constexpr std::array<const char*, 4> names{"pending", "approved", "rejected", "expired"};
};

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
    QString requestedBy; ///< Actor::toString()
    QString decidedBy;   ///< Actor::toString(); "system" for an expiry
    QString comment;
    QDateTime createdAt;
    QDateTime expiresAt;
    QDateTime decidedAt;
};

/// How long a sandbox may reach one outside destination through the egress gate.
enum class EgressScope { Once, Sandbox, Until };
template <>
struct EnumNames<EgressScope> {
    static constexpr std::array<const char*, 3> names{"once", "sandbox", "until"};
};

/// A sandbox may open connections to `destination` through the egress gate: given by a person (`fluid
/// egress allow`) or made from an approved egress request.
struct EgressGrant {
    QString id;
    QString sandboxId;
    QString destination; ///< host:port, lower case
    EgressScope scope = EgressScope::Sandbox;
    QDateTime expiresAt; ///< Until: when it ends
    QString grantedBy;   ///< Actor::toString()
    QString approvalId;  ///< the approval it was made from, if any
    QDateTime createdAt;
    QDateTime usedAt;    ///< Once: when it was used
    QDateTime revokedAt; ///< set: no new connections
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
    QString actor; ///< Actor::toString(): person:<login>, agent:<session>, token:<id>, system
    QString kind;  ///< e.g. sandbox.create, command.run, approval.decide
    QString sandboxId;
    QString sessionId;
    QString summary;
    QJsonObject data;
    QString prevHash;
    QString hash;
};

} // namespace fluid::model

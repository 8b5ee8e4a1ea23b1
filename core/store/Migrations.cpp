// SPDX-License-Identifier: Apache-2.0
#include "Migrations.h"

namespace fluid::store {

QStringList Migration::statements(Backend backend) const
{
    QStringList out;
    const QString blob = backend == Backend::Sqlite ? QStringLiteral("BLOB") : QStringLiteral("BYTEA");
    for (QString s : common)
        out.append(s.replace(QLatin1String("%BLOB%"), blob));
    out.append(backend == Backend::Sqlite ? sqliteOnly : postgresOnly);
    return out;
}

// Times are BIGINT milliseconds since the epoch (UTC); ids are UUID text. Never edit a released
// migration: add a new one.
const QList<Migration>& migrations()
{
    static const QList<Migration> list = {
        {1,
         QStringLiteral("hosts, source VMs, sandboxes, snapshots, diffs, commands, audit log"),
         {
             QStringLiteral(
                 "CREATE TABLE hosts (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, uri TEXT NOT NULL, "
                 "host_key_fingerprint TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL)"),
             QStringLiteral(
                 "CREATE TABLE source_vms (id TEXT PRIMARY KEY, host_id TEXT NOT NULL REFERENCES hosts(id) "
                 "ON DELETE CASCADE, domain_name TEXT NOT NULL, domain_uuid TEXT NOT NULL DEFAULT '', "
                 "disk_path TEXT NOT NULL DEFAULT '', disk_format TEXT NOT NULL DEFAULT '', memory_mib "
                 "INTEGER NOT NULL DEFAULT 0, vcpus INTEGER NOT NULL DEFAULT 0, golden INTEGER NOT NULL "
                 "DEFAULT 0, created_at BIGINT NOT NULL, UNIQUE (host_id, domain_name))"),
             QStringLiteral(
                 "CREATE TABLE sandboxes (id TEXT PRIMARY KEY, name TEXT NOT NULL, host_id TEXT NOT NULL "
                 "REFERENCES hosts(id), source_vm_id TEXT REFERENCES source_vms(id) ON DELETE SET NULL, "
                 "domain_name TEXT NOT NULL, state TEXT NOT NULL, ip TEXT NOT NULL DEFAULT '', memory_mib "
                 "INTEGER NOT NULL DEFAULT 0, vcpus INTEGER NOT NULL DEFAULT 0, overlay_path TEXT NOT NULL "
                 "DEFAULT '', error TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, updated_at BIGINT "
                 "NOT NULL)"),
             QStringLiteral("CREATE INDEX sandboxes_host ON sandboxes(host_id, state)"),
             QStringLiteral(
                 "CREATE TABLE snapshots (id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL REFERENCES "
                 "sandboxes(id) ON DELETE CASCADE, name TEXT NOT NULL, kind TEXT NOT NULL, description TEXT "
                 "NOT NULL DEFAULT '', created_at BIGINT NOT NULL, UNIQUE (sandbox_id, name))"),
             QStringLiteral(
                 "CREATE TABLE diffs (id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) "
                 "ON DELETE CASCADE, from_snapshot_id TEXT NOT NULL, to_snapshot_id TEXT NOT NULL, summary "
                 "TEXT NOT NULL DEFAULT '{}', content %BLOB%, created_at BIGINT NOT NULL, UNIQUE "
                 "(from_snapshot_id, to_snapshot_id))"),
             QStringLiteral(
                 "CREATE TABLE commands (id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL REFERENCES "
                 "sandboxes(id) ON DELETE CASCADE, session_id TEXT NOT NULL DEFAULT '', command TEXT NOT "
                 "NULL, stdout %BLOB%, stderr %BLOB%, exit_code INTEGER, signal TEXT NOT NULL DEFAULT '', "
                 "timed_out INTEGER NOT NULL DEFAULT 0, stdout_truncated INTEGER NOT NULL DEFAULT 0, "
                 "stderr_truncated INTEGER NOT NULL DEFAULT 0, stdout_bytes BIGINT NOT NULL DEFAULT 0, "
                 "stderr_bytes BIGINT NOT NULL DEFAULT 0, started_at BIGINT NOT NULL, finished_at BIGINT)"),
             QStringLiteral("CREATE INDEX commands_sandbox ON commands(sandbox_id, started_at)"),
             QStringLiteral(
                 "CREATE TABLE audit_events (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT "
                 "NULL, kind TEXT NOT NULL, sandbox_id TEXT NOT NULL DEFAULT '', session_id TEXT NOT NULL "
                 "DEFAULT '', summary TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT "
                 "NOT NULL)"),
             QStringLiteral("CREATE INDEX audit_events_sandbox ON audit_events(sandbox_id, seq)"),
         },
         // Append-only in the database too; the hash chain still detects edits made around these.
         {
             QStringLiteral(
                 "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT "
                 "RAISE(ABORT, 'audit_events is append-only'); END"),
             QStringLiteral(
                 "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT "
                 "RAISE(ABORT, 'audit_events is append-only'); END"),
         },
         {
             QStringLiteral(
                 "CREATE FUNCTION fluid_audit_append_only() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION "
                 "'audit_events is append-only'; END $$ LANGUAGE plpgsql"),
             QStringLiteral(
                 "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH "
                 "ROW EXECUTE FUNCTION fluid_audit_append_only()"),
         }},
        {2,
         QStringLiteral("agent sessions, messages, tool calls, approvals, playbooks; sandbox accelerator"),
         {
             QStringLiteral("ALTER TABLE sandboxes ADD COLUMN accelerator TEXT NOT NULL DEFAULT ''"),
             QStringLiteral(
                 "CREATE TABLE agent_sessions (id TEXT PRIMARY KEY, sandbox_id TEXT REFERENCES "
                 "sandboxes(id) ON DELETE SET NULL, task TEXT NOT NULL, mode TEXT NOT NULL, provider TEXT "
                 "NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, created_at "
                 "BIGINT NOT NULL, ended_at BIGINT)"),
             QStringLiteral(
                 "CREATE TABLE messages (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES "
                 "agent_sessions(id) ON DELETE CASCADE, seq INTEGER NOT NULL, role TEXT NOT NULL, content "
                 "TEXT NOT NULL, tokens INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, UNIQUE "
                 "(session_id, seq))"),
             QStringLiteral(
                 "CREATE TABLE tool_calls (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES "
                 "agent_sessions(id) ON DELETE CASCADE, message_id TEXT NOT NULL DEFAULT '', name TEXT NOT "
                 "NULL, arguments TEXT NOT NULL DEFAULT '{}', result TEXT NOT NULL DEFAULT '', status TEXT "
                 "NOT NULL, started_at BIGINT NOT NULL, finished_at BIGINT)"),
             QStringLiteral("CREATE INDEX tool_calls_session ON tool_calls(session_id, started_at)"),
             QStringLiteral(
                 "CREATE TABLE approvals (id TEXT PRIMARY KEY, kind TEXT NOT NULL, sandbox_id TEXT NOT NULL "
                 "DEFAULT '', session_id TEXT NOT NULL DEFAULT '', request TEXT NOT NULL, context TEXT NOT "
                 "NULL DEFAULT '{}', content_hash TEXT NOT NULL, status TEXT NOT NULL, requested_by TEXT "
                 "NOT NULL DEFAULT '', decided_by TEXT NOT NULL DEFAULT '', comment TEXT NOT NULL DEFAULT "
                 "'', created_at BIGINT NOT NULL, expires_at BIGINT, decided_at BIGINT)"),
             QStringLiteral("CREATE INDEX approvals_status ON approvals(status, created_at)"),
             QStringLiteral(
                 "CREATE TABLE playbooks (id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL DEFAULT '', "
                 "session_id TEXT NOT NULL DEFAULT '', name TEXT NOT NULL, hosts TEXT NOT NULL DEFAULT "
                 "'all', created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)"),
             QStringLiteral(
                 "CREATE TABLE playbook_tasks (id TEXT PRIMARY KEY, playbook_id TEXT NOT NULL REFERENCES "
                 "playbooks(id) ON DELETE CASCADE, position INTEGER NOT NULL, name TEXT NOT NULL, module "
                 "TEXT NOT NULL, args TEXT NOT NULL DEFAULT '{}', created_at BIGINT NOT NULL, UNIQUE "
                 "(playbook_id, position))"),
         },
         {},
         {}},
        {3,
         QStringLiteral("sandbox host keys (pinned by the SSH client)"),
         {
             QStringLiteral("ALTER TABLE sandboxes ADD COLUMN host_public_key TEXT NOT NULL DEFAULT ''"),
         },
         {},
         {}},
        {4,
         QStringLiteral("approval history index (newest decisions first)"),
         {
             QStringLiteral("CREATE INDEX approvals_decided ON approvals(decided_at, created_at)"),
         },
         {},
         {}},
        {5,
         QStringLiteral("structured message content (text, tool calls, tool results as a JSON array)"),
         {},
         {
             QStringLiteral("UPDATE messages SET content = json_array(json_object('type', 'text', 'text', "
                            "content))"),
         },
         {
             QStringLiteral(
                 "UPDATE messages SET content = json_build_array(json_build_object('type', 'text', "
                 "'text', content))::text"),
         }},
        {6,
         QStringLiteral("the store's id (the ownership mark on what Fluid makes on a host), leases"),
         {
             QStringLiteral("CREATE TABLE store_identity (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL)"),
             QStringLiteral("CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at "
                            "BIGINT NOT NULL)"),
         },
         // Made once, here: 16 random hex digits.
         {
             QStringLiteral("INSERT INTO store_identity (id, created_at) VALUES (lower(hex(randomblob(8))), "
                            "CAST(strftime('%s', 'now') AS INTEGER) * 1000)"),
         },
         {
             QStringLiteral("INSERT INTO store_identity (id, created_at) VALUES (substr(md5(random()::text "
                            "|| clock_timestamp()::text), 1, 16), (extract(epoch FROM clock_timestamp()) * "
                            "1000)::bigint)"),
         }},
        {7,
         QStringLiteral("egress grants (what a sandbox may reach through the egress gate)"),
         {
             QStringLiteral(
                 "CREATE TABLE egress_grants (id TEXT PRIMARY KEY, sandbox_id TEXT NOT NULL, "
                 "destination TEXT NOT NULL, scope TEXT NOT NULL, expires_at BIGINT, granted_by "
                 "TEXT NOT NULL DEFAULT '', approval_id TEXT NOT NULL DEFAULT '', created_at BIGINT "
                 "NOT NULL, used_at BIGINT, revoked_at BIGINT)"),
             QStringLiteral("CREATE INDEX egress_grants_sandbox ON egress_grants(sandbox_id, destination)"),
         },
         {},
         {}},
        {8,
         QStringLiteral(
             "sandbox SSH principals in Fluid's own namespace (empty for older sandboxes: their name)"),
         {
             QStringLiteral("ALTER TABLE sandboxes ADD COLUMN principal TEXT NOT NULL DEFAULT ''"),
         },
         {},
         {}},
    };
    return list;
}

} // namespace fluid::store

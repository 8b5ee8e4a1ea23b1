// SPDX-License-Identifier: Apache-2.0
#include "SandboxManager.h"

#include "base/Logging.h"
#include "DomainAllowlist.h"
#include "DomainXml.h"
#include "Names.h"
#include "SandboxCreated.h"
#include "store/AuditLog.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>

namespace fluid::virt {
using model::Sandbox;
using model::SandboxState;

QString hostFileName(const QString& storeId, const QString& sandboxName, const QString& what)
{
    return domainNameFor(storeId + QLatin1Char('-') + sandboxName) + QLatin1Char('.') + what;
}

QString createLeaseName(const QString& sandboxId)
{
    return QStringLiteral("create:") + sandboxId;
}

bool ownsDomain(const DomainMark& mark, const Sandbox& row, const QString& storeId)
{
    return mark.sandboxId == row.id && (mark.storeId == storeId || mark.storeId.isEmpty());
}

namespace {

/// The sandbox a host file is named for when its name starts with `prefix` ("fluid-" or "fluid-<store id>-"),
/// else an empty string.
QString sandboxOfHostFile(const QString& fileName, const QString& prefix)
{
    if (!fileName.startsWith(prefix))
        return {};
    const qsizetype dot = fileName.indexOf(QLatin1Char('.'), prefix.size());
    const QString name = dot < 0 ? QString() : fileName.mid(prefix.size(), dot - prefix.size());
    return validateSandboxName(name) ? name : QString();
}

Result<void> validateSnapshotName(const QString& name)
{
    static const QRegularExpression valid(QStringLiteral("^[a-z0-9][a-z0-9._-]{0,63}$"));
    if (valid.match(name).hasMatch())
        return {};
    return makeError(ErrorCode::InvalidArgument,
                     QStringLiteral("Snapshot names use 1 to 64 lower-case letters, digits, dots, dashes and "
                                    "underscores, starting with a letter or digit"));
}

} // namespace

bool sshBannerAnswers(const QString& ip, int timeoutMs)
{
    QTcpSocket socket;
    socket.connectToHost(ip, 22);
    if (!socket.waitForConnected(timeoutMs))
        return false;
    QByteArray banner;
    QElapsedTimer timer;
    timer.start();
    while (!banner.contains('\n') && timer.elapsed() < timeoutMs) {
        if (!socket.waitForReadyRead(int(qMax<qint64>(1, timeoutMs - timer.elapsed()))))
            break;
        banner += socket.readAll();
    }
    return banner.startsWith("SSH-2.0");
}

SandboxManager::SandboxManager(Hypervisor& hypervisor, store::Database& db, ManagerOptions options,
                               const Clock& clock)
    : m_hv(hypervisor)
    , m_db(db)
    , m_options(std::move(options))
    , m_clock(clock)
{
}

void SandboxManager::audit(const model::Actor& actor, const QString& kind, const QString& summary,
                           const QString& sandboxId, const QJsonObject& data)
{
    auto r = store::AuditLog(m_db, m_clock).append(actor.toString(), kind, summary, data, sandboxId);
    if (!r)
        qCWarning(lcVirt) << "audit failed:" << r.error().toString();
}

Result<QList<SandboxManager::Source>> SandboxManager::sources()
{
    return listSources(m_hv);
}

Result<QList<SandboxManager::Source>> SandboxManager::listSources(Hypervisor& hv)
{
    auto domains = hv.domains();
    if (!domains)
        return domains.error();
    QList<Source> out;
    for (const DomainSummary& d : *domains) {
        if (!sandboxNameFromDomain(d.name).isEmpty())
            continue;
        auto xml = hv.domainXml(d.name);
        if (!xml)
            continue; // vanished while listing
        auto parsed = parseDomainXml(*xml);
        if (!parsed || !parsed->sandboxId.isEmpty())
            continue;
        Source s;
        s.domain = *parsed;
        s.state = d.state;
        if (auto ok = checkCloneable(*parsed); !ok)
            s.refusal = ok.error().message;
        else if (auto contained = checkSourceContainment(*xml); !contained)
            s.refusal = contained.error().message;
        if (d.state == DomainState::Running || d.state == DomainState::Paused) {
            s.warning =
                QStringLiteral("%1 is running: its disk changes under a clone. Shut it down, or take a "
                               "snapshot of it and clone a shut-off copy.")
                    .arg(d.name);
        }
        out.append(s);
    }
    return out;
}

Result<QString> SandboxManager::storeHostFile(const QString& pool, const QString& name,
                                              const QByteArray& content)
{
    auto vol = m_hv.createVolumeWithContent(pool, name, content);
    if (vol)
        return vol->path;
    // libvirt's test driver cannot upload; on a local host a private file serves the same purpose.
    if (vol.error().code != ErrorCode::Refused || !m_hv.isLocal() || m_options.localFileDir.isEmpty())
        return vol.error();
    if (!QDir().mkpath(m_options.localFileDir))
        return makeError(ErrorCode::Io, QStringLiteral("Cannot create %1").arg(m_options.localFileDir));
    QFile::setPermissions(m_options.localFileDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    const QString path = m_options.localFileDir + QLatin1Char('/') + name;
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size() ||
        !f.setPermissions(QFile::ReadOwner | QFile::WriteOwner) || !f.commit())
        return makeError(ErrorCode::Io, QStringLiteral("Cannot write %1").arg(path), f.errorString());
    return path;
}

Result<QString> SandboxManager::storeId()
{
    if (m_storeId.isEmpty()) {
        auto id = store::storeId(m_db);
        if (!id)
            return id.error();
        m_storeId = *id;
    }
    return m_storeId;
}

Result<SandboxManager::HostFiles> SandboxManager::hostFiles(const QString& storeId)
{
    HostFiles files;
    const QString marked = QLatin1String(kDomainPrefix) + storeId + QLatin1Char('-');
    const QString legacy = QLatin1String(kDomainPrefix);
    auto add = [&](const QString& fileName, const QString& path) {
        if (const QString name = sandboxOfHostFile(fileName, marked); !name.isEmpty())
            files.marked[name] << path;
        else if (const QString old = sandboxOfHostFile(fileName, legacy); !old.isEmpty())
            files.legacy[old] << path;
    };
    // Only Fluid's own pool: a fluid- name in any other pool is someone else's.
    auto vols = m_hv.volumes(m_options.poolName);
    if (!vols && vols.error().code != ErrorCode::NotFound)
        return vols.error();
    for (const VolumeInfo& v : vols ? *vols : QList<VolumeInfo>())
        add(v.name, v.path);
    if (!m_options.localFileDir.isEmpty()) {
        for (const QString& f : QDir(m_options.localFileDir).entryList(QDir::Files))
            add(f, m_options.localFileDir + QLatin1Char('/') + f);
    }
    return files;
}

Result<void> SandboxManager::removeHostFile(const QString& path)
{
    if (!m_options.localFileDir.isEmpty() && path.startsWith(m_options.localFileDir + QLatin1Char('/'))) {
        if (QFile::exists(path) && !QFile::remove(path))
            return makeError(ErrorCode::Io, QStringLiteral("Cannot remove %1").arg(path));
        return {};
    }
    return m_hv.deleteVolume(path);
}

Result<Sandbox> SandboxManager::loadLive(const QString& sandboxId)
{
    auto row = store::SandboxRepository(m_db).get(sandboxId);
    if (!row)
        return row.error();
    if (row->state == SandboxState::Destroyed)
        return makeError(ErrorCode::NotFound, QStringLiteral("Sandbox %1 was destroyed").arg(row->name));
    return row;
}

Result<Sandbox> SandboxManager::loadOwned(const QString& sandboxId)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row;
    auto mine = storeId();
    if (!mine)
        return mine.error();
    auto mark = m_hv.domainMark(row->domainName);
    if (!mark)
        return mark.error();
    if (!ownsDomain(*mark, *row, *mine))
        return makeError(
            ErrorCode::Refused,
            QStringLiteral("The domain %1 on the host is not sandbox %2's: it does not carry this "
                           "store's mark, so Fluid leaves it alone")
                .arg(row->domainName, row->name),
            mark->isSandbox()
                ? QStringLiteral("marked for sandbox %1 of store %2").arg(mark->sandboxId, mark->storeId)
                : QStringLiteral("it has no Fluid mark (a reconcile adopts "
                                 "sandboxes of this store that predate marks)"));
    return row;
}

Result<void> SandboxManager::waitForState(const QString& domain, DomainState wanted, int timeoutMs)
{
    QElapsedTimer timer;
    timer.start();
    for (;;) {
        auto state = m_hv.domainState(domain);
        if (!state)
            return state.error();
        if (*state == wanted)
            return {};
        if (timer.elapsed() > timeoutMs)
            return makeError(
                ErrorCode::Timeout,
                QStringLiteral("%1 did not reach state %2").arg(domain, domainStateName(wanted)));
        QThread::msleep(200);
    }
}

Result<Sandbox> SandboxManager::start(const QString& sandboxId, const model::Actor& actor)
{
    auto row = loadOwned(sandboxId);
    if (!row)
        return row.error();
    auto state = m_hv.domainState(row->domainName);
    if (!state)
        return state.error();
    if (*state != DomainState::Running) {
        if (auto r = m_hv.startDomain(row->domainName); !r)
            return r.error();
    }
    row->state = SandboxState::Running;
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r.error();
    audit(actor, QStringLiteral("sandbox.start"), QStringLiteral("Started %1").arg(row->name), row->id);
    return row;
}

Result<Sandbox> SandboxManager::stop(const QString& sandboxId, const model::Actor& actor)
{
    auto row = loadOwned(sandboxId);
    if (!row)
        return row.error();
    auto state = m_hv.domainState(row->domainName);
    if (!state)
        return state.error();
    bool forced = false;
    if (*state != DomainState::ShutOff) {
        auto asked = m_hv.shutdownDomain(row->domainName);
        if (!asked || !waitForState(row->domainName, DomainState::ShutOff, m_options.stopTimeoutS * 1000)) {
            forced = true;
            if (auto r = m_hv.destroyDomain(row->domainName); !r)
                return r.error();
            if (auto r = waitForState(row->domainName, DomainState::ShutOff, 30000); !r)
                return r.error();
        }
    }
    row->state = SandboxState::Stopped;
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r.error();
    audit(actor, QStringLiteral("sandbox.stop"),
          QStringLiteral("Stopped %1%2")
              .arg(row->name,
                   forced ? QStringLiteral(" (forced after the guest did not shut down)") : QString()),
          row->id);
    return row;
}

Result<Sandbox> SandboxManager::destroy(const QString& sandboxId, const model::Actor& actor)
{
    auto row = loadLive(sandboxId);
    if (!row)
        return row.error();
    auto mine = storeId();
    if (!mine)
        return mine.error();
    auto mark = m_hv.domainMark(row->domainName);
    if (!mark && mark.error().code != ErrorCode::NotFound)
        return mark.error();
    const bool ours = mark && ownsDomain(*mark, *row, *mine);
    if (ours) {
        if (auto r = m_hv.destroyDomain(row->domainName); !r && r.error().code != ErrorCode::NotFound)
            return r.error();
        if (auto r = m_hv.undefineDomain(row->domainName); !r)
            return r.error();
    }
    auto files = hostFiles(*mine);
    if (!files)
        return files.error();
    QStringList removed = files->marked.value(row->name);
    if (ours)
        removed << files->legacy.value(row->name);
    for (const QString& path : std::as_const(removed)) {
        if (auto r = removeHostFile(path); !r)
            return r.error();
    }
    row->state = SandboxState::Destroyed;
    row->ip.clear();
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r.error();
    QJsonObject data{{QStringLiteral("removed"), QJsonArray::fromStringList(removed)}};
    if (mark && !ours)
        data.insert(QStringLiteral("left"),
                    QStringLiteral("domain %1 is not this sandbox's: left alone").arg(row->domainName));
    audit(actor, QStringLiteral("sandbox.destroy"), QStringLiteral("Destroyed %1").arg(row->name), row->id,
          data);
    return row;
}

Result<model::Snapshot> SandboxManager::snapshot(const QString& sandboxId, const QString& name,
                                                 const model::Actor& actor, model::SnapshotKind kind,
                                                 const QString& description)
{
    if (auto ok = validateSnapshotName(name); !ok)
        return ok.error();
    auto row = loadOwned(sandboxId);
    if (!row)
        return row.error();
    if (auto r = m_hv.createSnapshot(row->domainName, name, description, true); !r)
        return r.error();
    model::Snapshot snap{model::newId(), row->id, name, kind, description, m_clock.now()};
    if (auto r = store::SnapshotRepository(m_db).insert(snap); !r) {
        if (auto undone = m_hv.deleteSnapshot(row->domainName, name); !undone)
            qCWarning(lcVirt) << undone.error().toString();
        return r.error();
    }
    audit(actor, QStringLiteral("snapshot.create"), QStringLiteral("Snapshot %1 of %2").arg(name, row->name),
          row->id);
    return snap;
}

Result<QList<SnapshotInfo>> SandboxManager::snapshots(const QString& sandboxId)
{
    auto row = loadOwned(sandboxId);
    if (!row)
        return row.error();
    return m_hv.snapshots(row->domainName);
}

Result<void> SandboxManager::revert(const QString& sandboxId, const QString& snapshotName,
                                    const model::Actor& actor)
{
    auto row = loadOwned(sandboxId);
    if (!row)
        return row.error();
    if (auto r = m_hv.revertSnapshot(row->domainName, snapshotName); !r)
        return r;
    auto state = m_hv.domainState(row->domainName);
    if (state && *state == DomainState::Running) {
        // A revert brings back the clock of the snapshot too.
        if (auto r = m_hv.syncGuestTime(row->domainName); !r)
            qCInfo(lcVirt) << "guest clock not synced after revert:" << r.error().toString();
    }
    row->state = state && *state == DomainState::Running ? SandboxState::Running : SandboxState::Stopped;
    row->updatedAt = m_clock.now();
    if (auto r = store::SandboxRepository(m_db).update(*row); !r)
        return r;
    audit(actor, QStringLiteral("snapshot.revert"),
          QStringLiteral("Reverted %1 to %2").arg(row->name, snapshotName), row->id);
    return {};
}

Result<void> SandboxManager::deleteSnapshot(const QString& sandboxId, const QString& snapshotName,
                                            const model::Actor& actor)
{
    auto row = loadOwned(sandboxId);
    if (!row)
        return row.error();
    if (auto r = m_hv.deleteSnapshot(row->domainName, snapshotName); !r)
        return r;
    if (auto removed = store::removeSnapshotNamed(m_db, row->id, snapshotName); !removed)
        return removed;
    audit(actor, QStringLiteral("snapshot.delete"),
          QStringLiteral("Deleted snapshot %1 of %2").arg(snapshotName, row->name), row->id);
    return {};
}

Result<void> SandboxManager::applyDomainEvent(const QString& domainName, DomainState state)
{
    // Read and write in one write transaction: an event read before a concurrent destroy must not write
    // its stale row back over DESTROYED afterwards.
    return m_db.transaction([&]() -> Result<void> {
        auto rows = store::settledSandboxesOfDomain(m_db, domainName);
        if (!rows)
            return rows.error();
        for (Sandbox row : *rows) {
            const SandboxState mapped = state == DomainState::ShutOff || state == DomainState::Crashed
                                            ? SandboxState::Stopped
                                        : state == DomainState::Running ? SandboxState::Running
                                                                        : row.state;
            if (mapped == row.state)
                continue;
            row.state = mapped;
            row.updatedAt = m_clock.now();
            if (auto r = store::SandboxRepository(m_db).update(row); !r)
                return r;
            audit(model::Actor::system(), QStringLiteral("sandbox.state"),
                  QStringLiteral("%1 is now %2 (%3)")
                      .arg(row.name, model::enumName(mapped), domainStateName(state)),
                  row.id);
        }
        return {};
    });
}

} // namespace fluid::virt

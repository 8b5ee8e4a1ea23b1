// SPDX-License-Identifier: Apache-2.0
#include "SnapshotInspector.h"

#include "base/Logging.h"
#include "inspect/RemoteMount.h"
#include "store/Queries.h"
#include "store/Repository.h"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QUrl>

#include <unistd.h>

namespace fluid::inspect {
namespace {

QJsonObject describeSide(const QString& disk, const QString& snapshot, const Partition& p)
{
    return {{QStringLiteral("image"), disk},
            {QStringLiteral("snapshot"), snapshot},
            {QStringLiteral("partition"), p.number},
            {QStringLiteral("partitionScheme"), p.scheme},
            {QStringLiteral("offset"), p.offset}};
}

} // namespace

class detail::MountedState {
public:
    virtual ~MountedState() = default;
    virtual QString root() const = 0;
    virtual const Partition& partition() const = 0;
    virtual Result<FileTree> walk(const WalkOptions& options) const = 0;
    /// Empty when files are read under root() on this machine.
    virtual std::function<QByteArray(const QString&, qint64)> reader() const = 0;
    virtual Result<void> close() = 0;
};

namespace {

/// An ImageMount (this machine) or a RemoteImageMount (a hypervisor host) as one side of a diff.
template <typename Mount>
class MountState final : public detail::MountedState {
public:
    explicit MountState(std::unique_ptr<Mount> m)
        : m_mount(std::move(m))
    {
    }
    QString root() const override { return m_mount->root(); }
    const Partition& partition() const override { return m_mount->partition(); }
    Result<FileTree> walk(const WalkOptions& options) const override
    {
        if constexpr (std::is_same_v<Mount, RemoteImageMount>)
            return m_mount->walk(options);
        else
            return walkTree(m_mount->root(), options);
    }
    std::function<QByteArray(const QString&, qint64)> reader() const override
    {
        if constexpr (std::is_same_v<Mount, RemoteImageMount>) {
            const RemoteImageMount* m = m_mount.get();
            return [m](const QString& path, qint64 cap) {
                return m->read(path, cap);
            };
        } else {
            return {};
        }
    }
    Result<void> close() override { return m_mount->close(); }

private:
    std::unique_ptr<Mount> m_mount;
};

} // namespace

SnapshotInspector::SnapshotInspector(InspectorOptions options)
    : m_options(std::move(options))
{
}

Result<std::unique_ptr<ImageMount>>
SnapshotInspector::mount(const QString& diskPath, const QString& snapshotName, const QString& format) const
{
    MountOptions o;
    o.imagePath = diskPath;
    o.snapshotName = snapshotName;
    o.format = format;
    o.runtimeDir = m_options.runtimeDir;
    o.helperTimeoutMs = m_options.helperTimeoutMs;
    return ImageMount::open(o);
}

bool SnapshotInspector::usesLocalHelper() const
{
    return m_options.localPrivilege == InspectorOptions::LocalPrivilege::Helper || ::geteuid() != 0;
}

std::shared_ptr<InspectHelper> SnapshotInspector::localHelper() const
{
    LocalHelperOptions o;
    o.installedPath = m_options.helperPath;
    o.auditSink = m_options.auditSink;
    o.auditGate = m_options.auditGate;
    return localInspectHelper(o);
}

Result<int> SnapshotInspector::cleanupLeftovers() const
{
    int cleaned = 0;
    if (::geteuid() == 0) {
        auto r = ImageMount::cleanupLeftovers(m_options.runtimeDir);
        if (!r)
            return r;
        cleaned += *r;
    }
    // What a helper mounted for a Fluid that has ended. Without root, only when the helper is installed
    // (otherwise there can be none).
    if (::geteuid() == 0 || QFileInfo::exists(m_options.helperPath)) {
        auto r = RemoteImageMount::cleanupLeftovers(*localHelper(), QLatin1String(kRemoteInspectDir));
        if (!r)
            return r;
        cleaned += *r;
    }
    return cleaned;
}

SnapshotInspector::Mounter SnapshotInspector::helperMounter(std::shared_ptr<InspectHelper> helper,
                                                            const QString& diskPath, const QString& format,
                                                            const QString& baseDir) const
{
    return [this, helper = std::move(helper), diskPath, format,
            baseDir](const QString& snapshot) -> Result<std::unique_ptr<detail::MountedState>> {
        RemoteMountOptions o;
        o.imagePath = diskPath;
        o.snapshotName = snapshot;
        o.format = format;
        o.helperTimeoutMs = m_options.helperTimeoutMs;
        o.baseDir = baseDir;
        auto m = RemoteImageMount::open(helper, o);
        if (!m)
            return m.error();
        return std::unique_ptr<detail::MountedState>(new MountState<RemoteImageMount>(std::move(*m)));
    };
}

Result<QJsonObject> SnapshotInspector::diffDisk(const QString& diskPath, const QString& fromSnapshot,
                                                const QString& toSnapshot, const QString& format,
                                                const ProgressSink& progress, const CancelToken& cancel) const
{
    if (usesLocalHelper()) {
        // Not root: the installed helper does the privileged steps, the way a remote host does them (under
        // sudo the helper's folder is always kRemoteInspectDir).
        return diffStates(helperMounter(localHelper(), diskPath, format, QLatin1String(kRemoteInspectDir)),
                          diskPath, fromSnapshot, toSnapshot, progress, cancel);
    }
    const Mounter mountLocal = [&](const QString& snapshot) -> Result<std::unique_ptr<detail::MountedState>> {
        auto m = mount(diskPath, snapshot, format);
        if (!m)
            return m.error();
        return std::unique_ptr<detail::MountedState>(new MountState<ImageMount>(std::move(*m)));
    };
    return diffStates(mountLocal, diskPath, fromSnapshot, toSnapshot, progress, cancel);
}

Result<QJsonObject> SnapshotInspector::diffRemoteDisk(std::shared_ptr<ssh::RemoteShell> host,
                                                      const QString& diskPath, const QString& fromSnapshot,
                                                      const QString& toSnapshot, const QString& format,
                                                      const ProgressSink& progress,
                                                      const CancelToken& cancel) const
{
    if (!host)
        return makeError(ErrorCode::InvalidArgument, QStringLiteral("No connection to the host"));
    return diffStates(
        helperMounter(remoteInspectHelper(std::move(host)), diskPath, format, m_options.remoteRuntimeDir),
        diskPath, fromSnapshot, toSnapshot, progress, cancel);
}

Result<QJsonObject> SnapshotInspector::diffStates(const Mounter& mountState, const QString& diskPath,
                                                  const QString& fromSnapshot, const QString& toSnapshot,
                                                  const ProgressSink& progress,
                                                  const CancelToken& cancel) const
{
    auto report = [&](const QString& stage, double fraction) {
        if (progress)
            progress(Progress{stage, {}, fraction});
    };
    auto isCancelled = [&] {
        return cancel.isCancelled();
    };
    auto cancelError = [] {
        return makeError(ErrorCode::Cancelled, QStringLiteral("The snapshot diff was cancelled"));
    };
    QElapsedTimer timer;
    timer.start();

    report(QStringLiteral("mounting %1").arg(fromSnapshot), 0.0);
    auto a = mountState(fromSnapshot);
    if (!a)
        return a.error();
    if (isCancelled())
        return cancelError();
    report(QStringLiteral("mounting %1")
               .arg(toSnapshot.isEmpty() ? QStringLiteral("current state") : toSnapshot),
           0.05);
    auto b = mountState(toSnapshot);
    if (!b)
        return b.error();

    WalkOptions walk;
    walk.excludes = m_options.excludes;
    walk.hash = m_options.hash;
    walk.hashThreads = m_options.hashThreads;
    walk.cancel = cancel;
    FileTree trees[2];
    const detail::MountedState* states[2] = {a->get(), b->get()};
    const QString names[2] = {fromSnapshot, toSnapshot};
    for (int side = 0; side < 2; ++side) {
        const double base = 0.1 + 0.4 * side;
        report(QStringLiteral("walking %1").arg(names[side]), base);
        walk.hashProgress = [&](qint64 done, qint64 total) {
            report(QStringLiteral("hashing %1").arg(names[side]),
                   base + 0.4 * (total ? double(done) / total : 1.0));
        };
        auto tree = states[side]->walk(walk);
        if (!tree)
            return tree.error();
        trees[side] = std::move(tree).value();
    }
    if (isCancelled())
        return cancelError();
    report(QStringLiteral("diffing"), 0.9);
    DiffOptions diffOptions = m_options.diff;
    diffOptions.excludes = m_options.excludes;
    TreeSide sides[2];
    for (int side = 0; side < 2; ++side) {
        sides[side].root = states[side]->root();
        sides[side].tree = &trees[side];
        sides[side].describe = describeSide(diskPath, names[side], states[side]->partition());
        sides[side].read = states[side]->reader();
    }
    const QJsonObject doc = diffTrees(sides[0], sides[1], diffOptions);
    report(QStringLiteral("releasing"), 0.97);
    for (auto* m : {&*a, &*b}) {
        if (auto r = (*m)->close(); !r)
            return r.error();
    }
    qCInfo(lcInspect) << "diffed" << diskPath << fromSnapshot << "->" << toSnapshot << "in" << timer.elapsed()
                      << "ms:" << trees[0].size() << "/" << trees[1].size() << "entries,"
                      << doc.value(QStringLiteral("paths")).toArray().size() << "changed";
    report(QStringLiteral("done"), 1.0);
    return doc;
}

bool isLocalHostUri(const QString& uri)
{
    return QUrl(uri).host().isEmpty();
}

Result<model::Diff> diffSnapshots(store::Database& db, const SnapshotInspector& inspector,
                                  const model::Sandbox& sandbox, const model::Snapshot& from,
                                  const model::Snapshot& to, const ProgressSink& progress,
                                  const CancelToken& cancel, const HostConnector& connectHost)
{
    if (from.sandboxId != sandbox.id || to.sandboxId != sandbox.id)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Both snapshots must belong to sandbox %1").arg(sandbox.name));
    auto stored = store::findDiff(db, from.id, to.id);
    if (!stored)
        return stored.error();
    if (stored->has_value()) {
        if (progress)
            progress(Progress{QStringLiteral("stored"), {}, 1.0});
        return **stored;
    }
    auto host = store::HostRepository(db).get(sandbox.hostId);
    if (!host)
        return host.error();
    if (sandbox.overlayPath.isEmpty())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("Sandbox %1 has no disk recorded").arg(sandbox.name));
    Result<QJsonObject> doc = QJsonObject();
    if (isLocalHostUri(host->uri)) {
        doc = inspector.diffDisk(sandbox.overlayPath, from.name, to.name, QStringLiteral("qcow2"), progress,
                                 cancel);
    } else {
        if (!connectHost)
            return makeError(
                ErrorCode::Unavailable,
                QStringLiteral("No SSH connection to %1 to read the sandbox's disk there").arg(host->uri));
        if (progress)
            progress(Progress{QStringLiteral("connecting to the host"), {}, 0.0});
        auto shell = connectHost(host->uri);
        if (!shell)
            return makeError(shell.error().code,
                             QStringLiteral("Cannot connect to %1 to read the sandbox's disk: %2")
                                 .arg(host->uri, shell.error().message),
                             shell.error().detail);
        doc = inspector.diffRemoteDisk(*shell, sandbox.overlayPath, from.name, to.name,
                                       QStringLiteral("qcow2"), progress, cancel);
    }
    if (!doc)
        return doc.error();
    model::Diff diff;
    diff.id = model::newId();
    diff.sandboxId = sandbox.id;
    diff.fromSnapshotId = from.id;
    diff.toSnapshotId = to.id;
    QJsonObject content = *doc;
    for (const auto& [key, id] :
         {std::pair{QStringLiteral("from"), from.id}, std::pair{QStringLiteral("to"), to.id}}) {
        QJsonObject side = content.value(key).toObject();
        side[QStringLiteral("snapshotId")] = id;
        content[key] = side;
    }
    diff.summary = summarize(content);
    diff.content = QJsonDocument(content).toJson(QJsonDocument::Compact);
    diff.createdAt = QDateTime::currentDateTimeUtc();
    if (auto r = store::DiffRepository(db).insert(diff); !r)
        return r.error();
    return diff;
}

} // namespace fluid::inspect

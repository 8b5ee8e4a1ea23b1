// SPDX-License-Identifier: Apache-2.0
#include "SnapshotInspector.h"

#include "base/Logging.h"
#include "store/Repository.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QUrl>

namespace fluid::inspect {
namespace {

QJsonObject describeSide(const QString& disk, const QString& snapshot, const ImageMount& m)
{
    return {{QStringLiteral("image"), disk},
            {QStringLiteral("snapshot"), snapshot},
            {QStringLiteral("partition"), m.partition().number},
            {QStringLiteral("partitionScheme"), m.partition().scheme},
            {QStringLiteral("offset"), m.partition().offset}};
}

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

Result<int> SnapshotInspector::cleanupLeftovers() const
{
    return ImageMount::cleanupLeftovers(m_options.runtimeDir);
}

Result<QJsonObject> SnapshotInspector::diffDisk(const QString& diskPath, const QString& fromSnapshot,
                                                const QString& toSnapshot, const QString& format,
                                                const InspectProgress& progress,
                                                const CancelCheck& cancelled) const
{
    auto report = [&](const QString& stage, double fraction) {
        if (progress)
            progress(stage, fraction);
    };
    auto isCancelled = [&] {
        return cancelled && cancelled();
    };
    auto cancelError = [] {
        return makeError(ErrorCode::Cancelled, QStringLiteral("The snapshot diff was cancelled"));
    };
    QElapsedTimer timer;
    timer.start();

    report(QStringLiteral("mounting %1").arg(fromSnapshot), 0.0);
    auto a = mount(diskPath, fromSnapshot, format);
    if (!a)
        return a.error();
    if (isCancelled())
        return cancelError();
    report(QStringLiteral("mounting %1")
               .arg(toSnapshot.isEmpty() ? QStringLiteral("current state") : toSnapshot),
           0.05);
    auto b = mount(diskPath, toSnapshot, format);
    if (!b)
        return b.error();

    WalkOptions walk;
    walk.excludes = m_options.excludes;
    walk.hash = m_options.hash;
    walk.hashThreads = m_options.hashThreads;
    walk.cancelled = cancelled;
    FileTree trees[2];
    const ImageMount* mounts[2] = {a->get(), b->get()};
    const QString names[2] = {fromSnapshot, toSnapshot};
    for (int side = 0; side < 2; ++side) {
        const double base = 0.1 + 0.4 * side;
        report(QStringLiteral("walking %1").arg(names[side]), base);
        walk.hashProgress = [&](qint64 done, qint64 total) {
            report(QStringLiteral("hashing %1").arg(names[side]),
                   base + 0.4 * (total ? double(done) / total : 1.0));
        };
        auto tree = walkTree(mounts[side]->root(), walk);
        if (!tree)
            return tree.error();
        trees[side] = std::move(tree).value();
    }
    if (isCancelled())
        return cancelError();
    report(QStringLiteral("diffing"), 0.9);
    DiffOptions diffOptions = m_options.diff;
    diffOptions.excludes = m_options.excludes;
    const QJsonObject doc = diffTrees(
        {mounts[0]->root(), &trees[0], describeSide(diskPath, fromSnapshot, *mounts[0])},
        {mounts[1]->root(), &trees[1], describeSide(diskPath, toSnapshot, *mounts[1])}, diffOptions);
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
                                  const model::Snapshot& to, const InspectProgress& progress,
                                  const CancelCheck& cancelled)
{
    if (from.sandboxId != sandbox.id || to.sandboxId != sandbox.id)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("Both snapshots must belong to sandbox %1").arg(sandbox.name));
    auto stored = store::findDiff(db, from.id, to.id);
    if (!stored)
        return stored.error();
    if (stored->has_value()) {
        if (progress)
            progress(QStringLiteral("stored"), 1.0);
        return **stored;
    }
    auto host = store::HostRepository(db).get(sandbox.hostId);
    if (!host)
        return host.error();
    if (!isLocalHostUri(host->uri))
        return makeError(
            ErrorCode::Unavailable,
            QStringLiteral("Snapshot diffs of sandboxes on remote hosts (%1) are not supported yet")
                .arg(host->uri),
            QStringLiteral("the host would need qemu-utils, qemu-system-common, fuse3 and util-linux, "
                           "see docs/inspect.md"));
    if (sandbox.overlayPath.isEmpty())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("Sandbox %1 has no disk recorded").arg(sandbox.name));
    auto doc = inspector.diffDisk(sandbox.overlayPath, from.name, to.name, QStringLiteral("qcow2"), progress,
                                  cancelled);
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

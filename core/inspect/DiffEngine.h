// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "inspect/TreeWalker.h"

#include <QJsonObject>

#include <functional>

namespace fluid::inspect {

/// One side of a diff: a walked tree and where its file system is mounted (to read file contents).
struct TreeSide {
    QString root;
    const FileTree* tree = nullptr;
    QJsonObject describe; ///< copied into the document's "from"/"to" (image, snapshot, partition)
    /// Reads at most `cap` bytes of a regular file of the tree (a mount on another machine); empty: the
    /// file is read under `root` on this machine.
    std::function<QByteArray(const QString& path, qint64 cap)> read;
};

struct DiffOptions {
    qint64 textSizeCap = 256 * 1024; ///< text files larger than this get no line hunks
    int contextLines = 3;
    /// Files whose content is never read into a diff (hashes only): shadow files, private keys.
    QStringList sensitive = defaultSensitive();
    QStringList excludes; ///< recorded in the document (the walk applied them)
    static QStringList defaultSensitive();
};

/// Computes the diff document between two walked trees. Pure apart from reading files under the two
/// roots; any thread. The document (format "fluid.snapshot-diff/1", documented in docs/inspect.md):
///   paths[]:    {path, change: added|removed|modified, aspects[]: type|content|mode|owner|target|device,
///                before/after: {type, mode "0644", uid, gid, size, target, sha256 (or unhashed: true for
///                a file over the hashing cap, then compared by size and mtime), mtime},
///                content: text|binary|too-large|sensitive|none, hunks[]: {oldStart, oldCount, newStart,
///                newCount, lines[]: {kind " "|"-"|"+", old, new, text, noNewline?, spans[[start,len]]}}}
///   packages:   {managers[], notes[], changes[]: {name, arch, change: installed|removed|upgraded|
///                downgraded|reinstalled|state, before, after}}
///   units[]:    {unit, change: added|removed|modified|enabled|disabled|masked|unmasked, detail, path}
///   accounts[]: {kind: user|group, name, change: added|removed|changed|password-changed, fields{}}
///   cron[]:     {file, change: added|removed|modified, added[], removed[]}
///   etc[]:      {path, change}
QJsonObject diffTrees(const TreeSide& before, const TreeSide& after, const DiffOptions& options = {});

/// Counts per change kind and per layer, for lists and badges.
QJsonObject summarize(const QJsonObject& document);

/// The document as a git-style unified patch ("diff --git" headers, mode lines, hunks, "Binary files ...
/// differ"); owner and other changes a patch cannot carry are written as "# " comment lines.
QByteArray toUnifiedPatch(const QJsonObject& document);

} // namespace fluid::inspect

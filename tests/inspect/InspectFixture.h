// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace fluid::test {

/// Two small root file system trees ("before" and "after") that differ in every change kind the diff
/// knows (content, mode, owner, type, link target, added, removed, binary, too large, sensitive, excluded)
/// and in each semantic layer (dpkg, systemd units and wants links, users/groups/shadow, cron).
struct InspectFixture {
    static Result<void> writeBefore(const QString& dir);
    static Result<void> writeAfter(const QString& dir);
    /// The paths that differ, as the diff must report them with default excludes (sorted).
    static QStringList expectedChangedPaths(bool withOwner);
};

/// How a test image lays out its disk.
enum class DiskLayout { Bare, Mbr, Gpt };

/// Builds qcow2 test images with the system's tools (mkfs.ext4 -d, sfdisk, qemu-img).
struct ImageBuilder {
    /// Runs a tool; the error names it and carries its output.
    static Result<QString> run(const QString& program, const QStringList& args, int timeoutMs = 120000);
    /// A raw disk holding `tree` as ext4 in the given layout (partitioned layouts also get a larger
    /// first partition without /etc, so the root must be found by looking inside).
    static Result<void> makeRaw(const QString& tree, const QString& rawPath, DiskLayout layout,
                                int fsMiB = 48);
    /// Creates `qcow2` from `tree` and takes internal snapshot `snapshot`.
    static Result<void> createWithSnapshot(const QString& tree, const QString& qcow2, DiskLayout layout,
                                           const QString& snapshot, int fsMiB = 48);
    /// Overwrites the current state of `qcow2` with `tree` (same layout) and takes internal snapshot
    /// `snapshot`; earlier snapshots stay.
    static Result<void> addSnapshot(const QString& tree, const QString& qcow2, DiskLayout layout,
                                    const QString& snapshot, int fsMiB = 48);
    /// What is missing on this machine to build and mount test images; empty when nothing.
    static QString missingTools();
};

/// Mounts under `dir`, and qemu processes whose command line names it: what clean-up must leave at zero.
QStringList mountLeftoversUnder(const QString& dir);

/// Empty when two diff documents are equal; else the first top-level key that differs, with both values
/// (cut), for a test's failure message.
QString documentDifference(const QJsonObject& expected, const QJsonObject& actual);
/// The sorted paths a diff document lists.
QStringList changedPaths(const QJsonObject& document);

/// The entry of `path` in a diff document's paths (empty when it is not listed).
QJsonObject byPath(const QJsonObject& doc, const QString& path);

/// True when one of `items` has every key of `wanted` with the same value.
bool hasEntry(const QJsonArray& items, const QJsonObject& wanted);

} // namespace fluid::test

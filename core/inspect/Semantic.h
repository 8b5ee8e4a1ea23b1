// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

namespace fluid::inspect {

/// One package as /var/lib/dpkg/status records it.
struct DpkgPackage {
    QString name;
    QString architecture;
    QString version;
    QString status; ///< the Status field's last word: installed, config-files, half-installed, ...
    bool installed() const { return status == QLatin1String("installed"); }
};

/// Parses a dpkg status file (RFC 822 style paragraphs). Keyed by "name:architecture". Pure.
QMap<QString, DpkgPackage> parseDpkgStatus(const QByteArray& content);

/// Debian version ordering (epoch, upstream, revision; '~' sorts first), as `dpkg --compare-versions`.
/// Negative, zero or positive.
int compareDebianVersions(const QString& a, const QString& b);

/// Lines of a colon-separated account file (/etc/passwd, /etc/group, /etc/shadow) keyed by the first field.
/// Comments and blank lines are skipped.
QMap<QString, QStringList> parseColonFile(const QByteArray& content);

/// The entries of a crontab: lines that are neither blank nor comments, whitespace-trimmed.
QStringList cronEntries(const QByteArray& content);

} // namespace fluid::inspect

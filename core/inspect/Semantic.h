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

/// One package as rpm's database records it.
struct RpmPackage {
    QString name;
    QString architecture;
    QString evr; ///< "epoch:version-release"
};

/// The query format parseRpmList() reads: one "name TAB arch TAB epoch:version-release" line per package.
inline constexpr const char* kRpmQueryFormat = "%{NAME}\t%{ARCH}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n";

/// `rpm -qa --qf kRpmQueryFormat` output, keyed by "name.arch" (gpg-pubkey entries skipped). Pure.
QMap<QString, RpmPackage> parseRpmList(const QByteArray& output);

/// rpm's ordering of "epoch:version-release" (epoch, then rpmvercmp of version and of release: '~' sorts
/// before anything, '^' after the end). Negative, zero or positive.
int compareRpmVersions(const QString& a, const QString& b);

/// Lines of a colon-separated account file (/etc/passwd, /etc/group, /etc/shadow) keyed by the first field.
/// Comments and blank lines are skipped.
QMap<QString, QStringList> parseColonFile(const QByteArray& content);

/// The entries of a crontab: lines that are neither blank nor comments, whitespace-trimmed.
QStringList cronEntries(const QByteArray& content);

} // namespace fluid::inspect

// SPDX-License-Identifier: Apache-2.0
#include "DiffEngine.h"

#include "base/Process.h"
#include "inspect/Semantic.h"
#include "inspect/TextDiff.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <fnmatch.h>

namespace fluid::inspect {
namespace {

const QStringList kUnitDirs = {QStringLiteral("/etc/systemd/system"), QStringLiteral("/lib/systemd/system"),
                               QStringLiteral("/usr/lib/systemd/system")};
const QStringList kUnitSuffixes = {QStringLiteral(".service"), QStringLiteral(".socket"),
                                   QStringLiteral(".timer"),   QStringLiteral(".target"),
                                   QStringLiteral(".mount"),   QStringLiteral(".path"),
                                   QStringLiteral(".slice"),   QStringLiteral(".automount"),
                                   QStringLiteral(".swap"),    QStringLiteral(".scope")};

QString modeText(quint32 mode)
{
    return QStringLiteral("%1").arg(mode, 4, 8, QLatin1Char('0'));
}

QJsonObject entryJson(const FileEntry& e)
{
    QJsonObject o;
    o[QStringLiteral("type")] = fileTypeName(e.type);
    o[QStringLiteral("mode")] = modeText(e.mode);
    o[QStringLiteral("uid")] = qint64(e.uid);
    o[QStringLiteral("gid")] = qint64(e.gid);
    o[QStringLiteral("size")] = e.size;
    o[QStringLiteral("mtime")] = e.mtime;
    if (e.type == FileType::Symlink)
        o[QStringLiteral("target")] = e.linkTarget;
    if (e.type == FileType::Regular && !e.sha256.isEmpty())
        o[QStringLiteral("sha256")] = QString::fromLatin1(e.sha256);
    if (e.unhashed)
        o[QStringLiteral("unhashed")] = true;
    if (e.rdev)
        o[QStringLiteral("rdev")] = qint64(e.rdev);
    return o;
}

/// Whether two regular files differ in content: by hash and size, or by size and mtime when either side was
/// too large to hash (WalkOptions::maxHashBytes).
bool contentDiffers(const FileEntry& a, const FileEntry& b)
{
    if (a.unhashed || b.unhashed)
        return a.size != b.size || a.mtime != b.mtime || a.unhashed != b.unhashed;
    return a.sha256 != b.sha256 || a.size != b.size;
}

QStringList aspectsBetween(const FileEntry& a, const FileEntry& b)
{
    QStringList out;
    if (a.type != b.type) {
        out << QStringLiteral("type");
        return out;
    }
    if (a.type == FileType::Regular && contentDiffers(a, b))
        out << QStringLiteral("content");
    if (a.mode != b.mode)
        out << QStringLiteral("mode");
    if (a.uid != b.uid || a.gid != b.gid)
        out << QStringLiteral("owner");
    if (a.type == FileType::Symlink && a.linkTarget != b.linkTarget)
        out << QStringLiteral("target");
    if (a.rdev != b.rdev)
        out << QStringLiteral("device");
    return out;
}

bool matchesAny(const QString& path, const QStringList& patterns)
{
    const QByteArray p = path.toUtf8();
    for (const QString& pattern : patterns) {
        if (::fnmatch(pattern.toUtf8().constData(), p.constData(), FNM_PATHNAME) == 0)
            return true;
    }
    return false;
}

/// Reads a file of a mounted tree (never following a final symlink); empty when missing or too large.
QByteArray readFile(const TreeSide& side, const QString& path, qint64 cap = 16 * 1024 * 1024)
{
    const FileEntry* e = findEntry(*side.tree, path);
    if (!e || e->type != FileType::Regular || e->size > cap)
        return {};
    if (side.read)
        return side.read(path, cap);
    QFile f(side.root + path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.read(cap);
}

QJsonArray hunksJson(const QList<Hunk>& hunks)
{
    QJsonArray out;
    for (const Hunk& h : hunks) {
        QJsonArray lines;
        for (const DiffLine& l : h.lines) {
            QJsonObject o{{QStringLiteral("kind"), QString(QLatin1Char(l.kind))},
                          {QStringLiteral("old"), l.oldLine},
                          {QStringLiteral("new"), l.newLine},
                          {QStringLiteral("text"), l.text}};
            if (l.noNewline)
                o[QStringLiteral("noNewline")] = true;
            if (!l.spans.isEmpty()) {
                QJsonArray spans;
                for (const Span& s : l.spans)
                    spans.append(QJsonArray{s.start, s.length});
                o[QStringLiteral("spans")] = spans;
            }
            lines.append(o);
        }
        out.append(QJsonObject{{QStringLiteral("oldStart"), h.oldStart},
                               {QStringLiteral("oldCount"), h.oldCount},
                               {QStringLiteral("newStart"), h.newStart},
                               {QStringLiteral("newCount"), h.newCount},
                               {QStringLiteral("lines"), lines}});
    }
    return out;
}

/// Content classification and hunks for one changed path.
void addContent(QJsonObject& change, const FileEntry* a, const FileEntry* b, const TreeSide& before,
                const TreeSide& after, const DiffOptions& options)
{
    const bool fileA = a && a->type == FileType::Regular;
    const bool fileB = b && b->type == FileType::Regular;
    if (!fileA && !fileB) {
        change[QStringLiteral("content")] = QStringLiteral("none");
        return;
    }
    const QString path = (b ? b : a)->path;
    if (fileA && fileB && !contentDiffers(*a, *b)) {
        change[QStringLiteral("content")] = QStringLiteral("none");
        return;
    }
    const bool isKeyFile = path.contains(QLatin1String("/.ssh/id_")) && !path.endsWith(QLatin1String(".pub"));
    if (matchesAny(path, options.sensitive) || isKeyFile) {
        change[QStringLiteral("content")] = QStringLiteral("sensitive");
        return;
    }
    if ((fileA && a->size > options.textSizeCap) || (fileB && b->size > options.textSizeCap)) {
        change[QStringLiteral("content")] = QStringLiteral("too-large");
        return;
    }
    const QByteArray oldText = fileA ? readFile(before, path, options.textSizeCap) : QByteArray();
    const QByteArray newText = fileB ? readFile(after, path, options.textSizeCap) : QByteArray();
    if (isBinary(oldText) || isBinary(newText)) {
        change[QStringLiteral("content")] = QStringLiteral("binary");
        return;
    }
    const std::optional<QList<Hunk>> hunks = diffText(oldText, newText, options.contextLines);
    if (!hunks) {
        // Changed throughout: more than the text diff's work budget (hashes and sizes still show it).
        change[QStringLiteral("content")] = QStringLiteral("too-large");
        return;
    }
    change[QStringLiteral("content")] = QStringLiteral("text");
    change[QStringLiteral("hunks")] = hunksJson(*hunks);
}

// ---- semantic layers -------------------------------------------------------------------------------

/// One package of either manager, as the layer compares them.
struct PackageState {
    QString name;
    QString architecture;
    QString version;
    QString status; ///< empty when installed; else why not (dpkg's config-files, half-installed, ...)
};

/// Installed, removed, upgraded, downgraded or changed state, per "name/arch" key of two package lists.
void appendPackageChanges(QJsonArray& changes, const QString& manager, const QMap<QString, PackageState>& a,
                          const QMap<QString, PackageState>& b,
                          int (*compare)(const QString&, const QString&))
{
    QSet<QString> keys;
    for (auto it = a.cbegin(); it != a.cend(); ++it)
        keys.insert(it.key());
    for (auto it = b.cbegin(); it != b.cend(); ++it)
        keys.insert(it.key());
    QStringList sorted(keys.cbegin(), keys.cend());
    sorted.sort();
    const auto describe = [](const PackageState& p) {
        return p.version +
               (p.status.isEmpty() ? QString() : QStringLiteral(" (") + p.status + QLatin1Char(')'));
    };
    for (const QString& key : sorted) {
        const PackageState pa = a.value(key);
        const PackageState pb = b.value(key);
        const bool wasIn = a.contains(key) && pa.status.isEmpty();
        const bool isIn = b.contains(key) && pb.status.isEmpty();
        QString change;
        if (!wasIn && isIn)
            change = QStringLiteral("installed");
        else if (wasIn && !isIn)
            change = QStringLiteral("removed");
        else if (wasIn && isIn && pa.version != pb.version)
            change = compare(pa.version, pb.version) < 0 ? QStringLiteral("upgraded")
                                                         : QStringLiteral("downgraded");
        else if (!wasIn && !isIn && pa.status != pb.status)
            change = QStringLiteral("state");
        if (change.isEmpty())
            continue;
        const PackageState& any = b.contains(key) ? pb : pa;
        QJsonObject o{{QStringLiteral("manager"), manager},
                      {QStringLiteral("name"), any.name},
                      {QStringLiteral("arch"), any.architecture},
                      {QStringLiteral("change"), change}};
        if (a.contains(key))
            o[QStringLiteral("before")] = describe(pa);
        if (b.contains(key))
            o[QStringLiteral("after")] = describe(pb);
        changes.append(o);
    }
}

/// Far more than any real dpkg status file (a few MiB for thousands of packages): what the guest wrote
/// beyond it is not parsed.
constexpr qint64 kMaxDpkgStatusBytes = 64 * 1024 * 1024;

QMap<QString, PackageState> dpkgPackages(const TreeSide& side, const QString& status)
{
    QMap<QString, PackageState> out;
    const auto parsed = parseDpkgStatus(readFile(side, status, kMaxDpkgStatusBytes));
    for (auto it = parsed.cbegin(); it != parsed.cend(); ++it)
        out.insert(it.key(),
                   {it->name, it->architecture, it->version, it->installed() ? QString() : it->status});
    return out;
}

/// Far more than any real system's `rpm -qa` (about 80 bytes a package).
constexpr qint64 kMaxRpmListBytes = 64 * 1024 * 1024;

/// Where an rpm database can be: the sqlite database (Fedora, RHEL 9) or the Berkeley DB one (older).
const QStringList& rpmDatabaseFiles()
{
    static const QStringList files{
        QStringLiteral("/usr/lib/sysimage/rpm/rpmdb.sqlite"), QStringLiteral("/var/lib/rpm/rpmdb.sqlite"),
        QStringLiteral("/usr/lib/sysimage/rpm/Packages"), QStringLiteral("/var/lib/rpm/Packages")};
    return files;
}

/// The packages in a tree's rpm database: the database files are copied out (through the side's reader, so
/// this works for remote hosts too) and listed by this machine's rpm tool, read-only. An empty map when
/// the tree has no rpm database.
Result<QMap<QString, PackageState>> rpmPackages(const TreeSide& side)
{
    QMap<QString, PackageState> out;
    const FileEntry* db = nullptr;
    for (const QString& file : rpmDatabaseFiles()) {
        const FileEntry* e = findEntry(*side.tree, file);
        if (e && e->type == FileType::Regular) {
            db = e;
            break;
        }
    }
    if (!db)
        return out;
    QTemporaryDir copy;
    if (!copy.isValid())
        return makeError(ErrorCode::Io, QStringLiteral("Cannot make a folder for the rpm database copy"));
    const QString dir = QFileInfo(db->path).path();
    const bool sqlite = db->path.endsWith(QLatin1String(".sqlite"));
    const QStringList names =
        sqlite ? QStringList{QStringLiteral("rpmdb.sqlite"), QStringLiteral("rpmdb.sqlite-wal"),
                             QStringLiteral("rpmdb.sqlite-shm")}
               : QStringList{QStringLiteral("Packages")};
    for (const QString& name : names) {
        if (!findEntry(*side.tree, dir + QLatin1Char('/') + name))
            continue;
        QFile f(copy.filePath(name));
        if (!f.open(QIODevice::WriteOnly) ||
            f.write(readFile(side, dir + QLatin1Char('/') + name, 1LL << 30)) < 0)
            return makeError(ErrorCode::Io, QStringLiteral("Cannot copy the rpm database"), f.errorString());
    }
    ProcessSpec rpm;
    rpm.program = QStringLiteral("rpm");
    rpm.arguments = {QStringLiteral("--dbpath"), copy.path()};
    if (!sqlite)
        rpm.arguments << QStringLiteral("--define") << QStringLiteral("_db_backend bdb_ro");
    rpm.arguments << QStringLiteral("-qa") << QStringLiteral("--qf") << QString::fromLatin1(kRpmQueryFormat);
    rpm.timeoutMs = 120000;
    rpm.maxOutputBytes = kMaxRpmListBytes;
    auto run = runProcess(rpm);
    if (!run)
        return run.error();
    if (!run->succeeded())
        return run->toError(QStringLiteral("Listing the rpm database in %1 with rpm").arg(dir));
    if (run->outTruncated)
        return makeError(
            ErrorCode::InvalidArgument,
            QStringLiteral("The rpm database in %1 lists more than %2 MiB of packages; its package "
                           "changes are not shown")
                .arg(dir)
                .arg(kMaxRpmListBytes / (1024 * 1024)));
    const auto parsed = parseRpmList(run->out);
    for (auto it = parsed.cbegin(); it != parsed.cend(); ++it)
        out.insert(it.key(), {it->name, it->architecture, it->evr, QString()});
    return out;
}

QJsonObject packagesLayer(const TreeSide& before, const TreeSide& after)
{
    QJsonArray managers;
    QJsonArray notes;
    QJsonArray changes;
    const QString status = QStringLiteral("/var/lib/dpkg/status");
    const bool dpkg = findEntry(*before.tree, status) || findEntry(*after.tree, status);
    if (dpkg) {
        managers.append(QStringLiteral("dpkg"));
        const auto oversized = [&](const TreeSide& side) {
            const FileEntry* e = findEntry(*side.tree, status);
            return e && e->size > kMaxDpkgStatusBytes;
        };
        if (oversized(before) || oversized(after))
            notes.append(QStringLiteral("%1 is larger than %2 MiB on one side, far beyond any real system's: "
                                        "dpkg package changes are not shown; the file itself is in the "
                                        "path changes.")
                             .arg(status)
                             .arg(kMaxDpkgStatusBytes / (1024 * 1024)));
        else
            appendPackageChanges(changes, QStringLiteral("dpkg"), dpkgPackages(before, status),
                                 dpkgPackages(after, status), compareDebianVersions);
    }
    bool rpmDb = false;
    for (const QString& file : rpmDatabaseFiles())
        rpmDb = rpmDb || findEntry(*before.tree, file) || findEntry(*after.tree, file);
    if (rpmDb) {
        managers.append(QStringLiteral("rpm"));
        if (QStandardPaths::findExecutable(QStringLiteral("rpm")).isEmpty()) {
            notes.append(QStringLiteral("An rpm database is present but this machine has no rpm tool, so rpm "
                                        "package changes are not shown (apt-get install rpm)."));
        } else {
            auto a = rpmPackages(before);
            auto b = a ? rpmPackages(after) : Result<QMap<QString, PackageState>>(a.error());
            if (a && b)
                appendPackageChanges(changes, QStringLiteral("rpm"), *a, *b, compareRpmVersions);
            else
                notes.append((a ? b.error() : a.error()).toString());
        }
    }
    if (!dpkg && !rpmDb)
        notes.append(QStringLiteral("No package database found (neither dpkg nor rpm)."));
    return {{QStringLiteral("managers"), managers},
            {QStringLiteral("notes"), notes},
            {QStringLiteral("changes"), changes}};
}

struct UnitState {
    QMap<QString, const FileEntry*> files; ///< unit name -> entry (first unit dir wins, /etc first)
    QMap<QString, QString> links;          ///< "dir/target.wants/unit" -> unit name
};

UnitState unitState(const FileTree& tree)
{
    UnitState s;
    for (const QString& dir : kUnitDirs) {
        const QString prefix = dir + QLatin1Char('/');
        auto it = std::lower_bound(tree.begin(), tree.end(), prefix,
                                   [](const FileEntry& e, const QString& k) { return e.path < k; });
        for (; it != tree.end() && it->path.startsWith(prefix); ++it) {
            const QString rel = it->path.mid(prefix.size());
            const QStringList parts = rel.split(QLatin1Char('/'));
            if (parts.size() == 1 && it->type != FileType::Directory) {
                if (std::any_of(kUnitSuffixes.begin(), kUnitSuffixes.end(),
                                [&](const QString& sfx) { return rel.endsWith(sfx); }) &&
                    !s.files.contains(rel))
                    s.files.insert(rel, &*it);
            } else if (parts.size() == 2 && it->type == FileType::Symlink &&
                       (parts[0].endsWith(QLatin1String(".wants")) ||
                        parts[0].endsWith(QLatin1String(".requires")))) {
                s.links.insert(it->path, parts[1]);
            }
        }
    }
    return s;
}

bool isMask(const FileEntry* e)
{
    return e && e->type == FileType::Symlink && e->linkTarget == QLatin1String("/dev/null");
}

QJsonArray unitsLayer(const TreeSide& before, const TreeSide& after)
{
    const UnitState a = unitState(*before.tree);
    const UnitState b = unitState(*after.tree);
    QJsonArray out;
    auto add = [&](const QString& unit, const QString& change, const QString& detail, const QString& path) {
        out.append(QJsonObject{{QStringLiteral("unit"), unit},
                               {QStringLiteral("change"), change},
                               {QStringLiteral("detail"), detail},
                               {QStringLiteral("path"), path}});
    };
    QSet<QString> names;
    for (auto it = a.files.cbegin(); it != a.files.cend(); ++it)
        names.insert(it.key());
    for (auto it = b.files.cbegin(); it != b.files.cend(); ++it)
        names.insert(it.key());
    QStringList sorted(names.cbegin(), names.cend());
    sorted.sort();
    for (const QString& unit : sorted) {
        const FileEntry* ea = a.files.value(unit);
        const FileEntry* eb = b.files.value(unit);
        if (isMask(ea) != isMask(eb)) {
            add(unit, isMask(eb) ? QStringLiteral("masked") : QStringLiteral("unmasked"), QString(),
                (eb ? eb : ea)->path);
            continue;
        }
        if (!ea && eb)
            add(unit, QStringLiteral("added"), QString(), eb->path);
        else if (ea && !eb)
            add(unit, QStringLiteral("removed"), QString(), ea->path);
        else if (ea->path != eb->path || !aspectsBetween(*ea, *eb).isEmpty())
            add(unit, QStringLiteral("modified"), QString(), eb->path);
    }
    for (auto it = b.links.cbegin(); it != b.links.cend(); ++it) {
        if (!a.links.contains(it.key()))
            add(it.value(), QStringLiteral("enabled"),
                QStringLiteral("wanted by %1")
                    .arg(it.key().section(QLatin1Char('/'), -2, -2).section(QLatin1Char('.'), 0, -2)),
                it.key());
    }
    for (auto it = a.links.cbegin(); it != a.links.cend(); ++it) {
        if (!b.links.contains(it.key()))
            add(it.value(), QStringLiteral("disabled"),
                QStringLiteral("no longer wanted by %1")
                    .arg(it.key().section(QLatin1Char('/'), -2, -2).section(QLatin1Char('.'), 0, -2)),
                it.key());
    }
    return out;
}

void accountChanges(QJsonArray& out, const QString& kind, const QMap<QString, QStringList>& a,
                    const QMap<QString, QStringList>& b, const QStringList& fieldNames)
{
    auto fields = [&](const QStringList& f) {
        QJsonObject o;
        for (qsizetype i = 0; i < fieldNames.size() && i < f.size(); ++i) {
            if (!fieldNames[i].isEmpty())
                o[fieldNames[i]] = f[i];
        }
        return o;
    };
    for (auto it = b.cbegin(); it != b.cend(); ++it) {
        if (!a.contains(it.key())) {
            out.append(QJsonObject{{QStringLiteral("kind"), kind},
                                   {QStringLiteral("name"), it.key()},
                                   {QStringLiteral("change"), QStringLiteral("added")},
                                   {QStringLiteral("fields"), fields(it.value())}});
            continue;
        }
        const QJsonObject fa = fields(a.value(it.key()));
        const QJsonObject fb = fields(it.value());
        if (fa == fb)
            continue;
        QJsonObject changed;
        for (auto f = fb.begin(); f != fb.end(); ++f) {
            if (fa.value(f.key()) != f.value())
                changed[f.key()] = QJsonObject{{QStringLiteral("before"), fa.value(f.key())},
                                               {QStringLiteral("after"), f.value()}};
        }
        out.append(QJsonObject{{QStringLiteral("kind"), kind},
                               {QStringLiteral("name"), it.key()},
                               {QStringLiteral("change"), QStringLiteral("changed")},
                               {QStringLiteral("fields"), changed}});
    }
    for (auto it = a.cbegin(); it != a.cend(); ++it) {
        if (!b.contains(it.key()))
            out.append(QJsonObject{{QStringLiteral("kind"), kind},
                                   {QStringLiteral("name"), it.key()},
                                   {QStringLiteral("change"), QStringLiteral("removed")},
                                   {QStringLiteral("fields"), fields(it.value())}});
    }
}

QJsonArray accountsLayer(const TreeSide& before, const TreeSide& after)
{
    QJsonArray out;
    const QString passwd = QStringLiteral("/etc/passwd");
    const QString group = QStringLiteral("/etc/group");
    const QString shadow = QStringLiteral("/etc/shadow");
    accountChanges(out, QStringLiteral("user"), parseColonFile(readFile(before, passwd)),
                   parseColonFile(readFile(after, passwd)),
                   {QString(), QString(), QStringLiteral("uid"), QStringLiteral("gid"),
                    QStringLiteral("gecos"), QStringLiteral("home"), QStringLiteral("shell")});
    accountChanges(out, QStringLiteral("group"), parseColonFile(readFile(before, group)),
                   parseColonFile(readFile(after, group)),
                   {QString(), QString(), QStringLiteral("gid"), QStringLiteral("members")});
    // Only whether the password field changed: the hash itself never leaves the host.
    const auto sa = parseColonFile(readFile(before, shadow));
    const auto sb = parseColonFile(readFile(after, shadow));
    for (auto it = sb.cbegin(); it != sb.cend(); ++it) {
        const QString now = it.value().value(1);
        const bool existed = sa.contains(it.key());
        const QString was = sa.value(it.key()).value(1);
        if ((existed && was != now) || (!existed && !now.isEmpty() && now != QLatin1String("*") &&
                                        now != QLatin1String("!") && now != QLatin1String("!*"))) {
            const bool locked = now.startsWith(QLatin1Char('!')) || now == QLatin1String("*");
            out.append(QJsonObject{
                {QStringLiteral("kind"), QStringLiteral("user")},
                {QStringLiteral("name"), it.key()},
                {QStringLiteral("change"), QStringLiteral("password-changed")},
                {QStringLiteral("fields"),
                 QJsonObject{{QStringLiteral("locked"), locked}, {QStringLiteral("empty"), now.isEmpty()}}}});
        }
    }
    return out;
}

bool isCronPath(const QString& path)
{
    return path == QLatin1String("/etc/crontab") || path.startsWith(QLatin1String("/etc/cron.d/")) ||
           path.startsWith(QLatin1String("/var/spool/cron/crontabs/")) ||
           path.startsWith(QLatin1String("/var/spool/cron/tabs/")) ||
           path.startsWith(QLatin1String("/etc/cron.hourly/")) ||
           path.startsWith(QLatin1String("/etc/cron.daily/")) ||
           path.startsWith(QLatin1String("/etc/cron.weekly/")) ||
           path.startsWith(QLatin1String("/etc/cron.monthly/"));
}

QJsonArray cronLayer(const QJsonArray& paths, const TreeSide& before, const TreeSide& after)
{
    QJsonArray out;
    for (const QJsonValue& v : paths) {
        const QJsonObject c = v.toObject();
        const QString path = c.value(QStringLiteral("path")).toString();
        if (!isCronPath(path))
            continue;
        const FileEntry* ea = findEntry(*before.tree, path);
        const FileEntry* eb = findEntry(*after.tree, path);
        if ((ea && ea->type != FileType::Regular) && (eb && eb->type != FileType::Regular))
            continue;
        const bool scriptDir =
            !path.startsWith(QLatin1String("/etc/cron.d/")) && path.startsWith(QLatin1String("/etc/cron."));
        QStringList added;
        QStringList removed;
        if (!scriptDir) {
            const QStringList a = cronEntries(readFile(before, path));
            const QStringList b = cronEntries(readFile(after, path));
            for (const QString& line : b) {
                if (!a.contains(line))
                    added << line;
            }
            for (const QString& line : a) {
                if (!b.contains(line))
                    removed << line;
            }
        }
        out.append(QJsonObject{
            {QStringLiteral("file"), path},
            {QStringLiteral("change"), c.value(QStringLiteral("change"))},
            {QStringLiteral("kind"), scriptDir ? QStringLiteral("script") : QStringLiteral("crontab")},
            {QStringLiteral("added"), QJsonArray::fromStringList(added)},
            {QStringLiteral("removed"), QJsonArray::fromStringList(removed)}});
    }
    return out;
}

QString gitMode(const QJsonObject& meta)
{
    const QString type = meta.value(QStringLiteral("type")).toString();
    const QString mode = meta.value(QStringLiteral("mode")).toString().right(3);
    if (type == QLatin1String("symlink"))
        return QStringLiteral("120000");
    if (type == QLatin1String("directory"))
        return QStringLiteral("040") + mode;
    if (type == QLatin1String("file"))
        return QStringLiteral("100") + mode;
    return QStringLiteral("0000") + mode.left(2); // other types: git has no mode for them
}

} // namespace

QStringList DiffOptions::defaultSensitive()
{
    return {QStringLiteral("/etc/shadow"),
            QStringLiteral("/etc/shadow-"),
            QStringLiteral("/etc/gshadow"),
            QStringLiteral("/etc/gshadow-"),
            QStringLiteral("/etc/ssh/ssh_host_*_key"),
            QStringLiteral("/etc/ssl/private/*"),
            QStringLiteral("/etc/fluid/*.key"),
            QStringLiteral("/var/lib/sss/secrets/*")};
}

QJsonObject diffTrees(const TreeSide& before, const TreeSide& after, const DiffOptions& options)
{
    const FileTree& a = *before.tree;
    const FileTree& b = *after.tree;
    QJsonArray paths;
    QJsonArray etc;
    size_t i = 0;
    size_t j = 0;
    while (i < a.size() || j < b.size()) {
        const FileEntry* ea = nullptr;
        const FileEntry* eb = nullptr;
        if (j >= b.size() || (i < a.size() && a[i].path < b[j].path))
            ea = &a[i++];
        else if (i >= a.size() || b[j].path < a[i].path)
            eb = &b[j++];
        else {
            ea = &a[i++];
            eb = &b[j++];
        }
        QJsonObject change;
        if (ea && eb) {
            const QStringList aspects = aspectsBetween(*ea, *eb);
            if (aspects.isEmpty())
                continue;
            change[QStringLiteral("change")] = QStringLiteral("modified");
            change[QStringLiteral("aspects")] = QJsonArray::fromStringList(aspects);
        } else {
            change[QStringLiteral("change")] = ea ? QStringLiteral("removed") : QStringLiteral("added");
            change[QStringLiteral("aspects")] = QJsonArray();
        }
        const QString path = (eb ? eb : ea)->path;
        change[QStringLiteral("path")] = path;
        if (ea)
            change[QStringLiteral("before")] = entryJson(*ea);
        if (eb)
            change[QStringLiteral("after")] = entryJson(*eb);
        addContent(change, ea, eb, before, after, options);
        paths.append(change);
        if (path.startsWith(QLatin1String("/etc/")))
            etc.append(QJsonObject{{QStringLiteral("path"), path},
                                   {QStringLiteral("change"), change.value(QStringLiteral("change"))}});
    }
    QJsonObject doc;
    doc[QStringLiteral("format")] = QStringLiteral("fluid.snapshot-diff/1");
    doc[QStringLiteral("from")] = before.describe;
    doc[QStringLiteral("to")] = after.describe;
    doc[QStringLiteral("excludes")] = QJsonArray::fromStringList(options.excludes);
    doc[QStringLiteral("textSizeCap")] = options.textSizeCap;
    doc[QStringLiteral("paths")] = paths;
    doc[QStringLiteral("packages")] = packagesLayer(before, after);
    doc[QStringLiteral("units")] = unitsLayer(before, after);
    doc[QStringLiteral("accounts")] = accountsLayer(before, after);
    doc[QStringLiteral("cron")] = cronLayer(paths, before, after);
    doc[QStringLiteral("etc")] = etc;
    return doc;
}

QJsonObject summarize(const QJsonObject& document)
{
    auto countBy = [](const QJsonArray& items, const QString& key) {
        QJsonObject counts;
        for (const QJsonValue& v : items) {
            const QString k = v.toObject().value(key).toString();
            counts[k] = counts.value(k).toInt() + 1;
        }
        return counts;
    };
    const QJsonArray paths = document.value(QStringLiteral("paths")).toArray();
    QJsonObject pathCounts{
        {QStringLiteral("added"), 0}, {QStringLiteral("removed"), 0}, {QStringLiteral("modified"), 0}};
    const QJsonObject byChange = countBy(paths, QStringLiteral("change"));
    for (auto it = byChange.begin(); it != byChange.end(); ++it)
        pathCounts[it.key()] = it.value();
    pathCounts[QStringLiteral("total")] = paths.size();
    return {
        {QStringLiteral("paths"), pathCounts},
        {QStringLiteral("packages"),
         countBy(
             document.value(QStringLiteral("packages")).toObject().value(QStringLiteral("changes")).toArray(),
             QStringLiteral("change"))},
        {QStringLiteral("units"),
         countBy(document.value(QStringLiteral("units")).toArray(), QStringLiteral("change"))},
        {QStringLiteral("accounts"),
         countBy(document.value(QStringLiteral("accounts")).toArray(), QStringLiteral("change"))},
        {QStringLiteral("cron"), document.value(QStringLiteral("cron")).toArray().size()},
        {QStringLiteral("etc"), document.value(QStringLiteral("etc")).toArray().size()}};
}

QByteArray toUnifiedPatch(const QJsonObject& document)
{
    QByteArray out;
    for (const QJsonValue& v : document.value(QStringLiteral("paths")).toArray()) {
        const QJsonObject c = v.toObject();
        const QByteArray path = c.value(QStringLiteral("path")).toString().toUtf8().mid(1);
        const QString change = c.value(QStringLiteral("change")).toString();
        const QJsonObject before = c.value(QStringLiteral("before")).toObject();
        const QJsonObject after = c.value(QStringLiteral("after")).toObject();
        const QJsonArray aspects = c.value(QStringLiteral("aspects")).toArray();
        if (aspects.contains(QStringLiteral("owner")))
            out += "# owner " + QByteArray::number(before.value(QStringLiteral("uid")).toInteger()) + ':' +
                   QByteArray::number(before.value(QStringLiteral("gid")).toInteger()) + " -> " +
                   QByteArray::number(after.value(QStringLiteral("uid")).toInteger()) + ':' +
                   QByteArray::number(after.value(QStringLiteral("gid")).toInteger()) + " /" + path + '\n';
        out += "diff --git a/" + path + " b/" + path + '\n';
        if (change == QLatin1String("added")) {
            out += "new file mode " + gitMode(after).toLatin1() + '\n';
        } else if (change == QLatin1String("removed")) {
            out += "deleted file mode " + gitMode(before).toLatin1() + '\n';
        } else if (gitMode(before) != gitMode(after)) {
            out +=
                "old mode " + gitMode(before).toLatin1() + "\nnew mode " + gitMode(after).toLatin1() + '\n';
        }
        const QString content = c.value(QStringLiteral("content")).toString();
        const QByteArray from = change == QLatin1String("added") ? QByteArray("/dev/null") : "a/" + path;
        const QByteArray to = change == QLatin1String("removed") ? QByteArray("/dev/null") : "b/" + path;
        if (content == QLatin1String("text")) {
            const QJsonArray hunks = c.value(QStringLiteral("hunks")).toArray();
            if (hunks.isEmpty())
                continue;
            out += "--- " + from + "\n+++ " + to + '\n';
            QList<Hunk> parsed;
            for (const QJsonValue& hv : hunks) {
                const QJsonObject h = hv.toObject();
                Hunk hunk{h.value(QStringLiteral("oldStart")).toInt(),
                          h.value(QStringLiteral("oldCount")).toInt(),
                          h.value(QStringLiteral("newStart")).toInt(),
                          h.value(QStringLiteral("newCount")).toInt(),
                          {}};
                for (const QJsonValue& lv : h.value(QStringLiteral("lines")).toArray()) {
                    const QJsonObject l = lv.toObject();
                    DiffLine line;
                    const QString kind = l.value(QStringLiteral("kind")).toString();
                    line.kind = kind.isEmpty() ? ' ' : kind.at(0).toLatin1();
                    line.text = l.value(QStringLiteral("text")).toString();
                    line.noNewline = l.value(QStringLiteral("noNewline")).toBool();
                    hunk.lines.append(line);
                }
                parsed.append(hunk);
            }
            out += hunksToUnified(parsed);
        } else if (content == QLatin1String("binary")) {
            out += "Binary files " + from + " and " + to + " differ\n";
        } else if (content == QLatin1String("too-large") || content == QLatin1String("sensitive")) {
            out += "# content not shown (" + content.toLatin1() + "): sha256 " +
                   before.value(QStringLiteral("sha256")).toString().toLatin1() + " -> " +
                   after.value(QStringLiteral("sha256")).toString().toLatin1() + '\n';
        } else if (aspects.contains(QStringLiteral("target")) ||
                   (after.value(QStringLiteral("type")) == QLatin1String("symlink") &&
                    change == QLatin1String("added")) ||
                   (before.value(QStringLiteral("type")) == QLatin1String("symlink") &&
                    change == QLatin1String("removed"))) {
            out += "--- " + from + "\n+++ " + to + '\n';
            const QByteArray ta = before.value(QStringLiteral("target")).toString().toUtf8();
            const QByteArray tb = after.value(QStringLiteral("target")).toString().toUtf8();
            out += "@@ -" + QByteArray(ta.isEmpty() ? "0,0" : "1") + " +" +
                   QByteArray(tb.isEmpty() ? "0,0" : "1") + " @@\n";
            if (!ta.isEmpty())
                out += '-' + ta + "\n\\ No newline at end of file\n";
            if (!tb.isEmpty())
                out += '+' + tb + "\n\\ No newline at end of file\n";
        }
    }
    return out;
}

} // namespace fluid::inspect

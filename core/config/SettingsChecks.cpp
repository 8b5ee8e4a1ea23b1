// SPDX-License-Identifier: Apache-2.0
#include "config/SettingsChecks.h"

#include "base/Redact.h"

#include <QDir>
#include <QRegularExpression>
#include <QSet>
#include <QUrl>

#include <algorithm>
#include <utility>
#include <vector>

namespace fluid::config::detail {
namespace {

constexpr qsizetype kMaxShownValue = 80;
constexpr qsizetype kMaxFreeText = 200;
constexpr qsizetype kMaxServerName = 63;

bool breaksLine(QChar c)
{
    const auto category = c.category();
    return category == QChar::Other_Control || category == QChar::Separator_Line ||
           category == QChar::Separator_Paragraph;
}

bool hasLineBreakingChar(const QString& value)
{
    return std::any_of(value.begin(), value.end(), breaksLine);
}

QString describeChar(QChar c)
{
    switch (c.unicode()) {
    case ' ':
        return QStringLiteral("a space");
    case '\n':
        return QStringLiteral("a line break");
    case '\r':
        return QStringLiteral("a carriage return");
    case '\t':
        return QStringLiteral("a tab");
    case 0:
        return QStringLiteral("a NUL character");
    default:
        break;
    }
    if (breaksLine(c) || c.isSpace())
        return QStringLiteral("a control or space character");
    return QStringLiteral("'%1'").arg(c);
}

bool isAbsolutePathWithoutDotDot(const QString& path)
{
    return QDir::isAbsolutePath(path) && !hasLineBreakingChar(path) &&
           !path.split(QLatin1Char('/')).contains(QStringLiteral(".."));
}

QString checkAbsolutePathOrEmpty(const QString& path)
{
    if (path.isEmpty() || isAbsolutePathWithoutDotDot(path))
        return {};
    QString text = QStringLiteral("must be empty (the default) or an absolute path (starting with /) without "
                                  "\"..\" or control characters");
    if (path.startsWith(QLatin1Char('~')))
        text += QStringLiteral("; write the full path, ~ is not expanded");
    return text;
}

bool isHostName(const QString& host)
{
    static const QRegularExpression name(QStringLiteral("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-"
                                                        "Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?$"));
    static const QRegularExpression ipv6(QStringLiteral("^\\[[0-9A-Fa-f:.]+\\]$"));
    return host.size() <= 253 && (name.match(host).hasMatch() || ipv6.match(host).hasMatch());
}

// Characters a libvirt URI may hold. Everything else (spaces, quotes, ;|$`\ <>(){}*!, '%'-escapes,
// line breaks) is refused: the URI reaches ssh command lines and remote shells inside libvirt.
bool isUriChar(QChar c)
{
    if (c.unicode() >= 128)
        return false;
    const char a = static_cast<char>(c.unicode());
    return (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9') ||
           QByteArrayView("._~-:/?=&@+[]").contains(a);
}

QString checkLibvirtUri(const QString& uri)
{
    const QString example = QStringLiteral("such as qemu:///system or qemu+ssh://user@host/system");
    if (uri.isEmpty())
        return QStringLiteral("must be a libvirt URI ") + example;
    for (QChar c : uri) {
        if (!isUriChar(c)) {
            return QStringLiteral("must be a libvirt URI without spaces, quotes or shell characters "
                                  "(it contains %1)")
                .arg(describeChar(c));
        }
    }
    const qsizetype schemeEnd = uri.indexOf(QStringLiteral("://"));
    if (schemeEnd < 0) {
        return QStringLiteral("must be a libvirt URI of the form scheme://[user@]host[:port]/path, ") +
               example;
    }
    const QString scheme = uri.left(schemeEnd);
    const QStringList schemes{QStringLiteral("qemu"), QStringLiteral("qemu+ssh"), QStringLiteral("qemu+tcp"),
                              QStringLiteral("qemu+tls"), QStringLiteral("test")};
    if (!schemes.contains(scheme))
        return QStringLiteral("must be a libvirt URI whose scheme is one of ") +
               schemes.join(QStringLiteral(", "));

    QString rest = uri.mid(schemeEnd + 3);
    QString query;
    if (const qsizetype q = rest.indexOf(QLatin1Char('?')); q >= 0) {
        query = rest.mid(q + 1);
        rest.truncate(q);
    }
    const qsizetype slash = rest.indexOf(QLatin1Char('/'));
    const QString authority = slash < 0 ? rest : rest.left(slash);
    const QString path = slash < 0 ? QString() : rest.mid(slash);

    QString user;
    QString hostPort = authority;
    if (authority.count(QLatin1Char('@')) > 1)
        return QStringLiteral("must be a libvirt URI with at most one '@'");
    if (const qsizetype at = authority.indexOf(QLatin1Char('@')); at >= 0) {
        user = authority.left(at);
        hostPort = authority.mid(at + 1);
    }
    QString host = hostPort;
    QString port;
    const qsizetype bracket = hostPort.lastIndexOf(QLatin1Char(']'));
    if (const qsizetype colon = hostPort.lastIndexOf(QLatin1Char(':')); colon > bracket) {
        host = hostPort.left(colon);
        port = hostPort.mid(colon + 1);
    }

    static const QRegularExpression userPattern(QStringLiteral("^[A-Za-z0-9_][A-Za-z0-9._-]{0,31}$"));
    if (authority.contains(QLatin1Char('@')) && !userPattern.match(user).hasMatch()) {
        return QStringLiteral(
            "must be a libvirt URI whose user name has 1 to 32 letters, digits, '.', '_' or "
            "'-' and does not start with '-'");
    }
    if (!user.isEmpty() && host.isEmpty())
        return QStringLiteral("must be a libvirt URI that names a host after the user, as in user@host");
    if (!host.isEmpty() && !isHostName(host)) {
        return QStringLiteral(
            "must be a libvirt URI whose host is a host name (letters, digits, '.' and '-', "
            "not starting with '-') or an [IPv6] address");
    }
    if (!port.isEmpty() || hostPort.endsWith(QLatin1Char(':'))) {
        bool ok = false;
        const int number = port.toInt(&ok);
        if (!ok || number < 1 || number > 65535)
            return QStringLiteral("must be a libvirt URI whose port is from 1 to 65535");
    }

    if (scheme == QLatin1String("test")) {
        if (!authority.isEmpty())
            return QStringLiteral("must not name a user or host for the test driver, as in test:///default");
        if (path != QLatin1String("/default") && !isAbsolutePathWithoutDotDot(path)) {
            return QStringLiteral("must be test:///default or test:// followed by the absolute path of a "
                                  "driver XML file");
        }
    } else {
        if (scheme == QLatin1String("qemu+ssh") && (user.isEmpty() || host.isEmpty()))
            return QStringLiteral("must name the SSH user and host, as in qemu+ssh://user@host/system");
        if ((scheme == QLatin1String("qemu+tcp") || scheme == QLatin1String("qemu+tls")) && host.isEmpty())
            return QStringLiteral("must name the host, as in %1://host/system").arg(scheme);
        if (path != QLatin1String("/system") && path != QLatin1String("/session"))
            return QStringLiteral("must end in /system or /session, as in %1").arg(example);
    }

    // command=, netcat=, proxy= and name= make libvirt run or reach something else: not configurable here.
    const QStringList parameters{
        QStringLiteral("keyfile"),   QStringLiteral("known_hosts"), QStringLiteral("known_hosts_verify"),
        QStringLiteral("no_verify"), QStringLiteral("no_tty"),      QStringLiteral("pkipath"),
        QStringLiteral("sshauth"),   QStringLiteral("mode"),        QStringLiteral("socket")};
    if (!query.isEmpty()) {
        for (const QString& pair : query.split(QLatin1Char('&'))) {
            const QString name = pair.section(QLatin1Char('='), 0, 0);
            if (!parameters.contains(name)) {
                return QStringLiteral("must not use the URI parameter \"%1\"; allowed parameters are %2")
                    .arg(name, parameters.join(QStringLiteral(", ")));
            }
        }
    }
    return {};
}

QString checkServerHost(const QString& host)
{
    if (isHostName(host) || (host.startsWith(QLatin1Char('/')) && isAbsolutePathWithoutDotDot(host)))
        return {};
    return QStringLiteral("must be a host name, an IP address or the absolute path of a socket folder");
}

QString checkHttpUrl(const QString& value)
{
    if (value.isEmpty())
        return {};
    const QString rule =
        QStringLiteral("must be empty (the provider's default) or an http:// or https:// URL");
    if (std::any_of(value.begin(), value.end(), [](QChar c) { return c.isSpace() || breaksLine(c); }))
        return rule + QStringLiteral(" without spaces");
    const QUrl url(value, QUrl::StrictMode);
    if (!url.isValid() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")) ||
        url.host().isEmpty()) {
        return rule;
    }
    if (!url.userInfo().isEmpty()) {
        return QStringLiteral("must not hold a user name or password; store the API key in the keychain "
                              "(Settings, or the onboarding wizard) instead");
    }
    return {};
}

// What a message may show of a value: URLs lose their user info, which might be a key.
QString shownValue(TextRule rule, const QString& value)
{
    if (rule != TextRule::HttpUrlOrEmpty)
        return value;
    static const QRegularExpression userInfo(QStringLiteral("^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@"));
    QString shown = value;
    return shown.replace(userInfo, QStringLiteral("\\1") + QLatin1String(kRedacted) + QLatin1Char('@'));
}

/// Walks a Settings through visitFields() and records every value that breaks its rule. One per
/// checkSettings() call, on the calling thread.
class Checker {
public:
    Checker(QList<Problem>& problems, QString prefix)
        : m_problems(problems)
        , m_prefix(std::move(prefix))
    {
    }

    template <typename S>
    void section(const char* key, S& value)
    {
        Checker child(m_problems, m_prefix + QLatin1String(key) + QLatin1Char('.'));
        visitFields(child, value);
    }

    template <typename S>
    void list(const char* key, QList<S>& items)
    {
        for (qsizetype i = 0; i < items.size(); ++i) {
            Checker child(m_problems, itemKey(key, i) + QLatin1Char('.'));
            visitFields(child, items[i]);
        }
    }

    void integer(const char* key, int& value, IntRange range)
    {
        if (!range.contains(value))
            add(m_prefix + QLatin1String(key), intRule(range) + found(QString::number(value)));
    }

    void text(const char* key, QString& value, TextRule rule)
    {
        checkOne(m_prefix + QLatin1String(key), value, rule);
    }

    template <typename E>
    void choice(const char* key, E& value)
    {
        if (!allValues<E>().contains(value))
            add(m_prefix + QLatin1String(key),
                choiceRule<E>() + found(QString::number(static_cast<int>(value))));
    }

    template <typename E>
    void optionalChoice(const char* key, std::optional<E>& value)
    {
        if (value)
            choice(key, *value);
    }

private:
    QString itemKey(const char* key, qsizetype index) const
    {
        return m_prefix + QLatin1String(key) + QStringLiteral("[%1]").arg(index);
    }

    void checkOne(const QString& key, const QString& value, TextRule rule)
    {
        const QString problem = checkText(rule, value);
        if (!problem.isEmpty())
            add(key, problem + found(shownValue(rule, value)));
    }

    void add(const QString& key, const QString& text) { m_problems.append(Problem{key, text}); }

    QList<Problem>& m_problems;
    QString m_prefix;
};

/// True when two libvirt URIs reach the same libvirt: equal but for the query (keyfile, no_tty, ...) and the
/// host name's case. Never for the test driver.
bool sameLibvirt(const QString& a, const QString& b)
{
    // libvirt's test driver (test:///default) is for tests, which give several hosts the same one.
    if (a.isEmpty() || a.startsWith(QLatin1String("test:")))
        return false;
    const auto key = [](const QString& uri) {
        QUrl url(uri);
        url.setHost(url.host().toLower());
        return url.adjusted(QUrl::RemoveQuery | QUrl::RemoveFragment | QUrl::StripTrailingSlash).toString();
    };
    return key(a) == key(b);
}

void checkHosts(const QList<HostSettings>& hosts, QList<Problem>& problems)
{
    if (hosts.isEmpty()) {
        problems.append(
            Problem{QStringLiteral("hosts"), QStringLiteral("must list at least one libvirt host, such as "
                                                            "{name: local, uri: \"qemu:///system\"}")});
    }
    for (qsizetype i = 0; i < hosts.size(); ++i) {
        if (hosts[i].login == HostLogin::Keychain && !isOverSsh(hosts[i].uri))
            problems.append(Problem{QStringLiteral("hosts[%1].login_key").arg(i),
                                    QStringLiteral("can be keychain only for a host reached over SSH "
                                                   "(qemu+ssh://user@host/system)") +
                                        found(hosts[i].uri)});
        for (qsizetype j = 0; j < i; ++j) {
            // Each host's session reconciles the sandboxes it finds there: two names for one libvirt would
            // destroy each other's.
            if (sameLibvirt(hosts[i].uri, hosts[j].uri)) {
                problems.append(Problem{QStringLiteral("hosts[%1].uri").arg(i),
                                        QStringLiteral("must name another libvirt than hosts[%1] (%2) does: "
                                                       "two host entries for one libvirt would remove each "
                                                       "other's sandboxes")
                                                .arg(j)
                                                .arg(hosts[j].name) +
                                            found(hosts[i].uri)});
                break;
            }
        }
        for (qsizetype j = 0; j < i; ++j) {
            if (!hosts[i].name.isEmpty() && hosts[i].name == hosts[j].name) {
                problems.append(
                    Problem{QStringLiteral("hosts[%1].name").arg(i),
                            QStringLiteral("must be unique, but hosts[%1] has the same name").arg(j) +
                                found(hosts[i].name)});
                break;
            }
        }
    }
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("defualt" is one edit).
int editDistance(const QString& a, const QString& b)
{
    const qsizetype n = a.size();
    const qsizetype m = b.size();
    std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
    for (qsizetype i = 0; i <= n; ++i)
        d[i][0] = int(i);
    for (qsizetype j = 0; j <= m; ++j)
        d[0][j] = int(j);
    for (qsizetype i = 1; i <= n; ++i) {
        for (qsizetype j = 1; j <= m; ++j) {
            const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[n][m];
}

QStringList splitWords(const QString& key)
{
    QStringList words;
    QString current;
    for (qsizetype i = 0; i < key.size(); ++i) {
        const QChar c = key[i];
        if (!c.isLetterOrNumber()) {
            if (!current.isEmpty())
                words.append(std::exchange(current, QString()));
            continue;
        }
        // camelCase and acronyms: "apiKey" -> api key, "APIKey" -> api key.
        if (c.isUpper() && !current.isEmpty()) {
            const QChar previous = key[i - 1];
            const bool nextIsLower = i + 1 < key.size() && key[i + 1].isLower();
            if (previous.isLower() || previous.isDigit() || (previous.isUpper() && nextIsLower))
                words.append(std::exchange(current, QString()));
        }
        current.append(c.toLower());
    }
    if (!current.isEmpty())
        words.append(current);
    return words;
}

} // namespace

QList<Problem> checkSettings(const Settings& settings)
{
    QList<Problem> problems;
    Settings copy = settings;
    Checker checker(problems, QString());
    visitFields(checker, copy);
    checkHosts(settings.hosts, problems);
    return problems;
}

QString checkText(TextRule rule, const QString& value)
{
    switch (rule) {
    case TextRule::HostName: {
        static const QRegularExpression pattern(QStringLiteral("^[a-z0-9][a-z0-9-]{0,39}$"));
        if (pattern.match(value).hasMatch())
            return {};
        return QStringLiteral(
            "must be 1 to 40 characters of a-z, 0-9 and '-', starting with a letter or digit");
    }
    case TextRule::LibvirtUri:
        return checkLibvirtUri(value);
    case TextRule::ServerHost:
        return checkServerHost(value);
    case TextRule::ServerName:
        if (!value.isEmpty() && value.size() <= kMaxServerName && !hasLineBreakingChar(value))
            return {};
        return QStringLiteral("must be 1 to %1 characters on one line").arg(kMaxServerName);
    case TextRule::FreeText:
        if (value.size() <= kMaxFreeText && !hasLineBreakingChar(value))
            return {};
        return QStringLiteral("must be at most %1 characters on one line").arg(kMaxFreeText);
    case TextRule::HttpUrlOrEmpty:
        return checkHttpUrl(value);
    case TextRule::AbsolutePathOrEmpty:
        return checkAbsolutePathOrEmpty(value);
    case TextRule::DomainNameOrEmpty: {
        static const QRegularExpression pattern(QStringLiteral("^([A-Za-z0-9][A-Za-z0-9._+:-]{0,199})?$"));
        if (pattern.match(value).hasMatch())
            return {};
        return QStringLiteral("must be empty or a domain name: letters, digits and . _ + : -, up to 200 "
                              "characters, starting with a letter or digit");
    }
    case TextRule::DestinationPatterns: {
        static const QRegularExpression pattern(
            QStringLiteral("^(\\*|(\\*\\.)?[a-z0-9]([a-z0-9-]{0,62})(\\.[a-z0-9]([a-z0-9-]{0,62}))*):(?<port>"
                           "[0-9]{1,5}|\\*)$"));
        for (const QString& item : value.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            const QString p = item.trimmed().toLower();
            const QRegularExpressionMatch m = pattern.match(p);
            const QString port = m.captured(QStringLiteral("port"));
            if (!m.hasMatch() || (port != QLatin1String("*") && (port.toInt() < 1 || port.toInt() > 65535)))
                return QStringLiteral("must be comma-separated host:port patterns such as deb.debian.org:80, "
                                      "*.example.org:443 or 192.0.2.1:*; '%1' is not one")
                    .arg(item.trimmed());
        }
        return {};
    }
    }
    return {};
}

QString intRule(IntRange range)
{
    return QStringLiteral("must be an integer from %1 to %2").arg(range.min).arg(range.max);
}

QString found(const QString& value)
{
    const QString redacted = redact(value);
    QString shown;
    for (QChar c : redacted) {
        if (c == QLatin1Char('\n'))
            shown += QStringLiteral("\\n");
        else if (c == QLatin1Char('\r'))
            shown += QStringLiteral("\\r");
        else if (c == QLatin1Char('\t'))
            shown += QStringLiteral("\\t");
        else if (breaksLine(c))
            shown += QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QLatin1Char('0'));
        else
            shown += c;
    }
    if (shown.size() > kMaxShownValue)
        shown = shown.left(kMaxShownValue) + QStringLiteral("...");
    return QStringLiteral(" (found \"%1\")").arg(shown);
}

QString closestMatch(const QString& word, const QStringList& candidates)
{
    const QString lower = word.toLower();
    const int allowed = lower.size() <= 3 ? 1 : 2;
    QString best;
    int bestDistance = allowed + 1;
    for (const QString& candidate : candidates) {
        const int distance = editDistance(lower, candidate.toLower());
        if (distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    return best;
}

bool isSecretKeyName(const QString& key)
{
    static const QSet<QString> anywhere{
        QStringLiteral("password"),  QStringLiteral("passwd"),      QStringLiteral("passphrase"),
        QStringLiteral("apikey"),    QStringLiteral("privatekey"),  QStringLiteral("secretkey"),
        QStringLiteral("accesskey"), QStringLiteral("accesstoken"), QStringLiteral("authtoken")};
    static const QSet<QString> last{QStringLiteral("token"), QStringLiteral("secret")};
    const QStringList words = splitWords(key);
    for (qsizetype i = 0; i < words.size(); ++i) {
        if (anywhere.contains(words[i]))
            return true;
        if (i > 0 && anywhere.contains(words[i - 1] + words[i]))
            return true;
    }
    return !words.isEmpty() && last.contains(words.last());
}

} // namespace fluid::config::detail

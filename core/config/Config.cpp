// SPDX-License-Identifier: Apache-2.0
#include "config/Config.h"

#include "base/Logging.h"
#include "base/Redact.h"
#include "config/SettingsChecks.h"
#include "config/SettingsSchema.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QRegularExpression>
#include <QSaveFile>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace fluid::config {
namespace detail {
namespace {

// Aliases can make a small file expand into a huge tree; settings never need more than a few hundred.
constexpr int kMaxNodes = 100000;

/// A message tied to a 1-based line of the file (0 when no line is known). Plain data; thread: any.
struct Located {
    int line = 0;
    QString text;
};

/// What one parseConfig() call collects while it walks the YAML tree; lives on the calling thread.
struct ParseState {
    QList<Located> errors;
    QList<Located> warnings;
    /// Dotted key -> the line it is on, so checkSettings() problems can be located.
    QHash<QString, int> lines;
    /// Keys whose value could not be read: checks at or below them would only repeat the same problem.
    QStringList failedKeys;
    /// The document, to locate empty values.
    const std::string* text = nullptr;
};

QString fromStd(const std::string& text)
{
    return QString::fromStdString(text);
}

int lineOf(const YAML::Node& node)
{
    const YAML::Mark mark = node.Mark();
    return mark.is_null() ? 0 : mark.line + 1;
}

// yaml-cpp marks an empty value ("-" alone on a line) where the next token starts, often a later line;
// the value really sits on the nearest line before that which holds more than blanks and comments.
int lineOfItem(const YAML::Node& node, const std::string& text)
{
    const YAML::Mark mark = node.Mark();
    if (!node.IsNull() || mark.is_null() || mark.pos < 0 || static_cast<size_t>(mark.pos) > text.size())
        return lineOf(node);
    const std::string_view rest = std::string_view(text).substr(static_cast<size_t>(mark.pos));
    for (const std::string_view word : {"~", "null", "Null", "NULL"}) {
        if (rest.starts_with(word))
            return lineOf(node); // an explicit null sits at its mark
    }
    int line = mark.line;
    size_t end = static_cast<size_t>(mark.pos);
    while (true) {
        const size_t newline = end == 0 ? std::string::npos : text.rfind('\n', end - 1);
        const size_t begin = newline == std::string::npos ? 0 : newline + 1;
        const std::string_view segment = std::string_view(text).substr(begin, end - begin);
        const size_t first = segment.find_first_not_of(" \t\r");
        if (first != std::string_view::npos && segment[first] != '#')
            return line + 1;
        if (newline == std::string::npos)
            return lineOf(node);
        end = newline;
        --line;
    }
}

QString location(const QString& file, int line)
{
    return line > 0 ? QStringLiteral("%1:%2: ").arg(file).arg(line) : file + QStringLiteral(": ");
}

QString describeNode(const YAML::Node& node)
{
    switch (node.Type()) {
    case YAML::NodeType::Map:
        return QStringLiteral(" (found a mapping)");
    case YAML::NodeType::Sequence:
        return QStringLiteral(" (found a list)");
    case YAML::NodeType::Scalar:
        return found(fromStd(node.Scalar()));
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        break;
    }
    return QStringLiteral(" (found nothing)");
}

QString secretKeyMessage()
{
    return QStringLiteral("secrets do not belong in the config file; remove this line and store the secret "
                          "in the keychain instead (Settings, or the onboarding wizard)");
}

void addError(ParseState& state, int line, const QString& key, const QString& text)
{
    state.errors.append(Located{line, key.isEmpty() ? text : key + QStringLiteral(": ") + text});
    if (!key.isEmpty())
        state.failedKeys.append(key);
}

// Finds every key that names a secret, at any depth (inside unknown sections and list items too), before
// anything else reads the tree: such a key is refused wherever it is, and its value is never shown.
void scanForSecrets(const YAML::Node& node, const QString& prefix, ParseState& state, int& budget)
{
    if (--budget < 0)
        return;
    if (node.IsMap()) {
        for (auto it = node.begin(); it != node.end(); ++it) {
            if (!it->first.IsScalar())
                continue; // the Reader refuses keys that are not plain names
            const QString name = fromStd(it->first.Scalar());
            const QString key = prefix.isEmpty() ? name : prefix + QLatin1Char('.') + name;
            if (isSecretKeyName(name))
                addError(state, lineOf(it->first), key, secretKeyMessage());
            else
                scanForSecrets(it->second, key, state, budget);
        }
    } else if (node.IsSequence()) {
        qsizetype index = 0;
        for (auto it = node.begin(); it != node.end(); ++it)
            scanForSecrets(*it, prefix + QStringLiteral("[%1]").arg(index++), state, budget);
    }
}

bool isRetired(const QString& key)
{
    return std::any_of(std::begin(kRetiredKeys), std::end(kRetiredKeys),
                       [&](const char* retired) { return key == QLatin1String(retired); });
}

/// Reads one YAML mapping into a settings struct through visitFields(): every key the schema asks for is
/// taken, converted and located; keys nobody asked for become "unknown key" warnings in finish(). One per
/// mapping, for the length of one parse, on the calling thread.
class Reader {
public:
    Reader(ParseState& state, const YAML::Node& map, QString prefix)
        : m_state(state)
        , m_prefix(std::move(prefix))
    {
        for (auto it = map.begin(); it != map.end(); ++it) {
            if (!it->first.IsScalar()) {
                addError(m_state, lineOf(it->first), parentKey(),
                         QStringLiteral("keys must be plain names, not lists or mappings"));
                continue;
            }
            Entry entry{fromStd(it->first.Scalar()), it->first, it->second};
            const auto same = std::find_if(m_entries.begin(), m_entries.end(),
                                           [&](const Entry& e) { return e.name == entry.name; });
            if (same != m_entries.end()) {
                addError(
                    m_state, lineOf(entry.key), m_prefix + entry.name,
                    QStringLiteral("appears twice (also on line %1); keep only one").arg(lineOf(same->key)));
                continue;
            }
            m_entries.push_back(std::move(entry));
        }
    }

    void finish()
    {
        for (const Entry& entry : m_entries) {
            if (entry.used || isSecretKeyName(entry.name))
                continue; // secret keys were refused by scanForSecrets()
            const QString key = dotted(entry);
            if (isRetired(key)) {
                // Not "did you mean": the nearest current key ("paths" -> "hosts") would mislead.
                m_state.warnings.append(Located{
                    lineOf(entry.key), key + QStringLiteral(": no longer a setting (nothing read it), "
                                                            "ignored; delete it from this file")});
                continue;
            }
            QString text = key + QStringLiteral(": unknown key, ignored");
            const QString match = closestMatch(entry.name, m_known);
            if (!match.isEmpty())
                text += QStringLiteral("; did you mean \"%1\"?").arg(match);
            m_state.warnings.append(Located{lineOf(entry.key), text});
        }
    }

    template <typename S>
    void section(const char* key, S& value)
    {
        const Entry* entry = take(key);
        if (!entry || entry->value.IsNull())
            return;
        if (!entry->value.IsMap()) {
            fail(*entry, QStringLiteral("must be a mapping of settings") + describeNode(entry->value));
            return;
        }
        Reader child(m_state, entry->value, dotted(*entry) + QLatin1Char('.'));
        visitFields(child, value);
        child.finish();
    }

    template <typename S>
    void list(const char* key, QList<S>& items)
    {
        const Entry* entry = take(key);
        if (!entry)
            return;
        if (!entry->value.IsNull() && !entry->value.IsSequence()) {
            fail(*entry, QStringLiteral("must be a list") + describeNode(entry->value));
            return;
        }
        items.clear();
        forEachItem(*entry, [&](const YAML::Node& item, const QString& itemKey) {
            S parsed{};
            if (item.IsMap()) {
                Reader child(m_state, item, itemKey + QLatin1Char('.'));
                visitFields(child, parsed);
                child.finish();
            } else {
                addError(m_state, m_state.lines.value(itemKey), itemKey,
                         QStringLiteral("must be a mapping of settings") + describeNode(item));
            }
            items.append(parsed);
        });
    }

    void integer(const char* key, int& value, IntRange range)
    {
        const Entry* entry = take(key);
        if (!entry)
            return;
        static const QRegularExpression digits(QStringLiteral("^[+-]?[0-9]{1,18}$"));
        if (entry->value.IsScalar()) {
            const QString text = fromStd(entry->value.Scalar());
            if (digits.match(text).hasMatch()) {
                const qint64 number = text.toLongLong();
                if (number >= std::numeric_limits<int>::min() && number <= std::numeric_limits<int>::max()) {
                    value = static_cast<int>(number); // checkSettings() checks the range
                    return;
                }
            }
        }
        fail(*entry, intRule(range) + describeNode(entry->value));
    }

    void text(const char* key, QString& value, TextRule)
    {
        const Entry* entry = take(key);
        if (!entry)
            return;
        if (entry->value.IsNull())
            value.clear();
        else if (entry->value.IsScalar())
            value = fromStd(entry->value.Scalar());
        else
            fail(*entry, QStringLiteral("must be text") + describeNode(entry->value));
    }

    template <typename E>
    void choice(const char* key, E& value)
    {
        if (const Entry* entry = take(key))
            readChoice(*entry, value);
    }

    template <typename E>
    void optionalChoice(const char* key, std::optional<E>& value)
    {
        const Entry* entry = take(key);
        if (!entry)
            return;
        E parsed{};
        if (entry->value.IsNull())
            value.reset();
        else if (readChoice(*entry, parsed))
            value = parsed;
    }

private:
    struct Entry {
        QString name;
        YAML::Node key;
        YAML::Node value;
        bool used = false;
    };

    const Entry* take(const char* key)
    {
        const QString name = QLatin1String(key);
        m_known.append(name);
        for (Entry& entry : m_entries) {
            if (entry.name == name) {
                entry.used = true;
                m_state.lines.insert(dotted(entry), lineOf(entry.key));
                return &entry;
            }
        }
        return nullptr;
    }

    template <typename E>
    bool readChoice(const Entry& entry, E& value)
    {
        QString message = choiceRule<E>() + describeNode(entry.value);
        if (entry.value.IsScalar()) {
            const QString text = fromStd(entry.value.Scalar());
            if (const std::optional<E> parsed = fromName<E>(text)) {
                value = *parsed;
                return true;
            }
            const QString match = closestMatch(text, allNames<E>());
            if (!match.isEmpty())
                message += QStringLiteral("; did you mean \"%1\"?").arg(match);
        }
        fail(entry, message);
        return false;
    }

    template <typename F>
    void forEachItem(const Entry& entry, F&& visit)
    {
        qsizetype index = 0;
        for (auto it = entry.value.begin(); it != entry.value.end(); ++it) {
            const QString itemKey = dotted(entry) + QStringLiteral("[%1]").arg(index++);
            const int line = lineOfItem(*it, *m_state.text);
            m_state.lines.insert(itemKey, line > 0 ? line : lineOf(entry.key));
            visit(*it, itemKey);
        }
    }

    QString dotted(const Entry& entry) const { return m_prefix + entry.name; }
    QString parentKey() const { return m_prefix.chopped(m_prefix.isEmpty() ? 0 : 1); }
    void fail(const Entry& entry, const QString& text)
    {
        addError(m_state, lineOf(entry.key), dotted(entry), text);
    }

    ParseState& m_state;
    QString m_prefix;
    std::vector<Entry> m_entries;
    QStringList m_known;
};

/// Writes a settings struct through visitFields(), every key in schema order. One per toYaml() call, on the
/// calling thread.
class Writer {
public:
    explicit Writer(YAML::Emitter& out)
        : m_out(out)
    {
    }

    template <typename S>
    void section(const char* key, S& value)
    {
        m_out << YAML::Key << key << YAML::Value << YAML::BeginMap;
        visitFields(*this, value);
        m_out << YAML::EndMap;
    }

    template <typename S>
    void list(const char* key, QList<S>& items)
    {
        m_out << YAML::Key << key << YAML::Value;
        if (items.isEmpty()) {
            m_out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
            return;
        }
        m_out << YAML::BeginSeq;
        for (S& item : items) {
            m_out << YAML::BeginMap;
            visitFields(*this, item);
            m_out << YAML::EndMap;
        }
        m_out << YAML::EndSeq;
    }

    void integer(const char* key, int& value, IntRange) { m_out << YAML::Key << key << YAML::Value << value; }

    void text(const char* key, QString& value, TextRule)
    {
        m_out << YAML::Key << key << YAML::Value << value.toStdString();
    }

    template <typename E>
    void choice(const char* key, E& value)
    {
        m_out << YAML::Key << key << YAML::Value << toName(value).toStdString();
    }

    template <typename E>
    void optionalChoice(const char* key, std::optional<E>& value)
    {
        if (value)
            choice(key, *value);
    }

private:
    YAML::Emitter& m_out;
};

int lineFor(QString key, const QHash<QString, int>& lines)
{
    while (!key.isEmpty()) {
        if (const auto it = lines.constFind(key); it != lines.constEnd())
            return *it;
        const qsizetype cut = key.endsWith(QLatin1Char(']')) ? key.lastIndexOf(QLatin1Char('['))
                                                             : key.lastIndexOf(QLatin1Char('.'));
        key.truncate(std::max<qsizetype>(cut, 0));
    }
    return 0;
}

bool isAtOrBelow(const QString& key, const QStringList& parents)
{
    return std::any_of(parents.begin(), parents.end(), [&](const QString& parent) {
        return key == parent || key.startsWith(parent + QLatin1Char('.')) ||
               key.startsWith(parent + QLatin1Char('['));
    });
}

QStringList locatedLines(QList<Located> items, const QString& file)
{
    std::stable_sort(items.begin(), items.end(),
                     [](const Located& a, const Located& b) { return a.line < b.line; });
    QStringList lines;
    for (const Located& item : items)
        lines.append(location(file, item.line) + item.text);
    return lines;
}

Error tooLarge(const QString& file)
{
    return makeError(
        ErrorCode::Config,
        QStringLiteral("%1: is larger than %2 KiB, too large for a settings file; check that it is "
                       "Fluid's config.yaml")
            .arg(file)
            .arg(kMaxConfigFileBytes / 1024));
}

Result<LoadedConfig> parseTree(const YAML::Node& root, const std::string& text, const QString& file,
                               LoadedConfig loaded)
{
    if (!root.IsMap()) {
        return makeError(
            ErrorCode::Config,
            location(file, lineOf(root)) +
                QStringLiteral("the top level must be a mapping of sections (store, hosts, sandbox, "
                               "ssh, agent, secrets)") +
                describeNode(root));
    }
    ParseState state;
    state.text = &text;
    int budget = kMaxNodes;
    scanForSecrets(root, QString(), state, budget);
    if (budget < 0) {
        return makeError(ErrorCode::Config,
                         location(file, 0) + QStringLiteral("holds more than %1 values once aliases are "
                                                            "expanded, far more than any settings need")
                                                 .arg(kMaxNodes));
    }
    Reader reader(state, root, QString());
    visitFields(reader, loaded.settings);
    reader.finish();
    for (const Problem& problem : checkSettings(loaded.settings)) {
        if (!isAtOrBelow(problem.key, state.failedKeys))
            state.errors.append(Located{lineFor(problem.key, state.lines),
                                        problem.key + QStringLiteral(": ") + problem.text});
    }
    if (!state.errors.isEmpty())
        return makeError(ErrorCode::Config, locatedLines(state.errors, file).join(QLatin1Char('\n')));
    loaded.warnings = locatedLines(state.warnings, file);
    return loaded;
}

} // namespace
} // namespace detail

Result<LoadedConfig> parseConfig(const QByteArray& yaml, const QString& pathForMessages)
{
    using namespace detail;
    const QString file = pathForMessages.isEmpty() ? QStringLiteral("config.yaml") : pathForMessages;
    LoadedConfig loaded;
    loaded.path = pathForMessages;
    if (yaml.size() > kMaxConfigFileBytes)
        return tooLarge(file);
    try {
        const std::string text = yaml.toStdString();
        const std::vector<YAML::Node> documents = YAML::LoadAll(text);
        if (documents.size() > 1) {
            return makeError(
                ErrorCode::Config,
                location(file, lineOf(documents[1])) +
                    QStringLiteral("holds more than one YAML document (a line with ---); keep only "
                                   "the settings document"));
        }
        if (documents.empty() || documents.front().IsNull())
            return loaded;
        return parseTree(documents.front(), text, file, std::move(loaded));
    } catch (const YAML::ParserException& e) {
        const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
        QString message = location(file, line) + QStringLiteral("not valid YAML: %1").arg(fromStd(e.msg));
        if (!e.mark.is_null())
            message += QStringLiteral(" (column %1)").arg(e.mark.column + 1);
        message += QStringLiteral(". Check the indentation and quoting on this line and the one before it.");
        return makeError(ErrorCode::Config, message, redact(fromStd(e.what())));
    } catch (const std::exception& e) {
        return makeError(ErrorCode::Config,
                         location(file, 0) + QStringLiteral("could not be read as YAML; check that it is a "
                                                            "YAML settings file"),
                         redact(QString::fromLocal8Bit(e.what())));
    }
}

Result<LoadedConfig> loadConfig(const QString& path)
{
    if (path.isEmpty()) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("No config file path was given; pass fluid::paths::configFile()"));
    }
    const QFileInfo info(path);
    if (!info.exists()) {
        LoadedConfig defaults;
        defaults.path = path;
        return defaults;
    }
    if (info.isDir()) {
        return makeError(ErrorCode::Config,
                         QStringLiteral("%1: is a folder, not a file; move it away so Fluid can keep its "
                                        "settings there")
                             .arg(path));
    }
    if (info.size() > kMaxConfigFileBytes)
        return detail::tooLarge(path);
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return makeError(
            ErrorCode::Io,
            QStringLiteral("%1: could not be read; check the file's owner and permissions").arg(path),
            file.errorString());
    }
    Result<LoadedConfig> parsed = parseConfig(file.read(kMaxConfigFileBytes + 1), path);
    if (parsed)
        parsed->fromFile = true;
    return parsed;
}

QByteArray toYaml(const Settings& settings)
{
    try {
        Settings copy = settings;
        YAML::Emitter out;
        out.SetIndent(2);
        out << YAML::Comment(
                   "Fluid settings. Saving settings in the app rewrites this file; comments are not "
                   "kept.")
            << YAML::Newline
            << YAML::Comment("Secrets (API keys, passwords) never go here: they live in the keychain.")
            << YAML::Newline;
        out << YAML::BeginMap;
        detail::Writer writer(out);
        detail::visitFields(writer, copy);
        out << YAML::EndMap;
        if (!out.good())
            return {};
        return QByteArray(out.c_str(), static_cast<qsizetype>(out.size())) + '\n';
    } catch (const std::exception&) {
        return {};
    }
}

Result<void> saveConfig(const QString& path, const Settings& settings)
{
    if (path.isEmpty()) {
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("No config file path was given; pass fluid::paths::configFile()"));
    }
    if (const Result<void> valid = validate(settings); !valid) {
        return makeError(ErrorCode::Config, QStringLiteral("%1 was not saved; fix these settings first:\n%2")
                                                .arg(path, valid.error().message));
    }
    const QByteArray yaml = toYaml(settings);
    if (yaml.isEmpty()) {
        return makeError(
            ErrorCode::Unknown,
            QStringLiteral("%1 was not saved: the settings could not be written as YAML").arg(path));
    }
    const QString folder = QFileInfo(path).absolutePath();
    if (!QDir().mkpath(folder)) {
        return makeError(ErrorCode::Io,
                         QStringLiteral("%1 was not saved: the folder %2 could not be created; check its "
                                        "permissions")
                             .arg(path, folder));
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        return makeError(
            ErrorCode::Io,
            QStringLiteral("%1 could not be opened for writing; check the folder's permissions").arg(path),
            file.errorString());
    }
    if (file.write(yaml) != yaml.size() || !file.commit()) {
        return makeError(
            ErrorCode::Io,
            QStringLiteral("%1 could not be written; check free disk space and permissions").arg(path),
            file.errorString());
    }
    return {};
}

Result<void> validate(const Settings& settings)
{
    QStringList lines;
    for (const detail::Problem& problem : detail::checkSettings(settings))
        lines.append(problem.key + QStringLiteral(": ") + problem.text);
    if (lines.isEmpty())
        return {};
    return makeError(ErrorCode::Config, lines.join(QLatin1Char('\n')));
}

void logWarnings(const LoadedConfig& config)
{
    for (const QString& warning : config.warnings)
        qCWarning(lcConfig).noquote() << warning;
}

} // namespace fluid::config

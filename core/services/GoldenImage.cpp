// SPDX-License-Identifier: Apache-2.0
#include "services/GoldenImage.h"

#include <QFileInfo>
#include <QRegularExpression>

namespace fluid::services {

namespace {

/// How many of the last lines a failure quotes.
constexpr int kTailLines = 20;

/// The last lines of both streams in the order they came, for an error's detail (the captured output keeps
/// the beginning, and a failing build says why at its end), and the script's last own complaint.
class OutputTail {
public:
    void add(const QString& line, bool isError)
    {
        m_lines.append(line);
        if (m_lines.size() > kTailLines)
            m_lines.removeFirst();
        // die() in golden-image.sh: "golden-image: what failed and what to do" on stderr.
        static const QString prefix = QStringLiteral("golden-image: ");
        if (isError && line.startsWith(prefix))
            m_reason = line.mid(prefix.size()).trimmed();
    }
    QString text() const { return m_lines.join(QLatin1Char('\n')).trimmed(); }
    QString reason() const { return m_reason; }

private:
    QStringList m_lines;
    QString m_reason;
};

Result<QString> scriptFor(const QString& script, const QString& exeDir)
{
    return script.isEmpty() ? findGoldenImageScript(exeDir) : Result<QString>(script);
}

/// Runs `bash ARGS` with goldenImageEnvironment() in its own process group, passing each output line to
/// `line` as it arrives and keeping the last ones in `tail`.
Result<ProcessResult> runScript(const QStringList& args, const GoldenImageLog& line, OutputTail& tail,
                                const CancelToken& cancel)
{
    ProcessSpec spec;
    spec.program = QStringLiteral("bash");
    spec.arguments = args;
    spec.environment = goldenImageEnvironment();
    // Lines go to `line` and `tail` as they come; what runProcess keeps besides is only a bounded extra.
    spec.maxOutputBytes = 64 * 1024;
    LineSplitter out;
    LineSplitter err;
    const auto forward = [&](bool isError) {
        return [&line, &tail, isError](const QByteArray& bytes) {
            const QString text = QString::fromUtf8(bytes);
            tail.add(text, isError);
            if (line)
                line(text, isError);
        };
    };
    auto run = runProcess(spec, cancel, [&](const QByteArray& chunk, bool isStderr) {
        (isStderr ? err : out).feed(chunk, forward(isStderr));
    });
    out.finish(forward(false));
    err.finish(forward(true));
    return run;
}

Error notStarted(const Error& error)
{
    return makeError(
        ErrorCode::Unavailable,
        QStringLiteral("golden-image.sh could not be started: %1. Install bash, or build the image "
                       "on a machine that has it.")
            .arg(error.message),
        error.detail);
}

/// Why a build that ran did not succeed, and what to do about it.
Error buildFailure(const ProcessResult& run, const OutputTail& tail)
{
    if (run.cancelled)
        return makeError(ErrorCode::Cancelled, QStringLiteral("The golden image build was cancelled."),
                         tail.text());
    if (run.crashed)
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("The golden image build was killed by a signal before it finished. "
                                        "Build again."),
                         tail.text());
    QString reason = tail.reason();
    if (!reason.isEmpty() && !reason.endsWith(QLatin1Char('.')) && !reason.endsWith(QLatin1Char('?')))
        reason += QLatin1Char('.');
    if (reason.isEmpty())
        return makeError(
            ErrorCode::Unknown,
            QStringLiteral("The golden image build failed (exit code %1). It downloads Debian "
                           "packages, so it needs an apt mirror: set FLUID_DEBIAN_MIRROR to a mirror "
                           "this machine can reach and build again. Its output says which step "
                           "failed.")
                .arg(run.exitCode),
            tail.text());
    // The script says what failed and what to do; the variable that names the mirror it may not mention.
    const bool aboutTheMirror =
        reason.contains(QStringLiteral("mirror")) && !reason.contains(QStringLiteral("FLUID_DEBIAN_MIRROR"));
    return makeError(ErrorCode::Unknown,
                     QStringLiteral("The golden image build failed (exit code %1): %2%3")
                         .arg(run.exitCode)
                         .arg(reason, aboutTheMirror
                                          ? QStringLiteral(" FLUID_DEBIAN_MIRROR names the mirror to use.")
                                          : QString()),
                     tail.text());
}

/// The "defined NAME (URI) for FOLDER" line as (NAME, FOLDER).
std::optional<std::pair<QString, QString>> parseDefined(const QString& line)
{
    static const QRegularExpression re(QStringLiteral("^defined (\\S+) \\(.*\\) for (\\S.*)$"));
    const QRegularExpressionMatch m = re.match(line.trimmed());
    if (!m.hasMatch())
        return std::nullopt;
    return std::make_pair(m.captured(1), m.captured(2));
}

/// Takes what a build line says about the image into `result`.
void takeLine(const QString& line, GoldenImageResult& result)
{
    static const QRegularExpression cached(QStringLiteral("^cached (\\S.*)$"));
    static const QRegularExpression built(QStringLiteral("^built (\\S.*)$"));
    if (auto progress = parseGoldenImageProgress(line)) {
        if (const auto m = built.match(progress->stage); progress->fraction >= 1 && m.hasMatch())
            result.imageDir = m.captured(1);
    } else if (const auto m = cached.match(line.trimmed()); m.hasMatch()) {
        result.imageDir = m.captured(1);
        result.cached = true;
    } else if (auto defined = parseDefined(line)) {
        result.definedVm = defined->first;
        result.imageDir = defined->second;
    }
}

} // namespace

Result<GoldenImageResult> buildGoldenImage(const GoldenImageBuild& build, const ProgressSink& progress,
                                           const GoldenImageLog& log, const CancelToken& cancel)
{
    auto script = scriptFor(build.script, build.exeDir);
    if (!script)
        return script.error();
    if (cancel.isCancelled())
        return makeError(ErrorCode::Cancelled, QStringLiteral("The golden image build was cancelled."));
    GoldenImageResult result;
    OutputTail tail;
    const auto onLine = [&](const QString& line, bool isError) {
        if (log)
            log(line, isError);
        if (isError)
            return;
        if (auto p = parseGoldenImageProgress(line); p && progress)
            progress(*p);
        takeLine(line, result);
    };
    auto run =
        runScript(goldenImageBuildArguments(*script, build.flavour, build.defineUri), onLine, tail, cancel);
    if (!run)
        return notStarted(run.error());
    if (!run->succeeded())
        return buildFailure(*run, tail);
    return result;
}

Result<GoldenImageLocation> locateGoldenImage(const QString& flavour, const QString& exeDir)
{
    auto script = findGoldenImageScript(exeDir);
    if (!script)
        return script.error();
    QString folder;
    OutputTail tail;
    const auto onLine = [&folder](const QString& line, bool isError) {
        if (!isError && folder.isEmpty() && !line.trimmed().isEmpty())
            folder = line.trimmed();
    };
    const QStringList args = {*script, QStringLiteral("path"), QStringLiteral("--flavour"),
                              flavour.isEmpty() ? QStringLiteral("fwcfg") : flavour};
    auto run = runScript(args, onLine, tail, {});
    if (!run)
        return notStarted(run.error());
    // Exit 1 with the folder printed is "not built yet"; anything else is the script refusing.
    if (!run->crashed && (run->exitCode == 0 || run->exitCode == 1) && !folder.isEmpty())
        return GoldenImageLocation{folder, run->exitCode == 0};
    return makeError(ErrorCode::Unknown,
                     QStringLiteral("golden-image.sh could not say where the %1 image is (%2).")
                         .arg(flavour, run->crashed ? QStringLiteral("killed by a signal")
                                                    : QStringLiteral("exit code %1").arg(run->exitCode)),
                     tail.text());
}

Result<QString> findGoldenImageScript(const QString& exeDir)
{
    for (const QString& dir :
         {qEnvironmentVariable("FLUID_SCRIPTS_DIR"), exeDir + QStringLiteral("/../../../scripts"),
          exeDir + QStringLiteral("/../share/fluid/scripts")}) {
        if (!dir.isEmpty() && QFileInfo::exists(dir + QStringLiteral("/golden-image.sh")))
            return QFileInfo(dir + QStringLiteral("/golden-image.sh")).canonicalFilePath();
    }
    return makeError(ErrorCode::NotFound,
                     QStringLiteral("golden-image.sh was not found; set FLUID_SCRIPTS_DIR to Fluid's scripts "
                                    "folder (or install Fluid's package, which ships it)."));
}

QStringList goldenImageBuildArguments(const QString& script, const QString& flavour, const QString& defineUri)
{
    QStringList args = {script, QStringLiteral("build"), QStringLiteral("--flavour"),
                        flavour.isEmpty() ? QStringLiteral("fwcfg") : flavour};
    if (!defineUri.isEmpty())
        args << QStringLiteral("--define") << defineUri;
    return args;
}

ProcessEnvironment goldenImageEnvironment()
{
    ProcessEnvironment env = ProcessEnvironment::minimal();
    // Read by golden-image.sh itself.
    env.inherit(QStringLiteral("FLUID_IMAGE_ROOT")).inherit(QStringLiteral("FLUID_DEBIAN_MIRROR"));
    // debootstrap downloads with wget, which honours these.
    env.inherit(QStringLiteral("http_proxy"))
        .inherit(QStringLiteral("https_proxy"))
        .inherit(QStringLiteral("no_proxy"));
    // --define runs virsh: over qemu+ssh:// it logs in through ssh and its agent; qemu:///session's socket
    // lives in the runtime folder.
    env.inherit(QStringLiteral("SSH_AUTH_SOCK")).inherit(QStringLiteral("XDG_RUNTIME_DIR"));
    return env;
}

std::optional<QString> parseGoldenImageDefined(const QString& line)
{
    if (auto defined = parseDefined(line))
        return defined->first;
    return std::nullopt;
}

std::optional<Progress> parseGoldenImageProgress(const QString& line)
{
    static const QRegularExpression re(QStringLiteral("^progress:\\s*(\\d{1,3})%\\s*(.*)$"));
    static const QRegularExpression elapsed(QStringLiteral("\\s*\\(\\d+ s\\)$"));
    const QRegularExpressionMatch m = re.match(line.trimmed());
    if (!m.hasMatch())
        return std::nullopt;
    Progress progress;
    progress.message = m.captured(2).trimmed();
    progress.stage = QString(progress.message).remove(elapsed);
    progress.fraction = qBound(0, m.captured(1).toInt(), 100) / 100.0;
    return progress;
}

} // namespace fluid::services

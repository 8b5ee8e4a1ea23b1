// SPDX-License-Identifier: Apache-2.0
#include "MemoryShell.h"

#include <QPromise>

namespace fluid::test {
namespace {

template <typename T>
QFuture<T> finished(T value)
{
    QPromise<T> p;
    p.start();
    p.addResult(std::move(value));
    p.finish();
    return p.future();
}

QString normalisedOrDie(const QString& path)
{
    auto p = ssh::validateRemotePath(path);
    if (!p)
        qFatal("MemoryShell: bad path in the test: %s", qPrintable(p.error().message));
    return *p;
}

} // namespace

MemoryShell::MemoryShell(const Clock& clock)
    : m_clock(clock)
{
    m_folders.insert(QStringLiteral("/"));
}

void MemoryShell::addFolderLocked(const QString& path)
{
    for (QString dir = path; !m_folders.contains(dir); dir = ssh::parentFolder(dir)) {
        if (m_files.contains(dir))
            qFatal("MemoryShell: %s is a file, not a folder", qPrintable(dir));
        m_folders.insert(dir);
    }
}

void MemoryShell::setFile(const QString& path, const QByteArray& content, int mode)
{
    const QString p = normalisedOrDie(path);
    QMutexLocker lock(&m_mutex);
    if (m_folders.contains(p))
        qFatal("MemoryShell: %s is a folder", qPrintable(p));
    addFolderLocked(ssh::parentFolder(p));
    m_files.insert(p, Entry{content, mode & 07777});
}

void MemoryShell::addFolder(const QString& path)
{
    const QString p = normalisedOrDie(path);
    QMutexLocker lock(&m_mutex);
    addFolderLocked(p);
}

void MemoryShell::removeFile(const QString& path)
{
    const QString p = normalisedOrDie(path);
    QMutexLocker lock(&m_mutex);
    m_files.remove(p);
}

std::optional<QByteArray> MemoryShell::file(const QString& path) const
{
    const QString p = normalisedOrDie(path);
    QMutexLocker lock(&m_mutex);
    const auto it = m_files.constFind(p);
    return it == m_files.cend() ? std::nullopt : std::optional<QByteArray>(it->content);
}

int MemoryShell::mode(const QString& path) const
{
    const QString p = normalisedOrDie(path);
    QMutexLocker lock(&m_mutex);
    const auto it = m_files.constFind(p);
    return it == m_files.cend() ? -1 : it->mode;
}

QStringList MemoryShell::files() const
{
    QMutexLocker lock(&m_mutex);
    return m_files.keys();
}

void MemoryShell::setResponder(Responder responder)
{
    QMutexLocker lock(&m_mutex);
    m_responder = std::move(responder);
}

QList<ssh::ExecRequest> MemoryShell::requests() const
{
    QMutexLocker lock(&m_mutex);
    return m_requests;
}

int MemoryShell::ptyRequests() const
{
    QMutexLocker lock(&m_mutex);
    return m_ptyRequests;
}

ssh::ExecResult MemoryShell::reply(const ssh::ExecRequest& request, const QByteArray& stdoutData,
                                   int exitCode, const QByteArray& stderrData) const
{
    ssh::OutputCapture out(request.stdoutCap);
    ssh::OutputCapture err(request.stderrCap);
    out.append(stdoutData);
    err.append(stderrData);
    ssh::ExecResult r;
    r.stdoutData = out.result();
    r.stderrData = err.result();
    r.exitCode = exitCode;
    r.startedAt = r.finishedAt = m_clock.now().toUTC();
    return r;
}

QFuture<Result<ssh::ExecResult>> MemoryShell::exec(ssh::ExecRequest request)
{
    Responder responder;
    {
        QMutexLocker lock(&m_mutex);
        m_requests.append(request);
        responder = m_responder;
    }
    if (auto v = ssh::validateExecRequest(request); !v)
        return finished(Result<ssh::ExecResult>(v.error()));
    if (!responder)
        return finished(Result<ssh::ExecResult>(
            makeError(ErrorCode::Unavailable,
                      QStringLiteral("The in-memory test shell has no responder for the command \"%1\"; give "
                                     "it one with setResponder().")
                          .arg(QString::fromUtf8(request.command.left(200))))));
    Result<ssh::ExecResult> r = responder(request);
    if (r && !r->startedAt.isValid()) {
        r->startedAt = m_clock.now().toUTC();
        r->finishedAt = r->startedAt;
    }
    return finished(std::move(r));
}

Result<QByteArray> MemoryShell::readLocked(const QString& path, qint64 maxBytes) const
{
    if (m_folders.contains(path))
        return ssh::isFolderError(path);
    const auto it = m_files.constFind(path);
    if (it == m_files.cend())
        return makeError(ErrorCode::NotFound,
                         QStringLiteral("Reading a file failed: %1 does not exist.").arg(path));
    if (it->content.size() > maxBytes)
        return ssh::fileTooLargeError(path, it->content.size(), maxBytes);
    return it->content;
}

Result<void> MemoryShell::writeLocked(const QString& path, const QByteArray& content, int newFileMode)
{
    if (m_folders.contains(path))
        return ssh::isFolderError(path);
    if (const auto it = m_files.find(path); it != m_files.end()) {
        it->content = content;
        return {};
    }
    const QString folder = ssh::parentFolder(path);
    if (!m_folders.contains(folder))
        return ssh::missingFolderError(path, folder);
    m_files.insert(path, Entry{content, newFileMode & 07777});
    return {};
}

QFuture<Result<QByteArray>> MemoryShell::readFile(const QString& path, qint64 maxBytes)
{
    auto p = ssh::validateRemotePath(path);
    if (!p)
        return finished(Result<QByteArray>(p.error()));
    QMutexLocker lock(&m_mutex);
    return finished(readLocked(*p, maxBytes));
}

QFuture<Result<void>> MemoryShell::writeFile(const QString& path, const QByteArray& content,
                                             const ssh::WriteOptions& options)
{
    auto p = ssh::validateRemotePath(path);
    if (!p)
        return finished(Result<void>(p.error()));
    QMutexLocker lock(&m_mutex);
    return finished(writeLocked(*p, content, options.newFileMode));
}

QFuture<Result<ssh::EditResult>> MemoryShell::editFile(const QString& path, const QByteArray& oldText,
                                                       const QByteArray& newText)
{
    auto p = ssh::validateRemotePath(path);
    if (!p)
        return finished(Result<ssh::EditResult>(p.error()));
    QMutexLocker lock(&m_mutex);
    auto content = readLocked(*p, ssh::kDefaultReadCap);
    if (!content)
        return finished(Result<ssh::EditResult>(content.error()));
    ssh::EditResult info;
    auto edited = ssh::replaceExactlyOnce(*content, oldText, newText, *p, &info);
    if (!edited)
        return finished(Result<ssh::EditResult>(edited.error()));
    if (auto w = writeLocked(*p, *edited, ssh::WriteOptions{}.newFileMode); !w)
        return finished(Result<ssh::EditResult>(w.error()));
    return finished(Result<ssh::EditResult>(info));
}

std::unique_ptr<ssh::PtySession> MemoryShell::openPty(const ssh::PtyOptions& options)
{
    Q_UNUSED(options)
    {
        QMutexLocker lock(&m_mutex);
        ++m_ptyRequests;
    }
    return ssh::PtySession::openFailed(QStringLiteral("The in-memory test shell has no terminal."));
}

} // namespace fluid::test

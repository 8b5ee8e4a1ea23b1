// SPDX-License-Identifier: Apache-2.0
// SshConnection's public face: it checks each request, wraps it in an operation for the connection's thread
// (ConnectionLoop.cpp) and hands back the future. File operations are audited here, once their body ran.

#include "SshConnection.h"

#include "base/Logging.h"
#include "ConnectionInternals.h"

namespace fluid::ssh {
namespace {

template <typename T>
QFuture<T> readyFuture(T value)
{
    QPromise<T> p;
    p.start();
    p.addResult(std::move(value));
    p.finish();
    return p.future();
}

/// Posts SFTP work whose result type is R, with the file audit record the body reports.
template <typename R>
QFuture<Result<R>> postFileOp(detail::ConnectionImpl& d, const QString& kind, const QString& path,
                              std::function<Result<R>(detail::ConnectionImpl&)> body,
                              std::function<QJsonObject(const Result<R>&)> describeResult)
{
    auto promise = std::make_shared<QPromise<Result<R>>>();
    promise->start();
    auto future = promise->future();
    const AuditContext ctx = d.options().audit;
    auto audit = [ctx, kind, path, describeResult](detail::ConnectionImpl& c, const Result<R>& r) {
        QJsonObject data = describeResult(r);
        data[QStringLiteral("path")] = path;
        data[QStringLiteral("ok")] = r.ok();
        if (!r.ok())
            data[QStringLiteral("error")] = r.error().message;
        c.emitAudit(auditRecord(ctx, kind, path, data));
    };
    d.post(detail::makeSftpOp(
        [promise, body, audit](detail::ConnectionImpl& c) {
            const qint64 start = detail::steadyMs();
            Result<R> r = body(c);
            qCDebug(lcSsh) << "sftp op took" << detail::steadyMs() - start << "ms";
            audit(c, r);
            promise->addResult(std::move(r));
            promise->finish();
        },
        [promise](const Error& e) {
            promise->addResult(Result<R>(e));
            promise->finish();
        }));
    return future;
}

} // namespace

using detail::ConnectionImpl;

SshConnection::SshConnection(ConnectionOptions options)
    : d(std::make_shared<ConnectionImpl>(std::move(options)))
{
}

std::shared_ptr<SshConnection> SshConnection::open(ConnectionOptions options)
{
    std::shared_ptr<SshConnection> c(new SshConnection(std::move(options)));
    c->d->start();
    return c;
}

SshConnection::~SshConnection()
{
    d->stop(false);
    d->join();
}

QFuture<Result<void>> SshConnection::ready() const
{
    return d->ready();
}

SshConnection::State SshConnection::state() const
{
    return d->state();
}

QString SshConnection::describe() const
{
    return d->describe();
}

PublicKey SshConnection::serverHostKey() const
{
    return d->serverKey();
}

int SshConnection::inFlight() const
{
    return d->inFlight();
}

void SshConnection::retire()
{
    d->stop(true);
}

void SshConnection::close()
{
    d->stop(false);
    d->join();
}

QFuture<Result<ExecResult>> SshConnection::exec(ExecRequest request)
{
    if (auto v = validateExecRequest(request); !v)
        return readyFuture(Result<ExecResult>(v.error()));
    QPromise<Result<ExecResult>> promise;
    promise.start();
    auto future = promise.future();
    const AuditGate& gate = d->options().auditGate;
    if (!gate) {
        d->post(detail::makeExecOp(std::move(request), std::move(promise), d->options()));
        return future;
    }
    // Nothing runs before its command.start record is stored.
    auto held = std::make_shared<QPromise<Result<ExecResult>>>(std::move(promise));
    gate(commandStartRecord(d->options().audit, request))
        .then(QtFuture::Launch::Sync, [impl = d, held,
                                       request = std::move(request)](Result<void> stored) mutable {
            if (!stored) {
                held->addResult(Error{stored.error().code,
                                      QStringLiteral("The command was not run: its audit record could not be "
                                                     "stored (%1)")
                                          .arg(stored.error().message),
                                      stored.error().detail});
                held->finish();
                return;
            }
            impl->post(detail::makeExecOp(std::move(request), std::move(*held), impl->options()));
        });
    return future;
}

QFuture<Result<QByteArray>> SshConnection::readFile(const QString& path, qint64 maxBytes)
{
    auto p = validateRemotePath(path);
    if (!p)
        return readyFuture(Result<QByteArray>(p.error()));
    const QString clean = *p;
    return postFileOp<QByteArray>(
        *d, QStringLiteral("file.read"), clean,
        [clean, maxBytes](detail::ConnectionImpl& c) { return detail::sftpReadFile(c, clean, maxBytes); },
        [](const Result<QByteArray>& r) {
            QJsonObject o;
            o[QStringLiteral("bytes")] = r.ok() ? qint64(r->size()) : 0;
            return o;
        });
}

QFuture<Result<void>> SshConnection::writeFile(const QString& path, const QByteArray& content,
                                               const WriteOptions& options)
{
    auto p = validateRemotePath(path);
    if (!p)
        return readyFuture(Result<void>(p.error()));
    const QString clean = *p;
    const qint64 size = content.size();
    return postFileOp<void>(
        *d, QStringLiteral("file.write"), clean,
        [clean, content, options](detail::ConnectionImpl& c) {
            return detail::sftpWriteFile(c, clean, content, options);
        },
        [size](const Result<void>&) {
            QJsonObject o;
            o[QStringLiteral("bytes")] = size;
            return o;
        });
}

QFuture<Result<EditResult>> SshConnection::editFile(const QString& path, const QByteArray& oldText,
                                                    const QByteArray& newText)
{
    auto p = validateRemotePath(path);
    if (!p)
        return readyFuture(Result<EditResult>(p.error()));
    const QString clean = *p;
    return postFileOp<EditResult>(
        *d, QStringLiteral("file.edit"), clean,
        [clean, oldText, newText](detail::ConnectionImpl& c) {
            return detail::sftpEditFile(c, clean, oldText, newText);
        },
        [oldText, newText](const Result<EditResult>& r) {
            QJsonObject o;
            o[QStringLiteral("old_text")] = QString::fromUtf8(oldText.left(2048));
            o[QStringLiteral("new_text")] = QString::fromUtf8(newText.left(2048));
            if (r.ok()) {
                o[QStringLiteral("line")] = r->line;
                o[QStringLiteral("old_size")] = r->oldSize;
                o[QStringLiteral("new_size")] = r->newSize;
            }
            return o;
        });
}

std::unique_ptr<PtySession> SshConnection::openPty(const PtyOptions& options)
{
    auto shared = std::make_shared<detail::PtyShared>();
    shared->waker = d->waker();
    auto session = std::make_unique<PtySession>(shared);
    d->post(detail::makePtyOp(options, shared, d->options()));
    return session;
}

QFuture<Result<int>> SshConnection::listenForward(const QString& address, int port, ForwardAccept accept)
{
    QPromise<Result<int>> promise;
    promise.start();
    auto future = promise.future();
    d->post(detail::makeForwardListenOp(address.toUtf8(), port, std::move(accept), std::move(promise)));
    return future;
}

QFuture<Result<int>> SshConnection::openTunnel(const QString& host, int port)
{
    QPromise<Result<int>> promise;
    promise.start();
    auto future = promise.future();
    d->post(
        detail::makeTunnelOp(host.toUtf8(), port, std::move(promise), d->options().connectTimeout.count()));
    return future;
}

} // namespace fluid::ssh

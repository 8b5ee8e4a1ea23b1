// SPDX-License-Identifier: Apache-2.0
#include "secrets/KeychainSecretStore.h"

#include "base/Logging.h"
#include "base/Paths.h"
#include "base/Redact.h"

#include <QCoreApplication>
#include <QMutex>
#include <QSemaphore>
#include <QThread>

#include <qt6keychain/keychain.h>

#include <memory>

namespace fluid::secrets {
namespace {

// Long enough for a person to answer an unlock prompt; a keychain that never answers must not hang a worker.
constexpr int kJobTimeoutMs = 120'000;

// Looked up (and, when the lookup works, written and removed) by probe().
constexpr char kProbeKey[] = "fluid-probe/reachability";

enum class JobKind { Read, Write, Remove };

struct JobOutcome {
    QKeychain::Error error = QKeychain::NoError;
    QString errorString;
    QByteArray data;
    bool timedOut = false;
};

QKeychain::Job* makeJob(JobKind kind, const QString& service, const QString& key, const QByteArray& data)
{
    QKeychain::Job* job = nullptr;
    switch (kind) {
    case JobKind::Read:
        job = new QKeychain::ReadPasswordJob(service);
        break;
    case JobKind::Write: {
        auto* write = new QKeychain::WritePasswordJob(service);
        // Binary mode always: text mode goes through a C string and would cut a value at its first NUL, and
        // mixing modes would leave two entries under one key (the Secret Service keys entries by mode too).
        write->setBinaryData(data);
        job = write;
        break;
    }
    case JobKind::Remove:
        job = new QKeychain::DeletePasswordJob(service);
        break;
    }
    job->setKey(key);
    job->setAutoDelete(false);
    return job;
}

// The one thread every QtKeychain job runs on. QtKeychain queues jobs in a singleton QObject that lives on
// the thread that first started a job and only starts the next job when its slot runs there; jobs started
// from changing pool threads would stall behind a queued slot that never runs. One thread with its own event
// loop (which also drives libsecret's GLib callbacks) avoids that, and the mutex keeps one job in flight.
class KeychainThread {
public:
    KeychainThread()
    {
        m_thread.setObjectName(QStringLiteral("fluid-keychain"));
        m_context.moveToThread(&m_thread);
        m_thread.start();
    }
    ~KeychainThread() { stop(); }
    Q_DISABLE_COPY_MOVE(KeychainThread)

    static KeychainThread& instance()
    {
        static KeychainThread thread;
        static const bool registered = [] {
            // Stop while QCoreApplication (and with it Qt D-Bus) still exists, not during static destruction.
            qAddPostRoutine([] { KeychainThread::instance().stop(); });
            return true;
        }();
        Q_UNUSED(registered);
        return thread;
    }

    void stop()
    {
        QMutexLocker lock(&m_mutex);
        if (m_stopped)
            return;
        m_stopped = true;
        m_thread.quit();
        m_thread.wait();
    }

    JobOutcome run(JobKind kind, const QString& service, const QString& key, const QByteArray& data = {})
    {
        QMutexLocker lock(&m_mutex);
        if (m_stopped)
            return {
                QKeychain::NoBackendAvailable, QStringLiteral("the application is shutting down"), {}, false};

        struct Shared {
            QSemaphore done;
            JobOutcome outcome;
        };
        auto shared = std::make_shared<Shared>();
        QMetaObject::invokeMethod(
            &m_context,
            [shared, kind, service, key, data] {
                QKeychain::Job* job = makeJob(kind, service, key, data);
                QObject::connect(job, &QKeychain::Job::finished, job,
                                 [shared, kind](QKeychain::Job* finished) {
                                     shared->outcome.error = finished->error();
                                     shared->outcome.errorString = finished->errorString();
                                     if (kind == JobKind::Read && finished->error() == QKeychain::NoError)
                                         shared->outcome.data =
                                             static_cast<QKeychain::ReadPasswordJob*>(finished)->binaryData();
                                     // Not `delete`: QtKeychain still reads the job's state after emitting
                                     // finished().
                                     finished->deleteLater();
                                     shared->done.release();
                                 });
                job->start();
            },
            Qt::QueuedConnection);
        if (!shared->done.tryAcquire(1, kJobTimeoutMs)) {
            JobOutcome timedOut;
            timedOut.timedOut = true;
            return timedOut;
        }
        return std::move(shared->outcome);
    }

private:
    QMutex m_mutex;
    QThread m_thread;
    QObject m_context;
    bool m_stopped = false;
};

// QtKeychain reports "no keychain here" as NoBackendAvailable, or as OtherError with the words of D-Bus,
// libsecret or KWallet ("Cannot autolaunch D-Bus without X11 $DISPLAY", "Object does not exist at path
// /org/freedesktop/secrets/collection/login", "The name org.freedesktop.secrets was not provided by any
// .service files", "Could not open wallet: ...").
bool meansUnreachable(const JobOutcome& outcome)
{
    if (outcome.error == QKeychain::NoBackendAvailable || outcome.error == QKeychain::NotImplemented)
        return true;
    if (outcome.error != QKeychain::OtherError)
        return false;
    static const char* const markers[] = {
        "autolaunch",
        "$DISPLAY",
        "Object does not exist at path",
        ".service files",
        "D-Bus",
        "DBus",
        "wallet",
        "No keyring",
        "No keychain",
        "Failed to connect",
        "Could not connect",
    };
    for (const char* marker : markers) {
        if (outcome.errorString.contains(QLatin1String(marker), Qt::CaseInsensitive))
            return true;
    }
    return false;
}

// `action` names what was attempted, as in "read the secret \"llm/openai/api-key\"".
Error toError(const JobOutcome& outcome, const QString& action, const QString& key)
{
    if (outcome.timedOut)
        return makeError(
            ErrorCode::Timeout,
            QStringLiteral("the keychain did not answer within %1 seconds when asked to %2. If an "
                           "unlock prompt is open, answer it; else restart the keyring service")
                .arg(kJobTimeoutMs / 1000)
                .arg(action));
    const QString detail = redact(outcome.errorString);
    if (meansUnreachable(outcome))
        return makeError(ErrorCode::Unavailable, KeychainSecretStore::unavailableMessage(), detail);
    switch (outcome.error) {
    case QKeychain::EntryNotFound:
        return makeError(
            ErrorCode::NotFound,
            QStringLiteral("no secret \"%1\" is stored in the keychain: store it first").arg(key), detail);
    case QKeychain::AccessDenied:
    case QKeychain::AccessDeniedByUser:
        return makeError(
            ErrorCode::PermissionDenied,
            QStringLiteral("the keychain refused to %1: it is locked, or access was denied. Unlock "
                           "the keyring (and allow Fluid when asked), then try again")
                .arg(action),
            detail);
    default:
        return makeError(ErrorCode::Unknown,
                         QStringLiteral("the keychain could not %1. Check that the keyring is running and "
                                        "unlocked, then try again")
                             .arg(action),
                         detail);
    }
}

QString describe(const char* verb, const QString& key)
{
    return QStringLiteral("%1 the secret \"%2\"").arg(QLatin1String(verb), key);
}

} // namespace

KeychainSecretStore::KeychainSecretStore(QString service)
    : m_service(std::move(service))
{
}

QString KeychainSecretStore::backendName() const
{
    return QStringLiteral("keychain");
}

QString KeychainSecretStore::unavailableMessage()
{
    return QStringLiteral(
               "No keychain is reachable, and Fluid refuses to keep secrets in plaintext. Start or unlock a "
               "keyring that provides the Secret Service (gnome-keyring, KWallet, or KeePassXC with its "
               "Secret "
               "Service integration turned on), or turn on the encrypted-file fallback by setting "
               "\"secrets.backend: encrypted-file\" in config.yaml (%1)")
        .arg(paths::configFile());
}

Result<QByteArray> KeychainSecretStore::read(const QString& key)
{
    if (Result<void> valid = validateKey(key); !valid)
        return valid.error();
    JobOutcome outcome = KeychainThread::instance().run(JobKind::Read, m_service, key);
    if (outcome.error != QKeychain::NoError || outcome.timedOut) {
        qCDebug(lcSecrets) << "keychain read failed:" << key << outcome.error;
        return toError(outcome, describe("read", key), key);
    }
    registerValue(outcome.data);
    return std::move(outcome.data);
}

Result<void> KeychainSecretStore::write(const QString& key, const QByteArray& value)
{
    if (Result<void> valid = validateKey(key); !valid)
        return valid.error();
    registerValue(value);
    const JobOutcome outcome = KeychainThread::instance().run(JobKind::Write, m_service, key, value);
    if (outcome.error != QKeychain::NoError || outcome.timedOut) {
        qCDebug(lcSecrets) << "keychain write failed:" << key << outcome.error;
        return toError(outcome, describe("store", key), key);
    }
    return {};
}

Result<void> KeychainSecretStore::remove(const QString& key)
{
    if (Result<void> valid = validateKey(key); !valid)
        return valid.error();
    const JobOutcome outcome = KeychainThread::instance().run(JobKind::Remove, m_service, key);
    if (outcome.error == QKeychain::EntryNotFound)
        return {};
    if (outcome.error != QKeychain::NoError || outcome.timedOut) {
        qCDebug(lcSecrets) << "keychain remove failed:" << key << outcome.error;
        return toError(outcome, describe("remove", key), key);
    }
    return {};
}

Result<void> KeychainSecretStore::probe()
{
    const QString key = QString::fromLatin1(kProbeKey);
    KeychainThread& thread = KeychainThread::instance();
    JobOutcome outcome = thread.run(JobKind::Read, m_service, key);
    if (outcome.error == QKeychain::NoError || outcome.error == QKeychain::EntryNotFound) {
        outcome = thread.run(JobKind::Write, m_service, key, QByteArrayLiteral("probe"));
        if (outcome.error == QKeychain::NoError && !outcome.timedOut)
            outcome = thread.run(JobKind::Remove, m_service, key);
    }
    if (outcome.error == QKeychain::NoError && !outcome.timedOut) {
        qCDebug(lcSecrets) << "keychain reachable, service" << m_service;
        return {};
    }
    qCInfo(lcSecrets) << "keychain not usable:" << redact(outcome.errorString);
    return toError(outcome, QStringLiteral("reach the keychain"), key);
}

} // namespace fluid::secrets

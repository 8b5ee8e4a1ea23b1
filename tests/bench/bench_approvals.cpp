// SPDX-License-Identifier: Apache-2.0
// What the approval inbox's poll costs: fills a SQLite store with HISTORY decided and PENDING waiting
// requests, then times the poll's store work (approval::readInbox) directly, with and without the
// history, and the usual poll's round trip through the StoreWorker as the dock does it every 1.5 s (with how
// long the calling, GUI, thread is held).
//   bench_approvals [HISTORY=10000] [PENDING=20]
#include "approval/ApprovalBroker.h"
#include "approval/ApprovalInbox.h"
#include "base/Clock.h"
#include "store/Repository.h"
#include "store/StoreWorker.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>

using namespace fluid;

namespace {

double median(QList<double> v)
{
    std::sort(v.begin(), v.end());
    return v.isEmpty() ? 0 : v.at(v.size() / 2);
}

double p95(QList<double> v)
{
    std::sort(v.begin(), v.end());
    return v.isEmpty() ? 0 : v.at(qMin(v.size() - 1, qsizetype(v.size() * 0.95)));
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    const int history = argc > 1 ? QString::fromLocal8Bit(argv[1]).toInt() : 10000;
    const int pending = argc > 2 ? QString::fromLocal8Bit(argv[2]).toInt() : 20;
    QTemporaryDir tmp;
    store::DatabaseOptions options;
    options.sqlitePath = tmp.filePath(QStringLiteral("fluid.sqlite"));
    auto db = store::openAndMigrate(options);
    approval::ApprovalBroker broker(options);
    if (!db) {
        std::fprintf(stderr, "%s\n", qPrintable(db.error().toString()));
        return 1;
    }
    const QDateTime now = QDateTime::currentDateTimeUtc();
    auto filled = (*db)->transaction([&]() -> Result<void> {
        store::ApprovalRepository repo(**db);
        for (int i = 0; i < history + pending; ++i) {
            model::Approval a;
            a.id = model::newId();
            a.kind = QStringLiteral("resources");
            a.request =
                QStringLiteral("Create sandbox web-%1 (4096 MiB, 2 vCPU) on kvm-01 beyond its limits").arg(i);
            a.context = QJsonObject{
                {QStringLiteral("sandbox"), QStringLiteral("web-%1").arg(i)},
                {QStringLiteral("memoryMib"), 4096},
                {QStringLiteral("vcpus"), 2},
                {QStringLiteral("over"), QJsonArray{QStringLiteral("3 sandboxes, the limit is 2")}}};
            a.contentHash = approval::contentHash(a.kind, a.request, a.context);
            a.requestedBy = QStringLiteral("agent:1");
            a.createdAt = now.addSecs(-(history + pending - i) * 60);
            a.expiresAt = i < history ? a.createdAt.addSecs(900) : now.addSecs(3600);
            if (i < history) {
                a.status = i % 3 == 0 ? model::ApprovalStatus::Rejected : model::ApprovalStatus::Approved;
                a.decidedBy = QStringLiteral("person:alice");
                a.decidedAt = a.createdAt.addSecs(30);
            }
            if (auto r = repo.insert(a); !r)
                return r;
        }
        return {};
    });
    if (!filled) {
        std::fprintf(stderr, "%s\n", qPrintable(filled.error().toString()));
        return 1;
    }

    QSet<QString> known;
    QList<double> withHistory;
    QList<double> quiet;
    for (int i = 0; i < 100; ++i) {
        const bool force = i % 2 == 0;
        QElapsedTimer t;
        t.start();
        auto inbox = approval::readInbox(**db, broker, known, force);
        (force ? withHistory : quiet) << t.nsecsElapsed() / 1e6;
        if (!inbox || inbox->pending.size() != pending || inbox->history.has_value() != force ||
            (force && inbox->history->size() != qMin(history, approval::kInboxHistoryLimit))) {
            std::fprintf(stderr, "unexpected poll result\n");
            return 1;
        }
        for (const model::Approval& a : std::as_const(inbox->pending))
            known.insert(a.id);
    }
    db->reset();

    store::StoreWorker worker(options);
    QEventLoop loop;
    QObject::connect(&worker, &store::StoreWorker::opened, &loop, &QEventLoop::quit);
    worker.start();
    loop.exec();
    QList<double> roundTrip;
    QList<double> caller;
    QObject context;
    for (int i = 0; i < 50; ++i) {
        QElapsedTimer t;
        t.start();
        worker.run<approval::Inbox>(
            &context,
            [known, &broker](store::Database& d) { return approval::readInbox(d, broker, known, false); },
            [&](Result<approval::Inbox>) {
                roundTrip << t.nsecsElapsed() / 1e6;
                loop.quit();
            });
        caller << t.nsecsElapsed() / 1e6;
        loop.exec();
    }
    std::printf("approvals: %d decided, %d pending (SQLite)\n", history, pending);
    std::printf("poll store work, pending only (the usual poll): median %.2f ms, p95 %.2f ms\n",
                median(quiet), p95(quiet));
    std::printf("poll store work, pending and history (%d rows): median %.2f ms, p95 %.2f ms\n",
                approval::kInboxHistoryLimit, median(withHistory), p95(withHistory));
    std::printf("usual poll through StoreWorker, round trip: median %.2f ms, p95 %.2f ms\n",
                median(roundTrip), p95(roundTrip));
    std::printf("calling (GUI) thread held by posting the poll: median %.3f ms, p95 %.3f ms\n",
                median(caller), p95(caller));
    return 0;
}

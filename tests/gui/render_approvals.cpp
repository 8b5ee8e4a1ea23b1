// SPDX-License-Identifier: Apache-2.0
// Renders the approval inbox dock to PNG so a person can look at it:
//   render_approvals OUTPUT_DIR
// Run under Xvfb by scripts/render-screenshots.sh. A throw-away store holds requests filed through the
// same ApprovalBroker the sandbox manager uses: three pending (resources, egress, a playbook apply with a
// diff) and a history of approved, rejected and expired ones. The apply request is selected.
#include "approval/ApprovalBroker.h"
#include "approvals/ApprovalInboxDock.h"
#include "approvals/ApprovalModel.h"
#include "base/Clock.h"
#include "store/StoreWorker.h"

#include <QApplication>
#include <QDir>
#include <QJsonArray>
#include <QPlainTextEdit>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>

using namespace fluid;

namespace {

class QuietNotifier : public ui::ApprovalInboxDock::Notifier {
public:
    void notify(ui::ApprovalInboxDock*, const QString&, const QString&) override {}
};

Result<model::Approval> file(store::Database& db, ManualClock& clock, qint64 agoMs, qint64 ttlMs,
                             const QString& kind, const QString& sandboxId, const QString& by,
                             const QString& request, const QJsonObject& context)
{
    clock.set(QDateTime::currentDateTimeUtc().addMSecs(-agoMs));
    model::Approval a;
    a.kind = kind;
    a.sandboxId = sandboxId;
    a.requestedBy = by;
    a.request = request;
    a.context = context;
    return approval::ApprovalBroker(clock).request(
        db, a, model::Actor::fromString(by).value_or(model::Actor()), ttlMs);
}

Result<void> fill(store::Database& db)
{
    ManualClock clock;
    const qint64 min = 60 * 1000;
    const auto over = [](std::initializer_list<const char*> lines) {
        QJsonArray a;
        for (const char* l : lines)
            a.append(QLatin1String(l));
        return a;
    };
    // History first: decided and expired requests.
    auto old =
        file(db, clock, 190 * min, 15 * min, QStringLiteral("resources"), QString(), QStringLiteral("person"),
             QStringLiteral("Create sandbox load-1 (16384 MiB, 8 vCPU) on kvm-01 beyond its limits"),
             {{QStringLiteral("sandbox"), QStringLiteral("load-1")},
              {QStringLiteral("host"), QStringLiteral("qemu+ssh://fluid@kvm-01/system")},
              {QStringLiteral("memoryMib"), 16384},
              {QStringLiteral("vcpus"), 8},
              {QStringLiteral("over"), over({"sandboxes would use 20480 MiB, the limit is 16384 MiB"})}});
    if (!old)
        return old.error();
    clock.set(QDateTime::currentDateTimeUtc().addMSecs(-186 * min));
    const model::Actor alice = model::Actor::person(QStringLiteral("alice"));
    if (auto d = approval::ApprovalBroker(clock).decide(db, old->id, true, alice,
                                                        QStringLiteral("ok for the load test"));
        !d)
        return d.error();
    auto egress =
        file(db, clock, 95 * min, 15 * min, QStringLiteral("egress"), QStringLiteral("sbx-7f3a"),
             QStringLiteral("agent:3"), QStringLiteral("Allow sbx-7f3a to reach pypi.org:443"),
             {{QStringLiteral("why"), QStringLiteral("pip install requests for the health check script")},
              {QStringLiteral("destination"), QStringLiteral("pypi.org:443")}});
    if (!egress)
        return egress.error();
    clock.set(QDateTime::currentDateTimeUtc().addMSecs(-92 * min));
    if (auto d = approval::ApprovalBroker(clock).decide(
            db, egress->id, false, alice, QStringLiteral("use the internal mirror (pypi.internal) instead"));
        !d)
        return d.error();
    if (auto e = file(db, clock, 70 * min, 10 * min, QStringLiteral("egress"), QStringLiteral("sbx-19c2"),
                      QStringLiteral("agent:5"), QStringLiteral("Allow sbx-19c2 to reach github.com:443"),
                      {{QStringLiteral("why"), QStringLiteral("clone the monitoring plugin repository")}});
        !e)
        return e.error();

    // Pending.
    if (auto r = file(db, clock, 6 * min, 15 * min, QStringLiteral("resources"), QString(),
                      QStringLiteral("agent:3"),
                      QStringLiteral("Create sandbox web-2 (4096 MiB, 2 vCPU) on kvm-01 beyond its limits"),
                      {{QStringLiteral("sandbox"), QStringLiteral("web-2")},
                       {QStringLiteral("host"), QStringLiteral("qemu+ssh://fluid@kvm-01/system")},
                       {QStringLiteral("memoryMib"), 4096},
                       {QStringLiteral("vcpus"), 2},
                       {QStringLiteral("over"), over({"sandboxes would use 3 sandboxes, the limit is 2"})}});
        !r)
        return r.error();
    if (auto r =
            file(db, clock, 3 * min, 15 * min, QStringLiteral("egress"), QStringLiteral("sbx-7f3a"),
                 QStringLiteral("agent:3"), QStringLiteral("Allow sbx-7f3a to reach deb.debian.org:80"),
                 {{QStringLiteral("why"), QStringLiteral("apt-get install nginx needs the Debian mirror")},
                  {QStringLiteral("destination"), QStringLiteral("deb.debian.org:80")}});
        !r)
        return r.error();
    if (auto r = file(
            db, clock, 1 * min, 60 * min, QStringLiteral("apply"), QStringLiteral("sbx-7f3a"),
            QStringLiteral("agent:3"), QStringLiteral("Apply playbook nginx.yml to web-prod-1, web-prod-2"),
            {{QStringLiteral("why"),
              QStringLiteral(
                  "nginx installed and tuned in sandbox sbx-7f3a; the replay on a fresh clone matched")},
             {QStringLiteral("playbook"), QStringLiteral("nginx.yml (3 tasks)")},
             {QStringLiteral("targets"),
              QJsonArray{QStringLiteral("web-prod-1"), QStringLiteral("web-prod-2")}},
             {QStringLiteral("diff"),
              QStringLiteral(
                  "--- a/etc/nginx/nginx.conf\n+++ b/etc/nginx/nginx.conf\n@@ -1,6 +1,6 @@\n user "
                  "www-data;\n-worker_processes 1;\n+worker_processes auto;\n pid /run/nginx.pid;\n "
                  "events {\n-\tworker_connections 768;\n+\tworker_connections 4096;\n }\n"
                  "--- a/etc/nginx/sites-enabled/default\n+++ /dev/null\n@@ -1,3 +0,0 @@\n-server {\n-"
                  "\tlisten 80 default_server;\n-}")}});
        !r)
        return r.error();
    return {};
}

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 2) {
        std::fprintf(stderr, "usage: render_approvals OUTPUT_DIR\n");
        return 2;
    }
    const QString out = QString::fromLocal8Bit(argv[1]);
    QDir().mkpath(out);
    QTemporaryDir tmp;
    qputenv("FLUID_CONFIG_DIR", tmp.filePath(QStringLiteral("config")).toUtf8());

    store::DatabaseOptions options;
    options.sqlitePath = tmp.filePath(QStringLiteral("fluid.sqlite"));
    {
        auto db = store::openAndMigrate(options);
        if (!db) {
            std::fprintf(stderr, "%s\n", qPrintable(db.error().toString()));
            return 1;
        }
        if (auto filled = fill(**db); !filled) {
            std::fprintf(stderr, "%s\n", qPrintable(filled.error().toString()));
            return 1;
        }
    }

    store::StoreWorker worker(options);
    approval::ApprovalBroker broker(options);
    ui::ApprovalInboxDock dock(&worker, &broker);
    dock.setNotifier(std::make_unique<QuietNotifier>());
    dock.setDecider(model::Actor::person(QStringLiteral("alice")));
    dock.resize(1000, 980);
    int failures = 0;
    bool rendered = false;
    QObject::connect(&dock, &ui::ApprovalInboxDock::refreshed, &dock, [&]() {
        if (rendered || dock.pendingCount() != 3 || dock.historyModel()->rowCount() != 3)
            return;
        rendered = true;
        dock.select(dock.pendingModel()->approvalAt(2).id);
        dock.commentEdit()->setPlainText(QStringLiteral("Reviewed the diff and the replay"));
        QTimer::singleShot(300, &dock, [&]() {
            if (dock.grab().save(out + QStringLiteral("/approval-dock.png")))
                std::printf("wrote approval-dock.png\n");
            else
                ++failures;
            app.quit();
        });
    });
    worker.start();
    dock.show();
    QTimer::singleShot(30000, &app, [&]() {
        std::fprintf(stderr, "timed out waiting for the approval dock to load\n");
        ++failures;
        app.quit();
    });
    app.exec();
    return failures == 0 && rendered ? 0 : 1;
}

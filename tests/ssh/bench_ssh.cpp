// SPDX-License-Identifier: Apache-2.0
// Round-trip time of `true` on a sandbox-like sshd on 127.0.0.1: Fluid's reused libssh connection (a command
// costs a channel) next to one OpenSSH `ssh` process per command (a command costs a handshake), with the
// same key and certificate against the same server. Bounded: 200 runs each, then it prints and exits.

#include "LoopbackSshd.h"
#include "TestSupport.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>

#include <algorithm>
#include <cstdio>

using namespace fluid;
using namespace fluid::test;

namespace {

constexpr int kRuns = 200;
constexpr int kWarmup = 10;

struct Stats {
    double p50 = 0;
    double p99 = 0;
    double mean = 0;
};

Stats stats(QList<double> ms)
{
    std::sort(ms.begin(), ms.end());
    Stats s;
    const auto at = [&](double q) {
        return ms[qMin(ms.size() - 1, int(q * ms.size()))];
    };
    s.p50 = at(0.50);
    s.p99 = at(0.99);
    for (double v : ms)
        s.mean += v;
    s.mean /= ms.size();
    return s;
}

int fail(const QString& why)
{
    std::fprintf(stderr, "bench_ssh: %s\n", qPrintable(why));
    return 1;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    if (const QString why = LoopbackSshd::unavailableReason(); !why.isEmpty()) {
        std::printf("bench_ssh: skipped: %s\n", qPrintable(why));
        return 0;
    }
    auto ca =
        std::make_shared<ssh::CertificateAuthority>(*ssh::KeyPair::generate(), *ssh::KeyPair::generate());
    LoopbackSshd sshd(ca);
    if (auto r = sshd.start(); !r)
        return fail(r.error().toString());

    // One key and certificate for both clients.
    auto key = ssh::KeyPair::generate(QStringLiteral("bench"));
    ssh::UserCertificateRequest req;
    req.key = key->publicKey();
    req.sandboxName = sshd.options().sandboxName;
    req.validity = std::chrono::minutes(10);
    auto cert = ca->issueUserCertificate(req);
    const QString dir = makeTempDir(QStringLiteral("bench-ssh"));
    const QString keyFile = dir + QStringLiteral("/id");
    const QString certFile = dir + QStringLiteral("/id-cert.pub");
    const QString knownHosts = dir + QStringLiteral("/known_hosts");
    if (!ssh::writePrivateKeyFile(keyFile, *key).ok())
        return fail(QStringLiteral("cannot write the key"));
    QFile c(certFile);
    QFile k(knownHosts);
    if (!c.open(QIODevice::WriteOnly) || !k.open(QIODevice::WriteOnly))
        return fail(QStringLiteral("cannot write files"));
    c.write(cert->toOpenSshLine().toUtf8() + '\n');
    k.write(ca->hostCaKnownHostsLine(sshd.options().sandboxName).toUtf8() + '\n');
    c.close();
    k.close();

    ssh::ConnectionOptions o;
    o.host = sshd.host();
    o.port = sshd.port();
    o.user = QStringLiteral("root");
    o.hostKeyCheck = ssh::HostKeyCheck::pinned(sshd.hostKey().publicKey());
    o.identity = ssh::Identity{*key, *cert};
    auto conn = ssh::SshConnection::open(o);
    if (auto r = conn->ready().result(); !r)
        return fail(r.error().toString());

    ssh::ExecRequest trueCmd;
    trueCmd.command = "true";
    trueCmd.timeout = std::chrono::seconds(30);
    QList<double> reused;
    for (int i = 0; i < kWarmup + kRuns; ++i) {
        QElapsedTimer t;
        t.start();
        auto r = conn->exec(trueCmd).result();
        const double ms = t.nsecsElapsed() / 1e6;
        if (!r || r->exitCode != 0)
            return fail(QStringLiteral("libssh run %1 failed").arg(i));
        if (i >= kWarmup)
            reused.append(ms);
    }

    const QStringList args = sshd.opensshArgs(keyFile, certFile, knownHosts) << QStringLiteral("true");
    QList<double> perProcess;
    for (int i = 0; i < kWarmup + kRuns; ++i) {
        const ProcessResult r = runProcess(QStringLiteral("ssh"), args, 30000);
        if (r.exitCode != 0)
            return fail(QStringLiteral("ssh run %1 failed: %2").arg(i).arg(QString::fromUtf8(r.err)));
        if (i >= kWarmup)
            perProcess.append(r.elapsedUs / 1000.0);
    }

    const Stats a = stats(reused);
    const Stats b = stats(perProcess);
    std::printf(
        "bench_ssh: round trip of `true`, %d runs each after %d warm-up, OpenSSH sshd on 127.0.0.1, same "
        "key and certificate\n",
        kRuns, kWarmup);
    std::printf("  %-52s p50 %7.2f ms   p99 %7.2f ms   mean %7.2f ms\n",
                "Fluid, one reused libssh connection (channel/cmd):", a.p50, a.p99, a.mean);
    std::printf("  %-52s p50 %7.2f ms   p99 %7.2f ms   mean %7.2f ms\n",
                "OpenSSH `ssh` process per command (handshake/cmd):", b.p50, b.p99, b.mean);
    std::printf("  reused connection is %.1fx faster at p50\n", b.p50 / a.p50);
    conn.reset();
    sshd.stop();
    return 0;
}

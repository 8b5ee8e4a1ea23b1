// SPDX-License-Identifier: Apache-2.0
#include "SshTestEnv.h"

namespace fluid::test {

std::shared_ptr<ssh::CertificateAuthority> makeTestCa(const Clock& clock)
{
    auto user = ssh::KeyPair::generate(QStringLiteral("test-user-ca"));
    auto host = ssh::KeyPair::generate(QStringLiteral("test-host-ca"));
    if (!user || !host)
        qFatal("cannot generate CA keys");
    return std::make_shared<ssh::CertificateAuthority>(*user, *host, clock);
}

void requireLoopbackSshd()
{
    if (const QString why = LoopbackSshd::unavailableReason(); !why.isEmpty())
        skipWholeTest(why);
}

Result<std::unique_ptr<LoopbackSshd>> startLoopbackSshd(std::shared_ptr<const ssh::CertificateAuthority> ca,
                                                        LoopbackSshd::Options options)
{
    requireLoopbackSshd();
    auto sshd = std::make_unique<LoopbackSshd>(std::move(ca), std::move(options));
    if (auto started = sshd->start(); !started)
        return started.error();
    return sshd;
}

std::unique_ptr<ssh::SandboxShell> makeShell(const std::shared_ptr<ssh::CertificateAuthority>& ca,
                                             const LoopbackSshd& sshd, ssh::SandboxShellOptions options)
{
    return std::make_unique<ssh::SandboxShell>(ca, sshd.endpoint(), std::move(options));
}

ssh::ExecRequest command(const QByteArray& text)
{
    ssh::ExecRequest req;
    req.command = text;
    req.timeout = std::chrono::seconds(60);
    return req;
}

QByteArray runOk(ssh::RemoteShell& shell, const QByteArray& command)
{
    ssh::ExecRequest req;
    req.command = command;
    req.timeout = std::chrono::seconds(60);
    const auto r = await(shell.exec(req));
    if (!r.ok()) {
        qWarning("command failed to run: %s", qPrintable(r.error().toString()));
        return {};
    }
    if (r->exitCode != 0)
        qWarning("command exited %d: %s", r->exitCode.value_or(-1), r->stderrData.text().constData());
    return r->stdoutData.text();
}

} // namespace fluid::test

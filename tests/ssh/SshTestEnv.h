// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "LoopbackSshd.h"
#include "TestSupport.h"

namespace fluid::test {

/// A fresh in-memory CA (user and host keys) on `clock`, for tests.
std::shared_ptr<ssh::CertificateAuthority> makeTestCa(const Clock& clock = Clock::system());

/// Skips the whole test (exit 77) when no loopback sshd can run here.
void requireLoopbackSshd();

/// The start sshd tests share: requireLoopbackSshd(), then a LoopbackSshd for `ca` with `options`, started
/// (a failed start has stopped its sshd and says why, with sshd's log).
Result<std::unique_ptr<LoopbackSshd>> startLoopbackSshd(std::shared_ptr<const ssh::CertificateAuthority> ca,
                                                        LoopbackSshd::Options options = {});

/// A SandboxShell for `sshd`'s sandbox with default options plus `options`.
std::unique_ptr<ssh::SandboxShell> makeShell(const std::shared_ptr<ssh::CertificateAuthority>& ca,
                                             const LoopbackSshd& sshd, ssh::SandboxShellOptions options = {});

/// An ExecRequest for `text` with a 60 s timeout.
ssh::ExecRequest command(const QByteArray& text);

/// Runs `command` and fails the test when it cannot run or exits non-zero; returns its stdout.
QByteArray runOk(ssh::RemoteShell& shell, const QByteArray& command);

} // namespace fluid::test

// SPDX-License-Identifier: Apache-2.0
#include "Signals.h"

#include <csignal>
#include <mutex>

namespace fluid {

void ignoreBrokenPipes()
{
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction current {};
        if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL &&
            !(current.sa_flags & SA_SIGINFO))
            std::signal(SIGPIPE, SIG_IGN);
    });
}

void prepareProcess()
{
    ignoreBrokenPipes();
}

} // namespace fluid

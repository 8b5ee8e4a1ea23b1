// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace fluid {

/// Makes writes to a peer that went away (a destroyed sandbox's SSH socket, a restarted libvirtd) fail with
/// EPIPE instead of killing the process with SIGPIPE: libssh and libvirt's client write with plain
/// write()/send(). Leaves a handler someone else installed alone. Called by the SSH and libvirt layers
/// before their first connection, and by the executables at start-up. Any thread; idempotent.
void ignoreBrokenPipes();

/// What every Fluid executable does first, before its Q(Core)Application exists (Qt Test installs its own
/// SIGPIPE handler otherwise): ignoreBrokenPipes().
void prepareProcess();

} // namespace fluid

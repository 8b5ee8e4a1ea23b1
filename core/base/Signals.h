// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace fluid {

/// Makes writes to a peer that went away (a destroyed sandbox's SSH socket, a restarted libvirtd) fail with
/// EPIPE instead of killing the process with SIGPIPE: libssh and libvirt's client write with plain
/// write()/send(). Leaves a handler someone else installed alone. Called by the SSH and libvirt layers
/// before their first connection, and by the executables at start-up. Any thread; idempotent.
void ignoreBrokenPipes();

/// What every Fluid executable does first, before its Q(Core)Application exists: ignoreBrokenPipes(), and
/// keep Qt off GLib's default main context (QT_NO_GLIB). libvirt's client runs its event loop - keepalive
/// answers, lifecycle events - on that context from its own thread; were Qt's main thread to own it, a busy
/// or blocked main thread would starve libvirt and the daemon would drop the connection (keepalive timeout).
void prepareProcess();

} // namespace fluid

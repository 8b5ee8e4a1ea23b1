// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace fluid::virt {

/// Registers Fluid's own libvirt event loop (virEventRegisterImpl): poll() on one thread of its own that
/// runs for the life of the process, serving libvirt's keepalive, connection-close and lifecycle-event
/// callbacks. libvirt's default loop would use GLib's default main context instead, which Qt's main
/// thread and libsecret (the keychain) iterate too: a busy or blocked main thread would then starve
/// libvirt until the daemon drops the connection. Call before the first virConnectOpen*; idempotent and
/// thread-safe.
void installEventLoop();

} // namespace fluid::virt

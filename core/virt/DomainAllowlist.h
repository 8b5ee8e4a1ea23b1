// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

#include <QDomDocument>
#include <QStringList>

namespace fluid::virt {

/// The sandbox allowlist over a source domain's XML. What Fluid knows to be safe stays (the disks it
/// overlays, pty consoles, the guest agent channel, local-only graphics, input, video, controllers,
/// memballoon, rng from /dev/urandom, firmware from the standard folders, ...); devices that can neither
/// reach out of the guest nor into it (sound, USB tablets, redirection, watchdog, panic, ...) are removed
/// with a note each; anything else, whether it can reach out or in or is simply unknown, refuses the
/// source with an error naming the element. Pure functions; thread: any.

/// Reads domain XML text (namespaces kept); InvalidArgument with the line when it is not XML or not a
/// <domain>.
Result<QDomDocument> parseDomainDocument(const QString& xml);

/// Applies the allowlist to `doc` in place and returns the notes for what it removed. On refusal `doc`
/// is left half-filtered: throw it away.
Result<QStringList> containSourceDomain(QDomDocument& doc);

/// The same check on XML text without keeping the result: the source list's "why it cannot be cloned"
/// and the first step of a create.
Result<QStringList> checkSourceContainment(const QString& xml);

} // namespace fluid::virt

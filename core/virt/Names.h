// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/Result.h"

namespace fluid::virt {

/// A sandbox name a person chose or Fluid generated: [a-z0-9][a-z0-9-]{0,39}. Names reach libvirt XML,
/// file names and shell commands, so nothing else passes (no dots, slashes, spaces, quotes or a leading
/// dash that could read as an option).
Result<void> validateSandboxName(const QString& name);

/// "sbx-" and 8 random hex digits.
QString generateSandboxName();

/// The libvirt domain name of a sandbox: "fluid-<name>". The name alone makes nothing Fluid's: ownership is
/// the mark in the domain's metadata (DomainMark.h).
QString domainNameFor(const QString& sandboxName);
inline constexpr char kDomainPrefix[] = "fluid-";

/// The sandbox name inside a Fluid domain or volume name, or an empty string when it is not one.
QString sandboxNameFromDomain(const QString& domainName);

} // namespace fluid::virt

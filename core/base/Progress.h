// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

#include <functional>

namespace fluid {

/// How far long work is, in one shape for every layer (a create, a diff, an image build, a playbook run):
/// the step it is in, a line for people, and how much of the whole is done. A value; any thread.
struct Progress {
    QString stage;        ///< the step, short and stable ("overlay", "waiting for SSH", "hashing")
    QString message;      ///< what a person reads; the stage when empty
    double fraction = -1; ///< 0..1 of the whole; negative when not known

    QString text() const { return message.isEmpty() ? stage : message; }
    bool operator==(const Progress&) const = default;
};

/// Receives progress on the thread doing the work; must be thread-safe and quick (hand it on, do not wait).
using ProgressSink = std::function<void(const Progress&)>;

} // namespace fluid

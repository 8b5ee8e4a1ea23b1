// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QtGlobal>

#include <functional>
#include <memory>

namespace fluid {

/// Asks long work to stop: the one cancel type of every layer. Copies share one flag, so whoever holds a copy
/// can cancel (a person's Cancel button, Ctrl-C, a closing host) and the work sees it: by polling
/// isCancelled() between steps, or at once through a callback that interrupts a wait (a process killed, a
/// request aborted, a wait for a decision ended). A child token is cancelled with its parent, never the other
/// way round. Cancelling is final. Thread-safe.
class CancelToken {
public:
    /// A fresh token nobody has cancelled.
    CancelToken();

    void cancel() const;
    bool isCancelled() const;

    /// Calls `fn` once when the token is cancelled, on the thread that cancels it (at once, here, when it
    /// already is). Keep it short and non-blocking. Returns an id for removeCallback().
    quint64 onCancel(std::function<void()> fn) const;
    /// Forgets a callback that has not run yet; waits while it is running, so after this returns it never
    /// runs again.
    void removeCallback(quint64 id) const;

    /// Sleeps up to `ms`, waking at once when the token is cancelled; true when it was cancelled. For work
    /// that polls something (a DHCP lease, a guest's SSH port) between tries.
    bool sleepFor(int ms) const;

    /// A token cancelled when this one is, that can also be cancelled on its own.
    CancelToken child() const;

    bool operator==(const CancelToken& other) const { return d == other.d; }

private:
    struct State;
    std::shared_ptr<State> d;
};

/// Runs a callback when a token is cancelled, for as long as it lives (scoped onCancel/removeCallback).
class CancelCallback {
public:
    CancelCallback(const CancelToken& token, std::function<void()> fn);
    ~CancelCallback();
    CancelCallback(const CancelCallback&) = delete;
    CancelCallback& operator=(const CancelCallback&) = delete;

private:
    CancelToken m_token;
    quint64 m_id;
};

} // namespace fluid

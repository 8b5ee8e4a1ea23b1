// SPDX-License-Identifier: Apache-2.0
#include "EventLoop.h"

#include "base/Logging.h"

#include <libvirt/libvirt.h>

#include <QElapsedTimer>
#include <QList>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

namespace fluid::virt {
namespace {

struct Handle {
    int id = 0;
    int fd = -1;
    int events = 0; ///< VIR_EVENT_HANDLE_* wanted
    virEventHandleCallback callback = nullptr;
    void* opaque = nullptr;
    virFreeCallback freeOpaque = nullptr;
    bool removed = false;
};

struct Timer {
    int id = 0;
    int intervalMs = -1; ///< -1 disabled, 0 on every pass, else every intervalMs
    qint64 dueMs = 0;
    virEventTimeoutCallback callback = nullptr;
    void* opaque = nullptr;
    virFreeCallback freeOpaque = nullptr;
    bool removed = false;
};

/// All state of the loop. libvirt calls the add/update/remove functions from any thread, including from
/// inside the callbacks this loop runs, so callbacks always run with the mutex released.
struct Loop {
    std::mutex mutex;
    std::vector<Handle> handles;
    std::vector<Timer> timers;
    int nextId = 1;
    int wakeRead = -1;
    int wakeWrite = -1;
    QElapsedTimer clock;

    qint64 nowMs() const { return clock.elapsed(); }

    void wake() const
    {
        const char byte = 0;
        [[maybe_unused]] const ssize_t n =
            ::write(wakeWrite, &byte, 1); // full pipe: a wake is pending anyway
    }

    void drainWake() const
    {
        char buffer[64];
        while (::read(wakeRead, buffer, sizeof buffer) > 0) {
        }
    }

    void run();
};

Loop& loop()
{
    static Loop instance;
    return instance;
}

short pollEvents(int virEvents)
{
    short e = 0;
    if (virEvents & VIR_EVENT_HANDLE_READABLE)
        e |= POLLIN;
    if (virEvents & VIR_EVENT_HANDLE_WRITABLE)
        e |= POLLOUT;
    return e;
}

int virEvents(short revents)
{
    int e = 0;
    if (revents & POLLIN)
        e |= VIR_EVENT_HANDLE_READABLE;
    if (revents & POLLOUT)
        e |= VIR_EVENT_HANDLE_WRITABLE;
    if (revents & (POLLERR | POLLNVAL))
        e |= VIR_EVENT_HANDLE_ERROR;
    if (revents & POLLHUP)
        e |= VIR_EVENT_HANDLE_HANGUP;
    return e;
}

int addHandle(int fd, int events, virEventHandleCallback cb, void* opaque, virFreeCallback ff)
{
    Loop& l = loop();
    std::lock_guard lock(l.mutex);
    const int id = l.nextId++;
    l.handles.push_back({id, fd, events, cb, opaque, ff, false});
    l.wake();
    return id;
}

void updateHandle(int id, int events)
{
    Loop& l = loop();
    std::lock_guard lock(l.mutex);
    for (Handle& h : l.handles)
        if (h.id == id && !h.removed)
            h.events = events;
    l.wake();
}

int removeHandle(int id)
{
    Loop& l = loop();
    std::lock_guard lock(l.mutex);
    for (Handle& h : l.handles) {
        if (h.id == id && !h.removed) {
            h.removed = true; // freed by the loop thread: libvirt must not get its free callback from here
            l.wake();
            return 0;
        }
    }
    return -1;
}

int addTimeout(int intervalMs, virEventTimeoutCallback cb, void* opaque, virFreeCallback ff)
{
    Loop& l = loop();
    std::lock_guard lock(l.mutex);
    const int id = l.nextId++;
    l.timers.push_back({id, intervalMs, l.nowMs() + qMax(0, intervalMs), cb, opaque, ff, false});
    l.wake();
    return id;
}

void updateTimeout(int id, int intervalMs)
{
    Loop& l = loop();
    std::lock_guard lock(l.mutex);
    for (Timer& t : l.timers) {
        if (t.id == id && !t.removed) {
            t.intervalMs = intervalMs;
            t.dueMs = l.nowMs() + qMax(0, intervalMs);
        }
    }
    l.wake();
}

int removeTimeout(int id)
{
    Loop& l = loop();
    std::lock_guard lock(l.mutex);
    for (Timer& t : l.timers) {
        if (t.id == id && !t.removed) {
            t.removed = true;
            l.wake();
            return 0;
        }
    }
    return -1;
}

void Loop::run()
{
    std::vector<pollfd> fds;
    std::vector<int> ids;
    for (;;) {
        int timeoutMs = -1;
        fds.clear();
        ids.clear();
        fds.push_back({wakeRead, POLLIN, 0});
        ids.push_back(0);
        {
            std::lock_guard lock(mutex);
            const qint64 now = nowMs();
            for (const Handle& h : handles) {
                if (h.removed || h.events == 0)
                    continue;
                fds.push_back({h.fd, pollEvents(h.events), 0});
                ids.push_back(h.id);
            }
            for (const Timer& t : timers) {
                if (t.removed || t.intervalMs < 0)
                    continue;
                const int wait = int(std::clamp<qint64>(t.dueMs - now, 0, 60000));
                timeoutMs = timeoutMs < 0 ? wait : qMin(timeoutMs, wait);
            }
        }
        if (::poll(fds.data(), nfds_t(fds.size()), timeoutMs) < 0 && errno != EINTR) {
            qCWarning(lcVirt) << "libvirt event loop: poll failed:" << errno;
            ::usleep(100000);
        }
        if (fds[0].revents)
            drainWake();

        // Timers that are due, then ready handles; each callback runs with the mutex released, and is
        // skipped when an earlier callback of this pass removed it.
        std::vector<int> dueTimers;
        {
            std::lock_guard lock(mutex);
            const qint64 now = nowMs();
            for (Timer& t : timers) {
                if (!t.removed && t.intervalMs >= 0 && t.dueMs <= now) {
                    dueTimers.push_back(t.id);
                    t.dueMs = now + t.intervalMs;
                }
            }
        }
        for (int id : dueTimers) {
            virEventTimeoutCallback cb = nullptr;
            void* opaque = nullptr;
            {
                std::lock_guard lock(mutex);
                for (const Timer& t : timers)
                    if (t.id == id && !t.removed && t.intervalMs >= 0) {
                        cb = t.callback;
                        opaque = t.opaque;
                    }
            }
            if (cb)
                cb(id, opaque);
        }
        for (size_t i = 1; i < fds.size(); ++i) {
            if (!fds[i].revents)
                continue;
            virEventHandleCallback cb = nullptr;
            void* opaque = nullptr;
            int fd = -1;
            {
                std::lock_guard lock(mutex);
                for (const Handle& h : handles)
                    if (h.id == ids[i] && !h.removed) {
                        cb = h.callback;
                        opaque = h.opaque;
                        fd = h.fd;
                    }
            }
            if (cb)
                cb(ids[i], fd, virEvents(fds[i].revents), opaque);
        }

        // Free what was removed, outside the lock (a free callback may call back into libvirt).
        std::vector<std::pair<virFreeCallback, void*>> toFree;
        {
            std::lock_guard lock(mutex);
            for (const Handle& h : handles)
                if (h.removed && h.freeOpaque)
                    toFree.emplace_back(h.freeOpaque, h.opaque);
            for (const Timer& t : timers)
                if (t.removed && t.freeOpaque)
                    toFree.emplace_back(t.freeOpaque, t.opaque);
            handles.erase(
                std::remove_if(handles.begin(), handles.end(), [](const Handle& h) { return h.removed; }),
                handles.end());
            timers.erase(
                std::remove_if(timers.begin(), timers.end(), [](const Timer& t) { return t.removed; }),
                timers.end());
        }
        for (const auto& [ff, opaque] : toFree)
            ff(opaque);
    }
}

} // namespace

void installEventLoop()
{
    static std::once_flag once;
    std::call_once(once, [] {
        Loop& l = loop();
        l.clock.start();
        int pipeFds[2];
        if (::pipe2(pipeFds, O_CLOEXEC | O_NONBLOCK) != 0) {
            qCWarning(lcVirt) << "libvirt event loop unavailable: no pipe (errno" << errno << ")";
            return;
        }
        l.wakeRead = pipeFds[0];
        l.wakeWrite = pipeFds[1];
        virEventRegisterImpl(addHandle, updateHandle, removeHandle, addTimeout, updateTimeout, removeTimeout);
        std::thread([&l] { l.run(); }).detach();
    });
}

} // namespace fluid::virt

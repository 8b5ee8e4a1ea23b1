// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to core/ssh: what the operations on one session channel share (exec, kill requests, terminals).
// Runs on the connection's thread.

#include "ConnectionInternals.h"

namespace fluid::ssh::detail {

/// Writes as much of `data` from `offset` as the channel's window takes now; false on a channel error.
/// `blocked` says whether the window filled up before everything was written.
bool writeSome(ssh_channel channel, const QByteArray& data, qsizetype& offset, bool* blocked);

enum class Open { Pending, Ready, Failed, Denied };

/// The base of every operation that runs on one session channel: the channel, its callbacks, and what the
/// remote side reported. Callbacks consume data as it arrives (in packet order, before the close), so no
/// output is lost when the channel closes right after it. Lives on the connection's thread.
class ChannelOp : public Op {
public:
    ChannelOp();
    ~ChannelOp() override;
    ChannelOp(const ChannelOp&) = delete;
    ChannelOp& operator=(const ChannelOp&) = delete;

    int openChannels() const override { return m_channel && ssh_channel_is_open(m_channel) ? 1 : 0; }

protected:
    /// Consumes channel data; returns how many bytes were taken (the rest stays buffered in libssh).
    virtual int onData(const char* data, uint32_t len, bool isStderr) = 0;

    /// Opens the session channel without blocking; Denied when the server refused it (its MaxSessions).
    Open openSession(ConnectionImpl& c);
    void release();
    bool remoteDone() const { return m_closed || (m_exitReceived && m_eof); }

    ssh_channel m_channel = nullptr;
    bool m_eof = false;
    bool m_closed = false;
    bool m_exitReceived = false;
    std::optional<int> m_exitCode;
    QString m_signal;

private:
    static int dataCb(ssh_session, ssh_channel, void* data, uint32_t len, int isStderr, void* self);
    static void eofCb(ssh_session, ssh_channel, void* self);
    static void closeCb(ssh_session, ssh_channel, void* self);
    static void exitStatusCb(ssh_session, ssh_channel, int status, void* self);
    static void exitSignalCb(ssh_session, ssh_channel, const char* signal, int, const char*, const char*,
                             void* self);

    ssh_channel_callbacks_struct m_callbacks{};
};

} // namespace fluid::ssh::detail

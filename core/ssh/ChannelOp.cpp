// SPDX-License-Identifier: Apache-2.0
#include "ChannelOp.h"

#include <algorithm>

namespace fluid::ssh::detail {
namespace {

constexpr uint32_t kWriteChunk = 32 * 1024;

} // namespace

bool writeSome(ssh_channel channel, const QByteArray& data, qsizetype& offset, bool* blocked)
{
    *blocked = false;
    while (offset < data.size()) {
        const uint32_t window = ssh_channel_window_size(channel);
        if (window == 0) {
            *blocked = true;
            return true;
        }
        const uint32_t n = std::min({window, kWriteChunk, uint32_t(data.size() - offset)});
        const int written = ssh_channel_write(channel, data.constData() + offset, n);
        if (written == SSH_ERROR)
            return false;
        if (written == 0) {
            *blocked = true;
            return true;
        }
        offset += written;
    }
    return true;
}

ChannelOp::ChannelOp()
{
    m_callbacks.userdata = this;
    m_callbacks.channel_data_function = &ChannelOp::dataCb;
    m_callbacks.channel_eof_function = &ChannelOp::eofCb;
    m_callbacks.channel_close_function = &ChannelOp::closeCb;
    m_callbacks.channel_exit_status_function = &ChannelOp::exitStatusCb;
    m_callbacks.channel_exit_signal_function = &ChannelOp::exitSignalCb;
    ssh_callbacks_init(&m_callbacks);
}

ChannelOp::~ChannelOp()
{
    release();
}

Open ChannelOp::openSession(ConnectionImpl& c)
{
    if (!m_channel) {
        m_channel = ssh_channel_new(c.session());
        if (!m_channel)
            return Open::Failed;
        ssh_set_channel_callbacks(m_channel, &m_callbacks);
    }
    const int rc = ssh_channel_open_session(m_channel);
    if (rc == SSH_AGAIN)
        return Open::Pending;
    if (rc == SSH_OK)
        return Open::Ready;
    const bool denied = ssh_get_error_code(c.session()) == SSH_REQUEST_DENIED;
    release();
    return denied ? Open::Denied : Open::Failed;
}

void ChannelOp::release()
{
    if (!m_channel)
        return;
    ssh_remove_channel_callbacks(m_channel, &m_callbacks);
    if (ssh_channel_is_open(m_channel))
        ssh_channel_close(m_channel);
    ssh_channel_free(m_channel);
    m_channel = nullptr;
}

int ChannelOp::dataCb(ssh_session, ssh_channel, void* data, uint32_t len, int isStderr, void* self)
{
    return static_cast<ChannelOp*>(self)->onData(static_cast<const char*>(data), len, isStderr != 0);
}

void ChannelOp::eofCb(ssh_session, ssh_channel, void* self)
{
    static_cast<ChannelOp*>(self)->m_eof = true;
}

void ChannelOp::closeCb(ssh_session, ssh_channel, void* self)
{
    static_cast<ChannelOp*>(self)->m_closed = true;
}

void ChannelOp::exitStatusCb(ssh_session, ssh_channel, int status, void* self)
{
    auto* op = static_cast<ChannelOp*>(self);
    op->m_exitCode = status;
    op->m_exitReceived = true;
}

void ChannelOp::exitSignalCb(ssh_session, ssh_channel, const char* signal, int, const char*, const char*,
                             void* self)
{
    auto* op = static_cast<ChannelOp*>(self);
    op->m_signal = QString::fromLatin1(signal ? signal : "");
    op->m_exitReceived = true;
}

} // namespace fluid::ssh::detail

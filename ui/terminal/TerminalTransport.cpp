// SPDX-License-Identifier: Apache-2.0
#include "TerminalTransport.h"

#include "ssh/PtySession.h"

namespace fluid::ui {

PtyTransport::PtyTransport(QObject* parent)
    : TerminalTransport(parent)
{
}

PtyTransport::PtyTransport(std::unique_ptr<ssh::PtySession> session, std::shared_ptr<void> keepAlive,
                           QObject* parent)
    : TerminalTransport(parent)
{
    attach(std::move(session), std::move(keepAlive));
}

PtyTransport::~PtyTransport()
{
    m_session.reset();
    m_keepAlive.reset();
}

void PtyTransport::attach(std::unique_ptr<ssh::PtySession> session, std::shared_ptr<void> keepAlive)
{
    m_session = std::move(session);
    m_keepAlive = std::move(keepAlive);
    if (!m_session)
        return;
    connect(m_session.get(), &ssh::PtySession::opened, this, &TerminalTransport::opened);
    connect(m_session.get(), &ssh::PtySession::output, this, &TerminalTransport::output);
    connect(m_session.get(), &ssh::PtySession::finished, this, &TerminalTransport::finished);
    connect(m_session.get(), &ssh::PtySession::failed, this, &TerminalTransport::failed);
    // A size or close asked for while the shell was still being opened.
    if (m_cols > 0 && m_rows > 0)
        m_session->resize(m_cols, m_rows);
    if (m_closeRequested)
        m_session->close();
}

void PtyTransport::fail(const QString& message)
{
    Q_EMIT failed(message);
}

void PtyTransport::write(const QByteArray& bytes)
{
    if (m_session)
        m_session->write(bytes);
}

void PtyTransport::resize(int cols, int rows)
{
    m_cols = cols;
    m_rows = rows;
    if (m_session)
        m_session->resize(cols, rows);
}

void PtyTransport::close()
{
    m_closeRequested = true;
    if (m_session)
        m_session->close();
}

} // namespace fluid::ui

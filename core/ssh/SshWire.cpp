// SPDX-License-Identifier: Apache-2.0
#include "SshWire.h"

#include <QtEndian>

namespace fluid::ssh {

void WireWriter::u8(quint8 v)
{
    m_data.append(char(v));
}

void WireWriter::u32(quint32 v)
{
    char b[4];
    qToBigEndian(v, b);
    m_data.append(b, 4);
}

void WireWriter::u64(quint64 v)
{
    char b[8];
    qToBigEndian(v, b);
    m_data.append(b, 8);
}

void WireWriter::string(const QByteArray& s)
{
    u32(quint32(s.size()));
    m_data.append(s);
}

void WireWriter::raw(const QByteArray& bytes)
{
    m_data.append(bytes);
}

std::optional<QByteArray> WireReader::raw(qsizetype n)
{
    if (!m_ok || n < 0 || m_data.size() - m_pos < n) {
        m_ok = false;
        return std::nullopt;
    }
    QByteArray out = m_data.mid(m_pos, n);
    m_pos += n;
    return out;
}

std::optional<quint32> WireReader::u32()
{
    const auto b = raw(4);
    if (!b)
        return std::nullopt;
    return qFromBigEndian<quint32>(b->constData());
}

std::optional<quint64> WireReader::u64()
{
    const auto b = raw(8);
    if (!b)
        return std::nullopt;
    return qFromBigEndian<quint64>(b->constData());
}

std::optional<QByteArray> WireReader::string()
{
    const auto n = u32();
    if (!n)
        return std::nullopt;
    return raw(qsizetype(*n));
}

QByteArray wireString(const QByteArray& s)
{
    WireWriter w;
    w.string(s);
    return w.take();
}

std::optional<QList<QByteArray>> readStringList(const QByteArray& packed)
{
    WireReader r(packed);
    QList<QByteArray> out;
    while (!r.atEnd()) {
        auto s = r.string();
        if (!s)
            return std::nullopt;
        out.append(*s);
    }
    return out;
}

} // namespace fluid::ssh

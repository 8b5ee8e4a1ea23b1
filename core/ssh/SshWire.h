// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QList>

#include <optional>

namespace fluid::ssh {

/// Builds data in the SSH wire encoding of RFC 4251 section 5 (big-endian integers, length-prefixed strings),
/// the encoding of public key blobs, certificates, signatures and OpenSSH private key files. Plain value
/// type; any thread.
class WireWriter {
public:
    void u8(quint8 v);
    void u32(quint32 v);
    void u64(quint64 v);
    void string(const QByteArray& s);
    /// Bytes with no length prefix.
    void raw(const QByteArray& bytes);
    const QByteArray& data() const { return m_data; }
    QByteArray take() { return std::move(m_data); }

private:
    QByteArray m_data;
};

/// Reads the SSH wire encoding; every read fails (returns empty) instead of reading past the end, and ok()
/// stays false from the first failure on. Plain value type; any thread.
class WireReader {
public:
    explicit WireReader(QByteArray data)
        : m_data(std::move(data))
    {
    }

    std::optional<quint32> u32();
    std::optional<quint64> u64();
    std::optional<QByteArray> string();
    std::optional<QByteArray> raw(qsizetype n);
    bool atEnd() const { return m_pos == m_data.size(); }
    bool ok() const { return m_ok; }
    qsizetype position() const { return m_pos; }
    QByteArray remaining() const { return m_data.mid(m_pos); }

private:
    QByteArray m_data;
    qsizetype m_pos = 0;
    bool m_ok = true;
};

/// One SSH string holding `s`: its 4-byte length, then the bytes.
QByteArray wireString(const QByteArray& s);

/// Splits a buffer of consecutive SSH strings (a certificate's principals list); empty on malformed input.
std::optional<QList<QByteArray>> readStringList(const QByteArray& packed);

} // namespace fluid::ssh

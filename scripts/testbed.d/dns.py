#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# dns.py ADDRESS NAME=IP...: a stand-in "outside" DNS server for the test bed (UDP, A records only).
# Answers each NAME with its IP, AAAA/other types for those names with no records, anything else NXDOMAIN.
# It stands for the resolver a host forwards to; nothing here leaves the test bed's namespace.
import socket
import struct
import sys


def parse_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n & 0xC0:
            raise ValueError("compressed names are not expected in a question")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def answer(msg, records):
    ident, flags, qd = struct.unpack("!HHH", msg[:6])
    if qd != 1:
        return None
    name, off = parse_name(msg, 12)
    qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
    question = msg[12:off + 4]
    rd = flags & 0x0100
    if name not in records:
        return struct.pack("!HHHHHH", ident, 0x8183 | rd, 1, 0, 0, 0) + question
    if qtype != 1:
        return struct.pack("!HHHHHH", ident, 0x8180 | rd, 1, 0, 0, 0) + question
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, qclass, 60, 4) + socket.inet_aton(records[name])
    return struct.pack("!HHHHHH", ident, 0x8180 | rd, 1, 1, 0, 0) + question + rr


def main():
    address = sys.argv[1]
    records = dict(a.lower().split("=", 1) for a in sys.argv[2:])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, 53))
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            out = answer(msg, records)
        except (ValueError, IndexError, struct.error):
            out = None
        if out:
            s.sendto(out, peer)


if __name__ == "__main__":
    main()

// SPDX-License-Identifier: Apache-2.0
#include "RemoteRelay.h"

#include "base/Logging.h"
#include "base/Redact.h"
#include "ssh/SshConnection.h"

#include <QThread>

#include <openssl/rand.h>

namespace fluid::services {

namespace {

/// How long the relay gets to fail at start (no python3, the address taken) before it counts as running.
constexpr int kStartGraceMs = 1500;

// The relay, run by python3 on the host. Placeholders: @ADDR@ @PORT@ @FWD@ @TOKEN@.
constexpr char kRelayProgram[] = R"PY(
import os, socket, sys, threading, time
ADDR, PORT, FWD, TOKEN = "@ADDR@", @PORT@, @FWD@, b"@TOKEN@"
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    srv.bind((ADDR, PORT))
except OSError as e:
    sys.stderr.write("the egress relay cannot listen on %s:%d: %s\n" % (ADDR, PORT, e))
    sys.exit(4)
srv.listen(256)

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def serve(c, peer):
    try:
        u = socket.create_connection(("127.0.0.1", FWD), timeout=10)
        u.settimeout(None)
        u.sendall(b"FLUID-RELAY " + TOKEN + b" " + peer[0].encode() + b"\n")
    except OSError:
        c.close()
        return
    t = threading.Thread(target=pipe, args=(u, c), daemon=True)
    t.start()
    pipe(c, u)
    t.join()
    c.close()
    u.close()

def forward_listening():
    want = "0100007F:%04X" % FWD
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                p = line.split()
                if len(p) > 3 and p[1] == want and p[3] == "0A":
                    return True
    except OSError:
        return True
    return False

def watch():
    # Fluid's SSH connection carries the forward: once it is gone, so is the relay.
    while True:
        time.sleep(2)
        if not forward_listening():
            os._exit(0)

threading.Thread(target=watch, daemon=True).start()
while True:
    c, peer = srv.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
)PY";

QByteArray randomToken()
{
    QByteArray raw(16, Qt::Uninitialized);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), int(raw.size())) != 1)
        return {};
    return raw.toHex();
}

} // namespace

QByteArray RemoteRelay::command(const QHostAddress& listen, quint16 port, quint16 forwardPort,
                                const QByteArray& token)
{
    QByteArray program(kRelayProgram);
    program.replace("@ADDR@", listen.toString().toLatin1())
        .replace("@PORT@", QByteArray::number(port))
        .replace("@FWD@", QByteArray::number(forwardPort))
        .replace("@TOKEN@", token);
    return "command -v python3 >/dev/null 2>&1 || { echo 'the egress relay needs python3 on this host' >&2; "
           "exit 3; }\nexec python3 - <<'FLUID_RELAY_END'" +
           program + "FLUID_RELAY_END\n";
}

Result<std::unique_ptr<RemoteRelay>> RemoteRelay::start(std::shared_ptr<ssh::SshConnection> host,
                                                        const QHostAddress& listen, quint16 port,
                                                        std::function<void(int fd)> accept)
{
    if (listen.protocol() != QAbstractSocket::IPv4Protocol || port == 0)
        return makeError(ErrorCode::InvalidArgument,
                         QStringLiteral("The egress relay needs an IPv4 address and a port to listen on"));
    std::unique_ptr<RemoteRelay> relay(new RemoteRelay);
    relay->m_host = host;
    relay->m_token = randomToken();
    if (relay->m_token.isEmpty())
        return makeError(ErrorCode::Crypto, QStringLiteral("the system random number generator failed"));
    // The token appears in the relay's command, which the audit log records: keep it out of the log.
    registerSecret(QString::fromLatin1(relay->m_token));

    auto forwarded = host->listenForward(QStringLiteral("127.0.0.1"), 0,
                                         [accept](ssh::ForwardedConnection f) { accept(f.fd); });
    forwarded.waitForFinished();
    if (forwarded.resultCount() == 0)
        return makeError(ErrorCode::Cancelled, QStringLiteral("The remote forward was cancelled"));
    Result<int> forwardPort = forwarded.result();
    if (!forwardPort)
        return forwardPort.error();

    ssh::ExecRequest request;
    request.command = command(listen, port, quint16(*forwardPort), relay->m_token);
    request.shell = QStringLiteral("/bin/sh");
    request.timeout = std::chrono::milliseconds(0);
    request.hideFromProcessList = true; // the token is in the program text
    request.auditLabel = QStringLiteral("egress relay on %1:%2").arg(listen.toString()).arg(port);
    relay->m_relay = host->exec(std::move(request));
    // A relay that cannot run ends at once; one that runs does not end before it is stopped.
    for (int waited = 0; waited < kStartGraceMs && !relay->m_relay.isFinished(); waited += 50)
        QThread::msleep(50);
    if (relay->m_relay.isFinished()) {
        const Result<ssh::ExecResult> ended =
            relay->m_relay.resultCount() > 0
                ? relay->m_relay.result()
                : Result<ssh::ExecResult>(makeError(ErrorCode::Cancelled, QStringLiteral("cancelled")));
        if (!ended)
            return ended.error();
        return makeError(ErrorCode::Unavailable,
                         QStringLiteral("The egress relay on the host stopped at start (exit %1)")
                             .arg(ended->exitCode.value_or(-1)),
                         QString::fromUtf8(ended->stderrData.text()).trimmed());
    }
    qCInfo(lcEgress).noquote() << "egress relay on" << listen.toString() << port << "forwarding to port"
                               << *forwardPort << "on the host's loopback";
    return relay;
}

bool RemoteRelay::running() const
{
    return m_relay.isValid() && !m_relay.isFinished();
}

RemoteRelay::~RemoteRelay()
{
    if (m_relay.isValid() && !m_relay.isFinished()) {
        m_relay.cancel(); // the command's process group on the host is killed
        m_relay.waitForFinished();
    }
}

} // namespace fluid::services

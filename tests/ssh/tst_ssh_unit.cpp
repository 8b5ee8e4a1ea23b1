// SPDX-License-Identifier: Apache-2.0
// The SSH layer's pure parts: wire encoding, keys and certificates (encode, parse, sign, verify), the CA's
// rules and secret store persistence, output capping, quoting, path checks, exact-once edits, tmux builders.

#include "secrets/EncryptedFileSecretStore.h"
#include "ssh/CertificateAuthority.h"
#include "ssh/CommandAudit.h"
#include "ssh/Exec.h"
#include "ssh/HostTrust.h"
#include "ssh/RemoteFiles.h"
#include "ssh/SshWire.h"
#include "ssh/Tmux.h"
#include "TestSupport.h"

#include <QtTest>

using namespace fluid;
using namespace fluid::ssh;

class TstSshUnit : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void wireRoundTrip()
    {
        WireWriter w;
        w.u32(0xdeadbeef);
        w.u64(0x0102030405060708ULL);
        w.string("hello");
        w.string({});
        WireReader r(w.data());
        QCOMPARE(*r.u32(), 0xdeadbeefu);
        QCOMPARE(*r.u64(), 0x0102030405060708ULL);
        QCOMPARE(*r.string(), QByteArray("hello"));
        QCOMPARE(*r.string(), QByteArray());
        QVERIFY(r.atEnd());
        QVERIFY(!r.u32().has_value());
        QVERIFY(!r.ok());

        WireReader truncated(QByteArray("\x00\x00\x00\x09"
                                        "abc",
                                        7));
        QVERIFY(!truncated.string().has_value());
    }

    void keyPairRoundTripsThroughOpenSshFormat()
    {
        auto key = KeyPair::generate(QStringLiteral("comment é"));
        QVERIFY(key.ok());
        const QByteArray pem = key->toOpenSshPrivateKey();
        QVERIFY(pem.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        QVERIFY(pem.endsWith("-----END OPENSSH PRIVATE KEY-----\n"));
        auto back = KeyPair::fromOpenSshPrivateKey(pem);
        QVERIFY2(back.ok(), qPrintable(back.ok() ? QString() : back.error().toString()));
        QCOMPARE(back->publicKey(), key->publicKey());
        QCOMPARE(back->comment(), QStringLiteral("comment é"));

        const QByteArray data = "to be signed";
        auto sig = back->sign(data);
        QVERIFY(sig.ok());
        QVERIFY(key->publicKey().verify(data, *sig));
        QVERIFY(!key->publicKey().verify("other data", *sig));

        QCOMPARE(KeyPair::fromOpenSshPrivateKey("garbage").error().code, ErrorCode::InvalidArgument);
        QByteArray tampered = pem;
        tampered[60] = tampered[60] == 'A' ? 'B' : 'A';
        QVERIFY(!KeyPair::fromOpenSshPrivateKey(tampered).ok());
    }

    void publicKeyForms()
    {
        auto key = KeyPair::generate();
        const PublicKey pub = key->publicKey();
        const QString line = pub.toOpenSshLine(QStringLiteral("me@host"));
        QVERIFY(line.startsWith(QLatin1String("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI")));
        QCOMPARE(*PublicKey::fromOpenSshLine(line), pub);
        QCOMPARE(*PublicKey::fromBlob(pub.blob()), pub);
        QVERIFY(pub.fingerprint().startsWith(QLatin1String("SHA256:")));
        QCOMPARE(pub.fingerprint().size(), 7 + 43);
        QVERIFY(!PublicKey::fromOpenSshLine(QStringLiteral("ssh-rsa AAAAB3NzaC1yc2E=")).ok());
    }

    void certificateEncodingAndVerification()
    {
        ManualClock clock(QDateTime::fromSecsSinceEpoch(1'750'000'000, Qt::UTC));
        auto userCa = KeyPair::generate();
        auto hostCa = KeyPair::generate();
        CertificateAuthority ca(*userCa, *hostCa, clock);
        auto client = KeyPair::generate();
        UserCertificateRequest req;
        req.key = client->publicKey();
        req.sandboxName = QStringLiteral("sbx-1");
        req.sessionId = QStringLiteral("s-42");
        req.sourceAddresses = {QStringLiteral("10.0.0.0/8"), QStringLiteral("127.0.0.1")};
        auto cert = ca.issueUserCertificate(req);
        QVERIFY2(cert.ok(), qPrintable(cert.ok() ? QString() : cert.error().toString()));
        QCOMPARE(cert->type, CertificateType::User);
        QCOMPARE(cert->principals, QStringList{QStringLiteral("sbx-1")});
        QCOMPARE(cert->keyId, QStringLiteral("fluid sandbox=sbx-1 session=s-42"));
        QCOMPARE(cert->validAfter.toSecsSinceEpoch(), 1'750'000'000 - 30);
        QCOMPARE(cert->validBefore.toSecsSinceEpoch(), 1'750'000'000 + 300);
        QCOMPARE(cert->extensions.keys(), QStringList{QStringLiteral("permit-pty")});
        QCOMPARE(cert->criticalOptionText(QStringLiteral("source-address")),
                 QStringLiteral("10.0.0.0/8,127.0.0.1"));
        QCOMPARE(cert->nonce.size(), 32);

        auto parsed = Certificate::fromOpenSshLine(cert->toOpenSshLine(QStringLiteral("c")));
        QVERIFY(parsed.ok());
        QCOMPARE(parsed->serial, cert->serial);
        QCOMPARE(parsed->blob, cert->blob);
        QCOMPARE(parsed->toBeSigned(), cert->toBeSigned());
        QVERIFY(parsed->verifySignature().ok());
        QVERIFY(
            parsed->check(ca.userCaPublicKey(), CertificateType::User, QStringLiteral("sbx-1"), clock.now())
                .ok());
        QCOMPARE(
            parsed->check(ca.hostCaPublicKey(), CertificateType::User, QStringLiteral("sbx-1"), clock.now())
                .error()
                .code,
            ErrorCode::Refused);
        QVERIFY(
            !parsed->check(ca.userCaPublicKey(), CertificateType::Host, QStringLiteral("sbx-1"), clock.now())
                 .ok());
        QVERIFY(
            !parsed->check(ca.userCaPublicKey(), CertificateType::User, QStringLiteral("other"), clock.now())
                 .ok());
        QVERIFY(!parsed
                     ->check(ca.userCaPublicKey(), CertificateType::User, QStringLiteral("sbx-1"),
                             clock.now().addSecs(301))
                     .ok());

        // One flipped bit in the signed part breaks the signature.
        QByteArray bad = cert->blob;
        bad[120] = char(bad[120] ^ 1);
        auto tampered = Certificate::parse(bad);
        if (tampered.ok())
            QVERIFY(!tampered->verifySignature().ok());

        // Random serials and nonces.
        auto again = ca.issueUserCertificate(req);
        QVERIFY(again->serial != cert->serial);
        QVERIFY(again->nonce != cert->nonce);
    }

    void userCertificateValidityRange_data()
    {
        QTest::addColumn<int>("seconds");
        QTest::addColumn<bool>("ok");
        QTest::newRow("59s") << 59 << false;
        QTest::newRow("1min") << 60 << true;
        QTest::newRow("5min") << 300 << true;
        QTest::newRow("10min") << 600 << true;
        QTest::newRow("601s") << 601 << false;
        QTest::newRow("zero") << 0 << false;
    }

    void userCertificateValidityRange()
    {
        QFETCH(int, seconds);
        QFETCH(bool, ok);
        CertificateAuthority ca(*KeyPair::generate(), *KeyPair::generate());
        UserCertificateRequest req;
        req.key = KeyPair::generate()->publicKey();
        req.sandboxName = QStringLiteral("sbx");
        req.validity = std::chrono::seconds(seconds);
        auto cert = ca.issueUserCertificate(req);
        QCOMPARE(cert.ok(), ok);
        if (!ok)
            QCOMPARE(cert.error().code, ErrorCode::InvalidArgument);
    }

    void namesAndAddressesAreChecked()
    {
        CertificateAuthority ca(*KeyPair::generate(), *KeyPair::generate());
        UserCertificateRequest req;
        req.key = KeyPair::generate()->publicKey();
        for (const QString& bad :
             {QString(), QStringLiteral("a b"), QStringLiteral("a,b"), QStringLiteral("x\ny")}) {
            req.sandboxName = bad;
            QVERIFY2(!ca.issueUserCertificate(req).ok(), qPrintable(bad));
        }
        req.sandboxName = QStringLiteral("ok");
        req.sourceAddresses = {QStringLiteral("not-an-address")};
        QVERIFY(!ca.issueUserCertificate(req).ok());
        req.sourceAddresses.clear();
        req.key = PublicKey();
        QVERIFY(!ca.issueUserCertificate(req).ok());
    }

    void hostCertificate()
    {
        CertificateAuthority ca(*KeyPair::generate(), *KeyPair::generate());
        HostCertificateRequest req;
        req.key = KeyPair::generate()->publicKey();
        req.sandboxName = QStringLiteral("sbx-h");
        req.extraPrincipals = {QStringLiteral("10.1.2.3")};
        auto cert = ca.issueHostCertificate(req);
        QVERIFY(cert.ok());
        QCOMPARE(cert->type, CertificateType::Host);
        QCOMPARE(cert->principals, (QStringList{QStringLiteral("sbx-h"), QStringLiteral("10.1.2.3")}));
        QVERIFY(cert->extensions.isEmpty());
        QVERIFY(cert->criticalOptions.isEmpty());
        QCOMPARE(cert->signatureKey, ca.hostCaPublicKey());

        auto pin = HostKeyCheck::pinnedByCertificate(*cert, ca.hostCaPublicKey(), QStringLiteral("sbx-h"),
                                                     QDateTime::currentDateTimeUtc());
        QVERIFY(pin.ok());
        QCOMPARE(pin->pinnedKey, req.key);
        QVERIFY(!HostKeyCheck::pinnedByCertificate(*cert, ca.userCaPublicKey(), QStringLiteral("sbx-h"),
                                                   QDateTime::currentDateTimeUtc())
                     .ok());
        QVERIFY(!HostKeyCheck::pinnedByCertificate(*cert, ca.hostCaPublicKey(), QStringLiteral("other"),
                                                   QDateTime::currentDateTimeUtc())
                     .ok());
        QVERIFY(ca.hostCaKnownHostsLine(QStringLiteral("sbx-*"))
                    .startsWith(QLatin1String("@cert-authority sbx-* ssh-ed25519 AAAA")));
    }

    /// Both kinds of certificate take their validity from the CA's clock, wherever that clock stands.
    void certificatesFollowTheInjectedClock()
    {
        ManualClock clock(QDateTime::fromSecsSinceEpoch(1'800'000'000, Qt::UTC));
        CertificateAuthority ca(*KeyPair::generate(), *KeyPair::generate(), clock);
        QCOMPARE(&ca.clock(), static_cast<const Clock*>(&clock));
        HostCertificateRequest host;
        host.key = KeyPair::generate()->publicKey();
        host.sandboxName = QStringLiteral("sbx-h");
        host.validity = std::chrono::hours(2);
        auto hostCert = ca.issueHostCertificate(host);
        QVERIFY(hostCert.ok());
        QCOMPARE(hostCert->validAfter.toSecsSinceEpoch(), 1'800'000'000 - 30);
        QCOMPARE(hostCert->validBefore.toSecsSinceEpoch(), 1'800'000'000 + 7200);

        clock.advance(3600 * 1000);
        UserCertificateRequest user;
        user.key = KeyPair::generate()->publicKey();
        user.sandboxName = QStringLiteral("sbx-h");
        user.validity = std::chrono::seconds(120);
        auto userCert = ca.issueUserCertificate(user);
        QVERIFY(userCert.ok());
        QCOMPARE(userCert->validAfter.toSecsSinceEpoch(), 1'800'003'600 - 30);
        QCOMPARE(userCert->validBefore.toSecsSinceEpoch(), 1'800'003'600 + 120);
        QVERIFY(
            userCert->check(ca.userCaPublicKey(), CertificateType::User, QStringLiteral("sbx-h"), clock.now())
                .ok());
        QVERIFY(!userCert
                     ->check(ca.userCaPublicKey(), CertificateType::User, QStringLiteral("sbx-h"),
                             QDateTime::currentDateTimeUtc())
                     .ok());
    }

    /// Audit records name who acted in Actor's form; an unset actor is Fluid itself.
    void auditRecordsNameTheActor()
    {
        AuditContext context;
        context.sandboxId = QStringLiteral("sbx-id");
        context.sessionId = QStringLiteral("s-1");
        context.target = QStringLiteral("root@sbx (10.0.0.5:22)");
        ExecRequest request;
        request.command = "uptime";
        ExecResult result;
        result.exitCode = 0;
        result.startedAt = QDateTime::fromSecsSinceEpoch(1'750'000'000, Qt::UTC);
        result.finishedAt = result.startedAt.addMSecs(1500);
        const AuditRecord system = commandAuditRecord(context, request, result);
        QCOMPARE(system.event.actor, QStringLiteral("system"));
        QCOMPARE(system.event.kind, QStringLiteral("command.run"));
        QCOMPARE(system.event.sandboxId, QStringLiteral("sbx-id"));
        QCOMPARE(system.event.sessionId, QStringLiteral("s-1"));
        QCOMPARE(system.event.data.value(QStringLiteral("target")).toString(), context.target);
        QCOMPARE(system.event.data.value(QStringLiteral("started_at")).toString(),
                 QStringLiteral("2025-06-15T15:06:40.000Z"));
        QCOMPARE(system.command->startedAt, result.startedAt);
        QCOMPARE(system.command->finishedAt, result.finishedAt);

        context.actor = model::Actor::agent(QStringLiteral("session-9"));
        QCOMPARE(commandAuditRecord(context, request, result).event.actor, QStringLiteral("agent:session-9"));
        context.actor = model::Actor::person(QStringLiteral("alice"));
        const AuditRecord file =
            auditRecord(context, QStringLiteral("file.read"), QStringLiteral("/etc/hosts"));
        QCOMPARE(file.event.actor, QStringLiteral("person:alice"));
        QCOMPARE(file.event.kind, QStringLiteral("file.read"));
        QCOMPARE(file.event.summary, QStringLiteral("/etc/hosts"));
        QCOMPARE(file.event.data.value(QStringLiteral("target")).toString(), context.target);
        const Error refused = makeError(ErrorCode::Refused, QStringLiteral("no"));
        const AuditRecord failed = commandAuditRecord(context, request, result, &refused);
        QCOMPARE(failed.event.kind, QStringLiteral("command.error"));
        QVERIFY(!failed.command.has_value());
    }

    void caKeysPersistInTheSecretStore()
    {
        const QString path = test::makeTempDir(QStringLiteral("ssh-ca")) + QStringLiteral("/secrets.bin");
        std::shared_ptr<CertificateAuthority> first;
        {
            secrets::EncryptedFileSecretStore store(path, QStringLiteral("test-passphrase"));
            auto ca = CertificateAuthority::loadOrCreate(store);
            QVERIFY2(ca.ok(), qPrintable(ca.ok() ? QString() : ca.error().toString()));
            first = *ca;
            auto stored = store.read(QString::fromLatin1(secrets::keys::kSshUserCa));
            QVERIFY(stored.ok());
            QVERIFY(stored->startsWith("-----BEGIN OPENSSH PRIVATE KEY-----"));
            QVERIFY(store.read(QString::fromLatin1(secrets::keys::kSshHostCa)).ok());
        }
        secrets::EncryptedFileSecretStore again(path, QStringLiteral("test-passphrase"));
        auto ca = CertificateAuthority::loadOrCreate(again);
        QVERIFY(ca.ok());
        QCOMPARE((*ca)->userCaPublicKey(), first->userCaPublicKey());
        QCOMPARE((*ca)->hostCaPublicKey(), first->hostCaPublicKey());
        QVERIFY(first->userCaPublicKey() != first->hostCaPublicKey());
        QVERIFY((*ca)->userCaOpenSshLine().endsWith(QLatin1String(" fluid-user-ca")));
    }

    void outputCapture_data()
    {
        QTest::addColumn<int>("cap");
        QTest::addColumn<int>("total");
        QTest::addColumn<int>("chunk");
        QTest::newRow("fits") << 100 << 100 << 7;
        QTest::newRow("one-over") << 100 << 101 << 7;
        QTest::newRow("big-chunks") << 100 << 10000 << 999;
        QTest::newRow("tiny-chunks") << 64 << 5000 << 1;
        QTest::newRow("odd-cap") << 33 << 1000 << 13;
        QTest::newRow("zero-cap") << 0 << 50 << 5;
    }

    void outputCapture()
    {
        QFETCH(int, cap);
        QFETCH(int, total);
        QFETCH(int, chunk);
        QByteArray all;
        for (int i = 0; i < total; ++i)
            all.append(char('a' + (i * 7) % 26));
        OutputCapture c(cap);
        for (int off = 0; off < total; off += chunk)
            c.append(all.mid(off, chunk));
        const CapturedOutput out = c.result();
        QCOMPARE(out.totalBytes, qint64(total));
        if (total <= cap) {
            QVERIFY(!out.truncated());
            QCOMPARE(out.text(), all);
            return;
        }
        QVERIFY(out.truncated());
        QCOMPARE(out.head, all.left(cap / 2));
        QCOMPARE(out.tail, all.right(cap - cap / 2));
        QCOMPARE(out.cutBytes(), qint64(total - cap));
        QCOMPARE(out.text(), all.left(cap / 2) + "\n[... " + QByteArray::number(total - cap) +
                                 " bytes cut ...]\n" + all.right(cap - cap / 2));
    }

    void shellQuoting()
    {
        QCOMPARE(shellQuote("plain"), QByteArray("'plain'"));
        QCOMPARE(shellQuote("it's"), QByteArray("'it'\\''s'"));
        QCOMPARE(shellQuote(""), QByteArray("''"));
    }

    void execRequestValidation()
    {
        ExecRequest r;
        r.command = "echo ok";
        QVERIFY(validateExecRequest(r).ok());
        r.command = QByteArray("echo \0", 6);
        QVERIFY(!validateExecRequest(r).ok());
        r.command = "x";
        r.environment = {{"1BAD", "v"}};
        QVERIFY(!validateExecRequest(r).ok());
        r.environment = {{"GOOD_1", QByteArray("a\0b", 3)}};
        QVERIFY(!validateExecRequest(r).ok());
        r.environment.clear();
        r.shell = QStringLiteral("bash; rm -rf /");
        QVERIFY(!validateExecRequest(r).ok());
        r.shell = QStringLiteral("/bin/bash");
        QVERIFY(validateExecRequest(r).ok());
    }

    void wrapperNeverContainsTheCommand()
    {
        ExecRequest r;
        r.command = "echo SECRET-COMMAND-TEXT";
        r.environment = {{"A", "it's"}};
        const QByteArray w = execWrapper(r, "FLUID-EXEC-0123");
        QVERIFY(!w.contains("SECRET-COMMAND-TEXT"));
        QVERIFY(w.startsWith("printf '%s %s\\n' FLUID-EXEC-0123 \"$$\"; "));
        QVERIFY(w.contains("env -- 'A=it'\\''s'"));
        QVERIFY(w.contains("-c \"$s\""));
        r.command = QByteArray(kMaxArgumentCommand + 1, 'x');
        QVERIFY(execWrapper(r, "M").contains("eval"));
    }

    void remotePaths_data()
    {
        QTest::addColumn<QString>("in");
        QTest::addColumn<QString>("out"); // empty: rejected
        QTest::newRow("plain") << QStringLiteral("/etc/hosts") << QStringLiteral("/etc/hosts");
        QTest::newRow("slashes") << QStringLiteral("//etc//ssh/") << QStringLiteral("/etc/ssh");
        QTest::newRow("dots") << QStringLiteral("/etc/./hosts") << QStringLiteral("/etc/hosts");
        QTest::newRow("root") << QStringLiteral("/") << QStringLiteral("/");
        QTest::newRow("dotdot") << QStringLiteral("/etc/../root/x") << QString();
        QTest::newRow("trailing-dotdot") << QStringLiteral("/etc/..") << QString();
        QTest::newRow("relative") << QStringLiteral("etc/hosts") << QString();
        QTest::newRow("empty") << QString() << QString();
        QTest::newRow("nul") << QStringLiteral("/etc/ho") + QChar(0) + QStringLiteral("sts") << QString();
        QTest::newRow("dots-in-names") << QStringLiteral("/a/..b/c..") << QStringLiteral("/a/..b/c..");
    }

    void remotePaths()
    {
        QFETCH(QString, in);
        QFETCH(QString, out);
        auto r = validateRemotePath(in);
        if (out.isEmpty()) {
            QVERIFY(!r.ok());
            QCOMPARE(r.error().code, ErrorCode::InvalidArgument);
        } else {
            QVERIFY(r.ok());
            QCOMPARE(*r, out);
        }
    }

    void replaceExactlyOnceRules()
    {
        EditResult info;
        auto ok = replaceExactlyOnce("a\nb\nc\n", "b\n", "B\n", QStringLiteral("/f"), &info);
        QVERIFY(ok.ok());
        QCOMPARE(*ok, QByteArray("a\nB\nc\n"));
        QCOMPARE(info.line, 2);
        auto missing = replaceExactlyOnce("abc", "x", "y", QStringLiteral("/f"));
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QVERIFY(missing.error().message.contains(QLatin1String("not found")));
        auto twice = replaceExactlyOnce("x x x", "x", "y", QStringLiteral("/f"));
        QCOMPARE(twice.error().code, ErrorCode::InvalidArgument);
        QVERIFY(twice.error().message.contains(QLatin1String("occurs 3 times")));
        auto overlapping = replaceExactlyOnce("aaa", "aa", "b", QStringLiteral("/f"));
        QVERIFY(!overlapping.ok());
        QVERIFY(!replaceExactlyOnce("abc", "", "y", QStringLiteral("/f")).ok());
    }

    void tmuxBuilders()
    {
        auto send = tmux::sendKeys(QStringLiteral("work:0.1"), "echo 'hi' $HOME", true);
        QVERIFY(send.ok());
        QCOMPARE(send->command,
                 QByteArray("tmux send-keys -t 'work:0.1' -l -- 'echo '\\''hi'\\'' $HOME' && tmux send-keys "
                            "-t 'work:0.1' Enter"));
        QVERIFY(!tmux::sendKeys(QStringLiteral("bad target;rm"), "x").ok());
        QVERIFY(!tmux::sendKeyNames(QStringLiteral("w"), {QStringLiteral("C-c; rm")}).ok());
        QCOMPARE(tmux::capturePane(QStringLiteral("w"), 100)->command,
                 QByteArray("tmux capture-pane -p -t 'w' -S -100"));
        QVERIFY(!tmux::newSession(QStringLiteral("a:b")).ok());
    }

    void knownHostsNames()
    {
        QCOMPARE(knownHostsName(QStringLiteral("h"), 22), QStringLiteral("h"));
        QCOMPARE(knownHostsName(QStringLiteral("h"), 2222), QStringLiteral("[h]:2222"));
    }
};

QTEST_GUILESS_MAIN(TstSshUnit)
#include "tst_ssh_unit.moc"

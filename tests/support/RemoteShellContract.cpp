// SPDX-License-Identifier: Apache-2.0
#include "RemoteShellContract.h"

#include "TestSupport.h"

#include <QtTest>

namespace fluid::test::contract {
namespace {

/// The error's text for a failed check's message.
template <typename T>
QByteArray why(const Result<T>& r)
{
    return r.ok() ? QByteArray() : r.error().toString().toUtf8();
}

} // namespace

void readsWholeFiles(ssh::RemoteShell& shell, const RemoteFilesFixture& files)
{
    QByteArray data;
    for (int i = 0; i < 300000; ++i)
        data.append(char(i * 31));
    const QString path = files.folder + QStringLiteral("/contract-read.bin");
    files.put(path, data, 0644);
    const auto r = await(shell.readFile(path, ssh::kDefaultReadCap));
    QVERIFY2(r.ok(), why(r).constData());
    QCOMPARE(*r, data);

    const QString empty = files.folder + QStringLiteral("/contract-empty");
    files.put(empty, {}, 0644);
    const auto e = await(shell.readFile(empty, 10));
    QVERIFY2(e.ok(), why(e).constData());
    QCOMPARE(*e, QByteArray());

    const QString exact = files.folder + QStringLiteral("/contract-ten");
    files.put(exact, QByteArray(10, 't'), 0644);
    const auto ten = await(shell.readFile(exact, 10));
    QVERIFY2(ten.ok(), why(ten).constData());
    QCOMPARE(*ten, QByteArray(10, 't'));
}

void readCapAndErrors(ssh::RemoteShell& shell, const RemoteFilesFixture& files)
{
    const QString path = files.folder + QStringLiteral("/contract-big.txt");
    files.put(path, QByteArray(2000, 'x'), 0644);
    const auto capped = await(shell.readFile(path, 1000));
    QVERIFY(!capped.ok());
    QCOMPARE(capped.error().code, ErrorCode::InvalidArgument);
    QVERIFY2(capped.error().message.contains(QLatin1String("2000 bytes")),
             qPrintable(capped.error().message));
    QVERIFY2(capped.error().message.contains(QLatin1String("1000-byte limit")),
             qPrintable(capped.error().message));

    const auto missing = await(shell.readFile(files.folder + QStringLiteral("/contract-nope"), 100));
    QVERIFY(!missing.ok());
    QCOMPARE(missing.error().code, ErrorCode::NotFound);
    const auto folder = await(shell.readFile(files.folder, 100));
    QVERIFY(!folder.ok());
    QCOMPARE(folder.error().code, ErrorCode::InvalidArgument);
}

void pathsAreValidated(ssh::RemoteShell& shell, const RemoteFilesFixture& files)
{
    for (const QString& bad :
         {QStringLiteral("relative/file"), QStringLiteral("/etc/../etc/passwd"), QString()}) {
        QCOMPARE(await(shell.readFile(bad, 100)).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(await(shell.writeFile(bad, "x", {})).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(await(shell.editFile(bad, "a", "b")).error().code, ErrorCode::InvalidArgument);
    }
    files.put(files.folder + QStringLiteral("/contract-norm.txt"), "n", 0644);
    const auto r = await(shell.readFile(files.folder + QStringLiteral("//./contract-norm.txt"), 10));
    QVERIFY2(r.ok(), why(r).constData());
    QCOMPARE(*r, QByteArray("n"));
}

void writesNewFiles(ssh::RemoteShell& shell, const RemoteFilesFixture& files)
{
    const QString path = files.folder + QStringLiteral("/contract-new.conf");
    const auto w = await(shell.writeFile(path, "hello\n", {}));
    QVERIFY2(w.ok(), why(w).constData());
    QCOMPARE(files.contents(path), std::optional<QByteArray>("hello\n"));
    QCOMPARE(files.mode(path), 0644);

    const QString secret = files.folder + QStringLiteral("/contract-secret.key");
    ssh::WriteOptions o;
    o.newFileMode = 0600;
    const auto s = await(shell.writeFile(secret, "k", o));
    QVERIFY2(s.ok(), why(s).constData());
    QCOMPARE(files.contents(secret), std::optional<QByteArray>("k"));
    QCOMPARE(files.mode(secret), 0600);
}

void writeKeepsTheMode(ssh::RemoteShell& shell, const RemoteFilesFixture& files)
{
    const QString path = files.folder + QStringLiteral("/contract-kept.conf");
    files.put(path, "old content\n", 0640);
    QByteArray bigger;
    for (int i = 0; i < 5000; ++i)
        bigger += "line " + QByteArray::number(i) + '\n';
    const auto w = await(shell.writeFile(path, bigger, {}));
    QVERIFY2(w.ok(), why(w).constData());
    QCOMPARE(files.contents(path), std::optional<QByteArray>(bigger));
    QCOMPARE(files.mode(path), 0640);

    const QString tool = files.folder + QStringLiteral("/contract-tool");
    files.put(tool, "#!/bin/sh\n", 04750);
    const auto t = await(shell.writeFile(tool, "#!/bin/sh\nexit 0\n", {}));
    QVERIFY2(t.ok(), why(t).constData());
    QCOMPARE(files.mode(tool), 04750);
}

void writeErrors(ssh::RemoteShell& shell, const RemoteFilesFixture& files)
{
    const auto noFolder =
        await(shell.writeFile(files.folder + QStringLiteral("/contract-missing-dir/f"), "x", {}));
    QVERIFY(!noFolder.ok());
    QCOMPARE(noFolder.error().code, ErrorCode::NotFound);
    QVERIFY2(noFolder.error().message.contains(QLatin1String("does not exist")),
             qPrintable(noFolder.error().message));
    const auto onFolder = await(shell.writeFile(files.folder, "x", {}));
    QVERIFY(!onFolder.ok());
    QCOMPARE(onFolder.error().code, ErrorCode::InvalidArgument);
}

void editsExactlyOnce(ssh::RemoteShell& shell, const RemoteFilesFixture& files)
{
    const QString path = files.folder + QStringLiteral("/contract-edit.conf");
    files.put(path, "port = 80\nhost = a\nhost = a\n", 0640);
    const auto ok = await(shell.editFile(path, "port = 80", "port = 8080"));
    QVERIFY2(ok.ok(), why(ok).constData());
    QCOMPARE(ok->line, 1);
    QCOMPARE(ok->oldSize, qint64(28));
    QCOMPARE(ok->newSize, qint64(30));
    const QByteArray edited = "port = 8080\nhost = a\nhost = a\n";
    QCOMPARE(files.contents(path), std::optional<QByteArray>(edited));
    QCOMPARE(files.mode(path), 0640);

    const auto line = await(shell.editFile(path, "host = a\nhost", "host = b\nhost"));
    QVERIFY2(line.ok(), why(line).constData());
    QCOMPARE(line->line, 2);
    files.put(path, edited, 0640);

    const auto missing = await(shell.editFile(path, "port = 80\n", "x"));
    QVERIFY(!missing.ok());
    QCOMPARE(missing.error().code, ErrorCode::NotFound);
    QVERIFY2(missing.error().message.contains(QLatin1String("not found")),
             qPrintable(missing.error().message));

    const auto ambiguous = await(shell.editFile(path, "host = a", "host = b"));
    QVERIFY(!ambiguous.ok());
    QCOMPARE(ambiguous.error().code, ErrorCode::InvalidArgument);
    QVERIFY2(ambiguous.error().message.contains(QLatin1String("occurs 2 times")),
             qPrintable(ambiguous.error().message));

    const auto empty = await(shell.editFile(path, "", "x"));
    QVERIFY(!empty.ok());
    QCOMPARE(empty.error().code, ErrorCode::InvalidArgument);
    QCOMPARE(files.contents(path), std::optional<QByteArray>(edited)); // a failed edit changes nothing

    const auto noFile = await(shell.editFile(files.folder + QStringLiteral("/contract-absent"), "a", "b"));
    QVERIFY(!noFile.ok());
    QCOMPARE(noFile.error().code, ErrorCode::NotFound);

    const QString huge = files.folder + QStringLiteral("/contract-huge.txt");
    files.put(huge, QByteArray(ssh::kDefaultReadCap, 'a') + "needle", 0644);
    const auto tooLarge = await(shell.editFile(huge, "needle", "pin"));
    QVERIFY(!tooLarge.ok());
    QCOMPARE(tooLarge.error().code, ErrorCode::InvalidArgument);
    QVERIFY(files.contents(huge)->endsWith("needle"));
}

} // namespace fluid::test::contract

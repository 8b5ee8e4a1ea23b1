// SPDX-License-Identifier: Apache-2.0
#include "secrets/SecretStore.h"

#include "base/Redact.h"
#include "secrets/EncryptedFileSecretStore.h"
#include "secrets/KeychainSecretStore.h"

#include <QRegularExpression>
#include <QStringDecoder>

namespace fluid::secrets {

namespace keys {
QString llmApiKey(const QString& provider)
{
    return QString::fromLatin1(kLlmApiKeyPattern).arg(provider.toLower());
}

QString hostPassword(const QString& hostName)
{
    return QString::fromLatin1(kHostPasswordPattern).arg(hostName.toLower());
}

QString hostLoginKey(const QString& hostName)
{
    return QString::fromLatin1(kHostLoginKeyPattern).arg(hostName.toLower());
}

QString auditAnchorKey(const QString& storeId)
{
    return QString::fromLatin1(kAuditAnchorKeyPattern).arg(storeId.toLower());
}
} // namespace keys

Result<void> SecretStore::validateKey(const QString& key)
{
    static const QRegularExpression pattern(QStringLiteral("^[a-z0-9][a-z0-9._/-]{0,127}$"));
    if (pattern.match(key).hasMatch() && !key.contains(QLatin1String("..")))
        return {};
    return makeError(
        ErrorCode::InvalidArgument,
        QStringLiteral("invalid secret name \"%1\": use 1 to 128 characters from a-z, 0-9 and ._/-, "
                       "starting with a letter or digit, without \"..\"")
            .arg(key.left(140)));
}

void SecretStore::registerValue(const QByteArray& value)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = decoder.decode(value);
    if (!decoder.hasError()) {
        registerSecret(text);
        return;
    }
    registerSecret(QString::fromLatin1(value.toBase64()));
    registerSecret(QString::fromLatin1(value.toHex()));
}

Result<std::unique_ptr<SecretStore>> openSecretStore(const SecretStoreOptions& options)
{
    switch (options.backend) {
    case SecretStoreOptions::Backend::Keychain: {
        auto store = std::make_unique<KeychainSecretStore>();
        if (Result<void> probed = store->probe(); !probed)
            return probed.error();
        return std::unique_ptr<SecretStore>(std::move(store));
    }
    case SecretStoreOptions::Backend::EncryptedFile: {
        if (options.encryptedFilePath.isEmpty())
            return makeError(ErrorCode::InvalidArgument,
                             QStringLiteral("the encrypted secrets file has no path: set one, or use the "
                                            "keychain backend (secrets.backend: keychain)"));
        auto store =
            std::make_unique<EncryptedFileSecretStore>(options.encryptedFilePath, options.passphrase);
        if (Result<void> probed = store->probe(); !probed)
            return probed.error();
        return std::unique_ptr<SecretStore>(std::move(store));
    }
    }
    return makeError(ErrorCode::InvalidArgument, QStringLiteral("unknown secret store backend"));
}

} // namespace fluid::secrets

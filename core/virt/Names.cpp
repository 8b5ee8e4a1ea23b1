// SPDX-License-Identifier: Apache-2.0
#include "Names.h"

#include <QRandomGenerator>
#include <QRegularExpression>

namespace fluid::virt {

Result<void> validateSandboxName(const QString& name)
{
    static const QRegularExpression valid(QStringLiteral("^[a-z0-9][a-z0-9-]{0,39}$"));
    if (valid.match(name).hasMatch())
        return {};
    QString shown = name.left(60);
    shown.replace(QRegularExpression(QStringLiteral("[^\\x20-\\x7e]")), QStringLiteral("?"));
    return makeError(
        ErrorCode::InvalidArgument,
        QStringLiteral("\"%1\" is not a valid sandbox name: use 1 to 40 lower-case letters, digits "
                       "and dashes, starting with a letter or digit")
            .arg(shown));
}

QString generateSandboxName()
{
    return QStringLiteral("sbx-%1").arg(QRandomGenerator::global()->generate(), 8, 16, QLatin1Char('0'));
}

QString domainNameFor(const QString& sandboxName)
{
    return QLatin1String(kDomainPrefix) + sandboxName;
}

QString sandboxNameFromDomain(const QString& domainName)
{
    if (!domainName.startsWith(QLatin1String(kDomainPrefix)))
        return {};
    const QString name = domainName.mid(int(qstrlen(kDomainPrefix)));
    return validateSandboxName(name) ? name : QString();
}

} // namespace fluid::virt

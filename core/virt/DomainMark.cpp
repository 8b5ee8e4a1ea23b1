// SPDX-License-Identifier: Apache-2.0
#include "DomainMark.h"

#include "SourceDomain.h"

#include <QXmlStreamReader>
#include <QXmlStreamWriter>

namespace fluid::virt {

QString domainMarkXml(const DomainMark& mark, bool withNamespace)
{
    QString out;
    QXmlStreamWriter w(&out);
    const QString ns = withNamespace ? QString::fromLatin1(kMetadataNamespace) : QString();
    if (withNamespace)
        w.writeNamespace(ns, QStringLiteral("fluid"));
    w.writeStartElement(ns, QStringLiteral("sandbox"));
    w.writeTextElement(ns, QStringLiteral("id"), mark.sandboxId);
    w.writeTextElement(ns, QStringLiteral("source"), mark.sourceName);
    if (!mark.storeId.isEmpty())
        w.writeTextElement(ns, QStringLiteral("store"), mark.storeId);
    w.writeEndElement();
    return out;
}

DomainMark parseDomainMark(const QString& elementXml)
{
    DomainMark mark;
    QXmlStreamReader r(elementXml);
    if (!r.readNextStartElement() || r.name() != QLatin1String("sandbox"))
        return {};
    while (r.readNextStartElement()) {
        if (r.name() == QLatin1String("id"))
            mark.sandboxId = r.readElementText().trimmed();
        else if (r.name() == QLatin1String("source"))
            mark.sourceName = r.readElementText().trimmed();
        else if (r.name() == QLatin1String("store"))
            mark.storeId = r.readElementText().trimmed();
        else
            r.skipCurrentElement();
    }
    return r.hasError() ? DomainMark() : mark;
}

} // namespace fluid::virt

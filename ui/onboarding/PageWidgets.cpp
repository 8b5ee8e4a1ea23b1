// SPDX-License-Identifier: Apache-2.0
#include "PageWidgets.h"

#include <QDir>
#include <QLabel>
#include <QPushButton>
#include <QRegularExpression>

namespace fluid::ui::onboarding {

QLabel* makeMessageLabel(const QString& objectName, QWidget* parent)
{
    auto* label = new QLabel(parent);
    label->setObjectName(objectName);
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

QLabel* makeErrorLabel(const QString& objectName, QWidget* parent)
{
    QLabel* label = makeMessageLabel(objectName, parent);
    // The palette's link-visited colour: no hard-coded colour that would vanish in one of the themes.
    QPalette palette = label->palette();
    palette.setColor(QPalette::WindowText, palette.color(QPalette::LinkVisited));
    label->setPalette(palette);
    label->hide();
    return label;
}

QPushButton* makeButton(const QString& text, const QString& objectName, const QString& tip, QWidget* parent)
{
    auto* button = new QPushButton(text, parent);
    button->setObjectName(objectName);
    button->setToolTip(tip);
    button->setAccessibleName(QString(text).remove(QLatin1Char('&')).remove(QStringLiteral("…")));
    return button;
}

QLabel* buddyLabel(const QString& text, QWidget* buddy)
{
    auto* label = new QLabel(text, buddy->parentWidget());
    label->setBuddy(buddy);
    return label;
}

QString hostNameFrom(const QString& text)
{
    QString name = text.toLower();
    name.replace(QRegularExpression(QStringLiteral("[^a-z0-9-]+")), QStringLiteral("-"));
    name.remove(QRegularExpression(QStringLiteral("^-+|-+$")));
    return name.left(40);
}

QString keyFolder(const QString& sshDir)
{
    return sshDir.isEmpty() ? QDir::homePath() + QStringLiteral("/.ssh") : sshDir;
}

} // namespace fluid::ui::onboarding

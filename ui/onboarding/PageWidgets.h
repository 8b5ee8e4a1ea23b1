// SPDX-License-Identifier: Apache-2.0
#pragma once

// Small widget makers the onboarding pages share, so every page's labels and buttons look and read alike.
// GUI thread only.

#include <QString>

class QLabel;
class QPushButton;
class QWidget;

namespace fluid::ui::onboarding {

/// A word-wrapped, selectable label for a page's status or a field's hint.
QLabel* makeMessageLabel(const QString& objectName, QWidget* parent);
/// A hidden message label for a field's error, in a colour that stands out in light and dark themes.
QLabel* makeErrorLabel(const QString& objectName, QWidget* parent);
/// A push button with its tool tip, and an accessible name taken from its text.
QPushButton* makeButton(const QString& text, const QString& objectName, const QString& tip, QWidget* parent);
/// A form label whose mnemonic focuses `buddy` (QFormLayout only does that for rows holding one widget).
QLabel* buddyLabel(const QString& text, QWidget* buddy);
/// A host name for config from any text: lower case, [a-z0-9-], at most 40 characters.
QString hostNameFrom(const QString& text);
/// The folder offered for SSH keys: `sshDir`, else ~/.ssh.
QString keyFolder(const QString& sshDir);

} // namespace fluid::ui::onboarding

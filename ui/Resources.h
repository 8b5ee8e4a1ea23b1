// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace fluid::ui {

/// Makes the UI's compiled-in resources (:/fluid/fluid.svg, ...) available. fluid_ui is a static library,
/// whose resources are linked in only when something refers to them: the app calls this before it uses an
/// icon; the main window calls it too. Idempotent; GUI thread.
void loadResources();

} // namespace fluid::ui

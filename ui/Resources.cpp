// SPDX-License-Identifier: Apache-2.0
#include "Resources.h"

#include <QtGlobal>

// Q_INIT_RESOURCE must be used outside any namespace.
static void initFluidUiResources()
{
    Q_INIT_RESOURCE(resources);
}

namespace fluid::ui {

void loadResources()
{
    static const bool loaded = [] {
        initFluidUiResources();
        return true;
    }();
    Q_UNUSED(loaded)
}

} // namespace fluid::ui

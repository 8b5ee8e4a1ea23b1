# SPDX-License-Identifier: Apache-2.0
# `cpack -G DEB` from the build folder makes a Debian package.
set(CPACK_PACKAGE_NAME fluid)
set(CPACK_PACKAGE_VENDOR "Fluid")
set(CPACK_PACKAGE_CONTACT "Fluid developers <dev@fluid.invalid>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Loaded at run time, so shlibdeps cannot see them.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins, libqt6sql6-sqlite, libqt6sql6-psql, libqt6svg6, libsecret-1-0")
include(CPack)

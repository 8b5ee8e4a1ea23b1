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
include(GNUInstallDirs)

# The privileged snapshot inspection helper's authorizations (docs/inspect.md): a sudoers rule (the tested
# path) and a polkit action for pkexec, both naming the installed helper; and the folders it may read.
configure_file(${CMAKE_CURRENT_LIST_DIR}/sudoers.d/fluid.in ${CMAKE_BINARY_DIR}/packaging/sudoers.d/fluid @ONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/polkit/org.fluid.inspect-helper.policy.in
               ${CMAKE_BINARY_DIR}/packaging/polkit/org.fluid.inspect-helper.policy @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/sudoers.d/fluid DESTINATION /etc/sudoers.d
        PERMISSIONS OWNER_READ GROUP_READ COMPONENT inspect_helper)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/inspect-helper.conf DESTINATION /etc/fluid COMPONENT inspect_helper)
install(FILES ${CMAKE_BINARY_DIR}/packaging/polkit/org.fluid.inspect-helper.policy
        DESTINATION ${CMAKE_INSTALL_DATADIR}/polkit-1/actions COMPONENT inspect_helper)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/polkit/50-fluid-inspect.rules DESTINATION /etc/polkit-1/rules.d
        COMPONENT inspect_helper)

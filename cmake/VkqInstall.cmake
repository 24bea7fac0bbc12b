# `cmake --install`: the command, the public headers, libvkquant.so (SONAME libvkquant.so.0.1) and
# libvkquant.a, a CMake package (find_package(vkquant) → vkquant::vkquant, vkquant::vkquant_static)
# and a pkg-config file (vkquant.pc).
include(CMakePackageConfigHelpers)
set(VKQ_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/vkquant)
install(TARGETS vkquant RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS vkquant_shared vkquant_static EXPORT vkquantTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vkquant DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT vkquantTargets NAMESPACE vkquant:: DESTINATION ${VKQ_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vkquantConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/vkquantConfig.cmake INSTALL_DESTINATION ${VKQ_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/vkquantConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/vkquantConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/vkquantConfigVersion.cmake
        DESTINATION ${VKQ_CMAKE_DIR})
# pkg-config: the prefix is the one given to `cmake --install --prefix` (the @prefix@ line is
# rewritten at install time), so a relocated install still points at itself.
configure_file(${PROJECT_SOURCE_DIR}/cmake/vkquant.pc.in ${CMAKE_CURRENT_BINARY_DIR}/vkquant.pc.in.configured @ONLY)
install(CODE "
  file(READ \"${CMAKE_CURRENT_BINARY_DIR}/vkquant.pc.in.configured\" pc)
  string(REGEX REPLACE \"^prefix=[^\\n]*\" \"prefix=\${CMAKE_INSTALL_PREFIX}\" pc \"\${pc}\")
  file(WRITE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/vkquant.pc\" \"\${pc}\")
  message(STATUS \"Installing: \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig/vkquant.pc\")
")

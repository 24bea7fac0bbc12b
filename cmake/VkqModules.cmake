# One OBJECT library per src/<module>/ folder. Dependencies are recorded so that a test,
# tool or the public library links exactly the closure of what it uses, and a module can
# only include headers of the modules it declares (DESIGN.md: arrows go one way).

set_property(GLOBAL PROPERTY VKQ_MODULES "")

# vkq_module(NAME [DEPS module...] [LIBS target...])
# DEPS name other modules (or vkq_shaders); LIBS are imported/system targets.
function(vkq_module name)
  cmake_parse_arguments(M "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(NOT srcs)
    return()  # folder not written yet: nothing to build
  endif()
  set(tgt vkq_${name})
  add_library(${tgt} OBJECT ${srcs})
  target_include_directories(${tgt} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(${tgt} PRIVATE VKQ_BUILDING_LIBRARY)
  set(deps "")
  foreach(d IN LISTS M_DEPS)
    if(d MATCHES "^vkq_")
      set(dt ${d})
    else()
      set(dt vkq_${d})
    endif()
    if(TARGET ${dt})
      list(APPEND deps ${dt})
      target_link_libraries(${tgt} PUBLIC ${dt})
    endif()
  endforeach()
  if(M_LIBS)
    target_link_libraries(${tgt} PUBLIC ${M_LIBS})
  endif()
  set_property(TARGET ${tgt} PROPERTY VKQ_DEPS "${deps}")
  set_property(GLOBAL APPEND PROPERTY VKQ_MODULES ${tgt})
endfunction()

# Collect the transitive closure of module targets into OUT.
function(vkq_module_closure out)
  set(seen "")
  set(todo ${ARGN})
  while(todo)
    list(POP_FRONT todo t)
    if(NOT TARGET ${t} OR t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    get_property(d TARGET ${t} PROPERTY VKQ_DEPS)
    list(APPEND todo ${d})
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

# vkq_link_modules(TARGET module...): link the objects of the modules and their closure.
function(vkq_link_modules target)
  set(mods "")
  foreach(m IN LISTS ARGN)
    if(m MATCHES "^vkq_")
      list(APPEND mods ${m})
    else()
      list(APPEND mods vkq_${m})
    endif()
  endforeach()
  vkq_module_closure(all ${mods})
  foreach(t IN LISTS all)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${t}>)
    target_link_libraries(${target} PRIVATE ${t})
  endforeach()
endfunction()

# The public library: libvkquant.a and libvkquant.so from every module's objects.
function(vkq_public_library name)
  get_property(mods GLOBAL PROPERTY VKQ_MODULES)
  vkq_module_closure(all vkq_shaders ${mods})
  add_library(${name}_static STATIC)
  add_library(${name}_shared SHARED)
  foreach(lib ${name}_static ${name}_shared)
    foreach(t IN LISTS all)
      target_sources(${lib} PRIVATE $<TARGET_OBJECTS:${t}>)
      # The modules' usage requirements at build time only: installed users see the public headers.
      target_link_libraries(${lib} PRIVATE $<BUILD_INTERFACE:${t}>)
    endforeach()
    target_include_directories(${lib} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                             $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    set_target_properties(${lib} PROPERTIES OUTPUT_NAME ${name})
  endforeach()
  target_link_libraries(${name}_static INTERFACE Vulkan::Vulkan Threads::Threads sentencepiece)
  # SONAME libvkquant.so.0 while the API is 0.x (every 0.y may break it: the minor is in the name too).
  set_target_properties(${name}_shared PROPERTIES VERSION ${PROJECT_VERSION}
                                                  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
                                                  EXPORT_NAME ${name})
  set_target_properties(${name}_static PROPERTIES EXPORT_NAME ${name}_static)
endfunction()

# SPDX-License-Identifier: Apache-2.0
# cmake -DCLANG_FORMAT=... -DSOURCE_DIR=... -DMODE=check|fix -P Format.cmake
file(GLOB_RECURSE files
  ${SOURCE_DIR}/app/*.cpp ${SOURCE_DIR}/app/*.h
  ${SOURCE_DIR}/core/*.cpp ${SOURCE_DIR}/core/*.h
  ${SOURCE_DIR}/ui/*.cpp ${SOURCE_DIR}/ui/*.h
  ${SOURCE_DIR}/tests/*.cpp ${SOURCE_DIR}/tests/*.h)
if(MODE STREQUAL "fix")
  execute_process(COMMAND ${CLANG_FORMAT} -i ${files} RESULT_VARIABLE rc)
else()
  set(bad "")
  foreach(f IN LISTS files)
    execute_process(COMMAND ${CLANG_FORMAT} --dry-run -Werror ${f}
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(NOT rc EQUAL 0)
      list(APPEND bad ${f})
    endif()
  endforeach()
  if(bad)
    list(JOIN bad "\n  " lines)
    message(FATAL_ERROR "Not clang-formatted (run: cmake --build build --target format):\n  ${lines}")
  endif()
  list(LENGTH files n)
  message(STATUS "format_check: ${n} files clang-formatted")
endif()

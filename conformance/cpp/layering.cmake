# The build graph follows the layers (issue 14; Note [Backend registry] in core/backend.h):
#  - test_core_alone links astensor_core and nothing above it: it links at all only if core
#    names no backend and no device runtime, and it checks what core does without backends.
#  - layering_core_links_no_backend reads the graph itself (what astensor_core links) and the
#    archive's undefined symbols (no cuda*, no backend getters).
add_executable(test_core_alone test_core_alone.cpp)
target_link_libraries(test_core_alone PRIVATE astensor_core GTest::gtest GTest::gtest_main)
gtest_discover_tests(test_core_alone PROPERTIES LABELS "unit-cpu" DISCOVERY_TIMEOUT 120)

file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/core_links.txt CONTENT
  "link=$<TARGET_PROPERTY:astensor_core,LINK_LIBRARIES>\ninterface=$<TARGET_PROPERTY:astensor_core,INTERFACE_LINK_LIBRARIES>\n")
add_test(NAME layering_core_links_no_backend
  COMMAND ${CMAKE_COMMAND} -DLINKS=${CMAKE_CURRENT_BINARY_DIR}/core_links.txt
          -DARCHIVE=$<TARGET_FILE:astensor_core> -DNM=${CMAKE_NM}
          -P ${PROJECT_SOURCE_DIR}/cmake/check_core_links.cmake)
set_tests_properties(layering_core_links_no_backend PROPERTIES LABELS "unit-cpu")

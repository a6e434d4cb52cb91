# astensor_find_pybind11(): pybind11 >= 3.0 for the interpreter found by the caller's
# find_package(Python ...): when pybind11_DIR is not given, ask that interpreter
# (`python -m pybind11 --cmakedir`), so the module and the embedded-Python fuzz targets are
# built against the same Python. A macro: pybind11_FOUND and its targets land in the caller.
macro(astensor_find_pybind11)
  if(Python_FOUND AND NOT pybind11_DIR AND Python_EXECUTABLE)
    execute_process(COMMAND ${Python_EXECUTABLE} -m pybind11 --cmakedir
                    OUTPUT_VARIABLE _pybind11_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_pybind11_dir)
      set(pybind11_DIR ${_pybind11_dir} CACHE PATH "pybind11 CMake directory" FORCE)
    endif()
  endif()
  set(PYBIND11_FINDPYTHON ON)
  find_package(pybind11 3.0 CONFIG QUIET)
endmacro()

# The module's C++ sources, in one list: python/CMakeLists.txt builds _astensor from them and
# fuzz/CMakeLists.txt links them into the embedded-Python fuzz targets.
set(ASTENSOR_PYTHON_SOURCES
  ${PROJECT_SOURCE_DIR}/python/src/classify.cpp ${PROJECT_SOURCE_DIR}/python/src/common.cpp
  ${PROJECT_SOURCE_DIR}/python/src/dlpack_import.cpp ${PROJECT_SOURCE_DIR}/python/src/entry.cpp
  ${PROJECT_SOURCE_DIR}/python/src/exports.cpp ${PROJECT_SOURCE_DIR}/python/src/interfaces.cpp
  ${PROJECT_SOURCE_DIR}/python/src/module.cpp ${PROJECT_SOURCE_DIR}/python/src/sim_testing.cpp
  ${PROJECT_SOURCE_DIR}/python/src/stream_object.cpp
  ${PROJECT_SOURCE_DIR}/python/src/tensor_object.cpp ${PROJECT_SOURCE_DIR}/python/src/tensor_indexing.cpp
  ${PROJECT_SOURCE_DIR}/python/src/tensor_to_python.cpp ${PROJECT_SOURCE_DIR}/python/src/tensor_conversions.cpp)

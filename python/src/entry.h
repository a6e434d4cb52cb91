#pragma once
/// The entry points: argument parsing (ARG-1..3) and the choice between the reference and the
/// optimized implementation.

#include <optional>
#include <string>

#include "core/source.h"
#include "python/src/common.h"

namespace astensor::python {

/// Runs astensor::reference::as_tensor (reference=true) or the optimized implementation
/// (astensor::impl::as_tensor when built with ASTENSOR_HAVE_IMPL, else the reference).
Tensor as_tensor_dispatch(const Source& s, const Options& o, bool reference);
/// COPY-2: impl::explain when built, else a plain description of the source and of what
/// the rules decide.
std::string explain_dispatch(const Source& s, const Options& o);

/// ARG-2: a project dtype, a dtype name, a NumPy dtype or scalar type, a torch.dtype, or
/// bool/int/float/complex. TypeError naming the value otherwise.
DType parse_dtype(py::handle h);
/// ARG-3: a Device, a string ("cuda:1"), an int (a CUDA index), or an object with .type and
/// .index (torch.device). ValueError quoting a malformed string; TypeError otherwise.
Device parse_device(py::handle h);

/// The METH_FASTCALL | METH_KEYWORDS entry points (ARG-1), added to the module by hand to
/// avoid pybind11's keyword dispatch on the hot path (research/ecosystem.md §4).
PyObject* as_tensor_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);
PyObject* reference_as_tensor_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs,
                                   PyObject* kwnames);
PyObject* explain_fast(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames);

}  // namespace astensor::python

#pragma once
/// Classifying a Python object into a core Source, in the order of SPEC ARG-4:
///   (1) astensor.Tensor (exact type); (2) numpy.ndarray (subclasses too; ml_dtypes bfloat16;
///   object arrays element by element, ARR-10); (3) __dlpack__ objects and raw DLPack capsules
///   (DLP-1); (4) __cuda_array_interface__ v3 (CAI-1); (5) the buffer protocol (ARR-8);
///   (6) __array_interface__ v3, then __array__() (ARR-9); (7) Python and NumPy scalars
///   (SEQ-1); (8) sequences (SEQ-2). str, bytes and anything else: TypeError.
/// Exact builtin numbers, lists and tuples are tested before (3)-(6): they have none of those
/// attributes, and the check saves the attribute lookups.

#include <memory>
#include <optional>

#include "core/source.h"
#include "python/src/common.h"
#include "python/src/py_sequence.h"

namespace astensor::python {

/// A classified object: the Source, plus what must outlive the conversion (the reader of
/// nested data). Move-only.
struct Classified {
  Source source;
  std::unique_ptr<PySequenceReader> reader;
};

/// ARG-4. `data` is borrowed and must stay alive until the conversion returns.
Classified classify(PyObject* data);

/// NumPy dtype descriptor -> project dtype (DT-1; bfloat16 via ml_dtypes' scalar type);
/// nullopt when unsupported. *byteswapped: non-native byte order (ARR-4).
std::optional<DType> dtype_from_numpy_descr(PyObject* descr, bool* byteswapped);

/// TypeError for an ndarray / NumPy scalar dtype we do not support (ARR-10), listing ours.
[[noreturn]] void throw_unsupported_numpy_dtype(PyObject* descr, const char* what);

/// Zero-copy view of an ndarray of a supported dtype (ARR-1): pointer, shape, byte strides,
/// read-only flag (ARR-7), byte order (ARR-4); the view's owner holds the array (ARR-2).
ArrayView ndarray_view(PyObject* arr, DType dtype, bool byteswapped);

/// ARG-4 steps (3)-(6) for an object that is not a Tensor, ndarray, scalar or str/bytes:
/// fills *out and returns true when the object speaks one of the array protocols.
bool classify_array_protocols(PyObject* o, ArrayView* out);

/// DLP-1: consumes a "dltensor" / "dltensor_versioned" capsule (renaming it "used_...");
/// the producer's deleter runs once, when the last tensor sharing the memory goes away.
ArrayView import_dlpack_capsule(PyObject* capsule);
/// DLP-1/DLP-2: asks an object with __dlpack__ for a capsule (versioned first, legacy on
/// TypeError) and imports it.
ArrayView import_dlpack_object(PyObject* o);
/// CAI-1: parses a __cuda_array_interface__ dict (TypeError/ValueError naming the field),
/// then resolves the CUDA device (DEV-3 RuntimeError where CUDA is absent).
ArrayView import_cuda_array_interface(PyObject* owner, PyObject* dict);

}  // namespace astensor::python

// Classification of Python objects into core Sources (ARG-4): the order of the protocols,
// NumPy arrays and scalars through NumPy's C-API table, and the slow half of the
// PySequenceReader. The import protocols themselves are in dlpack_import.cpp and
// interfaces.cpp.

#include "python/src/classify.h"

#include <algorithm>
#include <cstring>

#include "core/backend.h"
#include "python/src/tensor_object.h"

namespace astensor::python {

namespace {

// NumPy type numbers (numpy/ndarraytypes.h); stable across NumPy 1 and 2.
enum NpyType : int {
  kNpyBool = 0, kNpyByte = 1, kNpyUByte = 2, kNpyShort = 3, kNpyUShort = 4, kNpyInt = 5,
  kNpyUInt = 6, kNpyLong = 7, kNpyULong = 8, kNpyLongLong = 9, kNpyULongLong = 10,
  kNpyFloat = 11, kNpyDouble = 12, kNpyLongDouble = 13, kNpyCFloat = 14, kNpyCDouble = 15,
  kNpyCLongDouble = 16, kNpyObject = 17, kNpyHalf = 23, kNpyUserDef = 256,
};
constexpr int kNpyWriteable = 0x0400;

/// ml_dtypes.bfloat16's scalar type, looked up once ml_dtypes is imported (an array of that
/// dtype can only exist after that). Borrowed forever (the module never unloads).
PyObject* bfloat16_type() {
  static PyObject* cached = nullptr;
  if (cached) return cached;
  PyObject* mod = PyImport_GetModule(py::str("ml_dtypes").ptr());  // no import: just look
  if (!mod) {
    if (PyErr_Occurred()) PyErr_Clear();
    return nullptr;
  }
  PyObject* t = PyObject_GetAttrString(mod, "bfloat16");
  Py_DECREF(mod);
  if (!t) {
    PyErr_Clear();
    return nullptr;
  }
  cached = t;  // keep the reference
  return cached;
}


/// The object's own type name for "cannot convert" messages.
[[noreturn]] void throw_cannot_convert(PyObject* o) {
  throw TypeError("[as_tensor] cannot convert object of type '" + type_name(o) +
                  "'; expected a tensor, an array, a buffer, a number or a sequence");
}

bool is_str_or_bytes(PyObject* o) { return PyUnicode_Check(o) || PyBytes_Check(o); }

/// A NumPy scalar (np.generic) as a leaf carrying its dtype (SEQ-1, SEQ-3).
ScalarLeaf numpy_scalar_leaf(PyObject* o) {
  py::object descr = py::reinterpret_steal<py::object>(npy().PyArray_DescrFromScalar_(o));
  if (!descr) throw py::error_already_set();
  bool swapped = false;
  auto d = dtype_from_numpy_descr(descr.ptr(), &swapped);
  if (!d) throw_unsupported_numpy_dtype(descr.ptr(), "NumPy scalar");
  alignas(16) unsigned char buf[32] = {};
  npy().PyArray_ScalarAsCtype_(o, buf);
  if (py::detail::array_descriptor_proxy(descr.ptr())->type_num >= kNpyUserDef) {
    // For user dtypes (ml_dtypes) NumPy stores a POINTER to the value, not the value.
    const void* p = nullptr;
    std::memcpy(&p, buf, sizeof p);
    return ScalarLeaf::from_element(p, *d);
  }
  return ScalarLeaf::from_element(buf, *d);
}

}  // namespace

// --- NumPy ------------------------------------------------------------------------------------

std::optional<DType> dtype_from_numpy_descr(PyObject* descr, bool* byteswapped) {
  const auto* d = py::detail::array_descriptor_proxy(descr);
  *byteswapped = d->byteorder == '>';  // '=' native, '<' little, '|' not applicable
  switch (d->type_num) {
    case kNpyBool: return DType::bool_;
    case kNpyByte: return DType::int8;
    case kNpyUByte: return DType::uint8;
    case kNpyShort: return DType::int16;
    case kNpyUShort: return DType::uint16;
    case kNpyInt: return DType::int32;
    case kNpyUInt: return DType::uint32;
    case kNpyLong: return sizeof(long) == 8 ? DType::int64 : DType::int32;
    case kNpyULong: return sizeof(long) == 8 ? DType::uint64 : DType::uint32;
    case kNpyLongLong: return DType::int64;
    case kNpyULongLong: return DType::uint64;
    case kNpyHalf: return DType::float16;
    case kNpyFloat: return DType::float32;
    case kNpyDouble: return DType::float64;
    case kNpyCFloat: return DType::complex64;
    case kNpyCDouble: return DType::complex128;
    default: break;
  }
  if (d->type_num >= kNpyUserDef) {
    // ml_dtypes registers legacy user dtypes; identify them by their scalar type (CuPy does
    // the same), not by the ambiguous 'V2' typestr.
    PyObject* bf16 = bfloat16_type();
    if (bf16 && d->typeobj == bf16) return DType::bfloat16;
  }
  return std::nullopt;
}

void throw_unsupported_numpy_dtype(PyObject* descr, const char* what) {
  throw TypeError(detail::str_cat("[as_tensor] cannot convert a ", what, " of dtype ",
                                  short_repr(descr), "; supported dtypes: ", supported_dtypes_text(),
                                  " (object arrays are converted element by element)"));
}

ArrayView ndarray_view(PyObject* arr, DType dtype, bool byteswapped, bool owned) {
  auto* p = py::detail::array_proxy(arr);
  ArrayView v;
  v.data = p->data;
  v.dtype = dtype;
  v.shape = dims_of(p->dimensions, p->nd);
  v.byte_strides = dims_of(p->strides, p->nd);
  v.byteswapped = byteswapped;
  v.read_only = (p->flags & kNpyWriteable) == 0;
  if (owned) v.owner = py_owner(arr);
  return v;
}


// --- protocols (3)-(6) -----------------------------------------------------------------------

bool classify_array_protocols(PyObject* o, ArrayView* out) {
  const Names& n = names();
  if (PyCapsule_CheckExact(o)) {  // (3) raw capsule
    *out = import_dlpack_capsule(o);
    return true;
  }
  if (import_via_exchange_api(o, out)) return true;  // (3), C fast path
  if (py::object m = py::reinterpret_steal<py::object>(lookup_attr(o, n.dlpack)); m && m.ptr() != Py_None) {
    *out = import_dlpack_object(o);  // (3)
    return true;
  }
  if (py::object cai = py::reinterpret_steal<py::object>(lookup_attr(o, n.cuda_array_interface))) {
    *out = import_cuda_array_interface(o, cai.ptr());  // (4)
    return true;
  }
  if (PyObject_CheckBuffer(o)) {  // (5)
    *out = import_buffer(o);
    return true;
  }
  if (py::object ai = py::reinterpret_steal<py::object>(lookup_attr(o, n.array_interface))) {
    *out = import_array_interface(o, ai.ptr());  // (6)
    return true;
  }
  if (py::object m = py::reinterpret_steal<py::object>(lookup_attr(o, n.array)); m && m.ptr() != Py_None) {
    *out = import_via_array_method(o, m.ptr());  // (6)
    return true;
  }
  return false;
}


// --- PySequenceReader: the slow half ----------------------------------------------------------

void PySequenceReader::changed(NodeRef) {
  throw ValueError("[as_tensor] a sequence changed its length during conversion");
}

void PySequenceReader::inspect_slow(PyObject* o, NodeInfo* out) {
  if (is_tensor(o)) {  // SEQ-4: a tensor leaf is a sub-block
    out->kind = NodeKind::Block;
    out->block = tensor_of(o);
    return;
  }
  if (PyComplex_CheckExact(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = ScalarLeaf::of_complex(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
    return;
  }
  if (npy().PyArray_Check_(o)) {
    auto* p = py::detail::array_proxy(o);
    bool swapped = false;
    if (auto d = dtype_from_numpy_descr(p->descr, &swapped)) {
      if (p->nd == 0) {  // a 0-d array counts like a NumPy scalar (SEQ-3, SEQ-5)
        alignas(16) unsigned char buf[16];
        std::memcpy(buf, p->data, itemsize(*d));
        if (swapped) {
          std::size_t part = is_complex(*d) ? itemsize(*d) / 2 : itemsize(*d);
          for (std::size_t q = 0; q < itemsize(*d); q += part) std::reverse(buf + q, buf + q + part);
        }
        out->kind = NodeKind::Scalar;
        out->scalar = ScalarLeaf::from_element(buf, *d);
      } else {
        out->kind = NodeKind::Block;
        // Unowned: the reader holds every node it handed out until it is destroyed, and a
        // block is only copied from (a list of many small arrays paid an allocation each).
        out->block = ndarray_view(o, *d, swapped, /*owned=*/false);
      }
      return;
    }
    const auto* descr = py::detail::array_descriptor_proxy(p->descr);
    if (descr->type_num == kNpyObject && p->nd > 0) {  // ARR-10: element by element
      out->kind = NodeKind::Sequence;
      out->length = p->dimensions[0];
      return;
    }
    if (descr->type_num == kNpyObject) {
      out->kind = NodeKind::Invalid;  // describe() names it
      return;
    }
    throw_unsupported_numpy_dtype(p->descr, "NumPy array");
  }
  if (is_str_or_bytes(o)) {  // before np.generic: np.str_ is both
    out->kind = NodeKind::Invalid;
    return;
  }
  if (PyObject_TypeCheck(o, numpy_generic_type())) {
    out->kind = NodeKind::Scalar;
    out->scalar = numpy_scalar_leaf(o);
    return;
  }
  // Subclasses of the Python number types (IntEnum, float subclasses...).
  if (PyLong_Check(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = int_leaf(o);
    return;
  }
  if (PyFloat_Check(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = ScalarLeaf::of_float(PyFloat_AsDouble(o));
    return;
  }
  if (PyComplex_Check(o)) {
    out->kind = NodeKind::Scalar;
    out->scalar = ScalarLeaf::of_complex(PyComplex_RealAsDouble(o), PyComplex_ImagAsDouble(o));
    return;
  }
  if (PyList_Check(o)) {
    out->kind = NodeKind::Sequence;
    out->length = PyList_GET_SIZE(o);
    return;
  }
  if (PyTuple_Check(o)) {
    out->kind = NodeKind::Sequence;
    out->length = PyTuple_GET_SIZE(o);
    return;
  }
  if (o == Py_None || PyDict_Check(o) || PyAnySet_Check(o)) {
    out->kind = NodeKind::Invalid;
    return;
  }
  ArrayView v;
  if (classify_array_protocols(o, &v)) {  // SEQ-4: arrays of any protocol are sub-blocks
    out->kind = NodeKind::Block;
    out->block = std::move(v);
    return;
  }
  if (PySequence_Check(o)) {
    Py_ssize_t n = PySequence_Size(o);
    if (n < 0) throw py::error_already_set();
    out->kind = NodeKind::Sequence;
    out->length = n;
    return;
  }
  out->kind = NodeKind::Invalid;
}

NodeRef PySequenceReader::child_slow(PyObject* o, int64_t i) {
  PyObject* c = PySequence_GetItem(o, static_cast<Py_ssize_t>(i));
  if (!c) {
    if (PyErr_ExceptionMatches(PyExc_IndexError)) {
      PyErr_Clear();
      changed(o);
    }
    throw py::error_already_set();
  }
  return hold_new(c);
}

std::string PySequenceReader::describe(NodeRef node) {
  auto* o = static_cast<PyObject*>(const_cast<void*>(node));
  if (o == Py_None || is_str_or_bytes(o) || PyDict_Check(o) || PyAnySet_Check(o))
    return "object of type '" + type_name(o) + "'";
  if (npy().PyArray_Check_(o) && py::detail::array_proxy(o)->nd == 0)
    return "0-d NumPy array of dtype object";
  if (PyNumber_Check(o) || PyObject_TypeCheck(o, numpy_generic_type())) return short_repr(o);
  return "object of type '" + type_name(o) + "'";
}


// --- classify (ARG-4) -------------------------------------------------------------------------

namespace {
Classified from_python_data(PyObject* root) {
  Classified c{Source(Tensor()), std::make_unique<PySequenceReader>(root)};
  c.source = SequenceSource{c.reader.get()};
  return c;
}
}  // namespace

Classified classify(PyObject* o) {
  if (is_tensor(o)) return {Source(tensor_of(o)), nullptr};  // (1)
  PyTypeObject* tp = Py_TYPE(o);
  // Exact builtins first: they have no array protocol, so skip the lookups (ARG-4 (7), (8)).
  if (tp == &PyFloat_Type || tp == &PyLong_Type || tp == &PyBool_Type || tp == &PyComplex_Type ||
      tp == &PyList_Type || tp == &PyTuple_Type)
    return from_python_data(o);
  if (npy().PyArray_Check_(o)) {  // (2)
    auto* p = py::detail::array_proxy(o);
    bool swapped = false;
    if (auto d = dtype_from_numpy_descr(p->descr, &swapped))
      return {Source(ndarray_view(o, *d, swapped)), nullptr};
    if (py::detail::array_descriptor_proxy(p->descr)->type_num == kNpyObject) {
      if (p->nd > 0) return from_python_data(o);  // ARR-10
      // A 0-d object array: convert its one element.
      PyObject* item = PyObject_GetItem(o, py::tuple().ptr());
      if (!item) throw py::error_already_set();
      // The reader holds `item` through the classified value's lifetime.
      Classified c = from_python_data(item);
      Py_DECREF(item);  // still referenced by the 0-d array itself
      return c;
    }
    throw_unsupported_numpy_dtype(p->descr, "NumPy array");
  }
  if (is_str_or_bytes(o))
    throw TypeError("[as_tensor] cannot convert object of type '" + type_name(o) +
                    "' (strings and bytes are not numeric data)");
  if (PyObject_TypeCheck(o, numpy_generic_type()) || PyLong_Check(o) || PyFloat_Check(o) ||
      PyComplex_Check(o))
    return from_python_data(o);  // (7) scalars: checked before the protocols NumPy scalars also speak
  ArrayView v;
  if (classify_array_protocols(o, &v)) return {Source(std::move(v)), nullptr};  // (3)-(6)
  if (PySequence_Check(o) && !PyDict_Check(o)) return from_python_data(o);  // (8)
  throw_cannot_convert(o);
}

}  // namespace astensor::python

#pragma once
/// PySequenceReader: the SequenceReader (core/sequence.h) over CPython objects, for SEQ-1..6
/// and ARR-10. It is `final` and its common cases (exact float/int/bool/list/tuple) are inline
/// here so that a templated fill (impl/) can inline them; everything else is classified by
/// inspect_slow() in classify.cpp, in ARG-4's order.
///
/// Lifetime: every node handed out (a child) is held by a new reference until the reader is
/// destroyed, so a list mutated during the conversion cannot free a node we still read; a
/// changed length is caught by the walkers, which re-check lengths (SEQ-6).

#include <vector>

#include "core/sequence.h"
#include "python/src/common.h"

namespace astensor::python {

class PySequenceReader final : public SequenceReader {
 public:
  /// `root` is borrowed: the caller keeps it alive for the reader's lifetime.
  explicit PySequenceReader(PyObject* root) : root_(root) {}
  ~PySequenceReader() override {
    for (PyObject* o : held_) Py_DECREF(o);
  }
  PySequenceReader(const PySequenceReader&) = delete;
  PySequenceReader& operator=(const PySequenceReader&) = delete;

  NodeRef root() override { return root_; }

  void inspect(NodeRef node, NodeInfo* out) override {
    auto* o = static_cast<PyObject*>(const_cast<void*>(node));
    PyTypeObject* tp = Py_TYPE(o);
    if (tp == &PyFloat_Type) {
      out->kind = NodeKind::Scalar;
      out->scalar = ScalarLeaf::of_float(PyFloat_AS_DOUBLE(o));
    } else if (tp == &PyLong_Type) {
      out->kind = NodeKind::Scalar;
      out->scalar = int_leaf(o);
    } else if (tp == &PyList_Type) {
      out->kind = NodeKind::Sequence;
      out->length = PyList_GET_SIZE(o);
    } else if (tp == &PyTuple_Type) {
      out->kind = NodeKind::Sequence;
      out->length = PyTuple_GET_SIZE(o);
    } else if (tp == &PyBool_Type) {
      out->kind = NodeKind::Scalar;
      out->scalar = ScalarLeaf::of_bool(o == Py_True);
    } else {
      inspect_slow(o, out);
    }
  }

  NodeRef child(NodeRef seq, int64_t i) override {
    auto* o = static_cast<PyObject*>(const_cast<void*>(seq));
    if (PyList_Check(o)) {
      // The list may have shrunk since inspect() (a __getitem__ or __index__ elsewhere can
      // run Python code): never read past its current end.
      if (i >= PyList_GET_SIZE(o)) changed(seq);
      return hold_borrowed(PyList_GET_ITEM(o, i));
    }
    if (PyTuple_Check(o)) return hold_borrowed(PyTuple_GET_ITEM(o, i));
    return child_slow(o, i);
  }

  std::string describe(NodeRef node) override;

  /// The scalar-run hook of impl/sequence_fast.h (Note [Scalar runs]): exact float, bool and
  /// int (when it fits int64; larger ones end the run and take inspect()'s path) children of
  /// an exact list or tuple, read from its item array without taking references. Nothing in
  /// the loop runs Python code, so the array cannot change while we read it.
  /// Exact list, tuple, float, int or bool: nothing about it runs Python code (impl's
  /// Note [Speculative fill]).
  /// Exact ndarrays of a builtin numeric dtype too: inspect() reads their struct only.
  bool is_plain(NodeRef node) const {
    auto* o = static_cast<PyObject*>(const_cast<void*>(node));
    PyTypeObject* tp = Py_TYPE(o);
    if (tp == &PyFloat_Type || tp == &PyLong_Type || tp == &PyList_Type ||
        tp == &PyTuple_Type || tp == &PyBool_Type)
      return true;
    if (tp != npy().PyArray_Type_) return false;
    const int type_num =
        py::detail::array_descriptor_proxy(py::detail::array_proxy(o)->descr)->type_num;
    return type_num <= kNpyLastPlain || type_num == kNpyHalfNum;
  }
  static constexpr int kNpyLastPlain = 15;  // NPY_BOOL .. NPY_CDOUBLE (long double raises in inspect)
  static constexpr int kNpyHalfNum = 23;

  static constexpr int64_t kPrefetch = 16;

  /// The value of an exact int of at most two digits without a call into libpython (the
  /// common case: PyLong_AsLongLongAndOverflow costs a call and its checks per element).
  static bool small_int(PyObject* c, int64_t* v) {
#if PY_VERSION_HEX >= 0x030C0000
    auto* l = reinterpret_cast<PyLongObject*>(c);
    if (!PyUnstable_Long_IsCompact(l)) return false;
    *v = PyUnstable_Long_CompactValue(l);
    return true;
#else
    const auto* l = reinterpret_cast<const PyLongObject*>(c);
    const Py_ssize_t size = Py_SIZE(c);
    static_assert(PyLong_SHIFT * 2 < 63);
    // One digit or zero (|v| < 2**30, the common case): sign * digit without a branch on the
    // sign (a jump table here cost an indirect branch per element; impl/cpu/NOTES.md "Int
    // lists"). This is CPython 3.11's own medium_value(): from 3.11 on every int has at
    // least one digit allocated (zero too), and the product ignores it for zero.
#if PY_VERSION_HEX >= 0x030B0000
    if (static_cast<std::size_t>(size + 1) <= 2) {
      *v = static_cast<int64_t>(size) * static_cast<int64_t>(l->ob_digit[0]);
      return true;
    }
#else
    if (size == 0) {
      *v = 0;
      return true;
    }
    if (size == 1 || size == -1) {
      *v = size * static_cast<int64_t>(l->ob_digit[0]);
      return true;
    }
#endif
    if (size == 2 || size == -2) {
      const int64_t m = static_cast<int64_t>(l->ob_digit[0]) |
                        (static_cast<int64_t>(l->ob_digit[1]) << PyLong_SHIFT);
      *v = size < 0 ? -m : m;
      return true;
    }
    return false;
#endif
  }
  template <class F>
  int64_t scan_scalars(NodeRef seq, int64_t begin, int64_t end, F&& f) {
    auto* o = static_cast<PyObject*>(const_cast<void*>(seq));
    PyObject** items;
    Py_ssize_t n;
    if (Py_IS_TYPE(o, &PyList_Type)) {
      items = PySequence_Fast_ITEMS(o);
      n = PyList_GET_SIZE(o);
    } else if (Py_IS_TYPE(o, &PyTuple_Type)) {
      items = PySequence_Fast_ITEMS(o);
      n = PyTuple_GET_SIZE(o);
    } else {
      return begin;
    }
    if (end > n) end = n;  // shrunk: the generic child() reports the change
    int64_t i = begin;
    for (; i < end; ++i) {
      // The objects are the memory traffic: ask for one a few iterations ahead.
      if (i + kPrefetch < end) __builtin_prefetch(items[i + kPrefetch]);
      PyObject* c = items[i];
      PyTypeObject* tp = Py_TYPE(c);
      ScalarLeaf s;
      if (tp == &PyFloat_Type) {
        s.kind = ScalarLeaf::Kind::Float;
        s.re = PyFloat_AS_DOUBLE(c);
      } else if (tp == &PyLong_Type) {
        if (!small_int(c, &s.i)) {
          int overflow = 0;
          s.i = PyLong_AsLongLongAndOverflow(c, &overflow);
          if (overflow != 0) break;  // UInt / BigInt: int_leaf() through the generic walk
        }
        s.kind = ScalarLeaf::Kind::Int;
      } else if (tp == &PyBool_Type) {
        s.kind = ScalarLeaf::Kind::Bool;
        s.b = c == Py_True;
      } else {
        break;
      }
      if (!f(i, static_cast<const ScalarLeaf&>(s))) break;
    }
    return i;
  }

  /// A Python int as a leaf: Int when it fits int64, UInt up to 2**64-1, BigInt beyond
  /// (its double value, +-inf when even that overflows; SEQ-6 reports it on store).
  static ScalarLeaf int_leaf(PyObject* o);

 private:
  void inspect_slow(PyObject* o, NodeInfo* out);
  NodeRef child_slow(PyObject* o, int64_t i);
  [[noreturn]] static void changed(NodeRef seq);

  PyObject* hold_borrowed(PyObject* o) {
    Py_INCREF(o);
    held_.push_back(o);
    return o;
  }
  PyObject* hold_new(PyObject* o) {  // steals o
    held_.push_back(o);
    return o;
  }

  PyObject* root_;
  std::vector<PyObject*> held_;
};

inline ScalarLeaf PySequenceReader::int_leaf(PyObject* o) {
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (overflow == 0) {
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    return ScalarLeaf::of_int(v);
  }
  if (overflow > 0) {
    unsigned long long u = PyLong_AsUnsignedLongLong(o);
    if (!(u == static_cast<unsigned long long>(-1) && PyErr_Occurred()))
      return ScalarLeaf::of_uint(u);
    PyErr_Clear();
  }
  ScalarLeaf s;
  s.kind = ScalarLeaf::Kind::BigInt;
  s.re = PyLong_AsDouble(o);
  if (s.re == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    s.re = overflow > 0 ? HUGE_VAL : -HUGE_VAL;
  }
  return s;
}

}  // namespace astensor::python

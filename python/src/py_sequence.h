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

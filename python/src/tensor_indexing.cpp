// The Python Tensor's indexing and views: t[key] for reading (a view sharing memory),
// iteration, .T and detach() (views), and the small write API (t[i, j] = value, fill_;
// ARR-7 checks).

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/store_scalar.h"
#include "python/src/classify.h"
#include "python/src/tensor_parts.h"

namespace astensor::python {

/// Views carry no autograd history (there is no view backward here): making one of a tensor
/// that requires grad, with grad enabled, is refused rather than silently cutting the graph.
void check_view_allowed(const Tensor& t, const char* what) {
  ASTENSOR_CHECK(!(t.requires_grad() && grad_enabled()), "[", what,
                 "] the tensor requires grad and views carry no autograd history here; use "
                 "t.detach() first, or work inside astensor.no_grad()");
}

namespace {

/// Stores a Python scalar into one element (SEQ-5 checks), for __setitem__ and fill_.
void store_py_value(const Tensor& t, py::handle value, std::vector<unsigned char>* bytes) {
  PySequenceReader r(value.ptr());
  NodeInfo info;
  r.inspect(r.root(), &info);
  if (info.kind != NodeKind::Scalar)
    throw TypeError("[tensor] can only assign a number (got " + r.describe(r.root()) + ")");
  bytes->assign(t.itemsize(), 0);
  StoreStatus st = store_scalar(info.scalar, t.dtype(), bytes->data());
  if (st != StoreStatus::Ok) throw_store_error(st, r.describe(r.root()), t.dtype(), {});
}

/// Writes one element at `element_offset` elements from element [0, ..., 0], on any device.
void write_element(const Tensor& t, int64_t element_offset, const std::vector<unsigned char>& bytes) {
  wait_until_final(t);  // XFER-4: a pending copy must not land after this write
  char* base = static_cast<char*>(t.mutable_data_ptr());  // ValueError when read-only (ARR-7)
  void* dst = base + element_offset * static_cast<int64_t>(t.itemsize());
  copy_bytes_sync(dst, t.device(), bytes.data(), Device::cpu(), bytes.size());
}

Tensor make_view(const Tensor& t, int64_t offset, Dims shape, Dims strides) {
  return Tensor::make(t.storage(), offset, std::move(shape), std::move(strides), t.dtype());
}

/// t[key] for reading: ints (negative from the end), slices with a positive step, None (a new
/// size-1 dim) and one Ellipsis, alone or in a tuple. Always a view sharing t's memory (the
/// read-only flag comes along, it belongs to the memory). Other keys: IndexError.
Tensor index_view(const Tensor& t, PyObject* key) {
  check_view_allowed(t, "tensor[...]");
  py::tuple items = PyTuple_Check(key) ? py::reinterpret_borrow<py::tuple>(key)
                                       : py::make_tuple(py::handle(key));
  int64_t consumed = 0;  // source dims the key uses up (ints and slices)
  bool ellipsis = false;
  for (py::handle it : items) {
    if (it.ptr() == Py_Ellipsis) {
      if (ellipsis) throw py::index_error("[tensor] an index can only have a single ellipsis ('...')");
      ellipsis = true;
    } else if (it.ptr() != Py_None) {
      ++consumed;
    }
  }
  const int64_t ndim = t.ndim();
  if (consumed > ndim) {
    if (ndim == 0)
      throw py::index_error("[tensor] invalid index of a 0-dim tensor; use t.item() to read its "
                            "value");
    throw py::index_error("[tensor] too many indices for a tensor of dimension " +
                          std::to_string(ndim) + " (got " + std::to_string(consumed) + ")");
  }
  Dims shape, strides;
  int64_t offset = t.offset();
  std::size_t d = 0;  // next source dim
  auto keep_dim = [&] {
    shape.push_back(t.shape()[d]);
    strides.push_back(t.strides()[d]);
    ++d;
  };
  for (py::handle it : items) {
    PyObject* o = it.ptr();
    if (o == Py_Ellipsis) {
      for (int64_t k = 0; k < ndim - consumed; ++k) keep_dim();
    } else if (o == Py_None) {  // a size-1 dim; its stride as torch's unsqueeze gives it
      shape.push_back(1);
      strides.push_back(d < t.shape().size() ? t.shape()[d] * t.strides()[d] : 1);
    } else if (PySlice_Check(o)) {
      Py_ssize_t start = 0, stop = 0, step = 0;
      if (PySlice_Unpack(o, &start, &stop, &step) < 0) throw py::error_already_set();
      if (step <= 0) throw ValueError("[tensor] slice step must be greater than zero (got " +
                                      std::to_string(step) + "), as in torch");
      const Py_ssize_t len = PySlice_AdjustIndices(static_cast<Py_ssize_t>(t.shape()[d]), &start, &stop, step);
      offset += static_cast<int64_t>(start) * t.strides()[d];
      shape.push_back(len);
      strides.push_back(t.strides()[d] * step);
      ++d;
    } else if (PyIndex_Check(o) && !PyBool_Check(o)) {
      const Py_ssize_t raw = PyNumber_AsSsize_t(o, PyExc_IndexError);
      if (raw == -1 && PyErr_Occurred()) throw py::error_already_set();
      const int64_t n = t.shape()[d];
      const int64_t i = raw < 0 ? raw + n : raw;
      if (i < 0 || i >= n)
        throw py::index_error("[tensor] index " + std::to_string(raw) +
                              " is out of bounds for dimension " + std::to_string(d) +
                              " with size " + std::to_string(n));
      offset += i * t.strides()[d];
      ++d;
    } else {
      throw py::index_error("[tensor] only integers, slices (`:`), ellipsis (`...`) and None are "
                            "valid indices (got " + type_name(o) + ")");
    }
  }
  while (d < t.shape().size()) keep_dim();  // trailing dims the key did not name
  return make_view(t, offset, std::move(shape), std::move(strides));
}

}  // namespace

PyObject* tensor_subscript(PyObject* self, PyObject* key) {
  try {
    return wrap_tensor(index_view(tensor_of(self), key));
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

/// iter(t): the views t[0], t[1], ... (TypeError on a 0-d tensor, as torch).
PyObject* tensor_iter(PyObject* self) {
  try {
    const Tensor& t = tensor_of(self);
    ASTENSOR_CHECK_TYPE(t.ndim() > 0, "[tensor] iteration over a 0-d tensor");
    check_view_allowed(t, "iter(tensor)");
    const int64_t n = t.shape()[0];
    Dims shape(t.shape().span().subspan(1)), strides(t.strides().span().subspan(1));
    py::list rows(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      rows[static_cast<std::size_t>(i)] = wrap(make_view(t, t.offset() + i * t.strides()[0], shape, strides));
    return PyObject_GetIter(rows.ptr());
  } catch (...) {
    set_error_from_current_exception();
    return nullptr;
  }
}

/// t[i, j, ...] = scalar: one element, full integer index (negative counts from the end).
int tensor_ass_subscript(PyObject* self, PyObject* key, PyObject* value) {
  try {
    const Tensor& t = tensor_of(self);
    if (!value) throw TypeError("[tensor] elements cannot be deleted");
    py::tuple idx = PyTuple_Check(key) ? py::reinterpret_borrow<py::tuple>(key) : py::make_tuple(py::handle(key));
    if (static_cast<int64_t>(idx.size()) != t.ndim())
      throw py::index_error("[tensor] assignment needs one integer index per dimension (" +
                            std::to_string(t.ndim()) + ")");
    int64_t off = 0;  // elements from element [0, ..., 0]
    for (std::size_t d = 0; d < idx.size(); ++d) {
      if (!PyIndex_Check(idx[d].ptr())) throw TypeError("[tensor] indices must be integers");
      int64_t i = idx[d].cast<int64_t>();
      const int64_t n = t.shape()[d];
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        throw py::index_error("[tensor] index " + std::to_string(idx[d].cast<int64_t>()) +
                              " is out of bounds for dimension " + std::to_string(d) +
                              " with size " + std::to_string(n));
      off += i * t.strides()[d];
    }
    std::vector<unsigned char> bytes;
    store_py_value(t, value, &bytes);
    write_element(t, off, bytes);
    return 0;
  } catch (...) {
    set_error_from_current_exception();
    return -1;
  }
}

void add_indexing_methods(py::handle cls) {
  add_property(cls, "T", [](py::handle self) -> py::object {
    const Tensor& t = self_tensor(self);
    if (t.ndim() < 2) return py::reinterpret_borrow<py::object>(self);
    check_view_allowed(t, "T");
    Dims shape(t.shape()), strides(t.strides());
    std::reverse(shape.data(), shape.data() + shape.size());
    std::reverse(strides.data(), strides.data() + strides.size());
    return wrap(make_view(t, t.offset(), std::move(shape), std::move(strides)));
  }, "The transpose, a view sharing memory: a 2-d tensor's dims swapped; a 0-d or 1-d tensor "
     "itself; above 2 dims all dims reversed (NumPy's .T, and what torch does today with a "
     "deprecation warning).");
  add_method(cls, "detach", [](py::handle self) {
    const Tensor& t = self_tensor(self);
    return wrap(make_view(t, t.offset(), t.shape(), t.strides()));
  }, "A view sharing memory with no autograd history (requires_grad False).");
  add_method(
      cls, "fill_",
      [](py::handle self, py::handle value) {
        const Tensor& t = self_tensor(self);
        std::vector<unsigned char> bytes;
        store_py_value(t, value, &bytes);
        t.mutable_data_ptr();  // ValueError on read-only before touching anything (ARR-7)
        const int64_t n = t.numel();
        std::vector<int64_t> idx(t.shape().size(), 0);
        for (int64_t k = 0; k < n; ++k) {
          int64_t off = 0;
          for (std::size_t d = 0; d < idx.size(); ++d) off += idx[d] * t.strides()[d];
          write_element(t, off, bytes);
          for (std::size_t d = idx.size(); d-- > 0;) {
            if (++idx[d] < t.shape()[d]) break;
            idx[d] = 0;
          }
        }
        return self;
      },
      py::arg("value"));
}

}  // namespace astensor::python

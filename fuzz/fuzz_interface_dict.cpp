// libFuzzer target (issue 7): the __array_interface__ (ARR-9) and __cuda_array_interface__
// (CAI-1..4) dict readers of python/src/interfaces.cpp, driven through the real classify()
// (ARG-4) in an embedded CPython. The fuzz bytes decode into a hostile dict attached to a
// holder object: the known keys, each absent, well-formed or wrong (None, bools, huge and
// negative ints, floats, str, bytes, lone surrogates, tuples and lists of the wrong length or
// with wrong elements, nested dicts, an int subclass whose repr() clears the dict being read),
// plus junk keys (one of them hashing like a real key, whose __eq__ clears the dict); 'data'
// as (pointer, readonly) into the harness's heap buffer, 0 or junk, or as a buffer object.
//
// Oracles: classify() gives an ArrayView or a clean error (an astensor Error of kind
// Type/Value/Overflow, or the Python TypeError/ValueError/... raised by the object itself),
// with no Python error left pending; an accepted view inside the harness buffer converts
// identically in the reference and impl (XFER-3), one elsewhere is not read. The CAI path,
// with no CUDA in this build, must fail (DEV-3 RuntimeError or a parse error) without
// touching the pointer: its 'data' points into an ASan-poisoned block. Afterwards the
// holder, the dict and the buffer object have their starting reference counts (ARR-2: the
// owner released exactly once) and library storage is back to its baseline.

#include <sanitizer/asan_interface.h>

#include <vector>

#include "fuzz/fuzz_python.h"

using namespace astensor;
namespace py = pybind11;

namespace {

constexpr const char* kSetup = R"PY(
class Holder:
    pass

class Raising:
    @property
    def __array_interface__(self):
        raise KeyError('hostile __array_interface__ property')
    @property
    def __cuda_array_interface__(self):
        raise KeyError('hostile __cuda_array_interface__ property')

victim = None   # the dict being read

class Evil(int):
    """An int whose repr() clears the interface dict being read (a hostile producer)."""
    def __repr__(self):
        if victim is not None:
            victim.clear()
        return 'Evil(%d)' % int(self)

class ClearingList(list):
    """A list whose item access clears the dict being read."""
    def __getitem__(self, i):
        if victim is not None:
            victim.clear()
        return list.__getitem__(self, i)

class EvilKey:
    """A junk key that hashes like a real one; comparing it clears the dict."""
    def __init__(self, name):
        self.h = hash(name)
    def __hash__(self):
        return self.h
    def __eq__(self, other):
        if victim is not None:
            victim.clear()
        return False
)PY";

PyObject* g_holder_t = nullptr;
PyObject* g_raising_t = nullptr;
PyObject* g_evil_t = nullptr;
PyObject* g_evil_key_t = nullptr;
PyObject* g_clearing_list_t = nullptr;

// The ASan-poisoned block the CAI pointers point into: reading it is a finding.
alignas(64) unsigned char g_poison[4096];

PyObject* check(PyObject* o) {
  if (!o) fuzz::die("building a value failed");
  return o;
}

PyObject* call1(PyObject* type, PyObject* arg) {
  PyObject* r = check(PyObject_CallOneArg(type, arg));
  Py_DECREF(arg);
  return r;
}

PyObject* pyint(int64_t v) { return check(PyLong_FromLongLong(v)); }
PyObject* pyuint(uint64_t v) { return check(PyLong_FromUnsignedLongLong(v)); }

/// 2**64 + k (too big for any pointer).
PyObject* huge_int(int k) {
  PyObject* a = pyuint(~uint64_t(0));
  PyObject* b = pyint(k + 1);
  PyObject* r = check(PyNumber_Add(a, b));
  Py_DECREF(a);
  Py_DECREF(b);
  return r;
}

PyObject* fuzz_str(fuzz::Input& in, std::size_t max) {
  std::string s = in.str(max);
  return check(PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
}

/// A value of the wrong kind for any field.
PyObject* junk(fuzz::Input& in, int depth = 0) {
  switch (in.u8() % 15) {
    case 0: Py_RETURN_NONE;
    case 1: Py_RETURN_TRUE;
    case 2: Py_RETURN_FALSE;
    case 3: return pyint(in.dim());
    case 4: return huge_int(in.u8());
    case 5: return pyint(in.raw<int64_t>());
    case 6: return check(PyFloat_FromDouble(3.5));
    case 7: return fuzz_str(in, 6);
    case 8: {
      std::string s = in.str(6);
      return check(PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())));
    }
    case 9: return check(PyTuple_New(0));
    case 10: {
      PyObject* l = check(PyList_New(0));
      if (depth < 2) {
        PyObject* x = junk(in, depth + 1);
        PyList_Append(l, x);
        Py_DECREF(x);
      }
      return l;
    }
    case 11: return check(PyDict_New());
    case 12: return call1(g_evil_t, pyint(in.raw<int64_t>()));
    case 13: return check(PyUnicode_FromOrdinal(0xD800));  // AsUTF8 fails
    default: {
      PyObject* t = check(PyTuple_New(2));
      PyTuple_SET_ITEM(t, 0, depth < 2 ? junk(in, depth + 1) : pyint(1));
      PyTuple_SET_ITEM(t, 1, depth < 2 ? junk(in, depth + 1) : pyint(2));
      return t;
    }
  }
}

/// An int field: usually the given value, sometimes an Evil int of it, sometimes junk.
PyObject* int_or_junk(fuzz::Input& in, int64_t v) {
  const uint8_t b = in.u8();
  if (b < 200) return pyint(v);
  if (b < 215) return call1(g_evil_t, pyint(v));
  return junk(in);
}

/// A sequence of ints (shape, strides): a tuple, sometimes a list (or a list subclass whose
/// __getitem__ clears the dict), sometimes with one junk element.
PyObject* int_seq(fuzz::Input& in, const std::vector<int64_t>& xs) {
  const uint8_t mode = in.u8();
  const bool list = (mode & 3) == 3;
  const int bad = (mode >> 2) % 8 == 7 && !xs.empty() ? static_cast<int>(in.u8() % xs.size()) : -1;
  PyObject* s = check(list ? PyList_New(static_cast<Py_ssize_t>(xs.size()))
                           : PyTuple_New(static_cast<Py_ssize_t>(xs.size())));
  for (std::size_t k = 0; k < xs.size(); ++k) {
    PyObject* x = static_cast<int>(k) == bad ? junk(in) : int_or_junk(in, xs[k]);
    if (list) PyList_SET_ITEM(s, static_cast<Py_ssize_t>(k), x);
    else PyTuple_SET_ITEM(s, static_cast<Py_ssize_t>(k), x);
  }
  if (list && (mode & 0x40)) return call1(g_clearing_list_t, s);  // a list subclass
  return s;
}

/// A typestr: valid ones in every byte order, unsupported NumPy kinds, or fuzz bytes.
/// *isz: the item size it names (for strides), 1 when unknown.
PyObject* typestr(fuzz::Input& in, int64_t* isz) {
  static const char* kinds[] = {"b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8",
                                "f2", "f4", "f8", "c8", "c16", "V2", "f16", "m8", "M8",
                                "U4", "S3", "O8", "f3", "i16", "b2", "f"};
  static const char orders[] = "<>=|";
  const uint8_t b = in.u8();
  if (b >= 230) {
    *isz = 1;
    if (b >= 250) return check(PyUnicode_FromOrdinal(0xD800));
    if (b >= 245) return check(PyUnicode_FromStringAndSize("<f4\0", 4));  // an embedded NUL
    if (b >= 240) return junk(in);
    return fuzz_str(in, 5);
  }
  const char* k = kinds[b % (sizeof kinds / sizeof *kinds)];
  std::string s(1, orders[(b / 25) % 4]);
  s += k;
  *isz = std::max(1, std::atoi(k + 1));
  return check(PyUnicode_FromString(s.c_str()));
}

struct Region {
  const void* base = nullptr;
  std::size_t len = 0;
};

void set_item(PyObject* d, const char* key, PyObject* v) {
  if (PyDict_SetItemString(d, key, v) != 0) fuzz::die("dict set");
  Py_DECREF(v);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_python(kSetup);
  g_holder_t = fuzz::main_global("Holder");
  g_raising_t = fuzz::main_global("Raising");
  g_evil_t = fuzz::main_global("Evil");
  g_evil_key_t = fuzz::main_global("EvilKey");
  g_clearing_list_t = fuzz::main_global("ClearingList");
  ASAN_POISON_MEMORY_REGION(g_poison, sizeof g_poison);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const uint8_t head = in.u8();
  const bool cai = head & 1;
  const bool both = (head & 0x0e) == 0x0e;  // CAI and __array_interface__ both present
  const bool raising = (head & 0xf0) == 0xf0;
  const Options opt = fuzz::options_from(in);

  // The producer's memory: a heap block of exactly the decoded size (ASan redzones around).
  std::vector<unsigned char> buf(in.raw<uint16_t>() % 2049);
  const uint8_t seed = in.u8();
  for (std::size_t k = 0; k < buf.size(); ++k) buf[k] = static_cast<unsigned char>(k * 37 + seed);

  PyObject* dict = check(PyDict_New());
  Region region;
  PyObject* data_obj = nullptr;  // a buffer object given as 'data' (borrowed; the dict holds it)
  int64_t isz = 1;
  std::vector<int64_t> shape;

  // version
  switch (in.u8() % 8) {
    case 0: break;  // absent
    case 1: set_item(dict, "version", junk(in)); break;
    case 2: set_item(dict, "version", int_or_junk(in, static_cast<int8_t>(in.u8()))); break;
    default: set_item(dict, "version", pyint(in.u8() < 240 ? 3 : 2)); break;
  }
  // typestr
  if (in.u8() % 16 != 0) set_item(dict, "typestr", typestr(in, &isz));
  // shape
  {
    const uint8_t b = in.u8();
    std::size_t ndim = b < 245 ? b % 6 : 62 + (b - 245);  // rarely 62..72
    for (std::size_t k = 0; k < ndim; ++k) shape.push_back(in.dim());
    if (b % 32 == 31) set_item(dict, "shape", junk(in));
    else if (b % 32 != 30) set_item(dict, "shape", int_seq(in, shape));
  }
  // strides
  {
    const uint8_t b = in.u8();
    if (b % 4 == 1) {
      set_item(dict, "strides", Py_NewRef(Py_None));
    } else if (b % 4 >= 2) {
      std::vector<int64_t> st;
      const std::size_t n = b % 16 == 15 ? shape.size() + 1 : shape.size();  // a mismatch, sometimes
      for (std::size_t k = 0; k < n; ++k) st.push_back(in.stride(isz));
      set_item(dict, "strides", b % 32 == 31 ? junk(in) : int_seq(in, st));
    }
  }
  // data
  {
    const uint8_t b = in.u8();
    const int64_t off = in.raw<int16_t>() % 2100;
    unsigned char* base = cai ? g_poison : buf.data();
    const std::size_t base_len = cai ? sizeof g_poison : buf.size();
    const uint64_t ptr = reinterpret_cast<uintptr_t>(base) + static_cast<uint64_t>(off);
    auto ro = [&](uint8_t x) -> PyObject* {
      if (x % 16 == 15) return junk(in);
      return Py_NewRef((x & 1) ? Py_True : Py_False);
    };
    auto pair = [&](PyObject* p, PyObject* r) {
      PyObject* t = check(PyTuple_New(2));
      PyTuple_SET_ITEM(t, 0, p);
      PyTuple_SET_ITEM(t, 1, r);
      return t;
    };
    switch (b % 12) {
      case 0: case 1: case 2:  // (pointer into the producer's memory, readonly)
        region = {base, base_len};
        set_item(dict, "data", pair(pyuint(ptr), ro(in.u8())));
        break;
      case 3: set_item(dict, "data", pair(pyint(0), ro(in.u8()))); break;
      case 4: {  // a junk pointer
        const uint8_t j = in.u8() % 6;
        PyObject* p = j == 0   ? pyint(-1)
                      : j == 1 ? huge_int(0)
                      : j == 2 ? pyuint(in.raw<uint64_t>() | (uint64_t(1) << 63))  // never mapped
                      : j == 3 ? call1(g_evil_t, pyuint(ptr))
                               : junk(in);
        if (j == 3) region = {base, base_len};
        set_item(dict, "data", pair(p, ro(in.u8())));
        break;
      }
      case 5: {  // a tuple of the wrong length, or a list
        PyObject* t = (b & 0x10) ? check(PyList_New(2)) : check(PyTuple_New(b & 0x20 ? 3 : 1));
        const Py_ssize_t n = PySequence_Size(t);
        for (Py_ssize_t k = 0; k < n; ++k) {
          PyObject* x = k == 0 ? pyuint(ptr) : (in.u8() & 1 ? junk(in) : Py_NewRef(Py_False));
          if (PyList_Check(t)) PyList_SET_ITEM(t, k, x);
          else PyTuple_SET_ITEM(t, k, x);
        }
        set_item(dict, "data", t);
        break;
      }
      case 6: case 7: {  // a buffer object over the producer's memory (a memoryview)
        if (!cai) region = {buf.data(), buf.size()};
        data_obj = check(PyMemoryView_FromMemory(reinterpret_cast<char*>(base),
                                                 static_cast<Py_ssize_t>(base_len),
                                                 (b & 0x10) ? PyBUF_READ : PyBUF_WRITE));
        Py_INCREF(data_obj);
        set_item(dict, "data", data_obj);
        break;
      }
      case 8: {  // bytes as the buffer
        std::string s = in.str(64);
        data_obj = check(PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())));
        if (!cai) region = {PyBytes_AS_STRING(data_obj), s.size()};
        Py_INCREF(data_obj);
        set_item(dict, "data", data_obj);
        break;
      }
      case 9: set_item(dict, "data", Py_NewRef(Py_None)); break;
      case 10: break;  // absent
      default: set_item(dict, "data", junk(in)); break;
    }
  }
  // offset, mask, descr, stream, junk keys
  {
    const uint8_t b = in.u8();
    if (b % 4 == 1) set_item(dict, "offset", Py_NewRef(Py_None));
    if (b % 4 == 2) set_item(dict, "offset", pyint(in.dim() * ((b & 0x10) ? -1 : 1)));
    if (b % 4 == 3) set_item(dict, "offset", int_or_junk(in, in.raw<int16_t>()));
    if ((b >> 2) % 4 == 1) set_item(dict, "mask", Py_NewRef(Py_None));
    if ((b >> 2) % 4 == 2) set_item(dict, "mask", junk(in));
    if ((b >> 4) % 4 == 1) {
      PyObject* descr = check(Py_BuildValue("[(ss)]", "", "<f4"));
      set_item(dict, "descr", descr);
    }
    if ((b >> 4) % 4 == 2) set_item(dict, "descr", junk(in));
    const uint8_t s = in.u8();
    if (s % 4 == 1) set_item(dict, "stream", Py_NewRef(Py_None));
    if (s % 4 == 2) set_item(dict, "stream", pyint(static_cast<int8_t>(in.u8()) % 4));
    if (s % 4 == 3) set_item(dict, "stream", junk(in));
    const uint8_t j = in.u8();
    if (j % 8 == 1) {
      PyObject* k = fuzz_str(in, 4);
      PyObject* v = junk(in);
      PyDict_SetItem(dict, k, v);
      Py_DECREF(k);
      Py_DECREF(v);
    }
    if (j % 8 == 2) {  // a key colliding with one the reader looks up
      static const char* names[] = {"shape", "typestr", "version", "data", "strides", "offset",
                                    "mask", "stream"};
      PyObject* k = call1(g_evil_key_t, check(PyUnicode_FromString(names[in.u8() % 8])));
      PyDict_SetItem(dict, k, Py_None);
      Py_DECREF(k);
    }
  }

  // The holder: the interface as an instance attribute (sometimes not a dict at all), or a
  // property that raises.
  PyObject* holder = check(PyObject_CallNoArgs(raising ? g_raising_t : g_holder_t));
  const char* attr = cai ? "__cuda_array_interface__" : "__array_interface__";
  if (!raising) {
    PyObject* value = (head & 0x30) == 0x30 && (head & 0xc0) == 0 ? junk(in) : Py_NewRef(dict);
    if (PyObject_SetAttrString(holder, attr, value) != 0) fuzz::die("setattr");
    Py_DECREF(value);
    if (both && PyObject_SetAttrString(holder, cai ? "__array_interface__" : "__cuda_array_interface__", dict) != 0)
      fuzz::die("setattr");
  }
  const bool is_cai = cai || both;

  PyObject* main_dict = PyModule_GetDict(PyImport_AddModule("__main__"));
  if (PyDict_SetItemString(main_dict, "victim", dict) != 0) fuzz::die("victim");
  const Py_ssize_t holder_rc = Py_REFCNT(holder);
  const Py_ssize_t dict_rc = Py_REFCNT(dict);
  const auto storage0 = fuzz::live_storage();

  try {
    python::Classified c = python::classify(holder);
    const ArrayView* v = std::get_if<ArrayView>(&c.source);
    if (!v) fuzz::die("classify() of an interface holder gave no ArrayView");
    if (is_cai) fuzz::die("a __cuda_array_interface__ was accepted in a build without CUDA");
    if (!v->device.is_cpu()) fuzz::die("__array_interface__ gave a non-CPU view");
    fuzz::check_view(*v, region.base, region.len, opt);
  } catch (const Error& e) {
    if (fuzz::verbose()) std::fprintf(stderr, "error: %s: %s\n", error_kind_name(e.kind()), e.what());
    if (PyErr_Occurred()) fuzz::die("a typed error with a Python error still set");
    if (e.kind() == ErrorKind::Runtime && !is_cai) {
      std::fprintf(stderr, "fuzz: RuntimeError from __array_interface__: %s\n", e.what());
      std::abort();
    }
  } catch (py::error_already_set& e) {
    e.restore();
    fuzz::expect_clean_python_error("classify()");
  }
  if (PyErr_Occurred()) fuzz::die("a Python error left set");

  if (Py_REFCNT(holder) != holder_rc) fuzz::die("holder reference count changed (ARR-2)");
  if (Py_REFCNT(dict) != dict_rc) fuzz::die("interface dict reference count changed");
  if (fuzz::live_storage() != storage0) fuzz::die("library storage leaked");

  if (PyDict_SetItemString(main_dict, "victim", Py_None) != 0) fuzz::die("victim");
  Py_DECREF(holder);
  Py_DECREF(dict);
  if (data_obj) {
    // (bytes of length 0 and 1 are CPython's shared singletons)
    if (Py_REFCNT(data_obj) != 1 && !(PyBytes_Check(data_obj) && PyBytes_GET_SIZE(data_obj) < 2))
      fuzz::die("'data' buffer still referenced");
    Py_DECREF(data_obj);  // a memoryview over buf: released before buf goes away
  }
  return 0;
}

#pragma once
/// The Tensor's exports (DLP-3), attached to the type by init_tensor_type: NumPy (numpy(),
/// __array__), the buffer protocol on the CPU (read-only carried, ARR-7), __dlpack__ /
/// __dlpack_device__, and __cuda_array_interface__ on CUDA. Every export shares memory and
/// keeps the tensor's storage alive for as long as the consumer holds it (ARR-2).

#include "python/src/dlpack.h"
#include "python/src/tensor_object.h"

namespace astensor::python {

/// A NumPy array sharing the CPU tensor's memory (base = the tensor); read-only tensors give
/// read-only arrays; bfloat16 needs ml_dtypes. TypeError off the CPU.
py::object to_numpy(py::handle self);

/// bf_getbuffer / bf_releasebuffer: PEP 3118 export of a CPU tensor (BufferError for
/// bfloat16, device tensors, writable requests on read-only tensors, contiguity it lacks).
int tensor_getbuffer(PyObject* self, Py_buffer* view, int flags);
void tensor_releasebuffer(PyObject* self, Py_buffer* view);

/// __dlpack__(*, stream, max_version, dl_device, copy): a versioned capsule when
/// max_version >= (1, 0) (READ_ONLY / IS_COPIED flags), else a legacy one (BufferError for
/// read-only tensors, which a legacy capsule cannot mark).
py::object dlpack_export(py::handle self, py::object stream, py::object max_version,
                         py::object dl_device, py::object copy);
/// The DLPack device of a device: (kDLCPU, 0), (kDLCUDA, i); sim is kDLExtDev (not exportable).
dlpack::DLDevice dl_device_of(Device d);
/// A DLPack capsule sharing `t` ("dltensor_versioned" with `flags`, or the legacy "dltensor"),
/// as __dlpack__ makes it after its checks: the capsule holds the tensor (so its storage and
/// producer) until the consumer's deleter runs, or until the capsule dies unconsumed.
py::object make_dlpack_capsule(const Tensor& t, bool versioned, uint64_t flags);

/// __cuda_array_interface__ v3 of a CUDA tensor; AttributeError elsewhere (so hasattr() is
/// false and consumers use another protocol).
py::object cuda_array_interface(py::handle self);

}  // namespace astensor::python

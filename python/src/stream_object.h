#pragma once
/// astensor.Stream (XFER-4, issue 15): a device stream of the library's, as a Python object, to
/// name as as_tensor(..., stream=). Stream(device) owns a new stream of that device (made by the
/// backend, destroyed when the last user lets go: the Python object, or a pending conversion
/// queued on it); Stream.current(device) wraps the library's current stream of the device
/// without owning it.

#include <memory>

#include "core/backend.h"
#include "python/src/common.h"

namespace astensor::python {

struct StreamObject {
  Device device;       ///< resolved: a device with an index, never the CPU
  StreamHandle handle;  ///< never null
  /// The owned stream (Stream(device)); null for a borrowed one (Stream.current). Shared so
  /// that a non-blocking result's Pending can hold it until the work queued on it has run.
  std::shared_ptr<astensor::Stream> owner;
};

/// The StreamObject behind `h` when it is an astensor.Stream, else null.
const StreamObject* stream_object_of(py::handle h);

/// Adds the `Stream` class to the module.
void init_stream_type(py::module_& m);

}  // namespace astensor::python

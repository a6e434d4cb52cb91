#pragma once
/// The producer-stream wait (CAI-3, DLP-2; internal to impl/transfer): a device source that
/// names the stream its producer wrote it on (ArrayView::stream) is read only after that
/// stream's work. to_host.cpp and device_to_device.cpp call it before their first read of the
/// source; each backend's wait_external_stream orders the consumer after the producer. The
/// stream a DLPack import hands to __dlpack__ is python/src/dlpack_import.cpp's (Note
/// [Consumer streams]); the CAI `stream` field is read in python/src/interfaces.cpp.

#include <cstdint>

#include "core/array_view.h"
#include "core/backend.h"
#include "core/pending.h"

namespace astensor::transfer {

/// CAI-3, DLP-2: `consumer` waits for the producer's stream, unless it IS that stream (a DLPack
/// import names the current stream, which the producer has already ordered after its work).
/// XFER-4: a source that is one of our own pending results (ArrayView::pending, from
/// device_view_of) orders `consumer` after that work's event instead.
inline void wait_producer(Backend& be, const ArrayView& src, StreamHandle consumer) {
  if (src.stream && *src.stream != reinterpret_cast<intptr_t>(consumer))
    be.wait_external_stream(src.device.index, *src.stream, consumer);
  if (src.pending) src.pending->order_before(consumer);
}

}  // namespace astensor::transfer

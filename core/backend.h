#pragma once
/// The device backend interface (DESIGN.md "Backend"): what the library needs from a
/// device. Three implementations: the host (CPU), the simulated accelerator (impl/sim) and
/// CUDA (impl/cuda). The reference uses only the synchronous part; the optimized transfer
/// pipeline is written once against the asynchronous part.

#include <cstddef>
#include <string>

#include "core/device.h"

namespace astensor {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;

  /// Number of devices present; 0 when none, and then unavailable_reason() says why
  /// ("no CUDA driver found", "astensor was built without CUDA").
  virtual int device_count() = 0;
  virtual std::string unavailable_reason() = 0;
  /// The device an index-less Device means ("cuda" -> the current CUDA device).
  virtual int current_device() = 0;

  /// Device memory. allocate() throws RuntimeError on failure; nbytes may be 0.
  virtual void* allocate(int device, std::size_t nbytes) = 0;
  virtual void deallocate(int device, void* ptr) noexcept = 0;

  /// Blocking copy of nbytes between host memory and this backend's device memory (or
  /// within it, across its devices). When it returns the destination holds the bytes.
  virtual void copy_sync(void* dst, Device dst_device, const void* src, Device src_device,
                         std::size_t nbytes) = 0;
};

/// The backend of a device type. Never null: CUDA in a build without CUDA answers
/// device_count() == 0 with the reason.
Backend& backend(DeviceType type);

/// Resolves an index-less accelerator to the current device and checks that the device is
/// present (DEV-3): RuntimeError saying what was found otherwise. Allocates nothing.
Device resolve_device(Device d);

/// Blocking copy between any two devices (host staging when neither side is the CPU and
/// the backends differ).
void copy_bytes_sync(void* dst, Device dst_device, const void* src, Device src_device,
                     std::size_t nbytes);

}  // namespace astensor

#pragma once
/// Storage: bytes on a device, plus an owner that keeps them valid. Tensors share a Storage
/// through shared_ptr; the owner (a device allocation, or a handle on a foreign producer such
/// as a NumPy array or a DLPack capsule) is released exactly once, when the last tensor
/// viewing the storage goes away (ARR-2).

#include <atomic>
#include <cstddef>
#include <memory>

#include "core/device.h"

namespace astensor {

class Pending;  // core/pending.h

class Storage {
 public:
  /// New memory of nbytes on a resolved device (backend allocation). Throws RuntimeError.
  static std::shared_ptr<Storage> allocate(std::size_t nbytes, Device device);
  /// Borrowed memory: `owner` keeps the producer alive; dropping it releases the producer.
  static std::shared_ptr<Storage> wrap(void* data, std::size_t nbytes, Device device,
                                       std::shared_ptr<void> owner, bool read_only);
  /// Memory the library allocated itself through another allocator than the backend's (the
  /// optimized implementation's huge-page host allocator): counted in storage_stats() like
  /// allocate(), owns_memory() is true; `owner` frees it when the last tensor goes away.
  static std::shared_ptr<Storage> adopt(void* data, std::size_t nbytes, Device device,
                                        std::shared_ptr<void> owner);

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  /// ARR-7: the producer said "do not write"; the project's API refuses writes.
  bool read_only() const { return read_only_; }
  /// Page-locked host memory (set by the CUDA pinned pool; the transfer path reads it).
  bool pinned() const { return pinned_; }
  void set_pinned(bool p) { pinned_ = p; }
  /// True when this storage's bytes were allocated by the library (not borrowed).
  bool owns_memory() const { return owned_; }

  /// Note [Pending results] (core/pending.h): work still writing these bytes. Set once, by
  /// the conversion that made the storage, before any tensor on it is handed out.
  void set_pending(std::shared_ptr<Pending> pending) { pending_ = std::move(pending); }
  const std::shared_ptr<Pending>& pending() const { return pending_; }
  /// True when no queued work writes these bytes any more; never blocks.
  bool ready() const;
  /// Blocks until the bytes are final; rethrows a failure of the work that writes them.
  void wait_ready() const;

  Storage(void* data, std::size_t nbytes, Device device, std::shared_ptr<void> owner,
          bool read_only, bool owned)
      : data_(data), nbytes_(nbytes), device_(device), owner_(std::move(owner)),
        read_only_(read_only), owned_(owned) {}

 private:
  void* data_;
  std::size_t nbytes_;
  Device device_;
  std::shared_ptr<void> owner_;
  bool read_only_;
  bool pinned_ = false;
  bool owned_;
  // After owner_: destroyed first, so a pending copy has finished before the memory it
  // writes to is freed (~Pending waits).
  std::shared_ptr<Pending> pending_;
};

/// Counters of library-allocated storage, for leak checks in tests (SEQ-6: "nothing is left
/// allocated after an error").
struct StorageStats {
  long long live_allocations;
  long long live_bytes;
};
StorageStats storage_stats();

}  // namespace astensor

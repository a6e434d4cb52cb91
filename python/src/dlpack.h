#pragma once
/// The DLPack 1.x C ABI (dmlc/dlpack include/dlpack/dlpack.h), declared here rather than taken
/// from a system package (Debian's libdlpack-dev is 0.6: no versioned struct, no flags, no
/// bool). Only the parts astensor reads or writes. The layout is frozen by the standard; every
/// enum value is numbered explicitly and never renumbered.

#include <cstdint>

namespace astensor::dlpack {

/// The DLPack ABI version this header describes. A consumer must refuse (after calling the
/// deleter) a versioned tensor whose major version differs.
inline constexpr uint32_t kMajorVersion = 1;
inline constexpr uint32_t kMinorVersion = 1;

/// DLDeviceType (int32 in the ABI).
enum DeviceType : int32_t {
  kDLCPU = 1,
  kDLCUDA = 2,
  kDLCUDAHost = 3,  ///< pinned host memory: readable by the CPU
  kDLOpenCL = 4,
  kDLVulkan = 7,
  kDLMetal = 8,
  kDLVPI = 9,
  kDLROCM = 10,
  kDLROCMHost = 11,
  kDLExtDev = 12,
  kDLCUDAManaged = 13,
  kDLOneAPI = 14,
  kDLWebGPU = 15,
  kDLHexagon = 16,
  kDLMAIA = 17,
  kDLTrn = 18,
};

struct DLDevice {
  int32_t device_type;  ///< a DeviceType
  int32_t device_id;    ///< 0 for CPU, pinned and managed memory
};

/// Type codes (DLDataTypeCode); core/dtype.h DLCode holds the ones we map.
struct DLDataType {
  uint8_t code;
  uint8_t bits;    ///< bits per lane
  uint16_t lanes;  ///< 1 for every dtype we support
};

struct DLTensor {
  void* data;               ///< base pointer; element [0,...] is at data + byte_offset
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;           ///< ndim entries (may be NULL when ndim == 0)
  int64_t* strides;         ///< ELEMENTS, ndim entries; NULL = C-contiguous (legal before 1.2)
  uint64_t byte_offset;     ///< BYTES
};

/// Legacy (unversioned) managed tensor, capsule name "dltensor".
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);  ///< may be NULL; callable without the GIL
};

struct DLPackVersion {
  uint32_t major;
  uint32_t minor;
};

/// flags bits of DLManagedTensorVersioned.
inline constexpr uint64_t kFlagReadOnly = 1ULL << 0;  ///< the consumer must not write
inline constexpr uint64_t kFlagIsCopied = 1ULL << 1;  ///< the producer made a copy for us
inline constexpr uint64_t kFlagIsSubbytePadded = 1ULL << 2;

/// Versioned managed tensor (DLPack >= 1.0), capsule name "dltensor_versioned". Everything up
/// to and including `flags` is ABI-stable across major versions, so the deleter can always
/// be called.
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);  ///< may be NULL
  uint64_t flags;
  DLTensor dl_tensor;
};

/// Capsule names (statically allocated, as the Python protocol requires).
inline constexpr const char kCapsuleLegacy[] = "dltensor";
inline constexpr const char kCapsuleLegacyUsed[] = "used_dltensor";
inline constexpr const char kCapsuleVersioned[] = "dltensor_versioned";
inline constexpr const char kCapsuleVersionedUsed[] = "used_dltensor_versioned";

}  // namespace astensor::dlpack

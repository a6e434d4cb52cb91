#pragma once
/// What the CUDA backend offers besides the Backend interface (the twin of backends/sim/sim.h's
/// test helpers): a kernel of known duration, for tests and benchmarks that must hold a stream
/// busy or stand in for the caller's compute (issue 15's overlap/ cases).

#include <cstdint>

namespace astensor::cuda {

/// Queues on `stream` (a cudaStream_t of `device`, or cudaStreamLegacy / cudaStreamPerThread)
/// a one-thread kernel that spins until `ns` nanoseconds of the GPU's global timer have passed
/// (capped at 10 SM cycles per nanosecond asked, should the timer not advance). RuntimeError
/// for a failed launch, and in a build without CUDA.
void enqueue_spin(int device, void* stream, uint64_t ns);

}  // namespace astensor::cuda

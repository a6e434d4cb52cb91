#pragma once
/// The optimized as_tensor (DESIGN.md "impl/"): the same contract as reference::as_tensor
/// (SPEC.md, checked identical by the differential suites, XFER-3), executed from a Plan:
/// zero-copy whenever the rules allow, otherwise one-pass vectorized casts and gathers on
/// the CPU split across threads, and the fast nested-data reader (sequence_fast.h).

#include <string>

#include "core/source.h"
#include "core/tensor.h"
#include "impl/plan.h"

namespace astensor::impl {

/// SPEC ARG-1: converts `source` per TEN-*, ARR-*, SEQ-*, DT-*, GRAD-*, COPY-1, DEV-*;
/// throws exactly the errors reference::as_tensor throws (kind and message).
Tensor as_tensor(const Source& source, const Options& options = {});

/// Everything as_tensor would decide, without converting (nested data is read once to
/// infer its shape and dtype). Throws what as_tensor would throw before copying.
Plan plan(const Source& source, const Options& options);

/// Runs a plan made by plan(source, options) for the same source.
Tensor execute(const Source& source, const Plan& plan);

/// COPY-2: plan(source, options), printed.
std::string explain(const Source& source, const Options& options);

}  // namespace astensor::impl

// float64 reference of shaders/peak_fma.comp: per invocation, the sum over its chains and components of
// `iterations` steps x = x·a + b from the shader's start values (rounded to fp32 as the shader makes them).
#pragma once

#include <cstdint>
#include <vector>

namespace vkq::ref {

std::vector<double> peak_fma_ref(uint32_t invocations, uint32_t iterations, float a, float b, uint32_t chains);

}  // namespace vkq::ref

// The tokens one forward pass sees: consecutive sequences packed row after row, each token with
// its position (restarting at 0 per sequence) and the causal range of rows it attends to.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/attention.hpp"

namespace vkq::forward {

struct TokenBatch {
  std::vector<int32_t> ids;                 // token ids (may be empty when only blocks are run)
  std::vector<uint32_t> sequence_lengths;   // the packed sequences, in order
  std::vector<int32_t> positions;           // per token
  std::vector<kernels::KeyRange> ranges;    // per token: key rows [begin, end)
  uint32_t kv_offset = 0;                   // with a KV cache: the cache row of the first token


  uint32_t tokens() const { return uint32_t(positions.size()); }

  // Sequences of these lengths (ids left empty).
  static TokenBatch from_lengths(const std::vector<uint32_t>& lengths);
  // One sequence of these ids.
  static TokenBatch from_ids(const std::vector<int32_t>& ids);
  // Several sequences of ids, packed.
  static TokenBatch from_sequences(const std::vector<std::vector<int32_t>>& sequences);
  // One token at `position` of a sequence whose earlier keys are cached in rows [0, position).
  static TokenBatch decode_step(int32_t id, uint32_t position);
};

}  // namespace vkq::forward

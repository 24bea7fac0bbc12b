#include "forward/token_batch.hpp"

namespace vkq::forward {

TokenBatch TokenBatch::from_lengths(const std::vector<uint32_t>& lengths) {
  TokenBatch b;
  b.sequence_lengths = lengths;
  b.ranges = kernels::causal_ranges(lengths);
  for (uint32_t len : lengths)
    for (uint32_t i = 0; i < len; ++i) b.positions.push_back(int32_t(i));
  return b;
}

TokenBatch TokenBatch::from_ids(const std::vector<int32_t>& ids) {
  TokenBatch b = from_lengths({uint32_t(ids.size())});
  b.ids = ids;
  return b;
}

TokenBatch TokenBatch::from_sequences(const std::vector<std::vector<int32_t>>& sequences) {
  std::vector<uint32_t> lengths;
  std::vector<int32_t> ids;
  for (const auto& s : sequences) {
    lengths.push_back(uint32_t(s.size()));
    ids.insert(ids.end(), s.begin(), s.end());
  }
  TokenBatch b = from_lengths(lengths);
  b.ids = std::move(ids);
  return b;
}

TokenBatch TokenBatch::decode_step(int32_t id, uint32_t position) {
  TokenBatch b;
  b.ids = {id};
  b.sequence_lengths = {1};
  b.positions = {int32_t(position)};
  b.ranges = {{0, position + 1}};
  b.kv_offset = position;
  return b;
}

}  // namespace vkq::forward

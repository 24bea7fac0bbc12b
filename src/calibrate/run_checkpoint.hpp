// Resuming an interrupted quantize run (issue 8, item 5). OUT.vkq-resume/ beside the output holds:
//   lock          flock'd by the live run on OUT (a second run on the same output is refused);
//   items.bin     append-only: each packed tensor, folded norm and imatrix entry, once, when it is made;
//   chains-B.bin  the activation chains at the boundary after block B (rewritten per block);
//   state.json    what the run has done (blocks, head), its identity, the report entries so far, and how
//                 much of items.bin is valid; replaced atomically after the data it names is on disk.
// A kill at any point leaves either the previous state or the new one, never a mix.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vkquant/vkquant.hpp"

namespace vkq::io {
class AtomicFile;
}

namespace vkq::calibrate {

// What makes two runs the same run: option name → value ("--lambda" → "0.1", "input" → a content hash).
using RunIdentity = std::vector<std::pair<std::string, std::string>>;

// Calibration sequences of one forward chunk, as the driver grouped (and perhaps split) them.
struct ChunkSpan {
  uint64_t first_seq = 0, n_seqs = 0, first_token = 0;
  uint32_t tokens = 0;
};

enum class SavedKind { packed, norm, imatrix };

// The checkpoint could not be written (a full disk, a file-size limit): the run stops, and what was saved
// before stays resumable.
class CheckpointWriteError : public Error {
 public:
  using Error::Error;
};

struct SavedItem {
  SavedKind kind = SavedKind::packed;
  std::string name;
  std::vector<uint8_t> bytes;  // packed GGUF bytes, fp32 norm values, or fp64 per-column sums
  uint64_t count = 0;          // imatrix: tokens summed
};

// The run's progress at a block boundary (besides the items and the activations).
struct RunProgress {
  uint32_t blocks_done = 0;
  bool head_done = false;
  std::vector<ChunkSpan> chunks;
  uint64_t row_tile_bytes = 0;
  std::map<std::string, TensorResult> results;
  std::vector<std::string> notes, memory_retries;
};

struct ResumedRun {
  RunProgress progress;
  std::vector<SavedItem> items;                // in the order they were saved (a later one replaces an earlier)
  std::vector<uint64_t> chain_bytes;           // the activation chains' sizes, in the order saved (read_chains)
};

class RunCheckpoint {
 public:
  // Creates OUT.vkq-resume/ and locks it: vkq::Error naming the other process when a live run holds it.
  explicit RunCheckpoint(const std::string& output_path);
  RunCheckpoint(const RunCheckpoint&) = delete;
  RunCheckpoint& operator=(const RunCheckpoint&) = delete;
  // Unlocks; the directory goes too when no state was ever saved in it (nothing to resume).
  ~RunCheckpoint();

  static std::string directory_for(const std::string& output_path) { return output_path + ".vkq-resume"; }
  const std::string& directory() const { return dir_; }
  bool has_state() const;
  // The blocks a saved state has done (for messages), without checking its identity.
  uint32_t saved_blocks() const;

  // Reads the saved state. vkq::Error listing every difference when it was made with another identity
  // (other input, calibration text, settings or device), or when its files are damaged.
  ResumedRun load(const RunIdentity& identity);
  // After load(): the saved activation chains straight into the caller's storage (sizes as chain_bytes).
  void read_chains(const std::vector<std::pair<void*, size_t>>& into) const;
  // Forgets a saved state (a run that starts over).
  void discard();

  // Queues an item for the next save (written to items.bin now, valid once save() records it).
  void append(SavedKind kind, const std::string& name, const void* data, size_t bytes, uint64_t count = 0);
  // Makes the queued items, `chains` and `progress` the state to resume from.
  void save(const RunIdentity& identity, const RunProgress& progress,
            const std::vector<std::pair<const void*, size_t>>& chains);
  // The output is complete: removes the directory.
  void remove();

 private:
  struct ItemRecord {
    SavedKind kind;
    std::string name;
    uint64_t offset, bytes, count;
  };
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  void open_items(uint64_t valid_bytes);
  // Writes FILE atomically (FILE.partial, then rename); any failure is a CheckpointWriteError.
  void write_file(const std::string& file, const std::function<void(io::AtomicFile&)>& fill) const;
  std::string dir_;
  int lock_fd_ = -1;
  int items_fd_ = -1;
  uint64_t items_bytes_ = 0;         // items.bin's length so far
  std::vector<ItemRecord> records_;  // every item written, saved or queued
  std::string chains_file_;          // the saved state's chains file ("" before the first save)
  bool saved_ = false;               // this run saved a state, or loaded one
};

// A hash of the files' contents (for a folder, of its files): sizes, the first MiB and 64 KiB at 32
// places of each — cheap on a 100 GB model, and a replaced or re-downloaded file shows.
std::string content_fingerprint(const std::vector<std::string>& paths);
// A hash of the calibration token sequences.
std::string tokens_fingerprint(const std::vector<std::vector<int32_t>>& sequences);

}  // namespace vkq::calibrate

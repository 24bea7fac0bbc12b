// The resume checkpoint on its own: a saved state comes back exactly (items, chains, progress, report
// entries); items queued after the last save are not part of it; another identity is refused naming every
// difference; a damaged folder is a clear error; a second holder of the same output is refused; a run that
// saved nothing leaves nothing. (The kill-and-resume runs through the CLI are tests/cli/resume_test.py.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "calibrate/run_checkpoint.hpp"
#include "support/test_seed.hpp"

namespace vkq::calibrate {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("vkq-checkpoint-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::random_device{}()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

const RunIdentity kIdentity = {{"input", "abc"}, {"lambda", "0.1"}, {"device", "llvmpipe"}};

TEST(RunCheckpoint, SavedStateComesBackExactlyAndLaterItemsAreDropped) {
  TempDir dir;
  const std::string out = (dir.path / "model.gguf").string();
  const uint64_t seed = test::fresh_seed();
  VKQ_SEED_TRACE(seed);
  std::mt19937 rng{uint32_t(seed)};
  const auto t0 = random_bytes(rng, 1000), t1 = random_bytes(rng, 37), norm = random_bytes(rng, 64);
  const auto imat = random_bytes(rng, 80), chain_q = random_bytes(rng, 4096), chain_f = random_bytes(rng, 4096);
  RunProgress p;
  p.blocks_done = 3;
  p.chunks = {{0, 5, 0, 640}, {5, 3, 640, 384}};
  p.row_tile_bytes = 1 << 20;
  TensorResult r;
  r.name = "blk.0.attn_q.weight";
  r.method = "gptq";
  r.loss = std::numeric_limits<double>::quiet_NaN();  // written as null, read back as NaN
  r.rows = 64;
  r.damping_retries = {"damped once"};
  p.results[r.name] = r;
  p.notes = {"a note"};
  {
    RunCheckpoint cp(out);
    EXPECT_FALSE(cp.has_state());
    cp.append(SavedKind::packed, "t0", t0.data(), t0.size());
    cp.append(SavedKind::norm, "n0", norm.data(), norm.size());
    cp.save(kIdentity, p, {{chain_q.data(), chain_q.size()}, {chain_f.data(), chain_f.size()}});
    cp.append(SavedKind::packed, "t1", t1.data(), t1.size());
    cp.append(SavedKind::imatrix, "i0", imat.data(), imat.size(), 77);
    p.blocks_done = 4;
    cp.save(kIdentity, p, {{chain_f.data(), chain_f.size()}, {chain_q.data(), chain_q.size()}});
    cp.append(SavedKind::packed, "unsaved", t0.data(), t0.size());  // a kill before the next save
  }
  ASSERT_TRUE(fs::exists(out + ".vkq-resume/state.json"));
  RunCheckpoint cp(out);
  ASSERT_TRUE(cp.has_state());
  EXPECT_EQ(cp.saved_blocks(), 4u);
  const ResumedRun run = cp.load(kIdentity);
  EXPECT_EQ(run.progress.blocks_done, 4u);
  EXPECT_FALSE(run.progress.head_done);
  ASSERT_EQ(run.progress.chunks.size(), 2u);
  EXPECT_EQ(run.progress.chunks[1].first_seq, 5u);
  EXPECT_EQ(run.progress.chunks[1].tokens, 384u);
  EXPECT_EQ(run.progress.row_tile_bytes, 1u << 20);
  ASSERT_EQ(run.progress.results.count(r.name), 1u);
  EXPECT_TRUE(std::isnan(run.progress.results.at(r.name).loss));
  EXPECT_EQ(run.progress.results.at(r.name).damping_retries, r.damping_retries);
  EXPECT_EQ(run.progress.notes, p.notes);
  ASSERT_EQ(run.items.size(), 4u);
  EXPECT_EQ(run.items[0].bytes, t0);
  EXPECT_EQ(run.items[1].kind, SavedKind::norm);
  EXPECT_EQ(run.items[1].bytes, norm);
  EXPECT_EQ(run.items[2].bytes, t1);
  EXPECT_EQ(run.items[3].kind, SavedKind::imatrix);
  EXPECT_EQ(run.items[3].count, 77u);
  EXPECT_EQ(run.items[3].bytes, imat);
  ASSERT_EQ(run.chain_bytes, (std::vector<uint64_t>{chain_f.size(), chain_q.size()}));
  std::vector<uint8_t> got_f(chain_f.size(), 0xAB), got_q(chain_q.size(), 0xAB);  // poisoned
  cp.read_chains({{got_f.data(), got_f.size()}, {got_q.data(), got_q.size()}});
  EXPECT_EQ(got_f, chain_f);  // the last save's chains, in its order
  EXPECT_EQ(got_q, chain_q);
  // Only the last save's chains file remains.
  int chain_files = 0;
  for (const auto& e : fs::directory_iterator(cp.directory()))
    chain_files += e.path().filename().string().rfind("chains-", 0) == 0;
  EXPECT_EQ(chain_files, 1);
  cp.remove();
  EXPECT_FALSE(fs::exists(out + ".vkq-resume"));
}

TEST(RunCheckpoint, AnotherIdentityIsRefusedNamingEveryDifference) {
  TempDir dir;
  const std::string out = (dir.path / "m.gguf").string();
  const std::vector<uint8_t> chain(64, 1);
  {
    RunCheckpoint cp(out);
    cp.save(kIdentity, RunProgress{}, {{chain.data(), chain.size()}});
  }
  RunCheckpoint cp(out);
  RunIdentity other = kIdentity;
  other[1].second = "0";
  other[2].second = "AMD Radeon";
  try {
    cp.load(other);
    FAIL() << "a checkpoint of another identity was accepted";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot be resumed"), std::string::npos) << m;
    EXPECT_NE(m.find("lambda: 0.1 in the checkpoint, 0 in this run"), std::string::npos) << m;
    EXPECT_NE(m.find("device: llvmpipe in the checkpoint, AMD Radeon in this run"), std::string::npos) << m;
    EXPECT_EQ(m.find("input:"), std::string::npos) << m;
  }
  EXPECT_TRUE(cp.has_state());  // refused, not deleted
}

TEST(RunCheckpoint, DamagedFilesAreAClearError) {
  TempDir dir;
  const std::string out = (dir.path / "m.gguf").string();
  const std::vector<uint8_t> item(500, 7), chain(64, 1);
  {
    RunCheckpoint cp(out);
    cp.append(SavedKind::packed, "t", item.data(), item.size());
    cp.save(kIdentity, RunProgress{}, {{chain.data(), chain.size()}});
  }
  fs::resize_file(out + ".vkq-resume/items.bin", 100);
  {
    RunCheckpoint cp(out);
    EXPECT_THROW(
        {
          try {
            cp.load(kIdentity);
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
            throw;
          }
        },
        Error);
  }
  std::ofstream(out + ".vkq-resume/state.json") << "{\"format\": 1, \"identity\": ";
  RunCheckpoint cp(out);
  EXPECT_THROW(cp.load(kIdentity), Error);
}

TEST(RunCheckpoint, ASecondHolderOfTheSameOutputIsRefused) {
  TempDir dir;
  const std::string out = (dir.path / "m.gguf").string();
  RunCheckpoint first(out);
  try {
    RunCheckpoint second(out);
    FAIL() << "two holders of one output";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another vkquant run"), std::string::npos) << e.what();
  }
}

TEST(RunCheckpoint, ARunThatSavedNothingLeavesNothing) {
  TempDir dir;
  const std::string out = (dir.path / "m.gguf").string();
  {
    RunCheckpoint cp(out);
    const std::vector<uint8_t> item(10, 1);
    cp.append(SavedKind::packed, "t", item.data(), item.size());
  }
  EXPECT_FALSE(fs::exists(out + ".vkq-resume"));
}

}  // namespace
}  // namespace vkq::calibrate

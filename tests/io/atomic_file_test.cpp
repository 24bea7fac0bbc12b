// AtomicFile: the output path appears only on commit, complete; an abandoned write leaves
// nothing behind; an existing file is replaced only with force.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("vkq_atomic_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  static std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  static void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

  fs::path dir_;
};

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(AtomicFileTest, CommitRenamesCompleteFile) {
  const std::string path = file("out.bin");
  {
    AtomicFile f(path);
    EXPECT_EQ(f.partial_path(), path + ".partial");
    f.write("hello ", 6);
    std::vector<char> big(3 << 20, 'x');  // larger than the internal buffer: written through
    f.write(big.data(), big.size());
    f.write_zeros(5);
    EXPECT_TRUE(fs::exists(path + ".partial"));
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(f.bytes_written(), 6u + big.size() + 5u);
    f.commit();
    EXPECT_TRUE(f.committed());
    EXPECT_THROW(f.write("x", 1), Error);
  }
  EXPECT_FALSE(fs::exists(path + ".partial"));
  const std::string got = contents(path);
  ASSERT_EQ(got.size(), 6u + (3u << 20) + 5u);
  EXPECT_EQ(got.substr(0, 7), "hello x");
  EXPECT_EQ(got.substr(got.size() - 6), std::string("x") + std::string(5, '\0'));
}

TEST_F(AtomicFileTest, AbandonedWriteLeavesNothing) {
  const std::string path = file("out.bin");
  {
    AtomicFile f(path);
    f.write("partial data", 12);
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
  // An exception unwinding through the writer is the same as abandoning it.
  EXPECT_THROW(
      {
        AtomicFile f(path);
        f.write("abc", 3);
        throw Error("calibration failed");
      },
      Error);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST_F(AtomicFileTest, RefusesToOverwriteWithoutForce) {
  const std::string path = file("model.gguf");
  put(path, "precious");
  const std::string msg = error_of([&] { AtomicFile f(path); });
  EXPECT_NE(msg.find(path + ": output file already exists (pass --force to overwrite it)"), std::string::npos) << msg;
  EXPECT_EQ(contents(path), "precious");
  EXPECT_FALSE(fs::exists(path + ".partial"));
  {
    AtomicFile f(path, /*force=*/true);
    f.write("new", 3);
    EXPECT_EQ(contents(path), "precious");  // untouched until commit
    f.commit();
  }
  EXPECT_EQ(contents(path), "new");
}

// A file that appears at PATH while writing is not clobbered either.
TEST_F(AtomicFileTest, CommitRefusesPathCreatedMeanwhile) {
  const std::string path = file("race.gguf");
  {
    AtomicFile f(path);
    f.write("mine", 4);
    put(path, "theirs");
    const std::string msg = error_of([&] { f.commit(); });
    EXPECT_NE(msg.find("pass --force"), std::string::npos) << msg;
    EXPECT_FALSE(f.committed());
  }
  EXPECT_EQ(contents(path), "theirs");
  EXPECT_FALSE(fs::exists(path + ".partial"));
}

TEST_F(AtomicFileTest, UnwritableLocationNamesThePath) {
  const std::string path = file("no/such/dir/out.gguf");
  const std::string msg = error_of([&] { AtomicFile f(path); });
  EXPECT_NE(msg.find(path + ".partial: cannot create"), std::string::npos) << msg;
  EXPECT_THROW(AtomicFile(""), Error);
}

}  // namespace
}  // namespace vkq::io

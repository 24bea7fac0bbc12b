// All-or-nothing file output: bytes go to PATH.partial, which becomes PATH (fsync, then rename)
// only on commit(). Without commit — an error, a cancel, a crash — PATH is never half-written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vkq::io {

class AtomicFile {
 public:
  // Creates PATH.partial. vkq::Error when PATH exists and `force` is false (the message says to
  // pass --force), or when the partial file cannot be created.
  explicit AtomicFile(std::string path, bool force = false);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  // Without commit(): closes and removes PATH.partial.
  ~AtomicFile();

  void write(const void* data, size_t n);
  void write_zeros(size_t n);
  uint64_t bytes_written() const { return written_; }

  // Flushes, fsyncs and renames PATH.partial to PATH (without force, refuses to replace a PATH
  // that appeared meanwhile). After commit() nothing more may be written.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& partial_path() const { return partial_; }
  bool committed() const { return committed_; }

 private:
  void flush();
  void write_through(const void* data, size_t n);
  void close_quietly();
  [[noreturn]] void fail(const std::string& what, int err) const;

  std::string path_;
  std::string partial_;
  bool force_ = false;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;  // coalesces the many small header writes into few syscalls
};

}  // namespace vkq::io

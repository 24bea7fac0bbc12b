// A whole file mapped read-only (POSIX mmap), so model tensors are paged in only when touched.
#pragma once

#include <cstdint>
#include <string>

namespace vkq::model {

class MappedFile {
 public:
  // Maps `path`; vkq::Error naming the path and the system's reason when it cannot.
  static MappedFile open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }  // null for an empty file
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace vkq::model

// POSIX implementation: write(2) with EINTR/short-write handling, fsync before rename so the
// renamed file is complete after a power loss, renameat2(RENAME_NOREPLACE) to honour `force`.
#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "vkquant/vkquant.hpp"

namespace vkq::io {
namespace {

constexpr size_t kBufferBytes = size_t(1) << 20;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string exists_message(const std::string& path) {
  return path + ": output file already exists (pass --force to overwrite it)";
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Makes the rename itself durable; filesystems that cannot fsync a directory are not an error.
void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, bool force)
    : path_(std::move(path)), partial_(path_ + ".partial"), force_(force) {
  if (path_.empty()) throw Error("output path is empty");
  if (!force_ && exists(path_)) throw Error(exists_message(path_));
  buffer_.reserve(kBufferBytes);
  fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create", errno);
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  close_quietly();
  ::unlink(partial_.c_str());
}

void AtomicFile::fail(const std::string& what, int err) const {
  throw Error(partial_ + ": " + what + ": " + std::strerror(err));
}

void AtomicFile::close_quietly() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void AtomicFile::write_through(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t k = ::write(fd_, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    p += k;
    n -= size_t(k);
  }
}

void AtomicFile::flush() {
  if (!buffer_.empty()) write_through(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_ || fd_ < 0) throw Error(path_ + ": write after the file was committed or closed");
  if (buffer_.size() + n > kBufferBytes) {
    flush();
    if (n >= kBufferBytes) {  // large tensor data: skip the copy
      write_through(data, n);
      written_ += n;
      return;
    }
  }
  const auto* p = static_cast<const uint8_t*>(data);
  buffer_.insert(buffer_.end(), p, p + n);
  written_ += n;
}

void AtomicFile::write_zeros(size_t n) {
  static const uint8_t zeros[256] = {};
  while (n > 0) {
    const size_t k = std::min(n, sizeof zeros);
    write(zeros, k);
    n -= k;
  }
}

void AtomicFile::commit() {
  if (committed_ || fd_ < 0) throw Error(path_ + ": commit after the file was committed or closed");
  flush();
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail("close failed", errno);
  if (force_) {
    if (::rename(partial_.c_str(), path_.c_str()) != 0) fail("cannot rename to " + path_, errno);
  } else if (::renameat2(AT_FDCWD, partial_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
    const int err = errno;
    if (err == EEXIST) throw Error(exists_message(path_));
    if (err != EINVAL && err != ENOSYS) fail("cannot rename to " + path_, err);
    // The filesystem lacks RENAME_NOREPLACE: check, then rename (a race window we cannot close).
    if (exists(path_)) throw Error(exists_message(path_));
    if (::rename(partial_.c_str(), path_.c_str()) != 0) fail("cannot rename to " + path_, errno);
  }
  committed_ = true;
  sync_dir(parent_dir(path_));
}

}  // namespace vkq::io

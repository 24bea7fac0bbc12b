#include "calibrate/run_checkpoint.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "calibrate/test_kill_point.hpp"
#include "io/atomic_file.hpp"

namespace vkq::calibrate {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kFormat = 1;

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw CheckpointWriteError(path + ": " + what + " (" + std::strerror(err) + ")");
}

void write_all(int fd, const void* data, size_t n, uint64_t offset, const std::string& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, off_t(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("cannot write the resume checkpoint", path, w < 0 ? errno : ENOSPC);
    p += w, n -= size_t(w), offset += uint64_t(w);
  }
}

bool read_all(int fd, void* data, size_t n, uint64_t offset) {
  auto* p = static_cast<uint8_t*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, off_t(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r, n -= size_t(r), offset += uint64_t(r);
  }
  return true;
}

// FNV-1a, 64-bit: a fingerprint, not a defence against someone forging a checkpoint.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void add(const std::string& s) { add(s.data(), s.size()), add("\0", 1); }
  std::string hex() const {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
    return b;
  }
};

void add_file_samples(Fnv& f, const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot read", path, errno);
  struct stat st {};
  ::fstat(fd, &st);
  const uint64_t size = uint64_t(st.st_size);
  f.add(fs::path(path).filename().string());
  f.add(&size, sizeof size);
  std::vector<uint8_t> buf(1 << 20);
  const auto sample = [&](uint64_t at, uint64_t n) {
    n = std::min<uint64_t>(n, size - std::min(at, size));
    if (n && read_all(fd, buf.data(), size_t(n), at)) f.add(buf.data(), size_t(n));
  };
  sample(0, 1 << 20);
  for (uint64_t i = 1; i <= 32; ++i) sample(size / 33 * i, 64 << 10);
  ::close(fd);
}

const char* kind_name(SavedKind k) {
  switch (k) {
    case SavedKind::norm: return "norm";
    case SavedKind::imatrix: return "imatrix";
    default: return "packed";
  }
}

SavedKind kind_from(const std::string& s) {
  return s == "norm" ? SavedKind::norm : s == "imatrix" ? SavedKind::imatrix : SavedKind::packed;
}

// nlohmann writes a non-finite double as null; read it back as NaN.
double number_or_nan(const json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

json result_json(const TensorResult& r) {
  return {{"name", r.name},   {"type", r.type},       {"method", r.method},   {"loss", r.loss},
          {"alpha_star", r.alpha_star}, {"rows", r.rows}, {"cols", r.cols}, {"seconds", r.seconds},
          {"note", r.note},   {"damping_retries", r.damping_retries}, {"k_refit_rows", r.k_refit_rows},
          {"group_refit_rows", r.group_refit_rows}, {"expert_tokens", r.expert_tokens}, {"pooled_experts", r.pooled_experts}};
}

TensorResult result_from(const json& j) {
  TensorResult r;
  r.name = j.at("name");
  r.type = j.at("type");
  r.method = j.at("method");
  r.loss = number_or_nan(j.at("loss"));
  r.alpha_star = number_or_nan(j.at("alpha_star"));
  r.rows = j.at("rows");
  r.cols = j.at("cols");
  r.seconds = number_or_nan(j.at("seconds"));
  r.note = j.at("note");
  r.damping_retries = j.at("damping_retries").get<std::vector<std::string>>();
  r.k_refit_rows = j.at("k_refit_rows");
  r.group_refit_rows = j.value("group_refit_rows", int64_t(-1));  // absent in checkpoints of earlier versions
  r.expert_tokens = j.value("expert_tokens", std::vector<uint64_t>{});
  r.pooled_experts = j.value("pooled_experts", std::vector<uint32_t>{});
  return r;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot read the resume checkpoint");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path + ": the resume checkpoint is damaged (" + e.what() + ")");
  }
}

}  // namespace

RunCheckpoint::RunCheckpoint(const std::string& output_path) : dir_(directory_for(output_path)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (!fs::is_directory(dir_))
    throw Error(dir_ + ": cannot create the folder for the run's checkpoint beside the output (" +
                (ec ? ec.message() : std::string("a file of that name exists")) + ")");
  const std::string lock = path("lock");
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail("cannot create the run lock", lock, errno);
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    (void)!::pread(lock_fd_, pid, sizeof pid - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw Error(output_path + ": another vkquant run (pid " + std::string(pid) +
                ") is writing this output now; wait for it to finish, or choose another -o");
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(lock_fd_, 0) == 0) write_all(lock_fd_, me.data(), me.size(), 0, lock);
}

RunCheckpoint::~RunCheckpoint() {
  if (items_fd_ >= 0) ::close(items_fd_);
  if (lock_fd_ < 0) return;
  if (!saved_ && !has_state()) {  // nothing to resume: leave nothing behind
    ::unlink(path("items.bin").c_str());
    ::unlink(path("lock").c_str());
    ::rmdir(dir_.c_str());
  }
  ::close(lock_fd_);
}

bool RunCheckpoint::has_state() const { return fs::exists(path("state.json")); }

uint32_t RunCheckpoint::saved_blocks() const {
  try {
    return read_json(path("state.json")).at("blocks_done").get<uint32_t>();
  } catch (...) {
    return 0;
  }
}

void RunCheckpoint::open_items(uint64_t valid_bytes) {
  if (items_fd_ >= 0) ::close(items_fd_);
  const std::string file = path("items.bin");
  items_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | (valid_bytes ? 0 : O_TRUNC), 0644);
  if (items_fd_ < 0) fail("cannot create", file, errno);
  // Items written after the last save (a kill mid-save) are not part of the state: drop them.
  if (::ftruncate(items_fd_, off_t(valid_bytes)) != 0) fail("cannot truncate", file, errno);
  items_bytes_ = valid_bytes;
}

ResumedRun RunCheckpoint::load(const RunIdentity& identity) {
  const std::string state_path = path("state.json");
  const json st = read_json(state_path);
  ResumedRun run;
  try {
    if (st.at("format").get<int>() != kFormat)
      throw Error(state_path + ": a resume checkpoint of another format (" + st.at("format").dump() +
                  "); delete " + dir_ + " to start over");
    const json& saved = st.at("identity");
    std::string diffs;
    for (const auto& [key, value] : identity) {
      const std::string there = saved.contains(key) ? saved.at(key).get<std::string>() : "(not recorded)";
      if (there != value) diffs += "\n  " + key + ": " + there + " in the checkpoint, " + value + " in this run";
    }
    if (!diffs.empty())
      throw Error(dir_ + ": the interrupted run was made with other inputs or settings, so it cannot be resumed:" +
                  diffs + "\nResume with the same model, calibration text, settings and device, or run without "
                          "--resume (and with --force) to start over");
    RunProgress& p = run.progress;
    p.blocks_done = st.at("blocks_done");
    p.head_done = st.at("head_done");
    for (const auto& c : st.at("chunks")) p.chunks.push_back({c.at(0), c.at(1), c.at(2), c.at(3)});
    p.row_tile_bytes = st.at("row_tile_bytes");
    for (const auto& r : st.at("results")) p.results[r.at("name")] = result_from(r);
    p.notes = st.at("notes").get<std::vector<std::string>>();
    p.memory_retries = st.at("memory_retries").get<std::vector<std::string>>();
    const uint64_t items_bytes = st.at("items_bytes");
    records_.clear();
    for (const auto& r : st.at("items"))
      records_.push_back({kind_from(r.at("kind")), r.at("name"), r.at("offset"), r.at("bytes"), r.at("count")});
    const std::string items_path = path("items.bin");
    struct stat sb {};
    if (::stat(items_path.c_str(), &sb) != 0 || uint64_t(sb.st_size) < items_bytes)
      throw Error(items_path + ": the resume checkpoint is damaged (shorter than its state says); delete " + dir_ +
                  " to start over");
    open_items(items_bytes);
    for (const ItemRecord& r : records_) {
      SavedItem item{r.kind, r.name, std::vector<uint8_t>(r.bytes), r.count};
      if (r.offset + r.bytes > items_bytes || !read_all(items_fd_, item.bytes.data(), r.bytes, r.offset))
        throw Error(items_path + ": the resume checkpoint is damaged (item " + r.name + "); delete " + dir_ +
                    " to start over");
      run.items.push_back(std::move(item));
    }
    chains_file_ = st.at("chains_file");
    run.chain_bytes = st.at("chains").get<std::vector<uint64_t>>();
    uint64_t total = 0;
    for (uint64_t n : run.chain_bytes) total += n;
    if (struct stat cs {}; ::stat(path(chains_file_).c_str(), &cs) != 0 || uint64_t(cs.st_size) != total)
      throw Error(path(chains_file_) + ": the resume checkpoint is damaged (the activations are not the size its " +
                  "state says); delete " + dir_ + " to start over");
  } catch (const json::exception& e) {
    throw Error(state_path + ": the resume checkpoint is damaged (" + e.what() + "); delete " + dir_ +
                " to start over");
  }
  saved_ = true;
  return run;
}

void RunCheckpoint::read_chains(const std::vector<std::pair<void*, size_t>>& into) const {
  const std::string file = path(chains_file_);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  uint64_t offset = 0;
  bool ok = fd >= 0;
  for (const auto& [data, bytes] : into) {
    ok = ok && read_all(fd, data, bytes, offset);
    offset += bytes;
  }
  if (fd >= 0) ::close(fd);
  if (!ok) throw Error(file + ": cannot read the saved activations; delete " + dir_ + " to start over");
}

void RunCheckpoint::discard() {
  if (items_fd_ >= 0) ::close(items_fd_), items_fd_ = -1;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().filename() != "lock") fs::remove(e.path());
  records_.clear();
  items_bytes_ = 0;
  chains_file_.clear();
  saved_ = false;
}

void RunCheckpoint::append(SavedKind kind, const std::string& name, const void* data, size_t bytes, uint64_t count) {
  if (items_fd_ < 0) open_items(items_bytes_);
  write_all(items_fd_, data, bytes, items_bytes_, path("items.bin"));
  records_.push_back({kind, name, items_bytes_, bytes, count});
  items_bytes_ += bytes;
}

void RunCheckpoint::save(const RunIdentity& identity, const RunProgress& p,
                         const std::vector<std::pair<const void*, size_t>>& chains) {
  if (items_fd_ < 0) open_items(items_bytes_);
  if (::fsync(items_fd_) != 0) fail("cannot sync", path("items.bin"), errno);
  const std::string tag = std::to_string(p.blocks_done) + (p.head_done ? "-head" : "");
  const std::string chains_file = "chains-" + tag + (chains_file_ == "chains-" + tag + ".bin" ? "-again" : "") + ".bin";
  json sizes = json::array();
  write_file(chains_file, [&](io::AtomicFile& out) {
    for (const auto& [data, bytes] : chains) {
      out.write(data, bytes);
      sizes.push_back(bytes);
    }
  });
  test_kill_point("checkpoint-write " + tag);
  json id = json::object();
  for (const auto& [k, v] : identity) id[k] = v;
  json chunks = json::array(), items = json::array(), results = json::array();
  for (const auto& c : p.chunks) chunks.push_back({c.first_seq, c.n_seqs, c.first_token, c.tokens});
  for (const auto& r : records_)
    items.push_back({{"kind", kind_name(r.kind)}, {"name", r.name}, {"offset", r.offset}, {"bytes", r.bytes},
                     {"count", r.count}});
  for (const auto& [name, r] : p.results) results.push_back(result_json(r));
  const json st = {{"format", kFormat},        {"identity", id},       {"blocks_done", p.blocks_done},
                   {"head_done", p.head_done}, {"chunks", chunks},     {"row_tile_bytes", p.row_tile_bytes},
                   {"items_bytes", items_bytes_}, {"items", items},    {"chains_file", chains_file},
                   {"chains", sizes},          {"results", results},   {"notes", p.notes},
                   {"memory_retries", p.memory_retries}};
  const std::string text = st.dump();
  write_file("state.json", [&](io::AtomicFile& out) { out.write(text.data(), text.size()); });
  if (!chains_file_.empty() && chains_file_ != chains_file) ::unlink(path(chains_file_).c_str());
  chains_file_ = chains_file;
  saved_ = true;
}

void RunCheckpoint::write_file(const std::string& file, const std::function<void(io::AtomicFile&)>& fill) const {
  try {
    io::AtomicFile out(path(file), true);
    fill(out);
    out.commit();
  } catch (const Error& e) {
    throw CheckpointWriteError(std::string(e.what()) + " (cannot write the resume checkpoint)");
  }
}

void RunCheckpoint::remove() {
  if (items_fd_ >= 0) ::close(items_fd_), items_fd_ = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec))
    if (e.path().filename() != "lock") fs::remove(e.path(), ec);
  ::unlink(path("lock").c_str());
  ::rmdir(dir_.c_str());
  saved_ = false;
}

std::string content_fingerprint(const std::vector<std::string>& paths) {
  Fnv f;
  for (const auto& p : paths) {
    if (p.empty()) continue;
    if (!fs::is_directory(p)) {
      add_file_samples(f, p);
      continue;
    }
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(p))
      if (e.is_regular_file()) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) add_file_samples(f, file);
  }
  return f.hex();
}

std::string tokens_fingerprint(const std::vector<std::vector<int32_t>>& sequences) {
  Fnv f;
  for (const auto& s : sequences) {
    const uint64_t n = s.size();
    f.add(&n, sizeof n);
    f.add(s.data(), s.size() * sizeof(int32_t));
  }
  return f.hex();
}

}  // namespace vkq::calibrate

#ifndef RILL_CORE_MAPPED_FILE_H_
#define RILL_CORE_MAPPED_FILE_H_

// A file mapped read-only, so that a large file (a BERT-base checkpoint)
// is read straight into the tensors that need it, with no copy of the whole
// file in memory between.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace rill {

class MappedFile {
 public:
  // A file over `max_bytes` is refused before it is mapped.
  static absl::StatusOr<MappedFile> Open(const std::string& path,
                                         int64_t max_bytes);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile();

  absl::string_view bytes() const {
    return absl::string_view(static_cast<const char*>(data_), size_);
  }

 private:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Hands the whole pages inside `bytes` (part of a MappedFile) back to the
// kernel: they leave the process's resident memory, and a later read maps
// them again from the page cache.
void DropPages(absl::string_view bytes);

}  // namespace rill

#endif  // RILL_CORE_MAPPED_FILE_H_

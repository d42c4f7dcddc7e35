#ifndef RILL_CORE_CHECKPOINT_H_
#define RILL_CORE_CHECKPOINT_H_

// Checkpoint files: what a training run needs to resume exactly.
//
// Format version 1. All integers are little-endian; the first column is
// each field's size in bytes.
//
//   Header
//     8   magic "RILLCKPT"
//     4   u32 format version (1)
//     8   i64 step (>= 0)
//     8   u64 RNG-state length R
//     R   RNG state (opaque bytes)
//     8   u64 tensor count N
//     4   u32 CRC32C of the header bytes above, from the magic on
//   N tensor records, each
//     4   u32 name length L (>= 1)
//     L   name (bytes; unique within the file)
//     1   u8 dtype, core/dtype.h's DType: 0 f32, 1 f64, 2 i32, 3 i64, 4 bool
//     4   u32 rank K
//     8K  i64 dims (each >= 0)
//     8   u64 data length B, which must equal product(dims) x dtype size
//     B   data in C order (IEEE floats, two's-complement integers; bool is
//         one byte, 0 or 1)
//     4   u32 CRC32C of this record's bytes above, from its name length on
//   Trailer
//     4   u32 CRC32C of every byte before it
//   Nothing follows the trailer.
//
// The header CRC (beyond the whole-file one) lets an error say whether the
// header or which tensor is damaged. A reader checks each length against
// the bytes that remain before using it, so a corrupt length can neither
// allocate nor read out of bounds, and checks every CRC before it
// interprets or allocates anything, so damage is reported as damage
// (DataLoss), never as a puzzling field value.
//
// Writes are atomic (WriteFileAtomic): a process killed while writing leaves
// the previous checkpoint in place, intact, plus possibly a temporary file
// "<path>.tmp.XXXXXX" (six random characters) beside it, which a later run
// may delete. A file is never partially replaced.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/mapped_file.h"
#include "core/status.h"
#include "core/tensor.h"

namespace rill {

inline constexpr uint32_t kCheckpointFormatVersion = 1;

// What a training run saves: every parameter, the optimizer's state, the
// step, and the RNG state; tensors are named by the trainer ("param/<node>",
// "opt/<node>/m", ...), in a fixed order.
struct Checkpoint {
  int64_t step = 0;
  std::string rng_state;  // Opaque bytes, restored verbatim.
  std::vector<std::pair<std::string, Tensor>> tensors;
};

// "param/<node>": the name of Parameter `node`'s tensor in a checkpoint.
std::string ParamTensorName(absl::string_view node);
// The parameter tensors of `c` (named by ParamTensorName), keyed by
// Parameter node name, pointing into `c`; the optimizer's state is left out.
std::map<std::string, const Tensor*> CheckpointParameters(const Checkpoint& c);

// Copies the saved value of each Parameter in `into` (node name -> the
// tensor to overwrite, e.g. Executor::mutable_parameters) from `saved`
// (e.g. CheckpointParameters). Fails, copying nothing, when one is missing
// or differs in dtype or shape, or, with `use_all`, when `saved` has a
// parameter that `into` lacks; errors start "<source>: not a checkpoint of
// this graph".
absl::Status CopyParameterValues(
    const std::map<std::string, const Tensor*>& saved,
    const std::map<std::string, Tensor*>& into, bool use_all,
    const std::string& source);

// Reads the "param/<node>" tensors of checkpoint file `path` straight into
// `into` (as CopyParameterValues, same checks and errors), through a
// read-only mapping whose pages are released as they are verified and
// copied: peak memory stays near the size of `into`, not twice it. Every
// CRC is checked before anything in `into` changes.
absl::Status ReadParameterValues(const std::string& path,
                                 const std::map<std::string, Tensor*>& into,
                                 bool use_all, int64_t max_bytes);

// The "param/<node>" tensors of checkpoint file `path`, every CRC checked,
// as views into a read-only mapping of it whose pages are released as they
// are verified and copied: for callers that pick parameters by name
// (ReadParameterValues, the trainer's init_from).
class CheckpointParameterViews {
 public:
  static absl::StatusOr<CheckpointParameterViews> Open(const std::string& path,
                                                       int64_t max_bytes);
  // Keyed by Parameter node name.
  const std::map<std::string, Tensor>& views() const { return views_; }
  // Copies views().at(name) into `into`, of its dtype and shape, and
  // releases its pages.
  void CopyTo(const std::string& name, Tensor& into) const;

 private:
  explicit CheckpointParameterViews(MappedFile file) : file_(std::move(file)) {}
  MappedFile file_;
  std::map<std::string, Tensor> views_;
};

// OK when `c` can be written and read back: step >= 0, every tensor valid()
// with a non-empty name used once. Names the offending tensor.
absl::Status ValidateCheckpoint(const Checkpoint& c);

// The file's bytes. `c` should pass ValidateCheckpoint (WriteCheckpoint
// checks); otherwise the bytes are still well-formed but ParseCheckpoint
// rejects them.
std::string SerializeCheckpoint(const Checkpoint& c);

// Parses the bytes of a checkpoint file; `source` names them in errors.
// Every tensor gets its own buffer. Errors:
//   InvalidArgument  not a rill checkpoint (bad magic), an unsupported
//                    format version, or an intact file whose contents break
//                    the rules above (duplicate or empty name, unknown
//                    dtype, data length not matching the shape, ...);
//   DataLoss         truncated, a CRC mismatch, or bytes after the trailer;
//                    the message names the header, the tensor (its index
//                    and recorded name) or the trailer.
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view bytes,
                                           const std::string& source);

// Validates `c`, then writes it atomically (core/file_io.h WriteFileAtomic:
// temporary file, fsync, rename, directory fsync). On any error nothing at
// `path` has changed.
absl::Status WriteCheckpoint(const std::string& path, const Checkpoint& c);

// Reads and parses `path`, refusing a file over `max_bytes` before reading
// it (core/file_io.h OpenFileCapped), through a read-only mapping whose
// pages are released as they are checked and copied (as
// ReadParameterValues does): peak memory is about the file's size.
absl::StatusOr<Checkpoint> ReadCheckpoint(const std::string& path,
                                          int64_t max_bytes = int64_t{16}
                                                              << 30);

// The ckpt-<step>.rckpt files in `dir`, oldest first (the steps are
// zero-padded, so name order is step order).
std::vector<std::string> CheckpointsIn(const std::string& dir);

// `path` itself, or, for a directory, its newest ckpt-<step>.rckpt:
// NotFound when it holds none. What --resume DIR and --params DIR take.
absl::StatusOr<std::string> CheckpointFile(const std::string& path);

}  // namespace rill

#endif  // RILL_CORE_CHECKPOINT_H_

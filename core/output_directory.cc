#include "core/output_directory.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace rill {

namespace fs = std::filesystem;

absl::Status CheckNewOutputDirectory(const std::string& dir) {
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return absl::AlreadyExistsError(
        absl::StrCat(dir, ": exists and is not empty; give a new directory"));
  }
  return absl::OkStatus();
}

absl::Status WriteDirectoryWhole(
    const std::string& dir,
    absl::FunctionRef<absl::Status(const std::string& partial)> write) {
  RETURN_IF_ERROR(CheckNewOutputDirectory(dir));
  const std::string partial = dir + ".partial";
  std::error_code error;
  fs::remove_all(partial, error);
  if (!fs::create_directories(partial, error) && error) {
    return absl::InternalError(
        absl::StrCat(partial, ": cannot create: ", error.message()));
  }
  absl::Status status = write(partial);
  if (status.ok()) {
    fs::remove(dir, error);  // Empty, if it exists.
    fs::rename(partial, dir, error);
    if (error) {
      status = absl::InternalError(absl::StrCat(
          "cannot rename ", partial, " to ", dir, ": ", error.message()));
    }
  }
  if (!status.ok()) fs::remove_all(partial, error);
  return status;
}

}  // namespace rill

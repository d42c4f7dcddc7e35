#include "core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"

namespace rill {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  int err = errno;
  std::string msg = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EISDIR:
    case ENOTDIR:
    case ENAMETOOLONG:
    case ELOOP:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::UnavailableError(msg);  // I/O errors: may pass.
  }
}

// Closes the descriptor on every path out of a function.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

absl::Status WriteAll(int fd, const std::string& data,
                      const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write failed", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> OpenFileCapped(const std::string& path, int64_t max_bytes,
                                   int64_t* size) {
  // Checked before open(), which would block on a FIFO with no writer.
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError("cannot open", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a regular file"));
  }
  FdCloser f{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) return ErrnoError("cannot open", path);
  if (fstat(f.fd, &st) != 0) return ErrnoError("cannot stat", path);
  if (st.st_size > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, ": file is ", st.st_size,
                     " bytes, over the limit of ", max_bytes));
  }
  *size = st.st_size;
  const int fd = f.fd;
  f.fd = -1;
  return fd;
}

absl::StatusOr<std::string> ReadFileCapped(const std::string& path,
                                           int64_t max_bytes) {
  int64_t size = 0;
  ASSIGN_OR_RETURN(int fd, OpenFileCapped(path, max_bytes, &size));
  FdCloser f{fd};
  std::string out(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = read(f.fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read failed", path);
    if (n == 0) break;  // The file shrank while we read it.
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

absl::Status WriteFileAtomic(const std::string& path,
                             const std::string& contents) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (dir.empty()) dir = "/";
  // mkstemp gives a fresh name (O_EXCL): no clash between writers, and no
  // following a symlink planted at a predictable name.
  std::string tmp = absl::StrCat(path, ".tmp.XXXXXX");
  {
    FdCloser f{mkostemp(tmp.data(), O_CLOEXEC)};
    if (f.fd < 0) return ErrnoError("cannot create a temporary file for", path);
    fchmod(f.fd, 0644);  // mkstemp creates 0600; give the usual mode.
    absl::Status s = WriteAll(f.fd, contents, tmp);
    if (s.ok() && fsync(f.fd) != 0) s = ErrnoError("fsync failed", tmp);
    if (!s.ok()) {
      unlink(tmp.c_str());
      return s;
    }
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = ErrnoError("cannot rename temporary file onto", path);
    unlink(tmp.c_str());
    return s;
  }
  FdCloser d{open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0 || fsync(d.fd) != 0) {
    return ErrnoError("cannot fsync directory", dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ConfigPath(const std::string& dir,
                                       const std::string& field,
                                       const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": give a path"));
  }
  return (std::filesystem::path(dir) / path).lexically_normal().string();
}

absl::Status ParseTextProto(absl::string_view text, const std::string& name,
                            int64_t max_bytes,
                            google::protobuf::Message* message) {
  if (static_cast<int64_t>(text.size()) > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(name, ": file is ", text.size(),
                     " bytes, over the limit of ", max_bytes));
  }
  google::protobuf::TextFormat::Parser parser;
  parser.SetRecursionLimit(16);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": not a valid ", message->GetDescriptor()->name(),
                     " text proto (see the line and column above)"));
  }
  return absl::OkStatus();
}

absl::Status ReadTextProto(const std::string& path, int64_t max_bytes,
                           google::protobuf::Message* message) {
  ASSIGN_OR_RETURN(std::string text, ReadFileCapped(path, max_bytes));
  return ParseTextProto(text, path, max_bytes, message);
}

}  // namespace rill

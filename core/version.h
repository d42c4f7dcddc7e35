#ifndef RILL_CORE_VERSION_H_
#define RILL_CORE_VERSION_H_

namespace rill {

// What `rill --version` prints and BLEU signatures name ("version:rill-0.1").
inline constexpr char kRillVersion[] = "rill-0.1";

}  // namespace rill

#endif  // RILL_CORE_VERSION_H_

#ifndef RILL_TESTS_SANITIZERS_H_
#define RILL_TESTS_SANITIZERS_H_

// Whether this test binary is built with AddressSanitizer (./dev test
// --asan). Some checks mean nothing there: ASan keeps freed memory in
// quarantine (so peak RSS grows with every byte streamed), reserves
// terabytes of shadow address space (so `ulimit -v` caps fail at start),
// and replaces operator new (so allocation counters see nothing).
// GCC defines __SANITIZE_ADDRESS__; clang answers __has_feature.

#if defined(__SANITIZE_ADDRESS__)
#define RILL_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RILL_UNDER_ASAN 1
#endif
#endif

#ifndef RILL_UNDER_ASAN
#define RILL_UNDER_ASAN 0
#endif

#endif  // RILL_TESTS_SANITIZERS_H_

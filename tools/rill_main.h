#ifndef RILL_TOOLS_RILL_MAIN_H_
#define RILL_TOOLS_RILL_MAIN_H_

namespace rill {

// The `rill` command line: runs argv[1]'s command; returns the exit code
// (0, 1 for bad input or a failure, 2 for a command-line mistake). Shared
// by //tools:rill and //tools:rill_mpi.
int Main(int argc, char** argv);

}  // namespace rill

#endif  // RILL_TOOLS_RILL_MAIN_H_

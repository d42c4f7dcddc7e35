// The `rill` command: `rill <subcommand> [flags] [args]`.

#include "tools/rill_main.h"

int main(int argc, char** argv) { return rill::Main(argc, argv); }

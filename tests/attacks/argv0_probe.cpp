// A stand-in for a multi-call program (busybox, systemctl): it says which
// name it was started under and as whom, so the attack tests can see what
// argv[0] sudo gave it.
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  std::printf("argv0=%s euid=%u args=%d\n", argc > 0 ? argv[0] : "", static_cast<unsigned>(::geteuid()), argc - 1);
  return 0;
}

// hoist_attack_probe: the program the attack suite and the differential test
// run through sudo. Installed by the tests as a root-owned file in a
// root-owned directory (so Hoist's path rules can name it), it reports who
// it runs as and what it was given, one fact per line:
//
//   hoist-probe
//   argc=3
//   argv[0]=/run/hoist-e2e-42-0/probe
//   argv[1]=a
//   ...
//   uid=0 euid=0 gid=0 egid=0
//   groups=0,27              (sorted, without repeats)
//   cwd=/
//   umask=0022
//   fd=3:/run/hoist-e2e-42-0/probe   (each descriptor above 2, where it leads)
//   env=HOME=/root           (sorted)
//   end
//
// Values are escaped so that one fact is one line: backslash, newline and
// other control bytes become \\, \n and \xNN. It never reads its input and
// always exits 0, so "it ran" is "its output is there".
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

std::string escaped(const char* s) {
  std::string out;
  for (; *s != '\0'; ++s) {
    const auto b = static_cast<unsigned char>(*s);
    if (b == '\\') {
      out += "\\\\";
    } else if (b == '\n') {
      out += "\\n";
    } else if (b < 0x20 || b == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", b);
      out += buf;
    } else {
      out += static_cast<char>(b);
    }
  }
  return out;
}

std::string link_target(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return "?";
  buf[n] = '\0';
  return escaped(buf);
}

}  // namespace

int main(int argc, char** argv) {
  std::string out = "hoist-probe\nargc=" + std::to_string(argc) + "\n";
  for (int i = 0; i < argc; ++i) out += "argv[" + std::to_string(i) + "]=" + escaped(argv[i]) + "\n";
  out += "uid=" + std::to_string(::getuid()) + " euid=" + std::to_string(::geteuid()) +
         " gid=" + std::to_string(::getgid()) + " egid=" + std::to_string(::getegid()) + "\n";

  std::vector<gid_t> groups(static_cast<std::size_t>(std::max(0, static_cast<int>(::getgroups(0, nullptr)))));
  const int n = ::getgroups(static_cast<int>(groups.size()), groups.data());
  groups.resize(static_cast<std::size_t>(std::max(0, n)));
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  out += "groups=";
  for (std::size_t i = 0; i < groups.size(); ++i) out += (i == 0 ? "" : ",") + std::to_string(groups[i]);
  out += "\n";

  char cwd[PATH_MAX];
  out += std::string("cwd=") + (::getcwd(cwd, sizeof cwd) != nullptr ? escaped(cwd) : "?") + "\n";
  const mode_t mask = ::umask(0);
  ::umask(mask);
  char octal[16];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mask));
  out += std::string("umask=") + octal + "\n";

  if (DIR* dir = ::opendir("/proc/self/fd")) {
    std::vector<int> fds;
    while (const dirent* e = ::readdir(dir)) {
      const int fd = std::atoi(e->d_name);
      if (fd > 2 && fd != ::dirfd(dir)) fds.push_back(fd);
    }
    ::closedir(dir);
    std::sort(fds.begin(), fds.end());
    for (const int fd : fds) {
      out += "fd=" + std::to_string(fd) + ":" + link_target("/proc/self/fd/" + std::to_string(fd)) + "\n";
    }
  }

  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.push_back("env=" + escaped(*e));
  std::sort(env.begin(), env.end());
  for (const auto& e : env) out += e + "\n";
  out += "end\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

#include "core/rule_summary.h"

#include <fmt/format.h>

#include <vector>

namespace hoist {
namespace {

std::string sources(const std::vector<StringMatcher>& patterns, std::string_view separator) {
  std::string out;
  for (const auto& p : patterns) {
    if (!out.empty()) out += separator;
    out += p.source().empty() ? std::string("\"\"") : p.source();
  }
  return out;
}

}  // namespace

std::string command_summary(const CommandMatch& match) {
  if (match.session) return "a temporary admin session (hoist elevate)";
  if (!match.edit.empty()) return "sudo -e " + sources(match.edit, " ");
  std::vector<std::string> parts;
  std::string what;
  if (match.path) {
    what = *match.path;
  } else if (match.path_glob) {
    what = match.path_glob->source();
  } else if (match.folder) {
    what = *match.folder + (match.folder->ends_with('/') ? "" : "/") + "... (anything in it)";
  }
  if (match.package) parts.push_back("a program of package " + match.package->source());
  if (match.origin) parts.push_back("a program from " + match.origin->source());
  if (match.maintainer) parts.push_back("a program maintained by " + match.maintainer->source());
  if (match.needs_verified() && !what.empty()) what += " (as dpkg installed it)";
  if (match.verified && what.empty() && parts.empty()) parts.emplace_back("a program as dpkg installed it");
  if (!match.sha256.empty()) {
    std::vector<std::string> digests;
    for (const auto& d : match.sha256) digests.push_back(d.hex().substr(0, 12) + "...");
    parts.push_back(fmt::format("the file with SHA-256 {}", fmt::join(digests, " or ")));
  }
  if (!what.empty()) parts.insert(parts.begin(), what);
  if (parts.empty()) parts.emplace_back("any command");
  std::string out = fmt::format("{}", fmt::join(parts, ", "));
  if (match.args) {
    if (match.args->patterns.empty() && !match.args->rest_allowed) {
      out += " \"\"";
    } else {
      if (!match.args->patterns.empty()) out += " " + sources(match.args->patterns, " ");
      if (match.args->rest_allowed) out += " ...";
    }
  }
  return out;
}

}  // namespace hoist

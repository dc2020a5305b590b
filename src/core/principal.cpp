#include "core/principal.h"

namespace hoist {

std::string canonical_principal(std::string_view name) {
  if (const auto slash = name.rfind('\\'); slash != std::string_view::npos) {
    name.remove_prefix(slash + 1);
  }
  if (const auto at = name.find('@'); at != std::string_view::npos) {
    name = name.substr(0, at);
  }
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool same_principal(std::string_view a, std::string_view b) {
  return canonical_principal(a) == canonical_principal(b);
}

}  // namespace hoist

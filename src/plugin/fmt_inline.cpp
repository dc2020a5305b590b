// fmt's formatting core compiled into hoist_sudo.so (fmt's header-only
// mode), so that loading the plugin does not load libfmt.so: every
// fmt::format in the plugin and in the static libraries it links resolves
// to the vformat emitted here. Debian ships no static libfmt.
#undef FMT_SHARED
#define FMT_HEADER_ONLY
#include <fmt/format.h>

#include <string>

namespace hoist::plugin {

std::string fmt_vformat_here(fmt::string_view format, fmt::format_args args);

// Odr-uses fmt::vformat, so the compiler emits it in this object.
std::string fmt_vformat_here(fmt::string_view format, fmt::format_args args) {
  return fmt::vformat(format, args);
}

}  // namespace hoist::plugin

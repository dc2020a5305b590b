#include "server/backup/pg_tools.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <map>

namespace hoist::backup::pg_tools {

namespace {

std::string tool_path(const std::string& bin_dir, std::string_view tool) {
  return bin_dir + "/" + std::string(tool);
}

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  const auto* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && ptr == end;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One field of COPY's text format, its backslash escapes undone.
std::string unescape(std::string_view f) {
  std::string out;
  out.reserve(f.size());
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '\\' || i + 1 == f.size()) {
      out += f[i];
      continue;
    }
    const char c = f[++i];
    switch (c) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': {
        int v = 0;
        int n = 0;
        while (n < 2 && i + 1 < f.size() && hex_value(f[i + 1]) >= 0) {
          v = v * 16 + hex_value(f[++i]);
          ++n;
        }
        out += n == 0 ? 'x' : static_cast<char>(v);
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          int v = c - '0';
          for (int n = 1; n < 3 && i + 1 < f.size() && f[i + 1] >= '0' && f[i + 1] <= '7'; ++n) {
            v = v * 8 + (f[++i] - '0');
          }
          out += static_cast<char>(v & 0xff);
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = s.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, at - start));
    start = at + sep.size();
  }
}

// A COPY block: "COPY public.NAME (a, b) FROM stdin;" then rows up to "\.".
struct Block {
  std::string table;
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

Result<Block> parse_copy_header(std::string_view line) {
  constexpr std::string_view kHead = "COPY ";
  constexpr std::string_view kTail = " FROM stdin;";
  const auto open = line.find(" (");
  if (!line.ends_with(kTail) || open == std::string_view::npos || line[line.size() - kTail.size() - 1] != ')') {
    return invalid_argument(fmt::format("the dump's data holds a COPY line that does not parse: {}", line));
  }
  Block b;
  std::string_view name = line.substr(kHead.size(), open - kHead.size());
  if (const auto dot = name.rfind('.'); dot != std::string_view::npos) name = name.substr(dot + 1);
  b.table = std::string(name);
  const auto cols = line.substr(open + 2, line.size() - kTail.size() - 1 - (open + 2));
  for (const auto c : split(cols, ", ")) b.columns.emplace_back(c);
  return b;
}

}  // namespace

Result<int> parse_tool_major(std::string_view out) {
  constexpr std::string_view kMark = "(PostgreSQL) ";
  const auto at = out.find(kMark);
  if (at == std::string_view::npos) {
    return invalid_argument(fmt::format("not a PostgreSQL tool's version: {}", out.substr(0, 200)));
  }
  const auto rest = out.substr(at + kMark.size());
  const auto end = rest.find_first_not_of("0123456789");
  std::int64_t major = 0;
  if (!parse_int(rest.substr(0, end), major) || major <= 0 || major > 1000) {
    return invalid_argument(fmt::format("not a PostgreSQL tool's version: {}", out.substr(0, 200)));
  }
  return static_cast<int>(major);
}

Result<std::string> choose_bin_dir(const std::vector<Installed>& installed, int server_major, std::string_view tool) {
  const Installed* best = nullptr;
  int newest = 0;
  for (const auto& i : installed) {
    newest = std::max(newest, i.major);
    if (i.major == server_major) return i.bin_dir;
    if (i.major > server_major && (best == nullptr || i.major < best->major)) best = &i;
  }
  if (best != nullptr) return best->bin_dir;
  if (installed.empty()) {
    return unavailable(
        fmt::format("no {} is installed under {}/N/bin: install postgresql-client-{} (the server's "
                    "major version)",
                    tool, kDebianRoot, server_major));
  }
  return unavailable(
      fmt::format("{} {} is older than the PostgreSQL server ({}): it cannot read a newer server's "
                  "database; install postgresql-client-{}",
                  tool, newest, server_major, server_major));
}

Result<std::string> pgpass_line(std::string_view password) {
  if (password.find_first_of(std::string_view("\n\r\0", 3)) != std::string_view::npos) {
    return invalid_argument("the database password holds a line break or a NUL byte");
  }
  std::string out = "*:*:*:*:";
  for (const char c : password) {
    if (c == '\\' || c == ':') out += '\\';
    out += c;
  }
  out += '\n';
  return out;
}

std::vector<std::string> child_environment(const ChildEnv& env) {
  std::vector<std::string> out = {"LC_ALL=C", "TZ=UTC", fmt::format("PGCONNECT_TIMEOUT={}", env.connect_timeout_s)};
  if (env.home) out.push_back("HOME=" + *env.home);
  // Always set: without it libpq would read ~/.pgpass of whoever runs us.
  out.push_back("PGPASSFILE=" + env.pgpassfile.value_or("/dev/null"));
  return out;
}

std::vector<std::string> dump_argv(const std::string& bin_dir, const std::string& conninfo,
                                   const std::string& snapshot) {
  return {tool_path(bin_dir, "pg_dump"), "--format=custom", "--no-password", "--snapshot=" + snapshot,
          "--dbname=" + conninfo};
}

std::vector<std::string> version_argv(const std::string& bin_dir, std::string_view tool) {
  return {tool_path(bin_dir, tool), "--version"};
}

std::vector<std::string> list_argv(const std::string& bin_dir) {
  return {tool_path(bin_dir, "pg_restore"), "--list"};
}

std::vector<std::string> data_argv(const std::string& bin_dir) {
  return {tool_path(bin_dir, "pg_restore"), "--data-only", "--table=audit_events", "--table=schema_migrations",
          "--file=-"};
}

std::vector<std::string> restore_argv(const std::string& bin_dir, const std::string& conninfo) {
  return {tool_path(bin_dir, "pg_restore"),
          "--exit-on-error",
          "--single-transaction",
          "--no-owner",
          "--no-password",
          "--dbname=" + conninfo};
}

Result<DumpContents> parse_dump_data(std::string_view text) {
  std::map<std::string, Block> blocks;
  std::optional<Block> open;
  std::size_t line_no = 0;
  for (const auto line : split(text, "\n")) {
    ++line_no;
    if (!open) {
      if (line.starts_with("COPY ")) {
        auto b = parse_copy_header(line);
        if (!b.ok()) return b.error();
        open = std::move(*b);
      }
      continue;
    }
    if (line == "\\.") {
      const std::string name = open->table;
      if (!blocks.emplace(name, std::move(*open)).second) {
        return invalid_argument(fmt::format("the dump's data holds table {} twice", name));
      }
      open.reset();
      continue;
    }
    std::vector<std::optional<std::string>> row;
    for (const auto f : split(line, "\t")) {
      if (f == "\\N") {
        row.emplace_back();
      } else {
        row.emplace_back(unescape(f));
      }
    }
    if (row.size() != open->columns.size()) {
      return invalid_argument(fmt::format("the dump's data, line {}: {} fields for the {} columns of {}", line_no,
                                          row.size(), open->columns.size(), open->table));
    }
    open->rows.push_back(std::move(row));
  }
  if (open) return invalid_argument(fmt::format("the dump's data for {} does not end", open->table));

  const auto column = [](const Block& b, std::string_view name) -> Result<std::size_t> {
    const auto it = std::find(b.columns.begin(), b.columns.end(), name);
    if (it == b.columns.end()) return invalid_argument(fmt::format("the dump's {} has no column {}", b.table, name));
    return static_cast<std::size_t>(it - b.columns.begin());
  };
  DumpContents out;
  const auto migrations = blocks.find("schema_migrations");
  if (migrations == blocks.end()) return invalid_argument("the dump holds no rows of schema_migrations");
  auto version_col = column(migrations->second, "version");
  if (!version_col.ok()) return version_col.error();
  for (const auto& row : migrations->second.rows) {
    std::int64_t v = 0;
    if (!row[*version_col] || !parse_int(*row[*version_col], v) || v < 0 || v > 1000000) {
      return invalid_argument("the dump's schema_migrations holds a version that is not a number");
    }
    out.schema_version = std::max(out.schema_version, static_cast<int>(v));
  }
  const auto audit = blocks.find("audit_events");
  if (audit == blocks.end()) return invalid_argument("the dump holds no audit_events table");
  std::vector<std::size_t> cols;
  for (const std::string_view name :
       {"seq", "time_ms", "actor", "action", "target", "host", "details", "prev_hash", "hash"}) {
    auto c = column(audit->second, name);
    if (!c.ok()) return c.error();
    cols.push_back(*c);
  }
  for (const auto& row : audit->second.rows) {
    const auto field = [&](std::size_t i) { return row[cols[i]].value_or(std::string()); };
    std::int64_t seq = 0;
    std::int64_t time_ms = 0;
    if (!parse_int(field(0), seq) || seq <= 0 || !parse_int(field(1), time_ms)) {
      return invalid_argument(
          fmt::format("the dump's audit event {} has a seq or time that is not a number", field(0)));
    }
    AuditEvent e;
    e.seq = static_cast<std::uint64_t>(seq);
    e.time = AuditTime{std::chrono::milliseconds{time_ms}};
    e.actor = field(2);
    e.action = field(3);
    e.target = field(4);
    e.host = field(5);
    e.details = field(6);
    // A hash that is not 64 hex digits stays zero, and the chain says so.
    if (auto h = Sha256::from_hex(field(7)); h.ok()) e.prev_hash = *h;
    if (auto h = Sha256::from_hex(field(8)); h.ok()) e.hash = *h;
    out.events.push_back(std::move(e));
  }
  std::sort(out.events.begin(), out.events.end(),
            [](const AuditEvent& a, const AuditEvent& b) { return a.seq < b.seq; });
  return out;
}

Result<DatabaseFacts> facts_of(const DumpContents& contents) {
  const auto verified = verify_chain(contents.events);
  if (!verified.ok) {
    return invalid_argument(fmt::format("the audit trail in the dump does not verify at event {}: {}",
                                        verified.first_bad_seq.value_or(0), verified.problem));
  }
  DatabaseFacts f;
  f.path = std::string(kDumpName);
  f.schema_version = contents.schema_version;
  f.audit_events = verified.events_checked;
  if (!contents.events.empty()) {
    f.audit_head_seq = contents.events.back().seq;
    f.audit_head_hash = contents.events.back().hash.hex();
  }
  return f;
}

namespace {

// What pg_dump makes of hoistd's schema (tables, their data, identity
// sequences, defaults, constraints, indexes, the public schema) and what an
// operator may have added to it harmlessly (comments, grants to a reporting
// role), besides hoistd's own functions by name. Anything else is code or a
// way to code (FUNCTION, PROCEDURE, TRIGGER, RULE, VIEW,
// POLICY, OPERATOR, EXTENSION, CAST, LANGUAGE, TYPE, EVENT TRIGGER, ...):
// restored, it would run as hoistd's role on every later write, not
// something a backup of hoistd's brings. Longest first: "TABLE DATA"
// before "TABLE".
constexpr std::array<std::string_view, 11> kAllowedEntries = {
    "SEQUENCE OWNED BY", "FK CONSTRAINT", "SEQUENCE SET", "TABLE DATA", "CONSTRAINT", "SEQUENCE",
    "COMMENT",           "DEFAULT",       "INDEX",        "TABLE",      "ACL"};

// The kind of one entry of pg_restore --list ("ID; CATALOG OID KIND
// SCHEMA NAME OWNER"), or "" when the line is not one.
std::string_view entry_kind(std::string_view line) {
  const auto semi = line.find("; ");
  if (semi == std::string_view::npos) return {};
  std::string_view rest = line.substr(semi + 2);
  for (int skip = 0; skip < 2; ++skip) {
    const auto sp = rest.find(' ');
    if (sp == std::string_view::npos) return {};
    rest = rest.substr(sp + 1);
  }
  return rest;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::vector<OwnFunction>> own_functions(const std::vector<std::string_view>& migrations) {
  constexpr std::string_view kCreate = "CREATE FUNCTION ";
  std::vector<OwnFunction> out;
  for (const auto sql : migrations) {
    for (auto at = sql.find(kCreate); at != std::string_view::npos; at = sql.find(kCreate, at + 1)) {
      const auto rest = sql.substr(at + kCreate.size());
      const auto open = rest.find('(');
      const auto close = rest.find(')');
      const auto language = rest.find(" LANGUAGE ");
      const auto body_start = rest.find("$$");
      const auto body_end = body_start == std::string_view::npos ? body_start : rest.find("$$", body_start + 2);
      if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
          rest.substr(open + 1, close - open - 1).find('(') != std::string_view::npos ||
          language == std::string_view::npos || body_start == std::string_view::npos ||
          body_end == std::string_view::npos || language > body_start) {
        return invalid_argument(
            fmt::format("a migration's CREATE FUNCTION is not one backups can read: {}", rest.substr(0, 80)));
      }
      OwnFunction f;
      f.name = lower(trim(rest.substr(0, open)));
      std::string types;
      const auto args = trim(rest.substr(open + 1, close - open - 1));
      if (!args.empty()) {
        for (const auto arg : split(args, ",")) {
          const auto a = trim(arg);
          const auto sp = a.find(' ');
          if (sp == std::string_view::npos || trim(a.substr(sp)).find(' ') != std::string_view::npos) {
            return invalid_argument(
                fmt::format("a migration's function {} has an argument backups cannot read: {}", f.name, a));
          }
          types += (types.empty() ? "" : ",") + lower(trim(a.substr(sp)));
        }
      }
      f.signature = f.name + "(" + types + ")";
      const auto lang = rest.substr(language + 10);
      f.language = lower(lang.substr(0, lang.find_first_of(" \n")));
      f.body = std::string(rest.substr(body_start + 2, body_end - body_start - 2));
      out.push_back(std::move(f));
    }
  }
  return out;
}

bool is_own_function(const FoundFunction& found, const std::vector<OwnFunction>& own) {
  return !found.security_definer && !found.has_config && std::any_of(own.begin(), own.end(), [&](const OwnFunction& f) {
    return f.signature == found.signature && f.language == found.language && f.body == found.body;
  });
}

namespace {

// A FUNCTION entry of `own` by name: "FUNCTION public NAME(...".
bool own_function_entry(std::string_view rest, const std::vector<OwnFunction>& own) {
  constexpr std::string_view kFunction = "FUNCTION public ";
  if (!rest.starts_with(kFunction)) return false;
  const auto name = rest.substr(kFunction.size());
  return std::any_of(own.begin(), own.end(), [&](const OwnFunction& f) {
    return name.starts_with(f.name) && name.size() > f.name.size() && name[f.name.size()] == '(';
  });
}

}  // namespace

Status check_listing(std::string_view listing, const std::vector<OwnFunction>& own) {
  for (const auto line : split(listing, "\n")) {
    if (line.empty() || line.starts_with(";")) continue;
    const auto rest = entry_kind(line);
    const auto allowed = std::find_if(kAllowedEntries.begin(), kAllowedEntries.end(), [&](std::string_view kind) {
      return rest.starts_with(kind) && rest.size() > kind.size() && rest[kind.size()] == ' ';
    });
    // The public schema itself, when its owner was changed (as PostgreSQL
    // 15's notes advise): pg_dump then names it.
    const bool public_schema = rest.starts_with("SCHEMA - public ");
    if (allowed == kAllowedEntries.end() && !public_schema && !own_function_entry(rest, own)) {
      return invalid_argument(fmt::format(
          "the dump holds an entry a backup of hoistd's never holds (code that would run as hoistd's database role "
          "once restored, or an entry that does not parse): {}",
          line.substr(0, 200)));
    }
  }
  for (const std::string_view table : {"audit_events", "schema_migrations", "push_messages"}) {
    bool table_seen = false;
    bool data_seen = false;
    for (const auto line : split(listing, "\n")) {
      if (line.starts_with(";")) continue;
      if (line.find(fmt::format(" TABLE public {} ", table)) != std::string_view::npos) table_seen = true;
      if (line.find(fmt::format(" TABLE DATA public {} ", table)) != std::string_view::npos) data_seen = true;
    }
    if (!table_seen || !data_seen) {
      return invalid_argument(
          fmt::format("pg_restore --list of the dump names no table {} (or no data for it)", table));
    }
  }
  return {};
}

}  // namespace hoist::backup::pg_tools

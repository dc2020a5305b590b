#include "server/backup/manifest.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <set>

namespace hoist::backup {

namespace json = boost::json;

namespace {

constexpr std::uint32_t kPermissionBits = 0777;

json::object entry_json(const Entry& e) {
  json::object o{{"path", e.path},
                 {"type", e.directory ? "directory" : "file"},
                 {"mode", fmt::format("{:04o}", e.mode)},
                 {"uid", e.uid},
                 {"gid", e.gid}};
  if (!e.directory) {
    o["size"] = e.size;
    o["sha256"] = e.sha256;
  }
  return o;
}

Result<std::string> string_at(const json::object& o, std::string_view key, std::string_view where) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return invalid_argument(fmt::format("{}: \"{}\" is not a string", where, key));
  return std::string(v->as_string());
}

Result<std::uint64_t> number_at(const json::object& o, std::string_view key, std::string_view where) {
  const auto* v = o.if_contains(key);
  if (v != nullptr && v->is_uint64()) return v->as_uint64();
  if (v != nullptr && v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return invalid_argument(fmt::format("{}: \"{}\" is not a whole number", where, key));
}

bool is_lower_hex(std::string_view s, std::size_t size) {
  return s.size() == size && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

Result<Entry> parse_entry(const json::value& v, std::size_t index) {
  const std::string where = fmt::format("manifest entry {}", index);
  if (!v.is_object()) return invalid_argument(where + " is not an object");
  const auto& o = v.as_object();
  Entry e;
  auto path = string_at(o, "path", where);
  if (!path) return path.error();
  e.path = std::move(*path);
  if (auto st = check_relative_path(e.path); !st) return invalid_argument(where + ": " + st.error().message);
  auto type = string_at(o, "type", where);
  if (!type) return type.error();
  if (*type != "file" && *type != "directory") return invalid_argument(where + ": unknown type " + *type);
  e.directory = *type == "directory";
  auto mode = string_at(o, "mode", where);
  if (!mode) return mode.error();
  if (mode->size() != 4 || mode->find_first_not_of("01234567") != std::string::npos) {
    return invalid_argument(where + ": mode is not four octal digits");
  }
  e.mode = static_cast<std::uint32_t>(std::stoul(*mode, nullptr, 8));
  if ((e.mode & ~kPermissionBits) != 0) return invalid_argument(where + ": mode has bits beyond 0777");
  auto uid = number_at(o, "uid", where);
  if (!uid) return uid.error();
  auto gid = number_at(o, "gid", where);
  if (!gid) return gid.error();
  if (*uid > 0xfffffffeU || *gid > 0xfffffffeU) return invalid_argument(where + ": uid or gid out of range");
  e.uid = static_cast<std::uint32_t>(*uid);
  e.gid = static_cast<std::uint32_t>(*gid);
  if (!e.directory) {
    auto size = number_at(o, "size", where);
    if (!size) return size.error();
    e.size = *size;
    auto digest = string_at(o, "sha256", where);
    if (!digest) return digest.error();
    if (!is_lower_hex(*digest, 64)) return invalid_argument(where + ": sha256 is not 64 lowercase hex digits");
    e.sha256 = std::move(*digest);
  }
  return e;
}

}  // namespace

Status check_relative_path(std::string_view path) {
  if (path.empty()) return invalid_argument("an empty path");
  if (path.front() == '/') return invalid_argument(fmt::format("{} is absolute", path));
  if (path.find('\0') != std::string_view::npos) return invalid_argument("a path holds a NUL byte");
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto part = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      return invalid_argument(fmt::format("{} has an empty, \".\" or \"..\" component", path));
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

bool is_database_file(std::string_view name, std::string_view database_name) {
  if (name == database_name) return true;
  for (const std::string_view suffix : {"-wal", "-shm", "-journal"}) {
    if (name.size() == database_name.size() + suffix.size() && name.starts_with(database_name) &&
        name.ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

bool is_temporary_file(std::string_view name) {
  return name.size() > 1 && name.front() == '.' && name.find(".tmp-") != std::string_view::npos;
}

std::vector<std::string> required_files(bool own_tls) {
  std::vector<std::string> out = {"codes/master.key", "notify/secrets.key"};
  if (own_tls) {
    out.insert(out.begin(), {"tls/ca.key", "tls/ca.crt"});
  }
  return out;
}

std::string to_json(const Manifest& m) {
  json::array entries;
  for (const auto& e : m.entries) entries.push_back(entry_json(e));
  json::array skipped;
  for (const auto& s : m.skipped) skipped.push_back(json::object{{"path", s.path}, {"reason", s.reason}});
  const json::object o{{"format", m.format},
                       {"backend", m.backend},
                       {"hoistd_version", m.hoistd_version},
                       {"created", m.created},
                       {"source_data_dir", m.source_data_dir},
                       {"source_database", m.source_database},
                       {"database", json::object{{"path", m.database.path},
                                                 {"schema_version", m.database.schema_version},
                                                 {"audit_events", m.database.audit_events},
                                                 {"audit_head_seq", m.database.audit_head_seq},
                                                 {"audit_head_hash", m.database.audit_head_hash}}},
                       {"entries", std::move(entries)},
                       {"skipped", std::move(skipped)}};
  return json::serialize(o) + "\n";
}

Result<Manifest> parse_manifest(std::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) return invalid_argument("the manifest is not JSON: " + ec.message());
  if (!v.is_object()) return invalid_argument("the manifest is not a JSON object");
  const auto& o = v.as_object();
  Manifest m;
  auto format = string_at(o, "format", "manifest");
  if (!format) return format.error();
  if (*format != kManifestFormat) {
    return invalid_argument(fmt::format("the manifest's format is {}, not {}: made by another version of hoistd",
                                        *format, kManifestFormat));
  }
  if (o.contains("backend")) {
    auto backend = string_at(o, "backend", "manifest");
    if (!backend) return backend.error();
    if (*backend != kBackendSqlite && *backend != kBackendPostgres) {
      return invalid_argument(fmt::format("the manifest's backend is {}, neither sqlite nor postgres", *backend));
    }
    m.backend = std::move(*backend);
  }
  for (auto [key, field] :
       {std::pair{"hoistd_version", &m.hoistd_version}, std::pair{"created", &m.created},
        std::pair{"source_data_dir", &m.source_data_dir}, std::pair{"source_database", &m.source_database}}) {
    auto s = string_at(o, key, "manifest");
    if (!s) return s.error();
    *field = std::move(*s);
  }
  const auto* db = o.if_contains("database");
  if (db == nullptr || !db->is_object()) return invalid_argument("manifest: \"database\" is not an object");
  const auto& dbo = db->as_object();
  auto db_path = string_at(dbo, "path", "manifest database");
  if (!db_path) return db_path.error();
  m.database.path = std::move(*db_path);
  auto version = number_at(dbo, "schema_version", "manifest database");
  if (!version) return version.error();
  if (*version > 1000000) return invalid_argument("manifest database: schema_version out of range");
  m.database.schema_version = static_cast<int>(*version);
  auto events = number_at(dbo, "audit_events", "manifest database");
  if (!events) return events.error();
  m.database.audit_events = *events;
  auto head_seq = number_at(dbo, "audit_head_seq", "manifest database");
  if (!head_seq) return head_seq.error();
  m.database.audit_head_seq = *head_seq;
  auto head_hash = string_at(dbo, "audit_head_hash", "manifest database");
  if (!head_hash) return head_hash.error();
  if (!head_hash->empty() && !is_lower_hex(*head_hash, 64)) {
    return invalid_argument("manifest database: audit_head_hash is not 64 lowercase hex digits");
  }
  m.database.audit_head_hash = std::move(*head_hash);

  const auto* entries = o.if_contains("entries");
  if (entries == nullptr || !entries->is_array()) return invalid_argument("manifest: \"entries\" is not an array");
  std::set<std::string> seen;
  std::set<std::string> directories;
  for (std::size_t i = 0; i < entries->as_array().size(); ++i) {
    auto e = parse_entry(entries->as_array()[i], i);
    if (!e) return e.error();
    if (!seen.insert(e->path).second) return invalid_argument(fmt::format("manifest: {} comes twice", e->path));
    const auto slash = e->path.rfind('/');
    if (slash != std::string::npos && directories.count(e->path.substr(0, slash)) == 0) {
      return invalid_argument(fmt::format("manifest: {} comes before its directory", e->path));
    }
    if (e->directory) directories.insert(e->path);
    m.entries.push_back(std::move(*e));
  }
  if (auto st = check_relative_path(m.database.path); !st)
    return invalid_argument("manifest database: " + st.error().message);
  const auto db_entry = std::find_if(m.entries.begin(), m.entries.end(),
                                     [&](const Entry& e) { return e.path == m.database.path && !e.directory; });
  if (db_entry == m.entries.end()) return invalid_argument("manifest: the database is not among the files");

  const auto* skipped = o.if_contains("skipped");
  if (skipped == nullptr || !skipped->is_array()) return invalid_argument("manifest: \"skipped\" is not an array");
  for (const auto& s : skipped->as_array()) {
    if (!s.is_object()) return invalid_argument("manifest: a skipped entry is not an object");
    auto path = string_at(s.as_object(), "path", "manifest skipped");
    if (!path) return path.error();
    auto reason = string_at(s.as_object(), "reason", "manifest skipped");
    if (!reason) return reason.error();
    m.skipped.push_back({std::move(*path), std::move(*reason)});
  }
  return m;
}

}  // namespace hoist::backup

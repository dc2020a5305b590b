// What a backup of hoistd's data directory holds (docs/backup.md): the
// manifest written last into the backup, and the rules for which names of
// a data directory are copied. Pure: no I/O.
//
// MUST: a manifest read back is refused when a path in it is absolute,
// empty, has an empty, "." or ".." component, or comes twice: restoring it
// must never write outside the target directory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::backup {

inline constexpr std::string_view kManifestFormat = "hoist-backup-1";
inline constexpr std::string_view kManifestName = "manifest.json";
inline constexpr std::string_view kDataName = "data";  // the copy of the data directory, beside the manifest

struct Entry {
  std::string path;  // relative to the data directory, '/'-separated
  bool directory = false;
  std::uint32_t mode = 0;  // permission bits (0777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;  // files only
  std::string sha256;      // files only, 64 lowercase hex digits
  friend bool operator==(const Entry&, const Entry&) = default;
};

// Something of the data directory that was not copied, and why.
struct Skipped {
  std::string path;
  std::string reason;
  friend bool operator==(const Skipped&, const Skipped&) = default;
};

struct DatabaseFacts {
  std::string path;  // the database's entry
  int schema_version = 0;
  std::uint64_t audit_events = 0;
  std::uint64_t audit_head_seq = 0;
  std::string audit_head_hash;  // "" when the trail is empty
  friend bool operator==(const DatabaseFacts&, const DatabaseFacts&) = default;
};

inline constexpr std::string_view kBackendSqlite = "sqlite";
inline constexpr std::string_view kBackendPostgres = "postgres";

struct Manifest {
  std::string format = std::string(kManifestFormat);
  // Which database the backup holds: "sqlite" (the file, copied into the
  // data directory by a restore) or "postgres" (a pg_dump archive restored
  // into PostgreSQL, never into the data directory). A manifest without
  // the field was written before PostgreSQL: "sqlite".
  std::string backend = std::string(kBackendSqlite);
  std::string hoistd_version;
  std::string created;          // RFC 3339, UTC
  std::string source_data_dir;  // where it was taken from
  std::string source_database;  // the database's path there
  DatabaseFacts database;
  std::vector<Entry> entries;  // parents before their children
  std::vector<Skipped> skipped;
  friend bool operator==(const Manifest&, const Manifest&) = default;
};

std::string to_json(const Manifest& m);
// InvalidArgument, saying what is wrong, for anything but a manifest this
// version of hoistd wrote (format, types, paths, modes, digests).
Result<Manifest> parse_manifest(std::string_view text);

// InvalidArgument unless `path` is a relative path of plain names.
Status check_relative_path(std::string_view path);

// Whether a name in the data directory is left out of a backup's copy of
// the files: the database and its -wal, -shm and -journal (the database
// goes through SQLite's online backup instead), and a temporary file a
// crash left behind (".NAME.tmp-*" of tls/private_dir.h).
bool is_database_file(std::string_view name, std::string_view database_name);
bool is_temporary_file(std::string_view name);

// What a restore needs besides the database, relative to the data
// directory: missing ones make the backup refuse. The TLS files only when
// hoistd keeps its own CA (no [tls] cert_file).
std::vector<std::string> required_files(bool own_tls);

}  // namespace hoist::backup

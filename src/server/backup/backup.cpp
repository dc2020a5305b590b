#include "server/backup/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <map>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "core/audit.h"
#include "core/sha256.h"
#include "core/timestamp.h"
#include "platform/unique_fd.h"
#include "server/backup/pg_tools.h"
#include "server/tls/private_dir.h"

namespace hoist::backup {

namespace {

using platform::UniqueFd;

constexpr int kMaxDepth = 16;
constexpr std::size_t kChunk = std::size_t{64} * 1024;
constexpr std::string_view kPartialData = "data.partial";
constexpr mode_t kPrivateDirMode = 0700;

std::string pg_dump_name() {
  return std::string(pg_tools::kDumpName);
}

std::string errno_text(int err) {
  return std::system_category().message(err);
}

Error io_error(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return unavailable(fmt::format("{}: the disk is full ({})", what, errno_text(err)));
  }
  if (err == EACCES || err == EPERM) return permission_denied(fmt::format("{}: {}", what, errno_text(err)));
  return unavailable(fmt::format("{}: {}", what, errno_text(err)));
}

std::string join(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "/" + b;
}

std::string fd_path(int fd, const std::string& name) {
  return fmt::format("/proc/self/fd/{}/{}", fd, name);
}

Result<std::string> random_suffix() {
  std::array<std::uint8_t, 6> raw{};
  if (getrandom(raw.data(), raw.size(), 0) != static_cast<ssize_t>(raw.size())) {
    return unavailable("getrandom: " + errno_text(errno));
  }
  std::string out;
  for (const auto b : raw) out += fmt::format("{:02x}", b);
  return out;
}

Status write_all(int fd, const char* data, std::size_t size, const std::string& what) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot write " + what, errno);
    if (n == 0) return unavailable("cannot write " + what + ": nothing was written");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

// Names in a directory (not . and ..), sorted; the directory's fd is kept.
Result<std::vector<std::string>> list_names(int dirfd, const std::string& shown_as) {
  const int copy = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return io_error("cannot read " + shown_as, errno);
  DIR* d = ::fdopendir(copy);
  if (d == nullptr) {
    const int err = errno;
    ::close(copy);
    return io_error("cannot read " + shown_as, err);
  }
  ::rewinddir(d);
  std::vector<std::string> out;
  errno = 0;
  // readdir is safe on a stream no other thread uses.
  while (const dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") out.emplace_back(name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return io_error("cannot read " + shown_as, err);
  std::sort(out.begin(), out.end());
  return out;
}

Result<UniqueFd> open_dir_at(int dirfd, const std::string& name, const std::string& shown_as) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) return not_found(shown_as + ": no such directory");
    if (err == ELOOP || err == ENOTDIR) return invalid_argument(shown_as + " is not a directory (or is a symlink)");
    return io_error("cannot open " + shown_as, err);
  }
  return fd;
}

// Removes everything below dirfd (best effort, for cleaning up after a
// failure; never follows a symlink).
void remove_contents(int dirfd, int depth = 0) {
  auto names = list_names(dirfd, "");
  if (!names || depth > kMaxDepth) return;
  for (const auto& n : *names) {
    struct stat st {};
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.valid()) {
        ::fchmod(sub.get(), kPrivateDirMode);
        remove_contents(sub.get(), depth + 1);
      }
      ::unlinkat(dirfd, n.c_str(), AT_REMOVEDIR);
    } else {
      ::unlinkat(dirfd, n.c_str(), 0);
    }
  }
}

// Owners are kept when root runs it; anyone else owns what they write.
Status set_owner(int fd, std::uint32_t uid, std::uint32_t gid, const std::string& shown_as) {
  if (::geteuid() == 0 && ::fchown(fd, uid, gid) != 0) return io_error("cannot chown " + shown_as, errno);
  return {};
}

// Copies the open file `in` into a new file `name` of dirfd (0600 until the
// end, then `mode`), hashing what it copies.
Result<Entry> copy_file(int in, int dirfd, const std::string& name, const std::string& shown_as, std::uint32_t mode,
                        std::uint32_t uid, std::uint32_t gid) {
  UniqueFd out(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return io_error("cannot create the copy of " + shown_as, errno);
  Sha256Stream hash;
  std::vector<char> buf(kChunk);
  std::uint64_t size = 0;
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read " + shown_as, errno);
    if (n == 0) break;
    hash.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (auto st = write_all(out.get(), buf.data(), static_cast<std::size_t>(n), "the copy of " + shown_as); !st) {
      return st.error();
    }
    size += static_cast<std::uint64_t>(n);
  }
  if (auto st = set_owner(out.get(), uid, gid, "the copy of " + shown_as); !st) return st.error();
  if (::fchmod(out.get(), mode) != 0) return io_error("cannot chmod the copy of " + shown_as, errno);
  if (::fsync(out.get()) != 0) return io_error("cannot write the copy of " + shown_as + " to disk", errno);
  if (::close(out.release()) != 0) return io_error("cannot close the copy of " + shown_as, errno);
  Entry e;
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  e.size = size;
  e.sha256 = hash.finish().hex();
  return e;
}

struct Walk {
  std::string root_shown;  // the data directory, for messages
  std::string database_name;
  // The database's directory relative to the data directory ("" for its
  // top), nullopt when it lives elsewhere: its files there are never
  // copied as files (a live database copied byte by byte is no snapshot).
  std::optional<std::string> database_dir = std::string();
  std::vector<Entry> entries;
  std::vector<Skipped> skipped;
  std::function<void(const std::string&)> warn;

  void skip(const std::string& path, std::string reason) {
    if (warn) warn(fmt::format("{}/{}: not in the backup: {}", root_shown, path, reason));
    skipped.push_back({path, std::move(reason)});
  }
};

// Copies the tree below `from` into `to`, every file checked as the
// invariants in backup.h say.
Status copy_tree(Walk& walk, int from, int to, const std::string& rel, int depth) {
  if (depth > kMaxDepth) return invalid_argument(fmt::format("{}/{}: nested too deep", walk.root_shown, rel));
  auto names = list_names(from, join(walk.root_shown, rel));
  if (!names) return names.error();
  for (const auto& name : *names) {
    const std::string path = join(rel, name);
    const std::string shown = walk.root_shown + "/" + path;
    if (walk.database_dir && rel == *walk.database_dir && is_database_file(name, walk.database_name)) continue;
    if (is_temporary_file(name)) {
      walk.skip(path, "a temporary file");
      continue;
    }
    struct stat lst {};
    if (::fstatat(from, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // gone meanwhile
      return io_error("cannot stat " + shown, errno);
    }
    if (S_ISLNK(lst.st_mode)) {
      walk.skip(path, "a symlink (never followed)");
      continue;
    }
    if (S_ISDIR(lst.st_mode)) {
      auto sub = open_dir_at(from, name, shown);
      if (!sub) return sub.error();
      struct stat st {};
      if (::fstat(sub->get(), &st) != 0) return io_error("cannot stat " + shown, errno);
      if (st.st_ino != lst.st_ino || st.st_dev != lst.st_dev) {
        return unavailable(shown + " changed while the backup read it; try again");
      }
      if (::mkdirat(to, name.c_str(), kPrivateDirMode) != 0)
        return io_error("cannot create the copy of " + shown, errno);
      auto out = open_dir_at(to, name, "the copy of " + shown);
      if (!out) return out.error();
      Entry e;
      e.path = path;
      e.directory = true;
      e.mode = st.st_mode & 0777;
      e.uid = st.st_uid;
      e.gid = st.st_gid;
      walk.entries.push_back(e);
      if (auto done = copy_tree(walk, sub->get(), out->get(), path, depth + 1); !done) return done;
      if (auto owned = set_owner(out->get(), e.uid, e.gid, "the copy of " + shown); !owned) return owned;
      // The copy stays private until the end; the mode is restored by restore.
      if (::fsync(out->get()) != 0) return io_error("cannot write the copy of " + shown + " to disk", errno);
      continue;
    }
    if (!S_ISREG(lst.st_mode)) {
      walk.skip(path, "not a regular file (a FIFO, socket or device is never opened)");
      continue;
    }
    if (lst.st_nlink != 1) {
      walk.skip(path, "a file with other hard links");
      continue;
    }
    UniqueFd in(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!in.valid()) {
      if (errno == ENOENT) continue;
      return io_error("cannot open " + shown, errno);
    }
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) return io_error("cannot stat " + shown, errno);
    if (!S_ISREG(st.st_mode) || st.st_ino != lst.st_ino || st.st_dev != lst.st_dev || st.st_nlink != 1) {
      return unavailable(shown + " changed while the backup read it; try again");
    }
    auto e = copy_file(in.get(), to, name, shown, st.st_mode & 0777, st.st_uid, st.st_gid);
    if (!e) return e.error();
    e->path = path;
    walk.entries.push_back(std::move(*e));
  }
  return {};
}

// SQLite handles closed on every path.
struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;

Error sqlite_error(sqlite3* db, const std::string& what) {
  const int rc = db == nullptr ? SQLITE_NOMEM : sqlite3_errcode(db);
  const std::string text = db == nullptr ? "out of memory" : sqlite3_errmsg(db);
  if (rc == SQLITE_FULL) return unavailable(fmt::format("{}: the disk is full ({})", what, text));
  if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
    return invalid_argument(fmt::format("{}: the database is damaged ({})", what, text));
  }
  if ((rc & 0xff) == SQLITE_PERM || (rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_AUTH) {
    return permission_denied(fmt::format("{}: {}", what, text));
  }
  return unavailable(fmt::format("{}: {}", what, text));
}

// Files of the backup are opened through /proc/self/fd/N/NAME, N a checked
// directory of ours: SQLite's SQLITE_OPEN_NOFOLLOW refuses that path's
// magic links, so it is used for the live database only.
Result<SqlitePtr> open_sqlite(const std::string& path, int flags, const std::string& what) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqlitePtr db(raw);
  if (rc != SQLITE_OK) return sqlite_error(db.get(), what);
  sqlite3_extended_result_codes(db.get(), 1);
  return db;
}

// One text or integer of the first row of `sql`; nullopt for no row.
Result<std::optional<std::string>> first_value(sqlite3* db, const char* sql, const std::string& what) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) return sqlite_error(db, what);
  const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  const int rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return sqlite_error(db, what);
  const auto* text = sqlite3_column_text(stmt.get(), 0);
  return std::optional<std::string>(text == nullptr ? std::string() : reinterpret_cast<const char*>(text));
}

// The database through SQLite's online backup API: one step of every page,
// so the copy is one read transaction's snapshot, while hoistd goes on
// writing (WAL: readers do not block it).
Status backup_database(const std::string& from, const std::string& to, const BackupOptions& options) {
  auto src = open_sqlite(from, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, "cannot open the database " + from);
  if (!src) return src.error();
  sqlite3_busy_timeout(src->get(), 5000);
  if (sqlite3_exec(src->get(), "PRAGMA query_only = 1", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sqlite_error(src->get(), "database " + from);
  }
  auto dst = open_sqlite(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "cannot create the database's copy");
  if (!dst) return dst.error();
  sqlite3_backup* b = sqlite3_backup_init(dst->get(), "main", src->get(), "main");
  if (b == nullptr) return sqlite_error(dst->get(), "cannot start the database's backup");
  const auto deadline = std::chrono::steady_clock::now() + options.busy_timeout;
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(b, -1);
    if (rc == SQLITE_DONE) break;
    if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    break;
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_FULL || sqlite3_errcode(dst->get()) == SQLITE_FULL) {
      return unavailable("the database's backup: the disk is full");
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      return unavailable(fmt::format("the database {} stayed busy for {} s; try again", from,
                                     std::chrono::duration_cast<std::chrono::seconds>(options.busy_timeout).count()));
    }
    return Error{sqlite_error(dst->get(), "the database's backup").code,
                 fmt::format("the database's backup: {}", sqlite3_errstr(rc))};
  }
  return {};
}

Result<std::uint64_t> to_count(const std::optional<std::string>& v) {
  if (!v || v->empty()) return std::uint64_t{0};
  if (v->find_first_not_of("0123456789") != std::string::npos) return internal_error("not a count: " + *v);
  return static_cast<std::uint64_t>(std::stoull(*v));
}

Status write_manifest(int dirfd, const Manifest& m, const std::string& shown_dir) {
  auto suffix = random_suffix();
  if (!suffix) return suffix.error();
  const std::string temp = ".manifest.json.tmp-" + *suffix;
  UniqueFd out(::openat(dirfd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return io_error("cannot create the manifest in " + shown_dir, errno);
  const std::string text = to_json(m);
  auto st = write_all(out.get(), text.data(), text.size(), "the manifest");
  if (st && ::fsync(out.get()) != 0) st = io_error("cannot write the manifest to disk", errno);
  if (st && ::close(out.release()) != 0) st = io_error("cannot close the manifest", errno);
  if (st && ::renameat(dirfd, temp.c_str(), dirfd, std::string(kManifestName).c_str()) != 0) {
    st = io_error("cannot rename the manifest", errno);
  }
  if (!st) {
    ::unlinkat(dirfd, temp.c_str(), 0);
    return st;
  }
  if (::fsync(dirfd) != 0) return io_error("cannot write " + shown_dir + " to disk", errno);
  return {};
}

// The backup directory: created 0700, or an empty directory of the
// caller's, made 0700. `created` says which, for cleaning up.
Result<UniqueFd> open_new_dir(const std::string& dir, bool& created, const std::string& noun) {
  created = false;
  if (::mkdir(dir.c_str(), kPrivateDirMode) == 0) {
    created = true;
  } else if (errno != EEXIST) {
    return io_error(fmt::format("cannot create the {} {}", noun, dir), errno);
  }
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return conflict(fmt::format("{} exists and is not a directory (or is a symlink): give a new directory", dir));
    }
    return io_error(fmt::format("cannot open the {} {}", noun, dir), errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat " + dir, errno);
  if (!created) {
    if (st.st_uid != ::geteuid()) {
      return conflict(fmt::format("{} exists and is owned by uid {}, not by you (uid {}): give a new directory", dir,
                                  st.st_uid, ::geteuid()));
    }
    auto names = list_names(fd.get(), dir);
    if (!names) return names.error();
    if (!names->empty()) {
      return conflict(fmt::format("{} exists and is not empty: a backup never overwrites; give a new directory", dir));
    }
  }
  if (::fchmod(fd.get(), kPrivateDirMode) != 0) return io_error("cannot chmod " + dir, errno);
  return fd;
}

}  // namespace

Result<DatabaseFacts> inspect_database(const std::string& path) {
  std::string uri = "file:";
  for (const char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      uri += fmt::format("%{:02x}", static_cast<unsigned char>(c));
    } else {
      uri += c;
    }
  }
  // immutable: no lock, no -wal or -shm made beside a backup's copy.
  auto db =
      open_sqlite(uri + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, "cannot open the database " + path);
  if (!db) return db.error();
  auto integrity = first_value(db->get(), "PRAGMA integrity_check", "database " + path);
  if (!integrity) return integrity.error();
  if (!*integrity || **integrity != "ok") {
    return invalid_argument(
        fmt::format("the database {} is damaged: integrity_check says {}", path, integrity->value_or("nothing")));
  }
  DatabaseFacts facts;
  auto version = first_value(db->get(), "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                             "database " + path + ": read the schema version");
  if (!version) return version.error();
  auto v = to_count(*version);
  if (!v) return v.error();
  facts.schema_version = static_cast<int>(*v);

  // The audit chain, page by page, as hoistd verifies it at start.
  sqlite3_stmt* raw = nullptr;
  const char* sql =
      "SELECT seq, time_ms, actor, action, target, host, details, prev_hash, hash FROM audit_events WHERE seq > ? "
      "ORDER BY seq LIMIT 1000";
  if (sqlite3_prepare_v2(db->get(), sql, -1, &raw, nullptr) != SQLITE_OK) {
    return sqlite_error(db->get(), "database " + path + ": read the audit trail");
  }
  const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  std::optional<ChainHead> head;
  for (;;) {
    sqlite3_reset(stmt.get());
    sqlite3_bind_int64(stmt.get(), 1, head ? static_cast<sqlite3_int64>(head->seq) : 0);
    std::vector<AuditEvent> page;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      const auto text = [&](int i) {
        const auto* t = sqlite3_column_text(stmt.get(), i);
        return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
      };
      AuditEvent e;
      e.seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 0));
      e.time = AuditTime{std::chrono::milliseconds{sqlite3_column_int64(stmt.get(), 1)}};
      e.actor = text(2);
      e.action = text(3);
      e.target = text(4);
      e.host = text(5);
      e.details = text(6);
      if (auto h = Sha256::from_hex(text(7)); h.ok()) e.prev_hash = *h;
      if (auto h = Sha256::from_hex(text(8)); h.ok()) e.hash = *h;
      page.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return sqlite_error(db->get(), "database " + path + ": read the audit trail");
    if (page.empty()) break;
    const auto verified = verify_chain(page, head);
    if (!verified.ok) {
      return invalid_argument(fmt::format("the audit trail in {} does not verify at event {}: {}", path,
                                          verified.first_bad_seq.value_or(0), verified.problem));
    }
    facts.audit_events += verified.events_checked;
    head = ChainHead{page.back().seq, page.back().hash};
  }
  if (head) {
    facts.audit_head_seq = head->seq;
    facts.audit_head_hash = head->hash.hex();
  }
  return facts;
}

Result<Manifest> take_backup(const Source& source, const std::string& dir, const BackupOptions& options) {
  namespace fs = std::filesystem;
  const std::string data_dir = source.data_dir;
  const std::string database = source.database.empty() ? data_dir + "/hoist.db" : source.database;

  struct stat data_st {};
  if (::stat(data_dir.c_str(), &data_st) != 0) {
    if (errno == ENOENT) {
      return not_found(
          fmt::format("the data directory {} does not exist (is --data-dir or data_dir right?)", data_dir));
    }
    if (errno == EACCES) {
      return permission_denied(fmt::format(
          "cannot reach the data directory {} (permission denied): run hoistd backup as root or as the data "
          "directory's owner, e.g. sudo -u hoistd hoistd backup DIR",
          data_dir));
    }
    return io_error("cannot stat the data directory " + data_dir, errno);
  }
  if (!S_ISDIR(data_st.st_mode)) return invalid_argument(data_dir + " is not a directory");
  if (::geteuid() != 0 && ::geteuid() != data_st.st_uid) {
    return permission_denied(
        fmt::format("the data directory {} is owned by uid {}: run hoistd backup as root or as the data "
                    "directory's owner (you are uid {}), e.g. sudo -u hoistd hoistd backup DIR",
                    data_dir, data_st.st_uid, ::geteuid()));
  }
  // The data directory itself may be a symlink an admin made; nothing
  // below it is followed.
  UniqueFd data_fd(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!data_fd.valid()) return io_error("cannot open the data directory " + data_dir, errno);

  const bool postgres = static_cast<bool>(options.dump_database);
  std::error_code ec;
  const fs::path db_abs = postgres ? fs::path(pg_dump_name()) : fs::weakly_canonical(fs::absolute(database, ec), ec);
  const fs::path data_abs = fs::weakly_canonical(fs::absolute(data_dir, ec), ec);
  if (ec) return io_error("cannot resolve " + database, ec.value());
  const std::string database_name = db_abs.filename().string();
  // PostgreSQL's dump lives in no directory of the source: its name in
  // the data directory is refused below rather than copied over it.
  const bool database_inside = !postgres && db_abs.parent_path() == data_abs;
  std::optional<std::string> database_dir;
  if (const auto rel = db_abs.parent_path().lexically_relative(data_abs);
      !postgres && !rel.empty() && rel.native().rfind("..", 0) != 0) {
    database_dir = rel == "." ? std::string() : rel.string();
  }
  struct stat db_st {};
  if (postgres) {
    // The dump is written by this process, private to it.
    db_st.st_mode = S_IFREG | 0600;
    db_st.st_uid = ::geteuid();
    db_st.st_gid = ::getegid();
  } else if (::lstat(database.c_str(), &db_st) != 0) {
    if (errno == ENOENT) {
      return not_found(fmt::format("the database {} does not exist: hoistd makes it at its first start", database));
    }
    return io_error("cannot stat the database " + database, errno);
  }
  if (!S_ISREG(db_st.st_mode)) return invalid_argument(fmt::format("the database {} is not a regular file", database));
  for (const auto& f : required_files(source.own_tls)) {
    struct stat st {};
    if (::fstatat(data_fd.get(), f.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      return not_found(fmt::format(
          "{}/{} is missing (or not a regular file): a restore needs it; hoistd makes it at its first start", data_dir,
          f));
    }
  }

  bool created = false;
  auto out = open_new_dir(dir, created, "backup directory");
  if (!out) return out.error();
  const auto fail = [&](const Error& e) -> Error {
    remove_contents(out->get());
    if (created) ::rmdir(dir.c_str());
    return e;
  };
  const std::string partial(kPartialData);
  if (::mkdirat(out->get(), partial.c_str(), kPrivateDirMode) != 0) {
    return fail(io_error("cannot create " + dir + "/" + partial, errno));
  }
  auto data_out = open_dir_at(out->get(), partial, dir + "/" + partial);
  if (!data_out) return fail(data_out.error());

  Walk walk;
  walk.root_shown = data_dir;
  walk.database_name = database_name;
  walk.database_dir = database_dir;
  walk.warn = options.warn;
  // The database first: it names the entry the others must not take.
  struct stat clash {};
  if (!database_inside && ::fstatat(data_fd.get(), database_name.c_str(), &clash, AT_SYMLINK_NOFOLLOW) == 0) {
    return fail(conflict(fmt::format("the database {} lives outside the data directory, which holds a {} too", database,
                                     database_name)));
  }
  Result<DatabaseFacts> facts = DatabaseFacts{};
  if (postgres) {
    facts = options.dump_database(data_out->get(), database_name);
    if (!facts) return fail(facts.error());
  } else {
    if (auto st = backup_database(database, fd_path(data_out->get(), database_name), options); !st)
      return fail(st.error());
    for (const char* leftover : {"-journal", "-wal", "-shm"}) {
      ::unlinkat(data_out->get(), (database_name + leftover).c_str(), 0);
    }
    facts = inspect_database(fd_path(data_out->get(), database_name));
    if (!facts) return fail(facts.error());
  }
  if (facts->schema_version > options.known_schema_version) {
    return fail(
        conflict(fmt::format("the database is at schema version {} but this hoistd knows only up to {}: take "
                             "the backup with the hoistd that runs on it",
                             facts->schema_version, options.known_schema_version)));
  }
  {
    UniqueFd copy(::openat(data_out->get(), database_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!copy.valid()) return fail(io_error("cannot open the database's copy", errno));
    if (auto st = set_owner(copy.get(), db_st.st_uid, db_st.st_gid, "the database's copy"); !st)
      return fail(st.error());
    if (::fchmod(copy.get(), db_st.st_mode & 0777) != 0)
      return fail(io_error("cannot chmod the database's copy", errno));
    if (::fsync(copy.get()) != 0) return fail(io_error("cannot write the database's copy to disk", errno));
    Sha256Stream hash;
    std::vector<char> buf(kChunk);
    std::uint64_t size = 0;
    for (;;) {
      const ssize_t n = ::read(copy.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(io_error("cannot read the database's copy", errno));
      if (n == 0) break;
      hash.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      size += static_cast<std::uint64_t>(n);
    }
    Entry e;
    e.path = database_name;
    e.mode = db_st.st_mode & 0777;
    e.uid = db_st.st_uid;
    e.gid = db_st.st_gid;
    e.size = size;
    e.sha256 = hash.finish().hex();
    walk.entries.push_back(std::move(e));
  }
  facts->path = database_name;

  if (auto st = copy_tree(walk, data_fd.get(), data_out->get(), "", 0); !st) return fail(st.error());
  if (::fsync(data_out->get()) != 0) return fail(io_error("cannot write the backup to disk", errno));
  if (::renameat(out->get(), partial.c_str(), out->get(), std::string(kDataName).c_str()) != 0) {
    return fail(io_error("cannot rename " + partial, errno));
  }

  Manifest m;
  if (postgres) {
    m.backend = std::string(kBackendPostgres);
    m.source_database = source.database;
  }
  m.hoistd_version = options.hoistd_version;
  m.created = format_timestamp(std::chrono::time_point_cast<std::chrono::seconds>(options.now));
  m.source_data_dir = data_abs.string();
  if (!postgres) m.source_database = db_abs.string();
  m.database = std::move(*facts);
  // Directories before what they hold (the walk's order), the database
  // first: a restore creates them in this order.
  m.entries = std::move(walk.entries);
  m.skipped = std::move(walk.skipped);
  if (auto st = write_manifest(out->get(), m, dir); !st) return fail(st.error());
  return m;
}

namespace {

// Every file and directory below `dirfd`, checked against the manifest's
// entries; anything else found is a problem.
// As root, a backup is checked (and restored) only when root owns each of
// its directories: whoever else owns one (hoistd, which may be the
// compromised party) could swap an entry for a link or a FIFO between the
// hash and the database's open (from the attack pass).
Status owned_by_root_when_root(int fd, const std::string& shown) {
  if (::geteuid() != 0) return {};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat " + shown, errno);
  if (st.st_uid == 0) return {};
  return permission_denied(fmt::format(
      "{} belongs to uid {}, not root: as root, hoistd checks and restores only a backup whose directories root "
      "owns, so that nobody else can change it underneath (chown -R root:root the backup first)",
      shown, st.st_uid));
}

Status compare_tree(int dirfd, const std::string& rel, const std::map<std::string, const Entry*>& expected,
                    std::map<std::string, bool>& seen, const std::string& shown_root, int depth) {
  if (depth > kMaxDepth) return invalid_argument(shown_root + "/" + rel + ": nested too deep");
  auto names = list_names(dirfd, join(shown_root, rel));
  if (!names) return names.error();
  for (const auto& name : *names) {
    const std::string path = join(rel, name);
    const std::string shown = fmt::format("{}/{}", shown_root, path);
    const auto it = expected.find(path);
    if (it == expected.end()) return invalid_argument(shown + " is not in the manifest");
    const Entry& e = *it->second;
    seen[path] = true;
    struct stat lst {};
    if (::fstatat(dirfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) != 0) return io_error("cannot stat " + shown, errno);
    if (e.directory) {
      if (!S_ISDIR(lst.st_mode)) return invalid_argument(shown + " should be a directory");
      auto sub = open_dir_at(dirfd, name, shown);
      if (sub) {
        if (auto owned = owned_by_root_when_root(sub->get(), shown); !owned) return owned;
      }
      if (!sub) return sub.error();
      if (auto st = compare_tree(sub->get(), path, expected, seen, shown_root, depth + 1); !st) return st;
      continue;
    }
    if (!S_ISREG(lst.st_mode)) return invalid_argument(shown + " should be a regular file");
    UniqueFd in(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!in.valid()) return io_error("cannot open " + shown, errno);
    struct stat st {};
    if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) return invalid_argument(shown + " is not a regular file");
    if ((st.st_mode & 0777) != e.mode) {
      return invalid_argument(
          fmt::format("{} has mode {:04o}, the manifest says {:04o}", shown, st.st_mode & 0777, e.mode));
    }
    Sha256Stream hash;
    std::vector<char> buf(kChunk);
    std::uint64_t size = 0;
    for (;;) {
      const ssize_t n = ::read(in.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error("cannot read " + shown, errno);
      if (n == 0) break;
      hash.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      size += static_cast<std::uint64_t>(n);
    }
    if (size != e.size)
      return invalid_argument(fmt::format("{} has {} bytes, the manifest says {}", shown, size, e.size));
    if (hash.finish().hex() != e.sha256) return invalid_argument(shown + " does not match its SHA-256 in the manifest");
  }
  return {};
}

Result<Manifest> read_manifest(int dirfd, const std::string& dir) {
  auto text = tls::read_checked_file(dirfd, std::string(kManifestName), dir + "/" + std::string(kManifestName),
                                     tls::FileKind::kPublic, tls::Symlinks::kRefuse);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) {
      return invalid_argument(fmt::format(
          "{} has no {}: it is no backup, or one that did not finish (hoistd backup writes the manifest last)", dir,
          kManifestName));
    }
    return text.error();
  }
  auto m = parse_manifest(*text);
  if (!m) return invalid_argument(fmt::format("{}/{}: {}", dir, kManifestName, m.error().message));
  return m;
}

}  // namespace

Result<Manifest> check_backup(const std::string& dir, int known_schema_version) {
  CheckOptions options;
  options.known_sqlite_schema_version = known_schema_version;
  return check_backup(dir, options);
}

Result<Manifest> check_backup(const std::string& dir, const CheckOptions& options) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return not_found(dir + ": no such directory");
    return io_error("cannot open the backup " + dir, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat " + dir, errno);
  if ((st.st_mode & 077) != 0) {
    return invalid_argument(fmt::format(
        "{} can be entered by group or others (mode {:04o}): a backup holds every secret of hoistd; chmod 700 {} and "
        "consider its keys exposed",
        dir, st.st_mode & 07777, dir));
  }
  if (auto owned = owned_by_root_when_root(fd.get(), dir); !owned) return owned.error();
  auto m = read_manifest(fd.get(), dir);
  if (!m) return m.error();
  const bool postgres = m->backend == kBackendPostgres;
  if (postgres && !options.inspect_dump) {
    return invalid_argument(
        "a backup of a PostgreSQL database (its manifest says backend postgres), read here as SQLite's: this hoistd "
        "cannot check its dump");
  }
  const int known_schema_version =
      postgres ? options.known_postgres_schema_version : options.known_sqlite_schema_version;
  if (m->database.schema_version > known_schema_version) {
    return invalid_argument(fmt::format(
        "the backup's database is at schema version {} but this hoistd knows only up to {}: restore it with hoistd {} "
        "or newer",
        m->database.schema_version, known_schema_version, m->hoistd_version));
  }
  const std::string data_shown = dir + "/" + std::string(kDataName);
  auto data = open_dir_at(fd.get(), std::string(kDataName), data_shown);
  if (!data) return data.error();
  if (auto owned = owned_by_root_when_root(data->get(), data_shown); !owned) return owned.error();
  std::map<std::string, const Entry*> expected;
  for (const auto& e : m->entries) expected[e.path] = &e;
  std::map<std::string, bool> seen;
  if (auto cmp = compare_tree(data->get(), "", expected, seen, data_shown, 0); !cmp) return cmp.error();
  for (const auto& e : m->entries) {
    if (seen.count(e.path) == 0) return invalid_argument(fmt::format("{}/{} is missing", data_shown, e.path));
  }
  const std::string db_path = fd_path(data->get(), m->database.path);
  auto facts = postgres ? options.inspect_dump(db_path) : inspect_database(db_path);
  if (!facts) return facts.error();
  facts->path = m->database.path;
  if (*facts != m->database) {
    return invalid_argument(fmt::format(
        "the backup's database does not hold what the manifest says: schema {} with {} audit events to seq {} "
        "(manifest: schema {}, {} events to seq {})",
        facts->schema_version, facts->audit_events, facts->audit_head_seq, m->database.schema_version,
        m->database.audit_events, m->database.audit_head_seq));
  }
  return m;
}

namespace {

// Agents poll the push queue with the last seq they processed, and a poll
// acknowledges (deletes) everything up to it. The old hoistd may have
// pushed past the backup before it was lost, so a restored queue's
// counter is moved ahead by 2^32: otherwise its next messages would take
// seqs agents already passed, and be dropped unseen (a revocation among
// them). A jump leaves a gap, which agents already meet when messages are
// dropped.
constexpr std::int64_t kPushSeqJump = std::int64_t{1} << 32;

Status move_push_sequence_ahead(const std::string& path) {
  auto db = open_sqlite(path, SQLITE_OPEN_READWRITE, "cannot open the restored database");
  if (!db) return db.error();
  const std::string sql = fmt::format(
      "BEGIN IMMEDIATE; "
      "UPDATE sqlite_sequence SET seq = seq + {0} WHERE name = 'push_messages'; "
      "INSERT INTO sqlite_sequence (name, seq) SELECT 'push_messages', {0} "
      "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'push_messages'); "
      "COMMIT;",
      kPushSeqJump);
  if (sqlite3_exec(db->get(), sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sqlite_error(db->get(), "the restored database: move the push queue's sequence ahead");
  }
  return {};
}

}  // namespace

Result<Manifest> restore_backup(const std::string& dir, const RestoreTarget& target, int known_schema_version) {
  CheckOptions options;
  options.known_sqlite_schema_version = known_schema_version;
  return restore_backup(dir, target, options);
}

Result<Manifest> restore_backup(const std::string& dir, const RestoreTarget& target, const CheckOptions& options) {
  auto m = check_backup(dir, options);
  if (!m) return m.error();
  const bool postgres = m->backend == kBackendPostgres;
  if (postgres != static_cast<bool>(options.restore_dump)) {
    return conflict(
        postgres ? std::string("the backup holds a PostgreSQL database but the configuration's backend is SQLite: "
                               "restore it with the configuration that names the PostgreSQL database")
                 : std::string("the backup holds a SQLite database but the configuration's backend is PostgreSQL: "
                               "restore it with a SQLite configuration, then move it with hoistd migrate"));
  }
  namespace fs = std::filesystem;
  std::string target_text = target.data_dir;
  while (target_text.size() > 1 && target_text.back() == '/') target_text.pop_back();
  const fs::path target_path = fs::path(target_text).lexically_normal();
  const std::string name = target_path.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return invalid_argument(fmt::format("{}: name the data directory itself", target.data_dir));
  }
  const fs::path parent = target_path.has_parent_path() ? target_path.parent_path() : fs::path(".");
  struct stat existing {};
  if (::lstat(target.data_dir.c_str(), &existing) == 0) {
    if (!S_ISDIR(existing.st_mode)) return conflict(target.data_dir + " exists and is not a directory");
    UniqueFd t(::open(target.data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!t.valid()) return io_error("cannot open " + target.data_dir, errno);
    auto names = list_names(t.get(), target.data_dir);
    if (!names) return names.error();
    if (!names->empty()) {
      return conflict(fmt::format(
          "{} is not empty: a restore never overwrites a data directory; move it aside (stop hoistd first) and restore "
          "into a new one",
          target.data_dir));
    }
  } else if (errno != ENOENT) {
    return io_error("cannot stat " + target.data_dir, errno);
  }
  UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd.valid()) return io_error("cannot open " + parent.string(), errno);
  auto suffix = random_suffix();
  if (!suffix) return suffix.error();
  const std::string temp = "." + name + ".restore-" + *suffix;
  if (::mkdirat(parent_fd.get(), temp.c_str(), kPrivateDirMode) != 0) {
    return io_error("cannot create " + (parent / temp).string(), errno);
  }
  auto out = open_dir_at(parent_fd.get(), temp, (parent / temp).string());
  if (!out) return out.error();
  const auto fail = [&](const Error& e) -> Error {
    remove_contents(out->get());
    ::unlinkat(parent_fd.get(), temp.c_str(), AT_REMOVEDIR);
    return e;
  };

  UniqueFd backup_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!backup_fd.valid()) return fail(io_error("cannot open " + dir, errno));
  const std::string data_shown = dir + "/" + std::string(kDataName);
  auto data = open_dir_at(backup_fd.get(), std::string(kDataName), data_shown);
  if (!data) return fail(data.error());
  const auto owner_of = [&](const Entry& e) {
    return target.owner ? *target.owner : std::pair<uid_t, gid_t>{e.uid, e.gid};
  };
  std::vector<const Entry*> directories;
  for (const auto& e : m->entries) {
    const std::string shown = data_shown + "/" + e.path;
    if (postgres && e.path == m->database.path) continue;  // into PostgreSQL, below
    if (e.directory) {
      if (::mkdirat(out->get(), e.path.c_str(), kPrivateDirMode) != 0) {
        return fail(io_error("cannot create the restored " + e.path, errno));
      }
      directories.push_back(&e);
      continue;
    }
    // The parent was made above, from this manifest, so it is no symlink.
    const auto slash = e.path.rfind('/');
    const std::string parent_rel = slash == std::string::npos ? "" : e.path.substr(0, slash);
    const std::string leaf = slash == std::string::npos ? e.path : e.path.substr(slash + 1);
    UniqueFd from_dir;
    UniqueFd to_dir;
    if (parent_rel.empty()) {
      from_dir = UniqueFd(::fcntl(data->get(), F_DUPFD_CLOEXEC, 0));
      to_dir = UniqueFd(::fcntl(out->get(), F_DUPFD_CLOEXEC, 0));
    } else {
      from_dir = UniqueFd(::openat(data->get(), parent_rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      to_dir = UniqueFd(::openat(out->get(), parent_rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!from_dir.valid() || !to_dir.valid()) return fail(io_error("cannot open the directory of " + shown, errno));
    UniqueFd in(::openat(from_dir.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat st {};
    if (!in.valid() || ::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return fail(invalid_argument(shown + " changed since it was checked"));
    }
    const auto [uid, gid] = owner_of(e);
    auto copied = copy_file(in.get(), to_dir.get(), leaf, shown, e.mode, uid, gid);
    if (!copied) return fail(copied.error());
    if (copied->sha256 != e.sha256 || copied->size != e.size) {
      return fail(invalid_argument(shown + " changed since it was checked"));
    }
    if (::fsync(to_dir.get()) != 0) return fail(io_error("cannot write the restored files to disk", errno));
  }
  if (postgres) {
    if (auto st = options.restore_dump(*m, fd_path(data->get(), m->database.path)); !st) return fail(st.error());
  } else {
    const std::string db_path = fd_path(out->get(), m->database.path);
    if (auto st = move_push_sequence_ahead(db_path); !st) return fail(st.error());
    // Closing the last connection removed the -wal and -shm it made.
    for (const char* leftover : {"-journal", "-wal", "-shm"}) {
      ::unlinkat(out->get(), (m->database.path + leftover).c_str(), 0);
    }
  }
  // Modes and owners of directories last, deepest first, so a directory
  // without write permission for its owner is filled before it is closed.
  for (auto it = directories.rbegin(); it != directories.rend(); ++it) {
    const Entry& e = **it;
    UniqueFd d(::openat(out->get(), e.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.valid()) return fail(io_error("cannot open the restored " + e.path, errno));
    const auto [uid, gid] = owner_of(e);
    if (auto st = set_owner(d.get(), uid, gid, "the restored " + e.path); !st) return fail(st.error());
    if (::fchmod(d.get(), e.mode) != 0) return fail(io_error("cannot chmod the restored " + e.path, errno));
  }
  // The data directory itself: private to the database's owner (on
  // PostgreSQL, the owner of the files, which is hoistd's user).
  const auto db_entry = std::find_if(m->entries.begin(), m->entries.end(), [&](const Entry& e) {
    return postgres ? !e.directory && e.path != m->database.path : e.path == m->database.path;
  });
  if (db_entry == m->entries.end()) return fail(invalid_argument("the backup holds no file but the database"));
  const auto [uid, gid] = owner_of(*db_entry);
  if (auto st = set_owner(out->get(), uid, gid, "the restored data directory"); !st) return fail(st.error());
  if (::fsync(out->get()) != 0) return fail(io_error("cannot write the restored files to disk", errno));
  // rename(2) replaces an empty directory atomically.
  if (::renameat(parent_fd.get(), temp.c_str(), parent_fd.get(), name.c_str()) != 0) {
    const int err = errno;
    return fail(io_error(fmt::format("cannot move the restored directory into place at {} (a mount point cannot be "
                                     "replaced: restore into a directory below it and set data_dir there)",
                                     target.data_dir),
                         err));
  }
  if (::fsync(parent_fd.get()) != 0) return io_error("cannot write " + parent.string() + " to disk", errno);
  return m;
}

}  // namespace hoist::backup

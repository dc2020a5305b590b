// The pure half of hoistd backup, check-backup and restore on PostgreSQL
// (docs/backup.md, "PostgreSQL"): which pg_dump and pg_restore to run,
// their argument vectors and environments, the private password file's
// line, and what a dump holds (its audit trail and schema version, read
// from pg_restore's COPY text). No I/O; pg_backup.h runs the children.
//
// MUST: no password in any argument vector or environment built here: the
// password reaches a child only through the PGPASSFILE it names (a 0600
// file in a 0700 directory of the caller's), and argv is world-readable
// in /proc/PID/cmdline.
// MUST: a child's environment is built whole here (never inherited): only
// what libpq and the tool need, so nothing of the caller's environment
// (PGPASSWORD, PGOPTIONS, LD_PRELOAD) reaches it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit.h"
#include "core/result.h"
#include "server/backup/manifest.h"

namespace hoist::backup::pg_tools {

// The dump's name in a backup's data/ (it is restored into PostgreSQL,
// never copied into the data directory).
inline constexpr std::string_view kDumpName = "hoist.dump";
// Where Debian's postgresql-client-N puts its tools: <root>/N/bin.
inline constexpr std::string_view kDebianRoot = "/usr/lib/postgresql";

// The major version in `pg_dump --version`'s output ("pg_dump (PostgreSQL)
// 15.14 (Debian 15.14-0+deb12u1)" is 15). InvalidArgument otherwise.
Result<int> parse_tool_major(std::string_view version_output);

// The tools' major versions installed (the N of <root>/N/bin that holds
// `tool`), and the server's: the same major when installed, else the
// newest newer one (pg_dump reads older servers, never newer ones).
// FailedPrecondition (as Unavailable) naming both versions when every
// installed one is older, or none is installed.
struct Installed {
  int major = 0;
  std::string bin_dir;
};
Result<std::string> choose_bin_dir(const std::vector<Installed>& installed, int server_major, std::string_view tool);

// A PGPASSFILE line matching every host, port, database and user:
// "*:*:*:*:" and the password with '\' and ':' escaped. InvalidArgument
// for a password with a newline or NUL (it cannot be written in one line).
Result<std::string> pgpass_line(std::string_view password);

// The whole environment of a child: LC_ALL=C and TZ=UTC (stable output),
// PGPASSFILE when a password is given, HOME (libpq's ~/.postgresql for
// sslmode=verify-full's root certificate) and PGCONNECT_TIMEOUT.
struct ChildEnv {
  std::optional<std::string> pgpassfile;
  std::optional<std::string> home;
  int connect_timeout_s = 10;
};
std::vector<std::string> child_environment(const ChildEnv& env);

// pg_dump of the database `conninfo` names (a conninfo without a password:
// check_conninfo refuses one), as it was in the exported `snapshot`, in
// the custom format on standard output.
std::vector<std::string> dump_argv(const std::string& bin_dir, const std::string& conninfo,
                                   const std::string& snapshot);
std::vector<std::string> version_argv(const std::string& bin_dir, std::string_view tool);
// pg_restore reads the dump on its standard input (a file hoistd opened
// and checked; no path it would open again by name).
// pg_restore --list of a dump: reads its table of contents.
std::vector<std::string> list_argv(const std::string& bin_dir);
// pg_restore of the audit trail's and the migrations' rows as COPY text
// on standard output (no database).
std::vector<std::string> data_argv(const std::string& bin_dir);
// pg_restore into `conninfo`'s database: all or nothing, stopping at the
// first error, the objects owned by whoever restores.
std::vector<std::string> restore_argv(const std::string& bin_dir, const std::string& conninfo);

// What data_argv's output holds: the schema version (the highest row of
// schema_migrations) and every audit event in seq order.
struct DumpContents {
  int schema_version = 0;
  std::vector<AuditEvent> events;
};
// InvalidArgument, saying what is wrong, when the text has no COPY block
// for either table, a row does not parse, or a column is missing.
Result<DumpContents> parse_dump_data(std::string_view text);

// The facts a manifest records for a dump's contents: the chain must
// verify from its first event. InvalidArgument otherwise.
Result<DatabaseFacts> facts_of(const DumpContents& contents);

// Whether pg_restore --list names the tables a restore needs: audit_events,
// schema_migrations and push_messages among its TABLE and TABLE DATA
// entries, and nothing but what pg_dump makes of hoistd's schema (tables,
// their data, sequences, defaults, constraints, indexes, comments, grants,
// the public schema). InvalidArgument naming the first table missing, or
// the first other entry (a FUNCTION, TRIGGER, RULE, VIEW, POLICY,
// EXTENSION...: code that would run as hoistd's role once restored).
// The kinds are the archive's own labels, which whoever crafts one
// chooses: pg_backup.h checks the restored catalog as well.
//
// `own`: the functions hoistd's migrations make (own_functions below),
// whose FUNCTION entries are allowed by name (their bodies are checked in
// the restored catalog: pg_backup.h).
struct OwnFunction {
  std::string name;
  // As PostgreSQL's regprocedure prints it: "name(bigint,text)".
  std::string signature;
  std::string language;  // "sql", "plpgsql"
  std::string body;      // between the $$, as pg_proc.prosrc holds it
};
Status check_listing(std::string_view listing, const std::vector<OwnFunction>& own = {});

// The functions the migrations' SQL creates ("CREATE FUNCTION name(arg
// TYPE, ...) RETURNS ... LANGUAGE l ... AS $$body$$"). InvalidArgument
// for a CREATE FUNCTION this does not read (a parenthesised or two-word
// type, no LANGUAGE before the body): a migration written so must extend
// this, or every restore would refuse hoistd's own function.
Result<std::vector<OwnFunction>> own_functions(const std::vector<std::string_view>& migrations);

// Whether a function found in a restored database is one of `own`, with
// its body, language and no SECURITY DEFINER or SET of its own.
struct FoundFunction {
  std::string signature;
  std::string language;
  std::string body;
  bool security_definer = false;
  bool has_config = false;
};
bool is_own_function(const FoundFunction& found, const std::vector<OwnFunction>& own);

}  // namespace hoist::backup::pg_tools

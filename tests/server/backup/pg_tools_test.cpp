// The pure half of hoistd backup on PostgreSQL (server/backup/pg_tools.h):
// which pg_dump runs, the children's arguments and environments (never a
// password), the PGPASSFILE line, and the audit trail read back out of a
// dump's COPY text.
#include "server/backup/pg_tools.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/audit.h"
#include "store/pg_store.h"

namespace hoist::backup::pg_tools {
namespace {

TEST(PgTools, ReadsTheMajorVersionOfATool) {
  EXPECT_EQ(parse_tool_major("pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n").value(), 15);
  EXPECT_EQ(parse_tool_major("pg_restore (PostgreSQL) 17.2\n").value(), 17);
  EXPECT_FALSE(parse_tool_major("pg_dump 15.1"));
  EXPECT_FALSE(parse_tool_major("pg_dump (PostgreSQL) beta"));
  EXPECT_FALSE(parse_tool_major(""));
}

TEST(PgTools, ChoosesTheServersMajorVersionOrANewerOneAndSaysWhenAllAreOlder) {
  const std::vector<Installed> installed = {{13, "/p/13/bin"}, {15, "/p/15/bin"}, {17, "/p/17/bin"}};
  EXPECT_EQ(choose_bin_dir(installed, 15, "pg_dump").value(), "/p/15/bin");
  EXPECT_EQ(choose_bin_dir(installed, 14, "pg_dump").value(), "/p/15/bin");  // the nearest newer
  EXPECT_EQ(choose_bin_dir(installed, 12, "pg_dump").value(), "/p/13/bin");
  const auto older = choose_bin_dir(installed, 18, "pg_dump");
  ASSERT_FALSE(older);
  EXPECT_NE(older.error().message.find("pg_dump 17 is older than the PostgreSQL server (18)"), std::string::npos)
      << older.error().message;
  EXPECT_NE(older.error().message.find("postgresql-client-18"), std::string::npos);
  const auto none = choose_bin_dir({}, 15, "pg_restore");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no pg_restore is installed"), std::string::npos) << none.error().message;
}

TEST(PgTools, APasswordFileLineEscapesColonsAndBackslashesAndRefusesLineBreaks) {
  EXPECT_EQ(pgpass_line("plain").value(), "*:*:*:*:plain\n");
  EXPECT_EQ(pgpass_line("a:b\\c").value(), "*:*:*:*:a\\:b\\\\c\n");
  EXPECT_FALSE(pgpass_line("two\nlines"));
  EXPECT_FALSE(pgpass_line("cr\r"));
  EXPECT_FALSE(pgpass_line(std::string_view("nul\0x", 5)));
}

TEST(PgTools, AChildsEnvironmentIsBuiltWholeAndNeverHoldsThePassword) {
  ChildEnv env;
  env.pgpassfile = "/tmp/hoistd-pgpass-x/pgpass";
  env.home = "/var/lib/hoistd";
  env.connect_timeout_s = 7;
  EXPECT_EQ(child_environment(env),
            (std::vector<std::string>{"LC_ALL=C", "TZ=UTC", "PGCONNECT_TIMEOUT=7", "HOME=/var/lib/hoistd",
                                      "PGPASSFILE=/tmp/hoistd-pgpass-x/pgpass"}));
  // Without a password libpq must not fall back on the caller's ~/.pgpass.
  const auto bare = child_environment({});
  EXPECT_NE(std::find(bare.begin(), bare.end(), "PGPASSFILE=/dev/null"), bare.end());
  for (const auto& e : bare) {
    EXPECT_NE(e.rfind("PGPASSWORD", 0), 0U);
    EXPECT_NE(e.rfind("HOME=", 0), 0U);
  }
}

TEST(PgTools, ArgumentVectorsNameTheToolByAbsolutePathAndTheDatabaseWithoutASecret) {
  const std::string conninfo = "host=db1 port=5432 user=hoistd dbname=hoist sslmode=verify-full";
  const auto dump = dump_argv("/usr/lib/postgresql/15/bin", conninfo, "00000003-0000001B-1");
  EXPECT_EQ(dump, (std::vector<std::string>{"/usr/lib/postgresql/15/bin/pg_dump", "--format=custom", "--no-password",
                                            "--snapshot=00000003-0000001B-1", "--dbname=" + conninfo}));
  EXPECT_EQ(restore_argv("/b", conninfo),
            (std::vector<std::string>{"/b/pg_restore", "--exit-on-error", "--single-transaction", "--no-owner",
                                      "--no-password", "--dbname=" + conninfo}));
  EXPECT_EQ(list_argv("/b"), (std::vector<std::string>{"/b/pg_restore", "--list"}));
  EXPECT_EQ(data_argv("/b").front(), "/b/pg_restore");
  EXPECT_EQ(version_argv("/b", "pg_dump"), (std::vector<std::string>{"/b/pg_dump", "--version"}));
}

// Three chained events as COPY text, the way pg_restore prints them.
std::string copy_text(std::vector<AuditEvent>& events) {
  std::optional<AuditEvent> prev;
  for (int i = 1; i <= 3; ++i) {
    AuditEvent e;
    e.time = AuditTime{std::chrono::milliseconds{1700000000000 + i}};
    e.actor = "admin";
    e.action = i == 2 ? "policy.updated" : "user.login";
    e.target = i == 2 ? "tab\there\\and\nline" : "";
    e.host = "";
    e.details = R"({"n":1})";
    e = chain_after(prev, std::move(e));
    prev = e;
    events.push_back(e);
  }
  const auto escape = [](const std::string& s) {
    std::string out;
    for (const char c : s) {
      if (c == '\t') {
        out += "\\t";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\\') {
        out += "\\\\";
      } else {
        out += c;
      }
    }
    return out;
  };
  std::string text =
      "--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n\n"
      "COPY public.audit_events (seq, time_ms, actor, action, target, host, details, prev_hash, hash) FROM stdin;\n";
  // Out of order, as a table's pages may hold them.
  for (const int i : {2, 0, 1}) {
    const auto& e = events[static_cast<std::size_t>(i)];
    text += std::to_string(e.seq) + "\t" + std::to_string(e.time.time_since_epoch().count()) + "\t" + e.actor + "\t" +
            e.action + "\t" + escape(e.target) + "\t" + (e.host.empty() ? std::string("\\N") : e.host) + "\t" +
            e.details + "\t" + e.prev_hash.hex() + "\t" + e.hash.hex() + "\n";
  }
  text += "\\.\n\n\nCOPY public.schema_migrations (version, applied_ms) FROM stdin;\n1\t1700\n2\t1800\n\\.\n\n";
  return text;
}

TEST(PgTools, ReadsTheAuditTrailOutOfADumpAndVerifiesIt) {
  std::vector<AuditEvent> events;
  const std::string text = copy_text(events);
  auto contents = parse_dump_data(text);
  ASSERT_TRUE(contents) << contents.error().message;
  EXPECT_EQ(contents->schema_version, 2);
  ASSERT_EQ(contents->events.size(), 3U);
  EXPECT_EQ(contents->events[1].target, "tab\there\\and\nline");
  auto facts = facts_of(*contents);
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->path, "hoist.dump");
  EXPECT_EQ(facts->audit_events, 3U);
  EXPECT_EQ(facts->audit_head_seq, 3U);
  EXPECT_EQ(facts->audit_head_hash, events.back().hash.hex());

  // An event edited in the dump: the chain breaks there.
  std::string edited = text;
  edited.replace(edited.find("policy.updated"), 14, "policy.deleted");
  auto forged = parse_dump_data(edited);
  ASSERT_TRUE(forged);
  const auto refused = facts_of(*forged);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("does not verify at event 2"), std::string::npos) << refused.error().message;

  // An event removed from the middle.
  std::string removed = text;
  const auto at = removed.find("\n1\t") + 1;
  removed.erase(at, removed.find('\n', at) + 1 - at);
  auto gap = parse_dump_data(removed);
  ASSERT_TRUE(gap);
  EXPECT_FALSE(facts_of(*gap));
}

TEST(PgTools, RefusesDumpDataThatIsIncomplete) {
  std::vector<AuditEvent> events;
  const std::string text = copy_text(events);
  EXPECT_FALSE(parse_dump_data(text.substr(0, text.find("COPY public.schema_migrations"))));  // no migrations
  EXPECT_FALSE(parse_dump_data(text.substr(text.find("COPY public.schema_migrations"))));     // no trail
  EXPECT_FALSE(parse_dump_data(text.substr(0, text.find("\\.\n"))));                          // unterminated
  std::string short_row = text;
  short_row.replace(short_row.find("\t1700\n"), 6, "\n");
  EXPECT_FALSE(parse_dump_data(short_row));
  EXPECT_FALSE(parse_dump_data("COPY public.audit_events seq FROM stdin;\n\\.\n"));
}

TEST(PgTools, AListingMustNameTheTablesARestoreNeeds) {
  const std::string listing =
      ";\n; Archive created at 2026-12-07 22:00:00 UTC\n;\n"
      "215; 1259 16390 TABLE public audit_events hoistpw\n"
      "216; 1259 16391 TABLE public schema_migrations hoistpw\n"
      "217; 1259 16392 TABLE public push_messages hoistpw\n"
      "3401; 0 16390 TABLE DATA public audit_events hoistpw\n"
      "3402; 0 16391 TABLE DATA public schema_migrations hoistpw\n"
      "3403; 0 16392 TABLE DATA public push_messages hoistpw\n";
  EXPECT_TRUE(check_listing(listing));
  std::string no_data = listing;
  no_data.erase(no_data.find("3401;"), no_data.find("3402;") - no_data.find("3401;"));
  EXPECT_FALSE(check_listing(no_data));
  EXPECT_FALSE(check_listing(";\n; comments only\n"));
}

// What pg_dump makes of hoistd's schema passes (taken from a real dump's
// listing, an operator's comment, grant and public schema owner added);
// code, or a line that does not parse, is refused by name.
TEST(PgTools, AListingHoldsNothingButHoistdsSchema) {
  const std::string listing =
      ";\n; Selected TOC Entries:\n;\n"
      "5; 2615 2200 SCHEMA - public hoistpw\n"
      "215; 1259 16390 TABLE public audit_events hoistpw\n"
      "216; 1259 16391 TABLE public schema_migrations hoistpw\n"
      "217; 1259 16392 TABLE public push_messages hoistpw\n"
      "227; 1259 16535 SEQUENCE public push_messages_seq_seq hoistpw\n"
      "3401; 0 16390 TABLE DATA public audit_events hoistpw\n"
      "3402; 0 16391 TABLE DATA public schema_migrations hoistpw\n"
      "3403; 0 16392 TABLE DATA public push_messages hoistpw\n"
      "3589; 0 0 SEQUENCE SET public push_messages_seq_seq hoistpw\n"
      "3300; 2606 16394 CONSTRAINT public audit_events audit_events_pkey hoistpw\n"
      "3310; 1259 16395 INDEX public audit_events_time hoistpw\n"
      "3400; 2606 16550 FK CONSTRAINT public api_tokens api_tokens_user_name_fkey hoistpw\n"
      "3587; 0 0 ACL public TABLE audit_events hoistpw\n"
      "3588; 0 0 COMMENT public TABLE users hoistpw\n";
  EXPECT_TRUE(check_listing(listing));
  for (const std::string bad : {
           "244; 1255 16694 FUNCTION public promote() hoistpw",
           "3410; 2620 16695 TRIGGER public users promote hoistpw",
           "3411; 2618 16696 RULE public users keep hoistpw",
           "3412; 3256 16697 POLICY public users p hoistpw",
           "230; 1259 16698 VIEW public v hoistpw",
           "2; 3079 16699 EXTENSION - dblink ",
           "6; 2615 16700 SCHEMA - evil hoistpw",
           "3413; 0 0 EVENT TRIGGER - e hoist",
           "3414; 2613 16701 LARGE OBJECT - 16701 hoistpw",
           "3415; 1255 16702 PROCEDURE public p() hoistpw",
           "3416; 2617 16703 OPERATOR public = (text, text) hoistpw",
           "TABLE public users hoistpw",
           "3417; 1259 16704 TABLEX public users hoistpw",
       }) {
    const auto st = check_listing(listing + bad + "\n");
    ASSERT_FALSE(st) << bad;
    EXPECT_NE(st.error().message.find(bad), std::string::npos) << st.error().message;
  }
  // hoistd's own functions by name, and no other (nor a prefix of one).
  const std::vector<OwnFunction> own = {{"hoist_begin_login", "hoist_begin_login(text)", "plpgsql", " x "}};
  const std::string ours = "250; 1255 16710 FUNCTION public hoist_begin_login(user_key text) hoistpw\n";
  EXPECT_FALSE(check_listing(listing + ours));
  EXPECT_TRUE(check_listing(listing + ours, own));
  EXPECT_FALSE(check_listing(listing + "251; 1255 16711 FUNCTION public hoist_begin_login2(text) hoistpw\n", own));
  EXPECT_FALSE(check_listing(listing + "252; 1255 16712 FUNCTION evil hoist_begin_login(text) hoistpw\n", own));
}

TEST(PgTools, HoistdsOwnFunctionsAreReadOutOfTheMigrations) {
  const std::string_view sql = R"sql(
CREATE TABLE t (x BIGINT);
CREATE FUNCTION f_one(a BIGINT, b TEXT)
RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
  SELECT a
$$;
CREATE FUNCTION f_two() RETURNS BIGINT LANGUAGE plpgsql AS $$BEGIN RETURN 1; END$$;
)sql";
  auto own = own_functions({sql});
  ASSERT_TRUE(own) << own.error().message;
  ASSERT_EQ(own->size(), 2U);
  EXPECT_EQ((*own)[0].name, "f_one");
  EXPECT_EQ((*own)[0].signature, "f_one(bigint,text)");
  EXPECT_EQ((*own)[0].language, "sql");
  EXPECT_EQ((*own)[0].body, "\n  SELECT a\n");
  EXPECT_EQ((*own)[1].signature, "f_two()");
  EXPECT_EQ((*own)[1].language, "plpgsql");

  // Found in a database: the same signature, language and body, no
  // SECURITY DEFINER and no SET of its own; anything else is not ours.
  const FoundFunction same{"f_one(bigint,text)", "sql", "\n  SELECT a\n"};
  EXPECT_TRUE(is_own_function(same, *own));
  std::vector<FoundFunction> others(5, same);
  others[0].body = "\n  SELECT 0\n";
  others[1].language = "plpgsql";
  others[2].signature = "f_one(text,text)";
  others[3].security_definer = true;
  others[4].has_config = true;
  for (std::size_t i = 0; i < others.size(); ++i) EXPECT_FALSE(is_own_function(others[i], *own)) << i;

  // What backups cannot read is refused, never skipped.
  EXPECT_FALSE(own_functions({"CREATE FUNCTION g(a NUMERIC(10, 2)) RETURNS INT LANGUAGE sql AS $$ SELECT 1 $$"}));
  EXPECT_FALSE(own_functions({"CREATE FUNCTION g(a DOUBLE PRECISION) RETURNS INT LANGUAGE sql AS $$ SELECT 1 $$"}));
  EXPECT_FALSE(own_functions({"CREATE FUNCTION g() RETURNS INT AS $$ SELECT 1 $$ LANGUAGE sql"}));

  // hoistd's real migrations: each CREATE FUNCTION read.
  std::size_t creates = 0;
  for (const auto m : store::postgres_migrations()) {
    for (auto at = m.find("CREATE FUNCTION"); at != std::string_view::npos; at = m.find("CREATE FUNCTION", at + 1)) {
      ++creates;
    }
  }
  auto real = own_functions(store::postgres_migrations());
  ASSERT_TRUE(real) << real.error().message;
  EXPECT_EQ(real->size(), creates);
  EXPECT_GE(creates, 2U);
}

}  // namespace
}  // namespace hoist::backup::pg_tools

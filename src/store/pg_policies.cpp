// Policies in PostgreSQL (policies.h), as sqlite_policies.cpp stores them:
// every version kept, endpoint groups (labels) in a child table.
//
// A policy is read with its labels in one query (a LEFT JOIN, one row per
// label, in order). Lists are ordered byte-wise (COLLATE "C"), as SQLite
// orders them. Writers run one at a time (the write lock), so what
// add_policy_version reads it may act on.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

constexpr LabelTable kPolicyLabels{"SELECT label FROM policy_labels WHERE name = $1 ORDER BY position",
                                   "INSERT INTO policy_labels (name, position, label) VALUES ($1, $2, $3)"};

// Policies read with their labels: a policy's rows are adjacent (ordered
// by name, then the label's position); column 3 is the label, NULL for a
// policy without.
Result<std::vector<PolicyRecord>> policies_of(Result<Rows> rows) {
  if (!rows.ok()) return rows.error();
  std::vector<PolicyRecord> out;
  for (int i = 0; i < rows->size(); ++i) {
    const Row r = rows->row(i);
    if (out.empty() || out.back().name != r.text_at(0)) {
      PolicyRecord p;
      p.name = r.text_at(0);
      p.current_version = static_cast<int>(r.int_at(1));
      p.deleted_at = r.opt_time_at(2);
      out.push_back(std::move(p));
    }
    if (!r.is_null(3)) out.back().labels.push_back(r.text_at(3));
  }
  return out;
}

PolicyVersion policy_version_of(const Row& r) {
  PolicyVersion v;
  v.name = r.text_at(0);
  v.version = static_cast<int>(r.int_at(1));
  v.text = r.text_at(2);
  v.author = r.text_at(3);
  v.comment = r.text_at(4);
  v.created_at = r.time_at(5);
  return v;
}

// The policy's current version and deletion time, without its labels (for
// writers), or nullopt.
struct PolicyState {
  int current_version = 0;
  std::optional<TimePoint> deleted_at;
};
Result<std::optional<PolicyState>> policy_state(Conn& conn, const std::string& name) {
  return first_row<PolicyState>(
      conn.query("SELECT current_version, deleted_s FROM policies WHERE name = $1", "read policy", name),
      [](const Row& r) {
        return PolicyState{static_cast<int>(r.int_at(0)), r.opt_time_at(1)};
      });
}

}  // namespace

Result<PolicyVersion> PgTx::add_policy_version(const PolicyVersion& v, int expected_current) {
  if (v.name.empty() || v.text.empty() || v.author.empty()) {
    return invalid_argument("a policy version needs a name, a text and an author");
  }
  auto existing = policy_state(conn_, v.name);
  if (!existing.ok()) return existing.error();
  // A deleted policy reads as "no current version" to writers.
  const int current = *existing && !(*existing)->deleted_at ? (*existing)->current_version : 0;
  if (current != expected_current) {
    return conflict(fmt::format("policy {} is at version {}, not {}: reload it, merge your change and try again",
                                v.name, current, expected_current));
  }
  // Re-creating a deleted policy continues its numbering.
  const int next = *existing ? (*existing)->current_version + 1 : 1;
  auto stored = *existing ? conn_.execute("UPDATE policies SET current_version = $2, deleted_s = NULL WHERE name = $1",
                                          "store policy", v.name, next)
                          : conn_.execute("INSERT INTO policies (name, current_version) VALUES ($1, $2)",
                                          "store policy", v.name, next);
  if (!stored.ok()) return stored.error();
  auto inserted = conn_.execute(
      "INSERT INTO policy_versions (name, version, text, author, comment, created_s) VALUES ($1, $2, $3, $4, $5, $6)",
      "store policy version", v.name, next, v.text, v.author, v.comment, v.created_at);
  if (!inserted.ok()) return inserted.error();
  PolicyVersion out = v;
  out.version = next;
  return out;
}

Status PgTx::assign_policy(const std::string& name, const std::vector<std::string>& labels) {
  auto existing = policy_state(conn_, name);
  if (!existing.ok()) return existing.error();
  if (!*existing || (*existing)->deleted_at) return not_found("no policy named " + name);
  auto cleared = conn_.execute("DELETE FROM policy_labels WHERE name = $1", "assign policy", name);
  if (!cleared.ok()) return cleared.error();
  return write_labels(conn_, kPolicyLabels, name, labels);
}

Status PgTx::delete_policy(const std::string& name, TimePoint at) {
  auto marked = conn_.execute("UPDATE policies SET deleted_s = $1 WHERE name = $2 AND deleted_s IS NULL",
                              "delete policy", at, name);
  if (!marked.ok()) return marked.error();
  if (*marked != 1) return not_found("no policy named " + name);
  auto cleared = conn_.execute("DELETE FROM policy_labels WHERE name = $1", "delete policy assignments", name);
  return cleared.ok() ? Status{} : Status{cleared.error()};
}

Result<std::optional<PolicyRecord>> PgStore::policy(const std::string& name) {
  return read<std::optional<PolicyRecord>>([&](Conn& conn) -> Result<std::optional<PolicyRecord>> {
    auto found = policies_of(
        conn.query("SELECT p.name, p.current_version, p.deleted_s, l.label FROM policies p LEFT JOIN policy_labels l "
                   "ON l.name = p.name WHERE p.name = $1 ORDER BY l.position",
                   "read policy", name));
    if (!found.ok()) return found.error();
    if (found->empty()) return std::optional<PolicyRecord>();
    return std::optional<PolicyRecord>(std::move(found->front()));
  });
}

Result<std::vector<PolicyRecord>> PgStore::policies() {
  return read<std::vector<PolicyRecord>>([](Conn& conn) {
    return policies_of(
        conn.query("SELECT p.name, p.current_version, p.deleted_s, l.label FROM policies p LEFT JOIN policy_labels l "
                   "ON l.name = p.name ORDER BY p.name COLLATE \"C\", l.position",
                   "read policies"));
  });
}

Result<std::optional<PolicyVersion>> PgStore::policy_version(const std::string& name, int version) {
  return read<std::optional<PolicyVersion>>([&](Conn& conn) {
    return first_row<PolicyVersion>(
        conn.query("SELECT name, version, text, author, comment, created_s FROM policy_versions WHERE name = $1 AND "
                   "version = $2",
                   "read policy version", name, version),
        policy_version_of);
  });
}

Result<std::vector<PolicyVersion>> PgStore::policy_history(const std::string& name) {
  return read<std::vector<PolicyVersion>>([&](Conn& conn) {
    return all_rows<PolicyVersion>(
        conn.query("SELECT name, version, text, author, comment, created_s FROM policy_versions WHERE name = $1 "
                   "ORDER BY version",
                   "read policy history", name),
        policy_version_of);
  });
}

Result<std::vector<PolicyRecord>> PgStore::policies_for_labels(const std::vector<std::string>& labels) {
  if (labels.empty()) return std::vector<PolicyRecord>{};
  if (labels.size() > kMaxPage) return invalid_argument(fmt::format("at most {} labels", kMaxPage));
  // As many placeholders as the next power of two, so that the SQL texts
  // (and the statements prepared on each connection) are 11, not one per
  // list length; the spare ones are NULL, which `IN` never matches.
  std::size_t slots = 1;
  while (slots < labels.size()) slots *= 2;
  std::string placeholders = "$1";
  for (std::size_t i = 2; i <= slots; ++i) placeholders += fmt::format(", ${}", i);
  const std::string sql = fmt::format(
      "SELECT p.name, p.current_version, p.deleted_s, l.label FROM policies p LEFT JOIN policy_labels l ON l.name = "
      "p.name WHERE p.deleted_s IS NULL AND p.name IN (SELECT name FROM policy_labels WHERE label IN ({})) ORDER BY "
      "p.name COLLATE \"C\", l.position",
      placeholders);
  pg::Params params;
  for (const auto& label : labels) params.add(label);
  for (std::size_t i = labels.size(); i < slots; ++i) params.add_null();
  return read<std::vector<PolicyRecord>>(
      [&](Conn& conn) { return policies_of(conn.query(sql, "read policies for labels", params)); });
}

}  // namespace hoist::store::pg_backend

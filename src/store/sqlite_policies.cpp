// Policies in SQLite (policies.h): every version kept, endpoint groups in
// a child table.
#include "store/sqlite_backend.h"

#include <fmt/format.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::store::sqlite_backend {

namespace {

constexpr LabelTable kPolicyLabels{"SELECT label FROM policy_labels WHERE name = ? ORDER BY position",
                                   "INSERT INTO policy_labels (name, position, label) VALUES (?, ?, ?)"};

constexpr std::string_view kPolicyVersionColumns = "name, version, text, author, comment, created_s";

Result<std::vector<PolicyRecord>> query_policies(Db& db, Stmt& stmt) {
  std::vector<PolicyRecord> out;
  for (;;) {
    auto row = stmt.step("read policies");
    if (!row.ok()) return row.error();
    if (!*row) break;
    PolicyRecord p;
    p.name = stmt.text_at(0);
    p.current_version = static_cast<int>(stmt.int_at(1));
    p.deleted_at = stmt.opt_time_at(2);
    out.push_back(std::move(p));
  }
  for (auto& p : out) {
    auto labels = read_labels(db, kPolicyLabels, p.name);
    if (!labels.ok()) return labels.error();
    p.labels = std::move(*labels);
  }
  return out;
}

Result<std::vector<PolicyVersion>> query_policy_versions(Stmt& stmt) {
  std::vector<PolicyVersion> out;
  for (;;) {
    auto row = stmt.step("read policy versions");
    if (!row.ok()) return row.error();
    if (!*row) break;
    PolicyVersion v;
    v.name = stmt.text_at(0);
    v.version = static_cast<int>(stmt.int_at(1));
    v.text = stmt.text_at(2);
    v.author = stmt.text_at(3);
    v.comment = stmt.text_at(4);
    v.created_at = stmt.time_at(5);
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::optional<PolicyRecord>> policy_row(Db& db, const std::string& name) {
  auto s = db.prepare("SELECT name, current_version, deleted_s FROM policies WHERE name = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  return first_row(query_policies(db, *s));
}

}  // namespace

Result<PolicyVersion> SqliteTx::add_policy_version(const PolicyVersion& v, int expected_current) {
  if (v.name.empty() || v.text.empty() || v.author.empty()) {
    return invalid_argument("a policy version needs a name, a text and an author");
  }
  auto existing = policy_row(store_.db(), v.name);
  if (!existing.ok()) return existing.error();
  // A deleted policy reads as "no current version" to writers.
  const int current = *existing && !(*existing)->deleted_at ? (*existing)->current_version : 0;
  if (current != expected_current) {
    return conflict(fmt::format("policy {} is at version {}, not {}: reload it, merge your change and try again",
                                v.name, current, expected_current));
  }
  const int next = *existing ? (*existing)->current_version + 1 : 1;
  auto s = store_.prepare(*existing ? "UPDATE policies SET current_version = ?2, deleted_s = NULL WHERE name = ?1"
                                    : "INSERT INTO policies (name, current_version) VALUES (?1, ?2)");
  if (!s.ok()) return s.error();
  s->bind_text(1, v.name);
  s->bind_int(2, next);
  if (auto st = s->run("store policy"); !st.ok()) return st.error();
  auto ins =
      store_.prepare(fmt::format("INSERT INTO policy_versions ({}) VALUES (?, ?, ?, ?, ?, ?)", kPolicyVersionColumns));
  if (!ins.ok()) return ins.error();
  ins->bind_text(1, v.name);
  ins->bind_int(2, next);
  ins->bind_text(3, v.text);
  ins->bind_text(4, v.author);
  ins->bind_text(5, v.comment);
  ins->bind_time(6, v.created_at);
  if (auto st = ins->run("store policy version"); !st.ok()) return st.error();
  PolicyVersion out = v;
  out.version = next;
  return out;
}

Status SqliteTx::assign_policy(const std::string& name, const std::vector<std::string>& labels) {
  auto existing = policy_row(store_.db(), name);
  if (!existing.ok()) return existing.error();
  if (!*existing || (*existing)->deleted_at) return not_found("no policy named " + name);
  auto cleared = store_.execute("DELETE FROM policy_labels WHERE name = ?", "assign policy", std::string_view(name));
  if (!cleared.ok()) return cleared.error();
  return write_labels(store_.db(), kPolicyLabels, name, labels);
}

Status SqliteTx::delete_policy(const std::string& name, TimePoint at) {
  auto existing = policy_row(store_.db(), name);
  if (!existing.ok()) return existing.error();
  if (!*existing || (*existing)->deleted_at) return not_found("no policy named " + name);
  auto marked =
      store_.execute("UPDATE policies SET deleted_s = ? WHERE name = ?", "delete policy", at, std::string_view(name));
  if (!marked.ok()) return marked.error();
  auto cleared =
      store_.execute("DELETE FROM policy_labels WHERE name = ?", "delete policy assignments", std::string_view(name));
  return cleared.ok() ? Status{} : Status{cleared.error()};
}

Result<std::optional<PolicyRecord>> SqliteStore::policy(const std::string& name) {
  std::lock_guard lock(mu_);
  return policy_row(db(), name);
}

Result<std::vector<PolicyRecord>> SqliteStore::policies() {
  std::lock_guard lock(mu_);
  auto s = prepare("SELECT name, current_version, deleted_s FROM policies ORDER BY name");
  if (!s.ok()) return s.error();
  return query_policies(db(), *s);
}

Result<std::optional<PolicyVersion>> SqliteStore::policy_version(const std::string& name, int version) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM policy_versions WHERE name = ? AND version = ?", kPolicyVersionColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  s->bind_int(2, version);
  return first_row(query_policy_versions(*s));
}

Result<std::vector<PolicyVersion>> SqliteStore::policy_history(const std::string& name) {
  std::lock_guard lock(mu_);
  auto s =
      prepare(fmt::format("SELECT {} FROM policy_versions WHERE name = ? ORDER BY version", kPolicyVersionColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  return query_policy_versions(*s);
}

Result<std::vector<PolicyRecord>> SqliteStore::policies_for_labels(const std::vector<std::string>& labels) {
  if (labels.empty()) return std::vector<PolicyRecord>{};
  if (labels.size() > kMaxPage) return invalid_argument(fmt::format("at most {} labels", kMaxPage));
  // As many placeholders as the next power of two, so that the SQL texts
  // (and cached statements) are 11, not one per list length; the unbound
  // ones are NULL, which `IN` never matches.
  std::size_t slots = 1;
  while (slots < labels.size()) slots *= 2;
  std::string placeholders = "?";
  for (std::size_t i = 1; i < slots; ++i) placeholders += ", ?";
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format(
      "SELECT name, current_version, deleted_s FROM policies WHERE deleted_s IS NULL AND name IN (SELECT name FROM "
      "policy_labels WHERE label IN ({})) ORDER BY name",
      placeholders));
  if (!s.ok()) return s.error();
  for (std::size_t i = 0; i < labels.size(); ++i) s->bind_text(static_cast<int>(i + 1), labels[i]);
  return query_policies(db(), *s);
}

}  // namespace hoist::store::sqlite_backend

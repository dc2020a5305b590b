// The audit trail through the API: filters, pagination, the CSV report
// (with formula neutralisation) and verification of the hash chain,
// including after someone edits the database behind hoistd's back.
#include <sqlite3.h>

#include <set>

#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

class Audit : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    put_policy("fleet", kFleetPolicy, {"web"});
    agent_ = enrol({"web"});
    auditor_ = as(store::Role::kAuditor);
  }

  std::string submit_pending(const Submission& s) {
    const auto r = submit(agent_, s);
    EXPECT_EQ(r.status, 201) << r;
    return r.str("/request/id");
  }

  std::vector<std::uint64_t> seqs(const json::array& events) {
    std::vector<std::uint64_t> out;
    for (const auto& e : events) {
      out.push_back(e.at("seq").to_number<std::uint64_t>());
    }
    return out;
  }

  Agent agent_;
  Headers auditor_;
};

TEST_F(Audit, FiltersByActionTargetAndTime) {
  const std::string first = submit_pending(Submission{});
  clock_.advance(std::chrono::minutes{10});
  const std::string since = now_text();
  const std::string second = submit_pending(Submission{});
  ASSERT_EQ(call("POST", "/api/v1/requests/" + second + "/approve", "", as(store::Role::kApprover)).status, 200);
  clock_.advance(std::chrono::minutes{10});
  const std::string until = now_text();
  const std::string third = submit_pending(Submission{});

  const auto created = call("GET", "/api/v1/audit?action=request.created", "", auditor_);
  ASSERT_EQ(created.status, 200) << created;
  std::set<std::string> targets;
  for (const auto& e : created.array("/events")) {
    EXPECT_EQ(e.at("action"), "request.created");
    targets.emplace(e.at("target").as_string());
  }
  EXPECT_EQ(targets, (std::set<std::string>{first, second, third}));

  const auto by_target = call("GET", "/api/v1/audit?target=" + second, "", auditor_);
  ASSERT_EQ(by_target.array("/events").size(), 2U) << by_target;
  for (const auto& e : by_target.array("/events")) {
    EXPECT_EQ(e.at("target"), json::string(second));
    EXPECT_EQ(e.at("host"), "web-01");
  }
  EXPECT_EQ(call("GET", "/api/v1/audit?request=" + second, "", auditor_).body, by_target.body);

  // since is inclusive, until exclusive.
  const auto window =
      call("GET", "/api/v1/audit?action=request.created&since=" + since + "&until=" + until, "", auditor_);
  ASSERT_EQ(window.status, 200) << window;
  ASSERT_EQ(window.array("/events").size(), 1U) << window;
  EXPECT_EQ(window.array("/events")[0].at("target"), json::string(second));
  const auto from_since = call("GET", "/api/v1/audit?action=request.created&since=" + since, "", auditor_);
  EXPECT_EQ(from_since.array("/events").size(), 2U) << from_since;
  const auto before_until = call("GET", "/api/v1/audit?action=request.created&until=" + until, "", auditor_);
  EXPECT_EQ(before_until.array("/events").size(), 2U) << before_until;

  const auto by_actor = call("GET", "/api/v1/audit?actor=agent:" + agent_.id, "", auditor_);
  EXPECT_EQ(by_actor.array("/events").size(), 4U) << "enrolment and three submissions: " << by_actor;

  EXPECT_EQ(call("GET", "/api/v1/audit?since=yesterday", "", auditor_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/audit?colour=red", "", auditor_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/audit?limit=0", "", auditor_).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/audit?after=-1", "", auditor_).status, 400);
}

TEST_F(Audit, PagesFollowNextAfter) {
  for (int i = 0; i < 4; ++i) {
    submit_pending(Submission{});
  }
  const auto all = call("GET", "/api/v1/audit", "", auditor_);
  ASSERT_EQ(all.status, 200) << all;
  const auto everything = seqs(all.array("/events"));
  ASSERT_GE(everything.size(), 8U);
  EXPECT_TRUE(all.at("/next_after")->is_null()) << "one page holds it all";
  for (std::size_t i = 0; i < everything.size(); ++i) {
    EXPECT_EQ(everything[i], i + 1) << "seq numbers are 1, 2, 3, ... without gaps";
  }

  std::vector<std::uint64_t> paged;
  std::uint64_t after = 0;
  int pages = 0;
  for (; pages < 100; ++pages) {
    const auto page = call("GET", "/api/v1/audit?limit=3&after=" + std::to_string(after), "", auditor_);
    ASSERT_EQ(page.status, 200) << page;
    const auto got = seqs(page.array("/events"));
    EXPECT_LE(got.size(), 3U);
    paged.insert(paged.end(), got.begin(), got.end());
    if (page.at("/next_after")->is_null()) {
      break;
    }
    after = page.at("/next_after")->to_number<std::uint64_t>();
    EXPECT_EQ(after, got.back());
  }
  EXPECT_EQ(paged, everything);
  EXPECT_GE(pages + 1, static_cast<int>((everything.size() + 2) / 3));
}

TEST_F(Audit, DetailsAsTextAreTheRecordedBytes) {
  submit_pending(Submission{});
  const auto objects = call("GET", "/api/v1/audit", "", auditor_);
  const auto texts = call("GET", "/api/v1/audit?details=text", "", auditor_);
  ASSERT_EQ(objects.status, 200) << objects;
  ASSERT_EQ(texts.status, 200) << texts;
  const auto& a = objects.array("/events");
  const auto& b = texts.array("/events");
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  auto stored = store_->audit_range(1, a.size());
  ASSERT_TRUE(stored.ok());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].at("details").is_object()) << a[i];
    ASSERT_TRUE(b[i].at("details").is_string()) << b[i];
    EXPECT_EQ(b[i].at("details").as_string(), (*stored)[i].details) << "what a client needs to recompute the hash";
  }
  EXPECT_EQ(call("GET", "/api/v1/audit?details=object", "", auditor_).body, objects.body);
  EXPECT_EQ(call("GET", "/api/v1/audit?details=xml", "", auditor_).status, 400);
  // Only the JSON listing has the option; the CSV always has the text.
  EXPECT_EQ(call("GET", "/api/v1/audit/export.csv?details=text", "", auditor_).status, 400);
}

TEST_F(Audit, CsvExportHasOneRowPerEventAndNeutralisesFormulas) {
  Submission s;
  s.justification = "=HYPERLINK(\"http://evil.example/\",\"click\")";
  const std::string id = submit_pending(s);
  // A login attempt under a formula-looking name puts it in the actor and target columns.
  EXPECT_EQ(try_login("=1+2", "whatever password").status, 401);
  EXPECT_EQ(try_login("@SUM(A1)", "whatever password").status, 401);

  const auto listed = call("GET", "/api/v1/audit?limit=1000", "", auditor_);
  const auto events = listed.array("/events");
  const auto csv = call("GET", "/api/v1/audit/export.csv", "", auditor_);
  ASSERT_EQ(csv.status, 200) << csv;
  EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_NE(csv.header("content-disposition").find("attachment"), std::string::npos);
  EXPECT_EQ(csv.header("x-hoist-rows"), std::to_string(events.size()));

  const auto rows = parse_csv(csv.raw.body);
  ASSERT_EQ(rows.size(), events.size() + 1) << csv.raw.body;
  EXPECT_EQ(rows[0], (std::vector<std::string>{"seq", "time", "actor", "action", "target", "host", "details",
                                               "prev_hash", "hash"}));
  bool found_justification = false;
  bool found_actor = false;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    ASSERT_EQ(row.size(), 9U) << "row " << i;
    const auto& event = events[i - 1];
    EXPECT_EQ(row[0], std::to_string(event.at("seq").to_number<std::uint64_t>()));
    EXPECT_EQ(row[1], event.at("time").as_string());
    EXPECT_EQ(row[3], event.at("action").as_string());
    EXPECT_EQ(row[8], event.at("hash").as_string());
    for (const auto& field : row) {
      if (!field.empty()) {
        EXPECT_EQ(std::string_view("=+-@\t\r").find(field.front()), std::string_view::npos)
            << "a spreadsheet would run field \"" << field << "\" of row " << i;
      }
    }
    if (row[4] == id && row[3] == "request.created") {
      found_justification = row[6].find("=HYPERLINK(") != std::string::npos;
    }
    if (row[3] == "user.login_failed" && row[4] == "'=1+2") {
      found_actor = row[2] == "anonymous";  // a claimed name is never the actor
    }
  }
  EXPECT_TRUE(found_justification) << "the justification is in the request.created row's details";
  EXPECT_TRUE(found_actor) << "the formula-looking user name is exported as '=1+2, as the target";

  // The export takes the same filters.
  const auto one = call("GET", "/api/v1/audit/export.csv?target=" + id, "", auditor_);
  EXPECT_EQ(parse_csv(one.raw.body).size(), 2U) << one.raw.body;
  EXPECT_EQ(call("GET", "/api/v1/audit/export.csv?colour=red", "", auditor_).status, 400);
}

TEST_F(Audit, VerifyFindsTampering) {
  const std::string id = submit_pending(Submission{});
  ASSERT_EQ(call("POST", "/api/v1/requests/" + id + "/approve", "", as(store::Role::kApprover)).status, 200);
  const auto ok = call("GET", "/api/v1/audit/verify", "", auditor_);
  ASSERT_EQ(ok.status, 200) << ok;
  EXPECT_EQ(ok.at("/ok")->as_bool(), true) << ok;
  const auto head = call("GET", "/api/v1/audit/head", "", auditor_);
  EXPECT_EQ(ok.num("/events_checked"), head.num("/seq"));
  EXPECT_EQ(head.num("/seq"), static_cast<std::int64_t>(audit_head_seq()));

  const auto created = call("GET", "/api/v1/audit?action=request.created&target=" + id, "", auditor_);
  ASSERT_EQ(created.array("/events").size(), 1U) << created;
  const auto seq = created.array("/events")[0].at("seq").to_number<std::uint64_t>();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    const std::string sql =
        "UPDATE audit_events SET details = '{\"justification\":\"nothing to see\"}' WHERE seq = " + std::to_string(seq);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }
  const auto bad = call("GET", "/api/v1/audit/verify", "", auditor_);
  ASSERT_EQ(bad.status, 200) << bad;
  EXPECT_EQ(bad.at("/ok")->as_bool(), false) << bad;
  EXPECT_EQ(bad.num("/first_bad_seq"), static_cast<std::int64_t>(seq)) << bad;
  EXPECT_NE(bad.str("/problem"), "") << bad;
}

// Issue 17, item 14: hoistd did not check the chain at start and kept
// appending to a tampered one. Now it verifies it (hoistd calls
// verify_audit_trail before serving) and, when it does not verify, records
// nothing: writes fail with 503 naming the event, reads go on, and the
// health route says so.
TEST_F(Audit, ATrailThatDoesNotVerifyIsNotAppendedTo) {
  const auto admin = as(store::Role::kAdmin);
  const auto approver = as(store::Role::kApprover);  // made now: nothing can be made later
  const std::string id = submit_pending(Submission{});
  auto good = api_->verify_audit_trail();
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good->ok);
  EXPECT_EQ(call("GET", "/api/v1/health").status, 200);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "UPDATE audit_events SET actor = 'nobody' WHERE seq = 2", nullptr, nullptr, nullptr),
              SQLITE_OK);
    EXPECT_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
  }
  restart();
  const auto head = audit_head_seq();
  auto verdict = api_->verify_audit_trail();
  ASSERT_TRUE(verdict.ok());
  EXPECT_FALSE(verdict->ok);
  EXPECT_EQ(verdict->first_bad_seq, 2U);

  for (const auto& write : {call_json("POST", "/api/v1/tokens", json::object{{"label", "x"}}, admin),
                            call("POST", "/api/v1/requests/" + id + "/approve", "", approver),
                            call_json("POST", "/api/v1/login",
                                      json::object{{"user", "test-admin"}, {"password", std::string(kPassword)}})}) {
    EXPECT_EQ(write.status, 503) << write;
    EXPECT_EQ(write.error_code(), "unavailable");
    EXPECT_NE(write.error_message().find("does not verify at event 2"), std::string::npos) << write;
  }
  EXPECT_EQ(audit_head_seq(), head) << "nothing was appended";
  EXPECT_EQ(call("GET", "/api/v1/requests/" + id, "", admin).str("/state"), "pending");
  const auto health = call("GET", "/api/v1/health");
  EXPECT_EQ(health.status, 503) << health;
  EXPECT_NE(health.error_message().find("does not verify"), std::string::npos) << health;
  // Reads go on, the trail itself included.
  const auto verify = call("GET", "/api/v1/audit/verify", "", auditor_);
  EXPECT_EQ(verify.status, 200) << verify;
  EXPECT_EQ(verify.num("/first_bad_seq"), 2) << verify;
}

}  // namespace
}  // namespace hoist::api::testing

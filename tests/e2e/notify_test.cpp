// Notifications end to end: the real hoistd (child process, SQLite) sends
// audit events through the outbox to real HTTPS webhook receivers on
// loopback (tests/support/webhook_receiver.py), which check every signature
// with the code docs/notifications.md gives receivers, and to a real SMTP
// server (tests/support/smtp_receiver.py). A short retry schedule
// ([notify] in hoistd.toml) keeps the fault tests quick.
#include <sqlite3.h>

#include <fstream>
#include <iterator>
#include <set>

#include "core/webhook_signature.h"
#include "e2e_test_support.h"
#include "support/smtp_receiver.h"
#include "support/webhook_receiver.h"

namespace hoist::e2e {
namespace {

using hoist::testing::PrivateDir;
using hoist::testing::WebhookReceiver;

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kPublicUrl = "https://hoist.example.test";

std::string notify_config() {
  return "[notify]\npublic_url = \"" + kPublicUrl +
         "\"\nretry_delays = [\"200ms\", \"400ms\"]\nmax_age = \"60s\"\npoll_interval = \"100ms\"\njitter_percent = "
         "0\n";
}

// hoistd with the short schedule, an admin token, the manual policy on
// label "web", and an enrolled endpoint.
class NotifyE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    hoistd_.options().config_toml = notify_config();
    ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
    auto token = hoistd_.admin_token();
    ASSERT_TRUE(token) << token.error().message;
    admin_ = bearer(*token);
    ASSERT_EQ(
        hoistd_.call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", manual_policy()}}, admin_).status,
        201);
    ASSERT_EQ(
        hoistd_.call_json("PUT", "/api/v1/policies/fleet/labels", json::object{{"labels", json::array{"web"}}}, admin_)
            .status,
        200);
    auto agent = hoistd_.enrol({"web"}, "web-01");
    ASSERT_TRUE(agent) << agent.error().message;
    agent_ = *agent;
  }

  // A webhook channel for `rx` taking `events`; its id.
  std::string add_channel(const std::string& name, const WebhookReceiver& rx, json::array events, int timeout_s = 5) {
    const auto reply = hoistd_.call_json(
        "POST", "/api/v1/notify/channels",
        json::object{
            {"kind", "webhook"},
            {"name", name},
            {"events", std::move(events)},
            {"config", json::object{{"url", rx.url("/hook")}, {"ca_file", rx.ca_file()}, {"timeout_s", timeout_s}}},
            {"secret", kSecret}},
        admin_);
    EXPECT_EQ(reply.status, 201) << reply;
    return reply.str("/id");
  }

  std::string submit(const std::string& user = "alice") {
    auto body = apt_get_submission();
    body["user"] = user;
    const auto created = hoistd_.call_json("POST", "/api/v1/agent/requests", body, agent_.headers());
    EXPECT_EQ(created.status, 201) << created;
    return created.str("/request/id");
  }

  // Waits until `done()` or 20 s.
  template <class F>
  static bool eventually(F done, milliseconds timeout = milliseconds(20000)) {
    const auto deadline = steady_clock::now() + timeout;
    while (!done()) {
      if (steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return true;
  }

  // The ids ("evt_<seq>_...") of the audit events of `action`, in order.
  std::vector<std::string> event_ids(const std::string& action) {
    const auto reply = hoistd_.call("GET", "/api/v1/audit?limit=1000&action=" + action, "", admin_);
    EXPECT_EQ(reply.status, 200) << reply;
    std::vector<std::string> out;
    for (const auto& e : reply.array("/events")) {
      out.push_back("evt_" + std::to_string(e.at("seq").as_int64()) + "_" +
                    std::string(e.at("hash").as_string()).substr(0, 16));
    }
    return out;
  }

  HoistdProcess hoistd_;
  Headers admin_;
  AgentCredential agent_;
  PrivateDir dir_;
};

TEST_F(NotifyE2e, ASubmittedRequestReachesTheReceiverSignedWithItsSummary) {
  WebhookReceiver rx(dir_.path(), kSecret);
  ASSERT_TRUE(rx.start()) << rx.error();
  add_channel("approvers", rx, json::array{"request.*"});
  const auto id = submit();
  ASSERT_TRUE(eventually([&] { return !rx.received().empty(); })) << hoistd_.output();
  const auto approved = hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve",
                                          json::object{{"comment", "ticket 4711"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  ASSERT_TRUE(eventually([&] { return rx.received().size() >= 2; })) << hoistd_.output();

  const auto got = rx.received();
  ASSERT_EQ(got.size(), 2U);
  for (const auto& m : got) EXPECT_TRUE(m.verified) << m.body;
  EXPECT_EQ(got[0].id, event_ids("request.created").at(0));
  EXPECT_EQ(got[1].id, event_ids("request.approved").at(0));
  const auto& data = got[0].json.at("data");
  EXPECT_EQ(got[0].json.at("type"), "request.created");
  EXPECT_EQ(data.at("kind"), "request.created");
  EXPECT_EQ(data.at("host"), "web-01");
  EXPECT_EQ(data.at("target"), json::value(id));
  const auto& request = data.at("request");
  EXPECT_EQ(request.at("user"), "alice");
  EXPECT_EQ(request.at("host"), "web-01");
  EXPECT_EQ(request.at("command").at("argv"), (json::array{"apt-get", "install", "curl"}));
  EXPECT_EQ(request.at("command").at("sha256"), "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6e0");
  EXPECT_EQ(request.at("command").at("package"), "apt");
  EXPECT_EQ(request.at("justification"), "ticket 4711");
  EXPECT_EQ(request.at("duration_s"), 1800);
  EXPECT_EQ(request.at("rule"), "fleet/installs");
  EXPECT_TRUE(request.at("pending_deadline").is_string());
  EXPECT_EQ(data.at("link"), json::value(kPublicUrl + "/#/requests/" + id));
  EXPECT_EQ(got[1].json.at("data").at("details").at("comment"), "ticket 4711");
  // The delivery log says so too.
  const auto log = hoistd_.call("GET", "/api/v1/notify/deliveries?state=delivered", "", admin_);
  ASSERT_EQ(log.status, 200) << log;
  EXPECT_EQ(log.array("/deliveries").size(), 2U) << log;
}

TEST_F(NotifyE2e, TheApproversAndThenTheRequesterHearByMail) {
  const std::string password = "smtp-pass-e2e-41";
  hoist::testing::SmtpReceiver smtp(dir_.path(), {"hoist", password});
  ASSERT_TRUE(smtp.start("starttls")) << smtp.error();
  const auto channel =
      hoistd_.call_json("POST", "/api/v1/notify/channels",
                        json::object{{"kind", "email"},
                                     {"name", "mail"},
                                     {"events", json::array{"request.*", "notify.channel_tested"}},
                                     {"config", json::object{{"smtp_url", smtp.url()},
                                                             {"from", "hoist@example.com"},
                                                             {"to", json::array{"approvers@example.com"}},
                                                             {"username", "hoist"},
                                                             {"ca_file", smtp.ca_file()},
                                                             {"requester_template", "{user}@example.com"}}},
                                     {"secret", password}},
                        admin_);
  ASSERT_EQ(channel.status, 201) << channel;
  const auto id = submit("alice");
  ASSERT_TRUE(eventually([&] { return !smtp.received().empty(); })) << hoistd_.output() << smtp.log();
  const auto approved = hoistd_.call_json("POST", "/api/v1/requests/" + id + "/approve",
                                          json::object{{"comment", "ticket 4711"}}, admin_);
  ASSERT_EQ(approved.status, 200) << approved;
  ASSERT_TRUE(eventually([&] { return smtp.received().size() >= 3; })) << hoistd_.output();
  const auto tested = hoistd_.call("POST", "/api/v1/notify/channels/" + channel.str("/id") + "/test", "", admin_);
  ASSERT_EQ(tested.status, 202) << tested;
  ASSERT_TRUE(eventually([&] { return smtp.received().size() >= 4; })) << hoistd_.output();

  const auto got = smtp.received();
  ASSERT_EQ(got.size(), 4U);
  const std::string thread = "<" + id + "@hoist>";
  EXPECT_EQ(got[0].rcpt_tos, std::vector<std::string>{"approvers@example.com"});
  EXPECT_EQ(got[0].header("Message-ID"), "<" + event_ids("request.created").at(0) + "@hoist>");
  EXPECT_EQ(got[0].header("References"), thread);
  EXPECT_EQ(got[0].header("Subject"), "[Hoist] alice requests root on web-01: /usr/bin/apt-get install curl");
  EXPECT_NE(got[0].part("text/plain")->body.find(kPublicUrl + "/#/requests/" + id), std::string::npos);
  EXPECT_EQ(got[1].rcpt_tos, std::vector<std::string>{"approvers@example.com"});
  EXPECT_EQ(got[2].rcpt_tos, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(got[2].header("Message-ID"), "<" + event_ids("request.approved").at(0) + ".requester@hoist>");
  EXPECT_EQ(got[2].header("References"), thread);
  EXPECT_NE(got[2].part("text/plain")->body.find("Your request was approved by"), std::string::npos)
      << got[2].part("text/plain")->body;
  EXPECT_NE(got[2].part("text/plain")->body.find("Comment:       ticket 4711"), std::string::npos);
  EXPECT_EQ(got[3].header("Subject").rfind("[Hoist] notify.channel_tested: ", 0), 0U) << got[3].header("Subject");
  for (const auto& m : got) {
    EXPECT_TRUE(m.tls);
    EXPECT_EQ(m.auth_login, "hoist");
  }
  const auto log = hoistd_.call("GET", "/api/v1/notify/deliveries?state=delivered", "", admin_);
  EXPECT_EQ(log.array("/deliveries").size(), 3U) << log;
  EXPECT_EQ(hoistd_.output().find(password), std::string::npos);
}

TEST_F(NotifyE2e, AReceiverDownForAWhileGetsEveryMessageOnceItIsBack) {
  WebhookReceiver rx(dir_.path(), kSecret);
  ASSERT_TRUE(rx.start()) << rx.error();
  const auto port = rx.port();
  add_channel("siem", rx, json::array{"request.created"});
  rx.stop();
  for (const char* user : {"alice", "bob", "carol", "dave", "erin"}) submit(user);
  // Down for a while: attempts fail and are retried (the 400 ms step repeats).
  std::this_thread::sleep_for(milliseconds(1500));
  const auto waiting = hoistd_.call("GET", "/api/v1/notify/deliveries?state=pending", "", admin_);
  ASSERT_EQ(waiting.status, 200);
  ASSERT_EQ(waiting.array("/deliveries").size(), 5U) << waiting;
  EXPECT_GE(waiting.array("/deliveries")[0].at("attempts").as_int64(), 2) << waiting;
  EXPECT_FALSE(waiting.array("/deliveries")[0].at("last_error").is_null()) << waiting;
  ASSERT_TRUE(rx.start("ok", port)) << rx.error();
  const auto want = event_ids("request.created");
  ASSERT_EQ(want.size(), 5U);
  ASSERT_TRUE(eventually([&] { return rx.distinct_ids().size() >= want.size(); })) << hoistd_.output();
  std::this_thread::sleep_for(milliseconds(500));  // nothing more comes
  EXPECT_EQ(rx.distinct_ids(), want);              // each once after dedup, in audit order
  for (const auto& m : rx.received()) EXPECT_TRUE(m.verified);
  EXPECT_TRUE(hoistd_.call("GET", "/api/v1/notify/deliveries?state=pending", "", admin_).array("/deliveries").empty());
}

TEST_F(NotifyE2e, KillingHoistdInTheMiddleOfABurstLosesNothing) {
  WebhookReceiver rx(dir_.path(), kSecret);
  ASSERT_TRUE(rx.start()) << rx.error();
  add_channel("burst", rx, json::array{"request.created"});
  // A burst of submits, then kill -9 while the sender is at work.
  for (const char* user : {"u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"}) submit(user);
  ASSERT_TRUE(eventually([&] { return !rx.received().empty(); }, milliseconds(10000)));
  hoistd_.signal(SIGKILL);
  ASSERT_TRUE(hoistd_.wait_exit(milliseconds(5000)).has_value());
  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  for (const char* user : {"u9", "u10"}) submit(user);
  const auto want = event_ids("request.created");
  ASSERT_EQ(want.size(), 10U);
  ASSERT_TRUE(eventually([&] { return rx.distinct_ids().size() >= want.size(); })) << hoistd_.output();
  EXPECT_EQ(rx.distinct_ids(), want);
  for (const auto& m : rx.received()) EXPECT_TRUE(m.verified);
}

TEST_F(NotifyE2e, ARefusingOrHangingReceiverHoldsOnlyItsOwnChannel) {
  PrivateDir d400;
  PrivateDir dhang;
  WebhookReceiver ok(dir_.path(), kSecret);
  WebhookReceiver refuses(d400.path(), kSecret);
  WebhookReceiver hangs(dhang.path(), kSecret);
  ASSERT_TRUE(ok.start()) << ok.error();
  ASSERT_TRUE(refuses.start("status:400")) << refuses.error();
  ASSERT_TRUE(hangs.start("hang")) << hangs.error();
  const auto ch400 = add_channel("refuses", refuses, json::array{"request.created"});
  const auto chhang = add_channel("hangs", hangs, json::array{"request.created"}, 1);
  add_channel("works", ok, json::array{"request.created"});
  submit("alice");
  submit("bob");
  ASSERT_TRUE(eventually([&] { return ok.distinct_ids().size() >= 2; })) << hoistd_.output();
  EXPECT_EQ(ok.distinct_ids(), event_ids("request.created"));
  // 400: dead at once, both of them (a dead letter does not hold the next).
  ASSERT_TRUE(eventually([&] {
    return hoistd_.call("GET", "/api/v1/notify/deliveries?state=dead&channel=" + ch400, "", admin_)
               .array("/deliveries")
               .size() == 2;
  }));
  const auto dead = hoistd_.call("GET", "/api/v1/notify/deliveries?state=dead&channel=" + ch400, "", admin_);
  EXPECT_EQ(dead.array("/deliveries")[0].at("last_status"), 400) << dead;
  EXPECT_EQ(dead.array("/deliveries")[0].at("attempts"), 1) << dead;
  // The hanging one: cut at its 1 s timeout, still pending, retried.
  ASSERT_TRUE(eventually([&] {
    const auto p = hoistd_.call("GET", "/api/v1/notify/deliveries?channel=" + chhang, "", admin_);
    return !p.array("/deliveries").empty() && !p.array("/deliveries")[0].at("last_error").is_null();
  }));
  const auto hung = hoistd_.call("GET", "/api/v1/notify/deliveries?channel=" + chhang, "", admin_);
  EXPECT_EQ(hung.array("/deliveries")[0].at("state"), "pending") << hung;
  EXPECT_NE(hung.body.find("no answer within 1 s"), std::string::npos) << hung;

  // Re-driven by an admin (audited), the dead letter goes again.
  refuses.stop();
  ASSERT_TRUE(refuses.start("ok", refuses.port())) << refuses.error();
  const auto first = dead.array("/deliveries")[0].at("id").as_int64();
  const auto redriven =
      hoistd_.call("POST", "/api/v1/notify/deliveries/" + std::to_string(first) + "/redrive", "", admin_);
  ASSERT_EQ(redriven.status, 200) << redriven;
  EXPECT_EQ(redriven.str("/state"), "pending");
  ASSERT_TRUE(eventually([&] {
    return hoistd_.call("GET", "/api/v1/notify/deliveries/" + std::to_string(first), "", admin_).str("/state") ==
           "delivered";
  })) << hoistd_.output();
  EXPECT_EQ(event_ids("notify.delivery_redriven").size(), 1U);
  // hoistd stops at once although a receiver still hangs (its attempt is
  // interrupted, and retried after the next start).
  const auto stopping = steady_clock::now();
  EXPECT_EQ(hoistd_.stop(), 0);
  EXPECT_LT(seconds_since(stopping), 5.0);
  hangs.kill();
}

TEST_F(NotifyE2e, ANonAdminCannotSetAWebhookAndTheAttemptIsAudited) {
  ASSERT_EQ(hoistd_
                .call_json("POST", "/api/v1/users",
                           json::object{{"name", "tech"}, {"role", "approver"}, {"password", "approver password 123"}},
                           admin_)
                .status,
            201);
  const auto login =
      hoistd_.call_json("POST", "/api/v1/login", json::object{{"user", "tech"}, {"password", "approver password 123"}});
  ASSERT_EQ(login.status, 200) << login;
  const std::string cookie = login.header("set-cookie");
  const Headers session{{"cookie", cookie.substr(0, cookie.find(';'))}, {"x-csrf-token", login.str("/csrf_token")}};
  const auto refused =
      hoistd_.call_json("POST", "/api/v1/notify/channels",
                        json::object{{"kind", "webhook"},
                                     {"name", "exfil"},
                                     {"events", json::array{"*"}},
                                     {"config", json::object{{"url", "https://attacker.example/collect"}}},
                                     {"secret", kSecret}},
                        session);
  EXPECT_EQ(refused.status, 403) << refused;
  EXPECT_EQ(hoistd_.call("GET", "/api/v1/notify/channels", "", session).status, 403);
  const auto audit = hoistd_.call("GET", "/api/v1/audit?action=access.denied", "", admin_);
  ASSERT_EQ(audit.status, 200) << audit;
  ASSERT_EQ(audit.array("/events").size(), 2U) << audit;
  const auto& e = audit.array("/events")[0];
  EXPECT_EQ(e.at("actor"), "tech");
  EXPECT_EQ(e.at("details").at("route"), "/api/v1/notify/channels");
  EXPECT_EQ(e.at("details").at("method"), "POST");
  EXPECT_EQ(e.at("details").at("role"), "approver");
  const auto channels = hoistd_.call("GET", "/api/v1/notify/channels", "", admin_);
  EXPECT_TRUE(channels.array("/channels").empty()) << channels;
}

TEST_F(NotifyE2e, TheSecretNeverShowsInAnswersAuditLogsOrTheDatabase) {
  WebhookReceiver rx(dir_.path(), kSecret);
  ASSERT_TRUE(rx.start()) << rx.error();
  const auto id = add_channel("secretive", rx, json::array{"*"});
  // Rotate to a second secret; the old one keeps signing for a day.
  const std::string second = webhook::format_secret(std::vector<std::uint8_t>(32, 0x5a));
  const auto rotated =
      hoistd_.call_json("PATCH", "/api/v1/notify/channels/" + id, json::object{{"secret", second}}, admin_);
  ASSERT_EQ(rotated.status, 200) << rotated;
  EXPECT_TRUE(rotated.boolean("/secret/set"));
  EXPECT_FALSE(rotated.str("/secret/previous_valid_until").empty()) << rotated;
  const auto test = hoistd_.call("POST", "/api/v1/notify/channels/" + id + "/test", "", admin_);
  ASSERT_EQ(test.status, 202) << test;
  submit();
  ASSERT_TRUE(eventually([&] { return rx.received().size() >= 3; })) << hoistd_.output();
  // The receiver (old secret) still verifies: both signatures are sent.
  for (const auto& m : rx.received()) EXPECT_TRUE(m.verified) << m.signature;
  // A bad secret is refused without being echoed.
  const auto bad = hoistd_.call_json("PATCH", "/api/v1/notify/channels/" + id,
                                     json::object{{"secret", "whsec_TOO-SHORT-TO-BE-A-KEY"}}, admin_);
  EXPECT_EQ(bad.status, 400) << bad;

  std::vector<std::string> texts = {
      hoistd_.call("GET", "/api/v1/notify/channels", "", admin_).body,
      hoistd_.call("GET", "/api/v1/notify/channels/" + id, "", admin_).body,
      hoistd_.call("GET", "/api/v1/notify/deliveries", "", admin_).body,
      hoistd_.call("GET", "/api/v1/audit?limit=1000", "", admin_).body,
      hoistd_.call("GET", "/api/v1/audit/export.csv", "", admin_).body,
      bad.body,
      rotated.body,
  };
  ASSERT_EQ(hoistd_.stop(), 0);
  texts.push_back(hoistd_.output());
  {
    std::ifstream db(hoistd_.data_dir() + "/hoist.db", std::ios::binary);
    texts.emplace_back(std::istreambuf_iterator<char>(db), std::istreambuf_iterator<char>());
    std::ifstream wal(hoistd_.data_dir() + "/hoist.db-wal", std::ios::binary);
    texts.emplace_back(std::istreambuf_iterator<char>(wal), std::istreambuf_iterator<char>());
  }
  for (const std::string& secret : {kSecret, second, std::string("TOO-SHORT-TO-BE-A-KEY")}) {
    const auto body = secret.substr(secret.find('_') + 1);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      EXPECT_EQ(texts[i].find(body), std::string::npos) << "a secret in text " << i;
    }
  }
  EXPECT_NE(texts[0].find("\"set\":true"), std::string::npos) << texts[0];
}

// Retention ([notify] retention, 30 days unless set): at start, then
// hourly, hoistd deletes delivered and dead deliveries that finished longer
// ago than that, and never one still owed. hoistd's clock is the real one,
// so the rows are aged in the database while it is stopped.
TEST_F(NotifyE2e, RetentionDeletesOldFinishedDeliveriesAndNeverOneStillOwed) {
  WebhookReceiver rx(dir_.path(), kSecret);
  ASSERT_TRUE(rx.start()) << rx.error();
  add_channel("up", rx, json::array{"request.created"});
  PrivateDir down_dir;
  WebhookReceiver down(down_dir.path(), kSecret);
  ASSERT_TRUE(down.start()) << down.error();
  const auto down_id = add_channel("down", down, json::array{"request.created"});
  down.stop();
  for (const char* user : {"alice", "bob", "carol"}) submit(user);
  const auto count = [&](const std::string& query) {
    const auto r = hoistd_.call("GET", "/api/v1/notify/deliveries?" + query, "", admin_);
    EXPECT_EQ(r.status, 200) << r;
    return r.array("/deliveries").size();
  };
  ASSERT_TRUE(eventually([&] { return count("state=delivered") == 3; })) << hoistd_.output();
  ASSERT_EQ(count("state=pending&channel=" + down_id), 3U);
  ASSERT_EQ(hoistd_.stop(), 0);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((hoistd_.data_dir() + "/hoist.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "UPDATE notify_deliveries SET finished_ms = finished_ms - 40 * 86400000 WHERE finished_ms "
                         "IS NOT NULL",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_changes(db), 3);
  sqlite3_close(db);

  ASSERT_TRUE(hoistd_.start()) << hoistd_.start_error();
  ASSERT_TRUE(eventually([&] { return hoistd_.output().find("notify.pruned") != std::string::npos; }))
      << hoistd_.output();
  const auto out = hoistd_.output();
  const auto line = out.substr(out.find("notify.pruned"));
  EXPECT_NE(line.substr(0, line.find('\n')).find("\"deliveries\":3"), std::string::npos) << line;
  EXPECT_EQ(count("state=delivered"), 0U);
  // The down channel's are still owed (pending, or dead by now at the
  // short max_age: finished just now, so young).
  EXPECT_EQ(count("channel=" + down_id), 3U);
}

// An admin who sets ca_file to probe hoistd's file system learns only
// whether a path is a readable file of PEM certificates: a missing file, a
// directory and a file of something else give the same last_error; only
// hoistd's log says which.
TEST_F(NotifyE2e, AnUnusableCaFileGivesTheSameAnswerWhateverTheReason) {
  PrivateDir files;
  const std::string not_pem = files.path() + "/notes.txt";
  std::ofstream(not_pem) << "not a certificate\n";
  struct Case {
    std::string path;
    std::string logged;  // what the log says of it
  };
  const std::vector<Case> cases = {{files.path() + "/missing.pem", "No such file"},
                                   {files.path(), "is a directory"},
                                   {not_pem, "no PEM certificate"}};
  std::set<std::string> answers;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto created = hoistd_.call_json(
        "POST", "/api/v1/notify/channels",
        json::object{{"kind", "webhook"},
                     {"name", "probe " + std::to_string(i)},
                     {"events", json::array{"notify.channel_tested"}},
                     {"config", json::object{{"url", "https://127.0.0.1:9/hook"}, {"ca_file", cases[i].path}}},
                     {"secret", kSecret}},
        admin_);
    ASSERT_EQ(created.status, 201) << created;
    const auto test = hoistd_.call("POST", "/api/v1/notify/channels/" + created.str("/id") + "/test", "", admin_);
    ASSERT_EQ(test.status, 202) << test;
    const std::string delivery = "/api/v1/notify/deliveries/" + std::to_string(test.num("/id"));
    ASSERT_TRUE(eventually([&] { return hoistd_.call("GET", delivery, "", admin_).num("/attempts") >= 1; }))
        << hoistd_.output();
    const auto tried = hoistd_.call("GET", delivery, "", admin_);
    answers.insert(tried.str("/last_error") + " / " + std::to_string(tried.num("/attempts") >= 1));
    EXPECT_EQ(tried.str("/last_error").find(cases[i].path), std::string::npos) << tried;
  }
  EXPECT_EQ(answers,
            (std::set<std::string>{
                "the channel's settings are not usable: ca_file is not a readable file of PEM certificates / 1"}));
  ASSERT_TRUE(eventually([&] {
    const auto out = hoistd_.output();
    return std::all_of(cases.begin(), cases.end(), [&](const Case& c) {
      return out.find(c.path + ": ") != std::string::npos && out.find(c.logged) != std::string::npos;
    });
  })) << hoistd_.output();
  EXPECT_NE(hoistd_.output().find("notify.ca_file_unusable"), std::string::npos);
}

}  // namespace
}  // namespace hoist::e2e

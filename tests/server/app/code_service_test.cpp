// hoistd's admin-code service over a real SQLite store: a code is made with
// the endpoint's current key, fits on the endpoint's side, is returned once
// and never stored; the record and the audit event say who issued what.
#include "server/app/code_service.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/admin_code.h"
#include "platform/system_time_zones.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace hoist::app {
namespace {

const TimePoint kNow{std::chrono::sys_days{std::chrono::year{2026} / std::chrono::March / 2} + std::chrono::hours{10}};
const std::vector<std::uint8_t> kMasterKey(32, 0x42);

class CodeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::open_sqlite_store(dir_.path() + "/hoist.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    store::EndpointRecord rec;
    rec.id = "ep-1";
    rec.hostname = "web-01";
    rec.credential_hash = "x";
    rec.enrolled_at = kNow;
    ASSERT_TRUE(store_->write([&](store::StoreTx& tx) { return tx.insert_endpoint(rec); }).ok());
  }

  ServiceDeps deps() {
    return ServiceDeps{
        .store = *store_,
        .zones = zones_,
        .append_audit = [](store::StoreTx& tx, const std::string& actor, std::string_view action,
                           const std::string& target, const std::string& host,
                           const boost::json::object& details) -> Status {
          auto appended =
              tx.append_audit(store::AuditDraft{std::chrono::time_point_cast<std::chrono::milliseconds>(kNow), actor,
                                                std::string(action), target, host, boost::json::serialize(details)});
          if (!appended) return appended.error();
          return {};
        },
        .wake_push = nullptr,
        .new_request_id = nullptr,
    };
  }

  static IssueCodeBody body() {
    IssueCodeBody b;
    b.endpoint = "ep-1";
    b.user = "alice";
    b.duration_s = 3600;
    b.reason = "laptop on a plane";
    return b;
  }

  hoist::testing::PrivateDir dir_;
  platform::SystemTimeZones zones_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(CodeServiceTest, APreIssuedCodeFitsIsRecordedAndAuditedButNeverStored) {
  CodeService service(deps(), kMasterKey);
  auto issued = service.issue(body(), "bob", kNow);
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  EXPECT_EQ(issued->host, "web-01");
  EXPECT_EQ(issued->kind, store::IssuedCodeKind::kPreIssued);
  EXPECT_EQ(issued->valid_days, 1U);
  // The endpoint's side accepts it for alice.
  auto key = codes::derive_host_key(kMasterKey, "ep-1", issued->generation);
  ASSERT_TRUE(key.ok());
  auto verified = codes::verify_preissued(
      *key, "alice", "", static_cast<std::uint32_t>(kNow.time_since_epoch().count() / 86400), issued->code);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->terms.duration, Seconds{3600});

  auto records = store_->issued_codes({});
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1U);
  EXPECT_EQ((*records)[0].id, issued->id);
  EXPECT_EQ((*records)[0].issued_by, "bob");
  store::AuditFilter f;
  f.action = "code.issued";
  auto events = store_->audit_events(f);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1U);
  EXPECT_EQ((*events)[0].actor, "bob");
  EXPECT_EQ((*events)[0].target, "ep-1");
  EXPECT_EQ((*events)[0].details.find(issued->code), std::string::npos) << (*events)[0].details;
}

TEST_F(CodeServiceTest, ARefusedCodeWritesNothing) {
  EXPECT_EQ(CodeService(deps(), {}).issue(body(), "bob", kNow).error().code, ErrorCode::kUnavailable);
  CodeService service(deps(), kMasterKey);
  IssueCodeBody b = body();
  b.endpoint = "ep-none";
  EXPECT_EQ(service.issue(b, "bob", kNow).error().message, "there is no enrolled endpoint ep-none");
  b = body();
  b.duration_s = 0;
  EXPECT_EQ(service.issue(b, "bob", kNow).error().message, "field \"duration_s\" is required");
  b = body();
  b.challenge = codes::format_challenge(codes::Challenge{codes::host_tag("ep-2"), 7});
  EXPECT_EQ(service.issue(b, "bob", kNow).error().code, ErrorCode::kInvalidArgument);
  b.days = 2;
  EXPECT_EQ(service.issue(b, "bob", kNow).error().message,
            "a response answers a challenge; \"days\" is for pre-issued codes only");
  EXPECT_TRUE(store_->issued_codes({})->empty());
  EXPECT_TRUE(store_->audit_events({})->empty());
}

}  // namespace
}  // namespace hoist::app

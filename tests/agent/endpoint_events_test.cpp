// The agent's events, one builder per kind: the kind and the exact details
// text. The expected texts are what hoist-agent wrote before the builders
// existed (field order included): audit chains hold them, and hoistd reads
// code.used's fields.
#include "agent/endpoint_events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace hoist::agent {
namespace {

using namespace std::chrono_literals;

events::Command allowed_id() {
  return events::Command{
      .grant_id = "",
      .user = "alice",
      .uid = 1000,
      .runas = "root",
      .argv = {"id"},
      .action = Action::kAllow,
      .rule = "base/ids",
      .reason = "rule \"base/ids\" allows it",
      .tty = "",
      .command = "/usr/bin/id",
      .sha256 = *Sha256::from_hex("a3d987dd3f9ec0610dc13b7fdccef84895628065434f44247a65ef0d2a341b3c")};
}

template <class E>
void expect_event(const E& e, AuditKind kind, std::string_view outbox_kind, std::string_view text) {
  EXPECT_EQ(e.kind(), kind);
  EXPECT_EQ(origin_of(e.kind()), AuditOrigin::kEndpoint);
  EXPECT_EQ(events::outbox_kind(e), outbox_kind);
  EXPECT_EQ(events::details_text(e), text);
}

TEST(EndpointEvents, ADecisionOnACommand) {
  expect_event(allowed_id(), AuditKind::kEndpointDecision, "decision",
               R"({"target":"","user":"alice","uid":1000,"runas":"root","argv":["id"],"action":"allow",)"
               R"("rule":"base/ids","reason":"rule \"base/ids\" allows it","tty":"","command":"/usr/bin/id",)"
               R"("sha256":"a3d987dd3f9ec0610dc13b7fdccef84895628065434f44247a65ef0d2a341b3c"})");
}

TEST(EndpointEvents, ARunUnderAGrantWithItsRealPathAndGroup) {
  auto e = allowed_id();
  e.grant_id = "req-1";
  e.runas_group = "adm";
  e.real_path = "/usr/bin/dash";
  e.sha256.reset();
  e.command = "/usr/bin/sh";
  expect_event(e, AuditKind::kEndpointGrantUsed, "grant.used",
               R"({"target":"req-1","user":"alice","uid":1000,"runas":"root","argv":["id"],"action":"allow",)"
               R"("rule":"base/ids","reason":"rule \"base/ids\" allows it","tty":"","runas_group":"adm",)"
               R"("command":"/usr/bin/sh","real_path":"/usr/bin/dash"})");
}

TEST(EndpointEvents, AnEditNamesTheFilesNotAProgram) {
  const events::Command e{.grant_id = "",
                          .user = "bob",
                          .uid = 1001,
                          .runas = "root",
                          .argv = {"sudoedit", "/etc/hostname"},
                          .action = Action::kDeny,
                          .rule = "",
                          .reason = "no rule lets you edit /etc/hostname",
                          .tty = "",
                          .edit_files = std::vector<std::string>{"/etc/hostname"},
                          .editor = "/usr/bin/editor",
                          .command = "/ignored",
                          .sha256 = Sha256{}};
  expect_event(e, AuditKind::kEndpointEdit, "edit",
               R"({"target":"","user":"bob","uid":1001,"runas":"root","argv":["sudoedit","/etc/hostname"],)"
               R"("action":"deny","rule":"","reason":"no rule lets you edit /etc/hostname","tty":"","mode":"edit",)"
               R"("files":["/etc/hostname"],"editor":"/usr/bin/editor"})");
}

TEST(EndpointEvents, AProcessKeepsTheCommandsTargetInPlace) {
  auto command = allowed_id();
  command.grant_id = "from-the-decision";
  const events::Process e{.command = command,
                          .session = "req-9",
                          .pid = 13548,
                          .ppid = 13546,
                          .exec_uid = 0,
                          .sudo_pid = 13544,
                          .cwd = "/"};
  expect_event(e, AuditKind::kEndpointProcess, "process",
               R"({"target":"req-9","user":"alice","uid":1000,"runas":"root","argv":["id"],"action":"allow",)"
               R"("rule":"base/ids","reason":"rule \"base/ids\" allows it","tty":"","command":"/usr/bin/id",)"
               R"("sha256":"a3d987dd3f9ec0610dc13b7fdccef84895628065434f44247a65ef0d2a341b3c","session":"req-9",)"
               R"("pid":13548,"ppid":13546,"exec_uid":0,"sudo_pid":13544,"cwd":"/"})");
}

TEST(EndpointEvents, AProcessWhoseFactsCouldNotBeGathered) {
  const events::Process e{.command = events::UncheckedCommand{.user = "alice",
                                                              .uid = 1000,
                                                              .command = "/gone",
                                                              .argv = {"gone", "-x"},
                                                              .action = Action::kDeny,
                                                              .reason = "/gone: no such file"},
                          .session = "req-9",
                          .pid = 7,
                          .ppid = 6,
                          .exec_uid = 0,
                          .sudo_pid = -1,
                          .cwd = "/tmp"};
  expect_event(e, AuditKind::kEndpointProcess, "process",
               R"({"user":"alice","uid":1000,"command":"/gone","argv":["gone","-x"],"action":"deny",)"
               R"("reason":"/gone: no such file","target":"req-9","session":"req-9","pid":7,"ppid":6,)"
               R"("exec_uid":0,"sudo_pid":-1,"cwd":"/tmp"})");
}

TEST(EndpointEvents, ASessionRequestAndASelfApproval) {
  expect_event(events::SessionRequested{.request = "req-1", .user = "alice", .uid = 1000, .tty = "/dev/pts/1"},
               AuditKind::kEndpointSessionRequested, "session.requested",
               R"({"target":"req-1","user":"alice","uid":1000,"tty":"/dev/pts/1","request":"req-1"})");
  expect_event(
      events::RequestSelfApproved{.request = "r1", .user = "alice", .uid = 1000, .state = RequestState::kApproved},
      AuditKind::kEndpointRequestSelfApproved, "request.self_approved",
      R"({"target":"r1","user":"alice","uid":1000,"request":"r1","state":"approved"})");
}

TEST(EndpointEvents, AdminCodes) {
  const TimePoint at{std::chrono::sys_days{std::chrono::year{2027} / 1 / 15} + 8h};
  expect_event(events::CodeUsed{.code_kind = "response",
                                .ref = 875667198,
                                .generation = 1,
                                .user = "alice",
                                .uid = 1000,
                                .tty = "/dev/pts/3",
                                .duration = 3600s,
                                .command = "",
                                .grant_id = "code-response-34319efe-g1",
                                .used_at = at,
                                .until = at + 1h},
               AuditKind::kEndpointCodeUsed, "code.used",
               R"({"target":"code-response-34319efe-g1","code_kind":"response","ref":875667198,"generation":1,)"
               R"("user":"alice","uid":1000,"tty":"/dev/pts/3","duration_s":3600,"command":"",)"
               R"("grant_id":"code-response-34319efe-g1","used_at":"2027-01-15T08:00:00Z",)"
               R"("until":"2027-01-15T09:00:00Z"})");
  expect_event(events::CodeRefused{.user = "alice",
                                   .uid = 1000,
                                   .tty = "/dev/pts/3",
                                   .code_kind = "response",
                                   .command = "",
                                   .failures = 2,
                                   .reason = "the code does not fit"},
               AuditKind::kEndpointCodeRefused, "code.refused",
               R"({"target":"","user":"alice","uid":1000,"tty":"/dev/pts/3","code_kind":"response","command":"",)"
               R"("failures":2,"reason":"the code does not fit"})");
  expect_event(events::CodesKeyInstalled{.generation = 2, .previous_generation = 1},
               AuditKind::kEndpointCodesKeyInstalled, "codes_key.installed",
               R"({"target":"","generation":2,"previous_generation":1})");
}

TEST(EndpointEvents, ABreakGlassUseKeepsTheSpooledFields) {
  const events::BreakGlass e{.spool_file = "1800000000-good.event",
                             .fields = std::vector<std::pair<std::string, std::string>>{{"v", "1"},
                                                                                        {"type", "break_glass"},
                                                                                        {"user", "real-user"},
                                                                                        {"uid", "4242"},
                                                                                        {"argv", "id"},
                                                                                        {"cwd", "/"},
                                                                                        {"argv", "-u"},
                                                                                        {"uid", "0"}}};
  expect_event(e, AuditKind::kEndpointBreakGlass, "break_glass",
               R"({"spool_file":"1800000000-good.event","user":"real-user","uid":"0","argv":["id","-u"],)"
               R"("cwd":"/","target":"real-user"})");
}

TEST(EndpointEvents, ABreakGlassFileThatIsNoFrameIsKept) {
  expect_event(events::BreakGlass{.spool_file = "x.event"}, AuditKind::kEndpointBreakGlass, "break_glass",
               R"({"spool_file":"x.event","malformed":true,"target":""})");
  expect_event(events::BreakGlass{.spool_file = "y.event", .fields = {{{"v", "1"}}}}, AuditKind::kEndpointBreakGlass,
               "break_glass", R"({"spool_file":"y.event","target":""})");
}

TEST(EndpointEvents, ARejectedSpoolEntry) {
  expect_event(
      events::SpoolRejected{
          .spool_file = "1800000000-mode.event",
          .problem = "mode 0644: group or others may access it",
          .file = events::SpoolRejected::File{.type = "regular file", .uid = 0, .mode = 0100644, .size = 240}},
      AuditKind::kEndpointSpoolRejected, "spool.rejected",
      R"({"target":"1800000000-mode.event","spool_file":"1800000000-mode.event",)"
      R"("problem":"mode 0644: group or others may access it","file_type":"regular file","uid":0,)"
      R"("mode":"0644","size":240})");
  expect_event(events::SpoolRejected{.spool_file = "gone.event", .problem = "cannot be examined"},
               AuditKind::kEndpointSpoolRejected, "spool.rejected",
               R"({"target":"gone.event","spool_file":"gone.event","problem":"cannot be examined"})");
}

TEST(EndpointEvents, AQuarantinedEvent) {
  expect_event(events::EventQuarantined{.event_id = "00000000000000000000000000000003",
                                        .event_kind = "decision",
                                        .event_time_ms = 3,
                                        .payload_bytes = 12,
                                        .reason = "too long"},
               AuditKind::kEndpointEventQuarantined, "event.quarantined",
               R"({"target":"00000000000000000000000000000003","event_id":"00000000000000000000000000000003",)"
               R"("kind":"decision","event_time_ms":3,"payload_bytes":12,"reason":"too long"})");
}

}  // namespace
}  // namespace hoist::agent

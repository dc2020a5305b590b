// The agent protocol's typed messages: every message survives a trip
// through a frame, and decoding refuses what a peer of this version never
// sends.
#include "ipc/messages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

namespace hoist::ipc {
namespace {

using std::string_view_literals::operator""sv;

CommandContext context() {
  CommandContext c;
  c.user = "alice";
  c.uid = 1000;
  c.gid = 1000;
  c.runas_user = "postgres";
  c.command = "/usr/bin/apt-get";
  c.argv = {"apt-get", "install", "vim", std::string("\xff")};
  c.cwd = "/home/alice";
  c.tty = "/dev/pts/3";
  c.mode = RunMode::kLoginShell;
  c.noninteractive = true;
  return c;
}

// Through bytes and back, as the peer sees it.
Fields wire(const Fields& f) {
  auto frame = encode_frame(f);
  EXPECT_TRUE(frame.ok());
  auto decoded = decode_frame(*frame);
  EXPECT_TRUE(decoded.ok() && decoded->has_value());
  return (*decoded)->fields;
}

TEST(Messages, EveryMessageRoundTrips) {
  const CheckMessage check{context()};
  EXPECT_EQ(*check_from(wire(to_fields(check))), check);
  const SubmitMessage submit{context(), "patch the web servers (ticket 4711)", 1800};
  EXPECT_EQ(*submit_from(wire(to_fields(submit))), submit);
  const WaitMessage wait{"req-01a2", 5000};
  EXPECT_EQ(*wait_from(wire(to_fields(wait))), wait);
  const CancelMessage cancel{"req-01a2"};
  EXPECT_EQ(*cancel_from(wire(to_fields(cancel))), cancel);
  DecisionMessage decision;
  decision.action = Action::kRequest;
  decision.reason = "rule \"installs\" requires approval";
  decision.rule = "fleet/installs";
  decision.contact = "call 555-0100";
  decision.reauthenticate = true;
  decision.default_duration_s = 900;
  decision.max_duration_s = 3600;
  decision.approval_wait_s = 120;
  decision.grant_id = "req-9";
  decision.timeout_s = 42;
  decision.record_processes = true;
  EXPECT_EQ(*decision_from(wire(to_fields(decision))), decision);
  const RequestStateMessage state{"req-01a2", RequestState::kDenied, "bob", "use the staging box", "desk", 0};
  EXPECT_EQ(*request_state_from(wire(to_fields(state))), state);
  const ErrorMessage error{ErrorCode::kUnavailable, "the policy could not be read"};
  EXPECT_EQ(*error_from(wire(to_fields(error))), error);
}

TEST(Messages, ListAndListingRoundTripAndAreStrict) {
  const ListMessage list{"alice", 1000, 1000, ""};
  EXPECT_EQ(*list_from(wire(to_fields(list))), list);
  const ListMessage other{"root", 0, 0, "bob"};
  EXPECT_EQ(*list_from(wire(to_fields(other))), other);
  const ListingMessage listing{{"Allowed: /usr/bin/apt-get (rule fleet/apt)", "", "On request: any command"}};
  EXPECT_EQ(*listing_from(wire(to_fields(listing))), listing);
  EXPECT_EQ(*listing_from(wire(to_fields(ListingMessage{}))), ListingMessage{});

  Fields extra = to_fields(list);
  extra.add("command", "/bin/sh");
  EXPECT_FALSE(list_from(extra).ok());
  Fields no_list_user;
  no_list_user.add("v", "1").add("type", "list").add("user", "alice").add("uid", "1000").add("gid", "1000");
  EXPECT_FALSE(list_from(no_list_user).ok());
  const Fields bad_uid(std::vector<Field>{
      {"v", "1"}, {"type", "list"}, {"user", "alice"}, {"uid", "-1"}, {"gid", "0"}, {"list_user", ""}});
  EXPECT_FALSE(list_from(bad_uid).ok());
  EXPECT_FALSE(listing_from(to_fields(ListingMessage{{"two\nlines"}})).ok());
  EXPECT_FALSE(listing_from(to_fields(ListingMessage{{std::string("nul\0", 4)}})).ok());
  EXPECT_FALSE(listing_from(to_fields(ListingMessage{{std::string(kMaxTextBytes + 1, 'x')}})).ok());
  EXPECT_FALSE(listing_from(to_fields(ListingMessage{std::vector<std::string>(kMaxListingLines + 1, "x")})).ok());
  EXPECT_TRUE(listing_from(to_fields(ListingMessage{std::vector<std::string>(kMaxListingLines, "x")})).ok());
  Fields foreign = to_fields(listing);
  foreign.add("lines", "x");
  EXPECT_FALSE(listing_from(foreign).ok());
  EXPECT_FALSE(listing_from(to_fields(list)).ok());
}

TEST(Messages, ElevateAndExecRoundTripAndAreStrict) {
  const ElevateMessage elevate{"alice", 1000, 1000, "/dev/pts/3", "patch night (ticket 4711)", 1800};
  EXPECT_EQ(*elevate_from(wire(to_fields(elevate))), elevate);
  ElevateMessage no_reason = elevate;
  no_reason.justification.clear();
  EXPECT_TRUE(elevate_from(to_fields(no_reason)).ok()) << "empty is the agent's to refuse, with its words";
  Fields with_command = to_fields(elevate);
  with_command.add("command", "/bin/sh");
  EXPECT_FALSE(elevate_from(with_command).ok());

  ExecMessage exec;
  exec.context = context();
  exec.grant_id = "req-01a2";
  exec.pid = 4242;
  exec.ppid = 4241;
  exec.exec_uid = 0;
  EXPECT_EQ(*exec_from(wire(to_fields(exec))), exec);
  ExecMessage no_grant = exec;
  no_grant.grant_id.clear();
  EXPECT_FALSE(exec_from(to_fields(no_grant)).ok());
  Fields big_pid = to_fields(exec);
  big_pid.add("x", "1");
  EXPECT_FALSE(exec_from(big_pid).ok());
  EXPECT_FALSE(exec_from(to_fields(CheckMessage{context()})).ok());
  EXPECT_FALSE(check_from(to_fields(exec)).ok());
}

TEST(Messages, AdminCodeMessagesRoundTripAndAreStrict) {
  const CodeChallengeMessage ask{"alice", 1000};
  EXPECT_EQ(*code_challenge_from(wire(to_fields(ask))), ask);
  EXPECT_EQ(*to_fields(ask).one("type"), "code_challenge");
  const ChallengeMessage challenge{"AC1A-BWY1", "laptop-7", "ep-1", 3600};
  EXPECT_EQ(*challenge_from(wire(to_fields(challenge))), challenge);
  const CodeRedeemMessage redeem{"alice", 1000, "/dev/pts/1", "AC1A-BWY1", "CC65-Z6PH-TYKE", "/usr/bin/apt-get"};
  EXPECT_EQ(*code_redeem_from(wire(to_fields(redeem))), redeem);
  const CodeGrantMessage grant{"code-response-02a5f3c1-g1", true, "", 3600};
  EXPECT_EQ(*code_grant_from(wire(to_fields(grant))), grant);

  CodeRedeemMessage bad = redeem;
  bad.code.clear();
  EXPECT_FALSE(code_redeem_from(to_fields(bad)).ok()) << "no code";
  bad = redeem;
  bad.code = std::string(65, 'A');
  EXPECT_FALSE(code_redeem_from(to_fields(bad)).ok()) << "longer than any code";
  bad = redeem;
  bad.command = "apt-get";
  EXPECT_FALSE(code_redeem_from(to_fields(bad)).ok()) << "a relative command";
  Fields extra = to_fields(redeem);
  extra.add("grant_id", "x");
  EXPECT_FALSE(code_redeem_from(extra).ok());
  Fields no_uid;
  no_uid.add("v", "1").add("type", "code_challenge").add("user", "alice");
  EXPECT_FALSE(code_challenge_from(no_uid).ok());
  EXPECT_FALSE(code_grant_from(to_fields(challenge)).ok());
  EXPECT_FALSE(challenge_from(to_fields(grant)).ok());
}

TEST(Messages, SelfApprovalRoundTripsAndIsStrict) {
  const SelfApproveMessage self{"req-01a2"};
  EXPECT_EQ(*self_approve_from(wire(to_fields(self))), self);
  EXPECT_EQ(*message_type(to_fields(self)), MessageType::kSelfApprove);
  const Fields self_fields = to_fields(self);
  EXPECT_EQ(*self_fields.one("type"), "self_approve");
  EXPECT_FALSE(self_approve_from(to_fields(SelfApproveMessage{""})).ok());
  EXPECT_FALSE(self_approve_from(to_fields(SelfApproveMessage{std::string(kMaxNameBytes + 1, 'r')})).ok());
  Fields extra = to_fields(self);
  extra.add("uid", "0");
  EXPECT_FALSE(self_approve_from(extra).ok()) << "it speaks for the peer, never for a uid it names";
  Fields no_id;
  no_id.add("v", "1").add("type", "self_approve");
  EXPECT_FALSE(self_approve_from(no_id).ok());
  EXPECT_FALSE(self_approve_from(to_fields(CancelMessage{"req-01a2"})).ok());
  EXPECT_FALSE(cancel_from(to_fields(self)).ok());

  RequestStateMessage state{"req-01a2", RequestState::kPending, "", "", "desk", 0};
  state.self_approval_allowed = true;
  const auto back = request_state_from(wire(to_fields(state)));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, state);
  EXPECT_TRUE(back->self_approval_allowed);
  const Fields state_fields = to_fields(state);
  EXPECT_EQ(*state_fields.one("self_approval_allowed"), "1");
  state.self_approval_allowed = false;
  EXPECT_EQ(*request_state_from(wire(to_fields(state))), state);
  // Absent reads as false (nothing is granted by omission); anything but
  // "0" or "1", or twice, is refused.
  Fields absent;
  const Fields full = to_fields(state);
  for (const auto& field : full.all()) {
    if (field.key != "self_approval_allowed") absent.add(field.key, field.value);
  }
  ASSERT_TRUE(request_state_from(absent).ok());
  EXPECT_FALSE(request_state_from(absent)->self_approval_allowed);
  Fields yes = absent;
  yes.add("self_approval_allowed", "yes");
  EXPECT_FALSE(request_state_from(yes).ok());
  Fields twice = to_fields(state);
  twice.add("self_approval_allowed", "1");
  EXPECT_FALSE(request_state_from(twice).ok());
}

TEST(Messages, TheTypeAndVersionAreChecked) {
  auto f = to_fields(WaitMessage{"r", 1});
  EXPECT_EQ(*message_type(f), MessageType::kWait);
  auto wrong = check_from(f);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("expected a check message, got wait"), std::string::npos);
  Fields v2;
  v2.add("v", "2").add("type", "wait");
  auto version = message_type(v2);
  ASSERT_FALSE(version.ok());
  EXPECT_NE(version.error().message.find("protocol version 2"), std::string::npos);
  Fields unknown;
  unknown.add("v", "1").add("type", "launch_missiles");
  EXPECT_FALSE(message_type(unknown).ok());
  EXPECT_FALSE(message_type(Fields{}).ok());
}

// The fields of `m` with `key` replaced by `value` (or removed).
Fields with(Fields f, const std::string& key, std::optional<std::string> value) {
  std::vector<Field> out;
  for (const auto& field : f.all()) {
    if (field.key != key) {
      out.push_back(field);
    }
  }
  if (value) {
    out.push_back({key, *value});
  }
  return Fields(std::move(out));
}

TEST(Messages, DecodingRefusesWhatAPeerOfThisVersionNeverSends) {
  const Fields check = to_fields(CheckMessage{context()});
  const auto refused = [](const Result<CheckMessage>& r, std::string_view needle) {
    return !r.ok() && r.error().code == ErrorCode::kInvalidArgument &&
           r.error().message.find(needle) != std::string::npos;
  };
  EXPECT_TRUE(refused(check_from(with(check, "extra", "1")), "unknown field \"extra\""));
  EXPECT_TRUE(refused(check_from(with(check, "user", std::nullopt)), "\"user\" is missing"));
  EXPECT_TRUE(refused(check_from(with(check, "uid", "-1")), "\"uid\""));
  EXPECT_TRUE(refused(check_from(with(check, "uid", "4294967296")), "\"uid\""));
  EXPECT_TRUE(refused(check_from(with(check, "command", "apt-get")), "absolute path"));
  EXPECT_TRUE(refused(check_from(with(check, "mode", "root_please")), "\"mode\""));
  EXPECT_TRUE(refused(check_from(with(check, "noninteractive", "yes")), "\"noninteractive\""));
  EXPECT_TRUE(refused(check_from(with(check, "argv", std::nullopt)), "\"argv\" is missing"));
  EXPECT_TRUE(refused(check_from(with(check, "argv", std::string("a\0b", 3))), "NUL"));
  EXPECT_TRUE(refused(check_from(with(check, "user", std::string(kMaxNameBytes + 1, 'a'))), "longer than"));
  Fields twice = check;
  twice.add("uid", "0");
  EXPECT_TRUE(refused(check_from(twice), "\"uid\" is repeated"));
  auto wait = wait_from(with(to_fields(WaitMessage{"r", 1}), "wait_ms", std::to_string(kMaxWaitMs + 1)));
  EXPECT_FALSE(wait.ok());
  auto submit = submit_from(with(to_fields(SubmitMessage{context(), "why", 60}), "justification", std::nullopt));
  EXPECT_FALSE(submit.ok());
}

// One value of every message type with every field set away from its
// default.
CommandContext full_context() {
  CommandContext c = context();
  c.runas_group = "adm";
  return c;
}

DecisionMessage full_decision() {
  DecisionMessage d;
  d.action = Action::kAllow;
  d.reason = "rule \"installs\" allows it";
  d.rule = "fleet/installs";
  d.contact = "call 555-0100";
  d.reauthenticate = true;
  d.default_duration_s = 900;
  d.max_duration_s = 3600;
  d.approval_wait_s = 120;
  d.grant_id = "req-9";
  d.timeout_s = 42;
  d.record_processes = true;
  return d;
}

ExecMessage full_exec() {
  ExecMessage e;
  e.context = full_context();
  e.grant_id = "req-01a2";
  e.pid = 4242;
  e.ppid = 4241;
  e.exec_uid = 1000;
  return e;
}

// A frame as a C++ literal, one field a line, so a failure shows where the
// bytes part (and the golden frames below can be read field by field).
std::string literal(std::string_view frame) {
  const auto escaped = [](std::string_view bytes) {
    std::string out = "\"";
    for (const char c : bytes) {
      const auto b = static_cast<unsigned char>(c);
      if (b >= 0x20 && b < 0x7F && c != '"' && c != '\\') {
        out += c;
      } else {
        out += {'\\', static_cast<char>('0' + (b >> 6)), static_cast<char>('0' + ((b >> 3) & 7)),
                static_cast<char>('0' + (b & 7))};
      }
    }
    return out + "\"\n";
  };
  std::string out = escaped(frame.substr(0, 4));
  std::size_t at = 4;
  while (at < frame.size()) {
    const std::size_t key = static_cast<unsigned char>(frame[at]);
    std::size_t value = 0;
    for (std::size_t i = 0; i < 4 && at + 1 + key + i < frame.size(); ++i) {
      value = (value << 8) | static_cast<unsigned char>(frame[at + 1 + key + i]);
    }
    const std::size_t end = std::min(frame.size(), at + 1 + key + 4 + value);
    out += escaped(frame.substr(at, end - at));
    at = end;
  }
  return out;
}

struct Golden {
  Fields fields;
  // The frame the encoder wrote before the messages were described by
  // field tables; the tables must not change a byte.
  std::string_view bytes;
};

TEST(Messages, EveryMessageEncodesToTheGoldenBytes) {
  // clang-format off
  const std::vector<Golden> golden = {
      {to_fields(CheckMessage{full_context(), true}),
       "\000\000\001\026"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\005check"
       "\004user\000\000\000\005alice"
       "\003uid\000\000\000\0041000"
       "\003gid\000\000\000\0041000"
       "\012runas_user\000\000\000\010postgres"
       "\013runas_group\000\000\000\003adm"
       "\007command\000\000\000\020/usr/bin/apt-get"
       "\004argv\000\000\000\007apt-get"
       "\004argv\000\000\000\007install"
       "\004argv\000\000\000\003vim"
       "\004argv\000\000\000\001\377"
       "\003cwd\000\000\000\013/home/alice"
       "\003tty\000\000\000\012/dev/pts/3"
       "\004mode\000\000\000\013login_shell"
       "\016noninteractive\000\000\000\0011"
       "\014record_after\000\000\000\0011"sv},
      {to_fields(SubmitMessage{full_context(), "patch the web servers (ticket 4711)", 1800}),
       "\000\000\001M"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\006submit"
       "\004user\000\000\000\005alice"
       "\003uid\000\000\000\0041000"
       "\003gid\000\000\000\0041000"
       "\012runas_user\000\000\000\010postgres"
       "\013runas_group\000\000\000\003adm"
       "\007command\000\000\000\020/usr/bin/apt-get"
       "\004argv\000\000\000\007apt-get"
       "\004argv\000\000\000\007install"
       "\004argv\000\000\000\003vim"
       "\004argv\000\000\000\001\377"
       "\003cwd\000\000\000\013/home/alice"
       "\003tty\000\000\000\012/dev/pts/3"
       "\004mode\000\000\000\013login_shell"
       "\016noninteractive\000\000\000\0011"
       "\015justification\000\000\000#patch the web servers (ticket 4711)"
       "\012duration_s\000\000\000\0041800"sv},
      {to_fields(WaitMessage{"req-01a2", 5000}),
       "\000\000\000;"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\004wait"
       "\012request_id\000\000\000\010req-01a2"
       "\007wait_ms\000\000\000\0045000"sv},
      {to_fields(CancelMessage{"req-01a2"}),
       "\000\000\000-"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\006cancel"
       "\012request_id\000\000\000\010req-01a2"sv},
      {to_fields(full_decision()),
       "\000\000\001\020"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\010decision"
       "\006action\000\000\000\005allow"
       "\006reason\000\000\000\031rule \042installs\042 allows it"
       "\004rule\000\000\000\016fleet/installs"
       "\007contact\000\000\000\015call 555-0100"
       "\016reauthenticate\000\000\000\0011"
       "\022default_duration_s\000\000\000\003900"
       "\016max_duration_s\000\000\000\0043600"
       "\017approval_wait_s\000\000\000\003120"
       "\010grant_id\000\000\000\005req-9"
       "\011timeout_s\000\000\000\00242"
       "\020record_processes\000\000\000\0011"sv},
      {to_fields(RequestStateMessage{"req-01a2", RequestState::kApproved, "bob", "go ahead", "desk", 600, true}),
       "\000\000\000\250"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\015request_state"
       "\012request_id\000\000\000\010req-01a2"
       "\005state\000\000\000\010approved"
       "\010reviewer\000\000\000\003bob"
       "\007comment\000\000\000\010go ahead"
       "\007contact\000\000\000\004desk"
       "\013time_left_s\000\000\000\003600"
       "\025self_approval_allowed\000\000\000\0011"sv},
      {to_fields(ErrorMessage{ErrorCode::kConflict, "the request is no longer pending"}),
       "\000\000\000R"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\005error"
       "\004code\000\000\000\010conflict"
       "\007message\000\000\000 the request is no longer pending"sv},
      {to_fields(ListMessage{"alice", 1000, 1001, "bob"}),
       "\000\000\000K"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\004list"
       "\004user\000\000\000\005alice"
       "\003uid\000\000\000\0041000"
       "\003gid\000\000\000\0041001"
       "\011list_user\000\000\000\003bob"sv},
      {to_fields(ListingMessage{{"Allowed: /usr/bin/apt-get (rule fleet/apt)", "", "On request: any command"}}),
       "\000\000\000s"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\007listing"
       "\004line\000\000\000*Allowed: /usr/bin/apt-get (rule fleet/apt)"
       "\004line\000\000\000\000"
       "\004line\000\000\000\027On request: any command"sv},
      {to_fields(ElevateMessage{"alice", 1000, 1001, "/dev/pts/3", "patch night (ticket 4711)", 1800}),
       "\000\000\000\215"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\007elevate"
       "\004user\000\000\000\005alice"
       "\003uid\000\000\000\0041000"
       "\003gid\000\000\000\0041001"
       "\003tty\000\000\000\012/dev/pts/3"
       "\015justification\000\000\000\031patch night (ticket 4711)"
       "\012duration_s\000\000\000\0041800"sv},
      {to_fields(full_exec()),
       "\000\000\001B"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\004exec"
       "\004user\000\000\000\005alice"
       "\003uid\000\000\000\0041000"
       "\003gid\000\000\000\0041000"
       "\012runas_user\000\000\000\010postgres"
       "\013runas_group\000\000\000\003adm"
       "\007command\000\000\000\020/usr/bin/apt-get"
       "\004argv\000\000\000\007apt-get"
       "\004argv\000\000\000\007install"
       "\004argv\000\000\000\003vim"
       "\004argv\000\000\000\001\377"
       "\003cwd\000\000\000\013/home/alice"
       "\003tty\000\000\000\012/dev/pts/3"
       "\004mode\000\000\000\013login_shell"
       "\016noninteractive\000\000\000\0011"
       "\010grant_id\000\000\000\010req-01a2"
       "\003pid\000\000\000\0044242"
       "\004ppid\000\000\000\0044241"
       "\010exec_uid\000\000\000\0041000"sv},
      {to_fields(SelfApproveMessage{"req-01a2"}),
       "\000\000\0003"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\014self_approve"
       "\012request_id\000\000\000\010req-01a2"sv},
      {to_fields(CodeChallengeMessage{"alice", 1000}),
       "\000\000\0008"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\016code_challenge"
       "\004user\000\000\000\005alice"
       "\003uid\000\000\000\0041000"sv},
      {to_fields(ChallengeMessage{"AC1A-BWY1", "laptop-7", "ep-1", 3600}),
       "\000\000\000j"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\011challenge"
       "\011challenge\000\000\000\011AC1A-BWY1"
       "\004host\000\000\000\010laptop-7"
       "\013endpoint_id\000\000\000\004ep-1"
       "\014expires_in_s\000\000\000\0043600"sv},
      {to_fields(CodeRedeemMessage{"alice", 1000, "/dev/pts/1", "AC1A-BWY1", "CC65-Z6PH-TYKE", "/usr/bin/apt-get"}),
       "\000\000\000\221"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\013code_redeem"
       "\004user\000\000\000\005alice"
       "\003uid\000\000\000\0041000"
       "\003tty\000\000\000\012/dev/pts/1"
       "\011challenge\000\000\000\011AC1A-BWY1"
       "\004code\000\000\000\016CC65-Z6PH-TYKE"
       "\007command\000\000\000\020/usr/bin/apt-get"sv},
      {to_fields(CodeGrantMessage{"code-response-02a5f3c1-g1", true, "/usr/bin/apt-get", 3600}),
       "\000\000\000}"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\012code_grant"
       "\010grant_id\000\000\000\031code-response-02a5f3c1-g1"
       "\007session\000\000\000\0011"
       "\007command\000\000\000\020/usr/bin/apt-get"
       "\013time_left_s\000\000\000\0043600"sv},
      {to_fields(ProgressMessage{}),
       "\000\000\000\030"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\010progress"sv},
      {to_fields(RecordedMessage{}),
       "\000\000\000\030"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\010recorded"sv},
  };
  // clang-format on
  std::set<MessageType> types;
  for (const auto& [fields, bytes] : golden) {
    const auto type = message_type(fields);
    ASSERT_TRUE(type.ok()) << type.error().message;
    types.insert(*type);
    const auto frame = encode_frame(fields);
    ASSERT_TRUE(frame.ok()) << frame.error().message;
    EXPECT_EQ(literal(*frame), literal(bytes)) << to_string(*type);
  }
  EXPECT_EQ(types.size(), golden.size()) << "one golden frame per message type";
  EXPECT_EQ(types.size(), static_cast<std::size_t>(MessageType::kRecorded) + 1) << "every message type";
}

// Defaults too: an empty text, a zero, false and an empty list are sent
// like any other value (nothing is left out because it is the default).
TEST(Messages, DefaultValuesEncodeToTheGoldenBytes) {
  // clang-format off
  const std::vector<Golden> golden = {
      {to_fields(CheckMessage{}),
       "\000\000\000\235"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\005check"
       "\004user\000\000\000\000"
       "\003uid\000\000\000\0010"
       "\003gid\000\000\000\0010"
       "\012runas_user\000\000\000\000"
       "\013runas_group\000\000\000\000"
       "\007command\000\000\000\000"
       "\003cwd\000\000\000\000"
       "\003tty\000\000\000\000"
       "\004mode\000\000\000\003run"
       "\016noninteractive\000\000\000\0010"
       "\014record_after\000\000\000\0010"sv},
      {to_fields(SubmitMessage{}),
       "\000\000\000\256"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\006submit"
       "\004user\000\000\000\000"
       "\003uid\000\000\000\0010"
       "\003gid\000\000\000\0010"
       "\012runas_user\000\000\000\000"
       "\013runas_group\000\000\000\000"
       "\007command\000\000\000\000"
       "\003cwd\000\000\000\000"
       "\003tty\000\000\000\000"
       "\004mode\000\000\000\003run"
       "\016noninteractive\000\000\000\0010"
       "\015justification\000\000\000\000"
       "\012duration_s\000\000\000\0010"sv},
      {to_fields(WaitMessage{}),
       "\000\000\0000"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\004wait"
       "\012request_id\000\000\000\000"
       "\007wait_ms\000\000\000\0010"sv},
      {to_fields(CancelMessage{}),
       "\000\000\000%"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\006cancel"
       "\012request_id\000\000\000\000"sv},
      {to_fields(DecisionMessage{}),
       "\000\000\000\316"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\010decision"
       "\006action\000\000\000\004deny"
       "\006reason\000\000\000\000"
       "\004rule\000\000\000\000"
       "\007contact\000\000\000\000"
       "\016reauthenticate\000\000\000\0010"
       "\022default_duration_s\000\000\000\0010"
       "\016max_duration_s\000\000\000\0010"
       "\017approval_wait_s\000\000\000\0010"
       "\010grant_id\000\000\000\000"
       "\011timeout_s\000\000\000\0010"
       "\020record_processes\000\000\000\0010"sv},
      {to_fields(RequestStateMessage{}),
       "\000\000\000\216"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\015request_state"
       "\012request_id\000\000\000\000"
       "\005state\000\000\000\007pending"
       "\010reviewer\000\000\000\000"
       "\007comment\000\000\000\000"
       "\007contact\000\000\000\000"
       "\013time_left_s\000\000\000\0010"
       "\025self_approval_allowed\000\000\000\0010"sv},
      {to_fields(ErrorMessage{}),
       "\000\000\0002"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\005error"
       "\004code\000\000\000\010internal"
       "\007message\000\000\000\000"sv},
      {to_fields(ListMessage{}),
       "\000\000\000="
       "\001v\000\000\000\0011"
       "\004type\000\000\000\004list"
       "\004user\000\000\000\000"
       "\003uid\000\000\000\0010"
       "\003gid\000\000\000\0010"
       "\011list_user\000\000\000\000"sv},
      {to_fields(ListingMessage{}),
       "\000\000\000\027"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\007listing"sv},
      {to_fields(ElevateMessage{}),
       "\000\000\000\134"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\007elevate"
       "\004user\000\000\000\000"
       "\003uid\000\000\000\0010"
       "\003gid\000\000\000\0010"
       "\003tty\000\000\000\000"
       "\015justification\000\000\000\000"
       "\012duration_s\000\000\000\0010"sv},
      {to_fields(ExecMessage{}),
       "\000\000\000\270"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\004exec"
       "\004user\000\000\000\000"
       "\003uid\000\000\000\0010"
       "\003gid\000\000\000\0010"
       "\012runas_user\000\000\000\000"
       "\013runas_group\000\000\000\000"
       "\007command\000\000\000\000"
       "\003cwd\000\000\000\000"
       "\003tty\000\000\000\000"
       "\004mode\000\000\000\003run"
       "\016noninteractive\000\000\000\0010"
       "\010grant_id\000\000\000\000"
       "\003pid\000\000\000\0010"
       "\004ppid\000\000\000\0010"
       "\010exec_uid\000\000\000\0010"sv},
      {to_fields(SelfApproveMessage{}),
       "\000\000\000+"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\014self_approve"
       "\012request_id\000\000\000\000"sv},
      {to_fields(CodeChallengeMessage{}),
       "\000\000\0000"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\016code_challenge"
       "\004user\000\000\000\000"
       "\003uid\000\000\000\0010"sv},
      {to_fields(ChallengeMessage{}),
       "\000\000\000R"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\011challenge"
       "\011challenge\000\000\000\000"
       "\004host\000\000\000\000"
       "\013endpoint_id\000\000\000\000"
       "\014expires_in_s\000\000\000\0010"sv},
      {to_fields(CodeRedeemMessage{}),
       "\000\000\000X"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\013code_redeem"
       "\004user\000\000\000\000"
       "\003uid\000\000\000\0010"
       "\003tty\000\000\000\000"
       "\011challenge\000\000\000\000"
       "\004code\000\000\000\000"
       "\007command\000\000\000\000"sv},
      {to_fields(CodeGrantMessage{}),
       "\000\000\000Q"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\012code_grant"
       "\010grant_id\000\000\000\000"
       "\007session\000\000\000\0010"
       "\007command\000\000\000\000"
       "\013time_left_s\000\000\000\0010"sv},
      {to_fields(ProgressMessage{}),
       "\000\000\000\030"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\010progress"sv},
      {to_fields(RecordedMessage{}),
       "\000\000\000\030"
       "\001v\000\000\000\0011"
       "\004type\000\000\000\010recorded"sv},
  };
  // clang-format on
  for (const auto& [fields, bytes] : golden) {
    const auto frame = encode_frame(fields);
    ASSERT_TRUE(frame.ok()) << frame.error().message;
    EXPECT_EQ(literal(*frame), literal(bytes)) << *fields.one("type");
  }
}

// What decoding one message type must accept and refuse, written out from
// docs/agent-protocol.md rather than taken from the codec's tables.
struct Bound {
  std::string key;
  std::uint64_t max = 0;  // bytes of a text, or the largest number
  bool text = true;
};
struct Invalid {
  std::string key;
  std::string value;
  std::string_view what;  // said by the refusal
};
struct Spec {
  Fields full;  // every field set
  // Decodes, and encodes what it decoded again.
  std::function<Result<Fields>(const Fields&)> round_trip;
  std::set<std::string> required;  // besides "v" and "type"
  std::vector<Bound> bounds;
  std::vector<Invalid> invalid = {};
};

template <class M>
std::function<Result<Fields>(const Fields&)> through(Result<M> (*decode)(const Fields&)) {
  return [decode](const Fields& f) -> Result<Fields> {
    auto m = decode(f);
    if (!m) return m.error();
    return to_fields(*m);
  };
}

std::vector<Bound> context_bounds() {
  return {{"user", kMaxNameBytes},       {"uid", UINT32_MAX, false},     {"gid", UINT32_MAX, false},
          {"runas_user", kMaxNameBytes}, {"runas_group", kMaxNameBytes}, {"command", kMaxPathBytes},
          {"cwd", kMaxPathBytes},        {"tty", kMaxNameBytes}};
}
std::vector<Bound> operator+(std::vector<Bound> a, const std::vector<Bound>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
const std::set<std::string> kContextRequired = {"user", "uid", "gid", "command", "argv", "mode"};
std::vector<Invalid> context_invalid() {
  return {{"command", "apt-get", "must be an absolute path"},
          {"command", "", "must be an absolute path"},
          {"argv", std::string("a\0b", 3), "NUL"},
          {"mode", "root_please", "unknown value"},
          {"mode", "", "unknown value"},
          {"noninteractive", "yes", "must be 0 or 1"},
          {"uid", "-1", "whole number"},
          {"uid", "01", "whole number"},
          {"gid", "", "whole number"}};
}
std::vector<Invalid> operator+(std::vector<Invalid> a, const std::vector<Invalid>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
std::set<std::string> operator+(std::set<std::string> a, const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

std::vector<Spec> every_message() {
  constexpr std::uint64_t u32 = UINT32_MAX;
  return {
      {to_fields(CheckMessage{full_context(), true}), through(check_from), kContextRequired, context_bounds(),
       context_invalid() + std::vector<Invalid>{{"record_after", "yes", "must be 0 or 1"}}},
      {to_fields(SubmitMessage{full_context(), "patch the web servers (ticket 4711)", 1800}), through(submit_from),
       kContextRequired + std::set<std::string>{"justification", "duration_s"},
       context_bounds() + std::vector<Bound>{{"justification", kMaxTextBytes}, {"duration_s", kMaxSeconds, false}},
       context_invalid()},
      {to_fields(WaitMessage{"req-01a2", 5000}),
       through(wait_from),
       {"request_id", "wait_ms"},
       {{"request_id", kMaxNameBytes}, {"wait_ms", kMaxWaitMs, false}}},
      {to_fields(CancelMessage{"req-01a2"}), through(cancel_from), {"request_id"}, {{"request_id", kMaxNameBytes}}},
      {to_fields(full_decision()),
       through(decision_from),
       {"action"},
       {{"reason", kMaxTextBytes},
        {"rule", kMaxNameBytes},
        {"contact", kMaxTextBytes},
        {"default_duration_s", kMaxSeconds, false},
        {"max_duration_s", kMaxSeconds, false},
        {"approval_wait_s", kMaxSeconds, false},
        {"grant_id", kMaxNameBytes},
        {"timeout_s", kMaxSeconds, false}},
       {{"action", "maybe", "unknown value"},
        {"reauthenticate", "true", "must be 0 or 1"},
        {"record_processes", "2", "must be 0 or 1"}}},
      {to_fields(RequestStateMessage{"req-01a2", RequestState::kApproved, "bob", "go ahead", "desk", 600, true}),
       through(request_state_from),
       {"request_id", "state"},
       {{"request_id", kMaxNameBytes},
        {"reviewer", kMaxNameBytes},
        {"comment", kMaxTextBytes},
        {"contact", kMaxTextBytes},
        {"time_left_s", kMaxSeconds, false}},
       {{"state", "approved_by_me", "unknown value"}, {"self_approval_allowed", "yes", "must be 0 or 1"}}},
      // "code" is left out: see AnUnknownErrorCategoryIsStillAnError.
      {to_fields(ErrorMessage{ErrorCode::kConflict, "the request is no longer pending"}),
       through(error_from),
       {"message"},
       {{"message", kMaxTextBytes}}},
      {to_fields(ListMessage{"alice", 1000, 1001, "bob"}),
       through(list_from),
       {"user", "uid", "gid", "list_user"},
       {{"user", kMaxNameBytes}, {"uid", u32, false}, {"gid", u32, false}, {"list_user", kMaxNameBytes}}},
      {to_fields(ListingMessage{{"Allowed: /usr/bin/apt-get (rule fleet/apt)", "", "On request: any command"}}),
       through(listing_from),
       {},
       {{"line", kMaxTextBytes}},
       {{"line", "two\nlines", "newline"}}},
      {to_fields(ElevateMessage{"alice", 1000, 1001, "/dev/pts/3", "patch night (ticket 4711)", 1800}),
       through(elevate_from),
       {"user", "uid", "gid", "justification", "duration_s"},
       {{"user", kMaxNameBytes},
        {"uid", u32, false},
        {"gid", u32, false},
        {"tty", kMaxNameBytes},
        {"justification", kMaxTextBytes},
        {"duration_s", kMaxSeconds, false}}},
      {to_fields(full_exec()), through(exec_from),
       kContextRequired + std::set<std::string>{"grant_id", "pid", "ppid", "exec_uid"},
       context_bounds() +
           std::vector<Bound>{
               {"grant_id", kMaxNameBytes}, {"pid", u32, false}, {"ppid", u32, false}, {"exec_uid", u32, false}},
       context_invalid() + std::vector<Invalid>{{"grant_id", "", "is empty"}}},
      {to_fields(SelfApproveMessage{"req-01a2"}),
       through(self_approve_from),
       {"request_id"},
       {{"request_id", kMaxNameBytes}},
       {{"request_id", "", "is empty"}}},
      {to_fields(CodeChallengeMessage{"alice", 1000}),
       through(code_challenge_from),
       {"user", "uid"},
       {{"user", kMaxNameBytes}, {"uid", u32, false}}},
      {to_fields(ChallengeMessage{"AC1A-BWY1", "laptop-7", "ep-1", 3600}),
       through(challenge_from),
       {"challenge", "host", "endpoint_id", "expires_in_s"},
       {{"challenge", 64},
        {"host", kMaxNameBytes},
        {"endpoint_id", kMaxNameBytes},
        {"expires_in_s", kMaxSeconds, false}}},
      {to_fields(CodeRedeemMessage{"alice", 1000, "/dev/pts/1", "AC1A-BWY1", "CC65-Z6PH-TYKE", "/usr/bin/apt-get"}),
       through(code_redeem_from),
       {"user", "uid", "code"},
       {{"user", kMaxNameBytes},
        {"uid", u32, false},
        {"tty", kMaxNameBytes},
        {"challenge", 64},
        {"code", 64},
        {"command", kMaxPathBytes}},
       {{"code", "", "is empty"}, {"command", "apt-get", "must be an absolute path"}}},
      {to_fields(CodeGrantMessage{"code-response-02a5f3c1-g1", true, "/usr/bin/apt-get", 3600}),
       through(code_grant_from),
       {"grant_id", "time_left_s"},
       {{"grant_id", kMaxNameBytes}, {"command", kMaxPathBytes}, {"time_left_s", kMaxSeconds, false}},
       {{"session", "", "must be 0 or 1"}}},
      {to_fields(ProgressMessage{}), through(progress_from), {}, {}},
      {to_fields(RecordedMessage{}), through(recorded_from), {}, {}},
  };
}

// A text of n bytes that is otherwise valid where it goes.
std::string text_of(const std::string& key, std::size_t n) {
  return key == "command" ? "/" + std::string(n - 1, 'a') : std::string(n, 'a');
}

// Refused as InvalidArgument with a message that names `key` (unless "")
// and says `what`.
::testing::AssertionResult refused(const Result<Fields>& r, const std::string& key, std::string_view what) {
  if (r.ok()) return ::testing::AssertionFailure() << "accepted";
  const auto& m = r.error().message;
  if (r.error().code != ErrorCode::kInvalidArgument ||
      (!key.empty() && m.find("\"" + key + "\"") == std::string::npos) || m.find(what) == std::string::npos) {
    return ::testing::AssertionFailure() << "refused with: " << m;
  }
  return ::testing::AssertionSuccess();
}

TEST(Messages, EveryMessageTypeIsDecodedStrictly) {
  const auto specs = every_message();
  ASSERT_EQ(specs.size(), static_cast<std::size_t>(MessageType::kRecorded) + 1);
  for (const auto& spec : specs) {
    const std::string type = *spec.full.one("type");
    SCOPED_TRACE(type);
    const auto back = spec.round_trip(spec.full);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, spec.full) << "decoded and encoded again, every field is as it was";

    EXPECT_TRUE(refused(spec.round_trip(with(spec.full, "unknown_1", "x")), "unknown_1", "unknown field"));
    for (const auto& field : spec.full.all()) {
      const std::string& key = field.key;
      if (type == "error" && key == "code") continue;
      if (spec.full.count(key) == 1) {
        Fields twice = spec.full;
        twice.add(key, field.value);
        EXPECT_TRUE(refused(spec.round_trip(twice), key, "is repeated"));
      }
      const bool required = key == "v" || key == "type" || spec.required.contains(key);
      const auto without = spec.round_trip(with(spec.full, key, std::nullopt));
      if (required) {
        EXPECT_TRUE(refused(without, key, "is missing"));
      } else {
        EXPECT_TRUE(without.ok()) << key << " may be left out: " << without.error().message;
      }
    }
    for (const auto& [key, max, is_text] : spec.bounds) {
      SCOPED_TRACE(key);
      const std::string most = is_text ? text_of(key, max) : std::to_string(max);
      const std::string over = is_text ? text_of(key, max + 1) : std::to_string(max + 1);
      const auto at_limit = spec.round_trip(with(spec.full, key, most));
      ASSERT_TRUE(at_limit.ok()) << at_limit.error().message;
      EXPECT_EQ(*at_limit->every(key).rbegin(), most);
      const std::string what = is_text ? "is longer than " + std::to_string(max) + " bytes"
                                       : "must be a whole number from 0 to " + std::to_string(max);
      EXPECT_TRUE(refused(spec.round_trip(with(spec.full, key, over)), key, what));
      if (is_text) {
        EXPECT_TRUE(refused(spec.round_trip(with(spec.full, key, std::string("/a\0b", 4))), key, "NUL"));
      }
    }
    for (const auto& [key, value, what] : spec.invalid) {
      EXPECT_TRUE(refused(spec.round_trip(with(spec.full, key, value)), key, what)) << key << "=" << value;
    }
    EXPECT_TRUE(refused(spec.round_trip(with(spec.full, "v", "4294967296")), "v", "whole number"));
    EXPECT_TRUE(refused(spec.round_trip(with(spec.full, "v", "2")), "", "protocol version 2"));  // names no field
    EXPECT_TRUE(refused(spec.round_trip(with(spec.full, "type", "launch")), "type", "unknown value"));
  }
}

TEST(Messages, AnUnknownErrorCategoryIsStillAnError) {
  auto e = error_from(with(to_fields(ErrorMessage{ErrorCode::kConflict, "m"}), "code", "quota_exceeded"));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, ErrorCode::kInternal);
  EXPECT_EQ(e->message, "m");
}

TEST(Messages, RepeatedFieldsAreCounted) {
  const auto with_argv = [](std::size_t n) {
    CheckMessage m{full_context()};
    m.context.argv.assign(n, "x");
    return check_from(to_fields(m));
  };
  EXPECT_TRUE(with_argv(1).ok());
  EXPECT_TRUE(with_argv(kMaxArgs).ok());
  ASSERT_FALSE(with_argv(kMaxArgs + 1).ok());
  EXPECT_NE(with_argv(kMaxArgs + 1).error().message.find("\"argv\" has more than 4096 entries"), std::string::npos);
  ASSERT_FALSE(with_argv(0).ok());
  EXPECT_NE(with_argv(0).error().message.find("\"argv\" is missing"), std::string::npos);
  const auto lines = listing_from(to_fields(ListingMessage{std::vector<std::string>(kMaxListingLines + 1, "x")}));
  ASSERT_FALSE(lines.ok());
  EXPECT_NE(lines.error().message.find("\"line\" has more than 1000 entries"), std::string::npos);
}

// Whatever is wrong with "code" (missing, twice, unknown), the message
// still says there was an error.
TEST(Messages, AnErrorWithoutAReadableCategoryIsInternal) {
  const Fields error = to_fields(ErrorMessage{ErrorCode::kConflict, "m"});
  Fields twice = error;
  twice.add("code", "conflict");
  for (const Fields& f : {with(error, "code", std::nullopt), twice, with(error, "code", "")}) {
    const auto e = error_from(f);
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(e->code, ErrorCode::kInternal);
    EXPECT_EQ(e->message, "m");
  }
}

}  // namespace
}  // namespace hoist::ipc

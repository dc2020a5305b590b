// /proc parsers: the kernel's status and syscall texts, strictly read, and
// the readers against this very process.
#include "platform/proc_status.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hoist::platform {
namespace {

constexpr std::string_view kStatus =
    "Name:\tbash\nUmask:\t0022\nState:\tt (tracing stop)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t4241\n"
    "TracerPid:\t4200\nUid:\t1000\t0\t0\t0\nGid:\t1000\t0\t0\t0\nFDSize:\t64\n";

TEST(ProcStatus, ReadsStateParentTracerAndUids) {
  auto s = parse_proc_status(kStatus);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->state, 't');
  EXPECT_EQ(s->ppid, 4241);
  EXPECT_EQ(s->tracer_pid, 4200);
  EXPECT_EQ(s->real_uid, 1000U);
  EXPECT_EQ(s->effective_uid, 0U);
}

TEST(ProcStatus, RefusesMissingOrMalformedLines) {
  for (const std::string_view bad : {
           std::string_view(""),
           std::string_view("State:\tR (running)\nPPid:\t1\nTracerPid:\t0\n"),              // no Uid
           std::string_view("State:\tR\nPPid:\t-1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\n"),     // negative
           std::string_view("State:\tR\nPPid:\t1x\nTracerPid:\t0\nUid:\t0\t0\t0\t0\n"),     // junk
           std::string_view("State:\tR\nPPid:\t1\nTracerPid:\t0\nUid:\t0\n"),               // one uid
           std::string_view("State:\t\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\t0\t0\n"),       // no state
           std::string_view("State:\tR\nPPid:\t1\nTracerPid:\t99999999999\nUid:\t0\t0\n"),  // overflow
           std::string_view("XState:\tR\nPPid:\t1\nTracerPid:\t0\nUid:\t0\t0\n"),           // not the key
       }) {
    EXPECT_FALSE(parse_proc_status(bad).ok()) << bad;
  }
}

TEST(ProcSyscall, ReadsTheCallAndItsArguments) {
  auto s = parse_proc_syscall("59 0x55d0c0a1b2c0 0x7ffd1 0x7ffd2 0x0 0x0 0x8 0x7ffd3 0x7f11\n");
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->number, 59);
  EXPECT_EQ((*s)->args[0], 0x55d0c0a1b2c0U);
  EXPECT_EQ((*s)->args[5], 0x8U);
  for (const std::string_view none : {"running", "running\n", "-1 0x7ffd 0x7f11\n"}) {
    auto n = parse_proc_syscall(none);
    ASSERT_TRUE(n.ok()) << none;
    EXPECT_FALSE(n->has_value()) << none;
  }
  for (const std::string_view bad : {"", "x", "59", "59 0x1 0x2", "59 1 2 3 4 5 6", "59 0xg 0x0 0x0 0x0 0x0 0x0"}) {
    EXPECT_FALSE(parse_proc_syscall(bad).ok()) << bad;
  }
}

TEST(ProcStatus, ReadsThisProcess) {
  auto s = read_proc_status(::getpid());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->ppid, ::getppid());
  EXPECT_EQ(s->real_uid, ::getuid());
  EXPECT_EQ(s->effective_uid, ::geteuid());
  const auto pids = list_pids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), ::getpid()), pids.end());
  EXPECT_FALSE(read_proc_status(0).ok());
}

// The controlling terminal: field 7 of /proc/<pid>/stat, counted after the
// command name's last ')', whatever that name holds.
TEST(ProcStat, ReadsTheTerminalAfterTheCommandName) {
  EXPECT_EQ(*parse_proc_stat_tty("4242 (sudo) S 4241 4242 4200 34817 4242 4194560 0"), 34817U);
  EXPECT_EQ(*parse_proc_stat_tty("4242 (a) b) (c) S 1 2 3 34818 5 6"), 34818U);
  EXPECT_EQ(*parse_proc_stat_tty("4242 (x y ) 0 (z)) R 1 2 3 0 5"), 0U);
  EXPECT_FALSE(parse_proc_stat_tty("4242 (sudo S 4241").ok());
  EXPECT_FALSE(parse_proc_stat_tty("4242 (sudo) S 4241 4242").ok());
  EXPECT_FALSE(parse_proc_stat_tty("4242 (sudo) S 4241 4242 4200 -1 7").ok());
  EXPECT_FALSE(parse_proc_stat_tty("4242 (sudo) S 4241 4242 4200 34817x 7").ok());
}

TEST(ProcStat, TerminalPaths) {
  EXPECT_EQ(terminal_path((136U << 8) | 1U), "/dev/pts/1");
  EXPECT_EQ(terminal_path((137U << 8) | 2U), "/dev/pts/258");
  // A minor above 255 keeps its high bits above the major.
  EXPECT_EQ(terminal_path((136U << 8) | (0x12U << 20) | 0x34U), "/dev/pts/" + std::to_string(0x1234));
  EXPECT_EQ(terminal_path((4U << 8) | 3U), "/dev/tty3");
  EXPECT_EQ(terminal_path(4U << 8), std::nullopt);          // /dev/tty0, the current console
  EXPECT_EQ(terminal_path((4U << 8) | 64U), std::nullopt);  // ttyS0, a serial line
  EXPECT_EQ(terminal_path((5U << 8) | 0U), std::nullopt);   // /dev/tty
  EXPECT_EQ(terminal_path(0), std::nullopt);
}

TEST(ProcStat, ReadsThisProcess) {
  auto tty = read_proc_stat_tty(::getpid());
  ASSERT_TRUE(tty.ok()) << tty.error().message;
  EXPECT_FALSE(read_proc_stat_tty(-1).ok());
}

}  // namespace
}  // namespace hoist::platform

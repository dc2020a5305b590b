// The real DoctorProbe (doctor.h): the machine's files, the agent's socket,
// the agent's state, hoistd and dpkg.
//
// doctor runs as root and looks at paths other people may control (a
// sudo.conf given on the command line, the break-glass file, a socket in
// /run), so:
// MUST: no symbolic link is followed where the plugin or sudo would not
// follow one (the break-glass file, sudo.conf, the socket's own name), and
// no file is opened for reading before it was seen to be a regular file
// (O_PATH, fstat, then reopened through /proc/self/fd): no FIFO blocks
// doctor, no device's driver runs. The break-glass file and the plugin are
// read only when their owner, mode and directories pass.
// MUST: every read is bounded (sudo.conf 1 MiB, the break-glass file
// 64 KiB, the plugin 64 MiB, dpkg's answer 64 KiB, one agent frame, the
// group database 100,000 entries), and so is every wait (the agent 5 s,
// hoistd 10 s each way, dpkg-query 10 s).
// MUST: nothing user-controlled is executed: only /usr/bin/dpkg-query with
// fixed arguments and environment, through /usr/bin/timeout.
// MUST: the socket is connected to only when it is a socket (not a link)
// in a directory chain only root can write; who answers is checked with
// SO_PEERCRED.
// MUST: hoistd is asked as the agent asks it (the pinned CA, the
// endpoint's credential): a heartbeat and GET /api/v1/agent/policy with
// the agent's ETag; nothing else is written there.
#pragma once

#include <memory>

#include "agent/doctor.h"

namespace hoist::agent {

std::unique_ptr<DoctorProbe> make_system_probe();

}  // namespace hoist::agent

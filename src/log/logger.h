// Structured logs for the daemons (hoistd and hoist-agent): one JSON object
// per line on stderr, or journald's native fields when stderr is the journal
// (started by systemd). Log lines are for operators; the audit trail, not
// the log, is the record of who did what.
//
// MUST: secrets (passwords, tokens, cookies) are never logged.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace hoist::log {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

std::string_view to_string(LogLevel level);

struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, std::int64_t v) : key(k), value(std::to_string(v)), is_number(true) {}
  LogField(std::string_view k, int v) : LogField(k, static_cast<std::int64_t>(v)) {}
  LogField(std::string_view k, std::uint64_t v) : key(k), value(std::to_string(v)), is_number(true) {}
  LogField(std::string_view k, double v);

  std::string key;  // snake_case
  std::string value;
  bool is_number = false;
};

class Logger {
 public:
  virtual ~Logger() = default;
  // Never throws; a failed write is dropped.
  virtual void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) = 0;

  void debug(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kDebug, event, fields);
  }
  void info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kInfo, event, fields);
  }
  void warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kWarning, event, fields);
  }
  void error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::kError, event, fields);
  }
};

// JSON lines: {"time":"...","level":"info","event":"...",<fields>}. Invalid
// UTF-8 in a value becomes U+FFFD so every line stays valid JSON.
std::unique_ptr<Logger> make_json_logger(std::FILE* out, LogLevel min_level);

// journald with MESSAGE=<event>, PRIORITY and HOIST_<KEY>=<value> fields.
std::unique_ptr<Logger> make_journal_logger(LogLevel min_level);

// journald when stderr is connected to the journal (JOURNAL_STREAM names
// stderr's device and inode, as systemd sets it), JSON lines otherwise.
std::unique_ptr<Logger> make_default_logger(LogLevel min_level);

// A logger that drops everything (tests).
std::unique_ptr<Logger> make_null_logger();

}  // namespace hoist::log

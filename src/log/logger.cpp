#include "log/logger.h"

#include "net/json_text.h"

#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace hoist::log {

namespace {

std::string timestamp_now() {
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", now);
}

class JsonLogger final : public Logger {
 public:
  JsonLogger(std::FILE* out, LogLevel min_level) : out_(out), min_(min_level) {}

  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) override {
    if (level < min_) {
      return;
    }
    try {
      std::string line;
      line.reserve(256);
      line += "{\"time\":";
      net::append_json_string(line, timestamp_now());
      line += ",\"level\":";
      net::append_json_string(line, to_string(level));
      line += ",\"event\":";
      net::append_json_string(line, event);
      for (const auto& f : fields) {
        line += ',';
        net::append_json_string(line, f.key);
        line += ':';
        if (f.is_number) {
          line += f.value;
        } else {
          net::append_json_string(line, f.value);
        }
      }
      line += "}\n";
      const std::lock_guard lock(mu_);
      std::fwrite(line.data(), 1, line.size(), out_);
      std::fflush(out_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a log line is never worth a crash
    }
  }

 private:
  std::FILE* out_;
  LogLevel min_;
  std::mutex mu_;
};

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return LOG_DEBUG;
    case LogLevel::kInfo: return LOG_INFO;
    case LogLevel::kWarning: return LOG_WARNING;
    case LogLevel::kError: return LOG_ERR;
  }
  return LOG_ERR;
}

class JournalLogger final : public Logger {
 public:
  explicit JournalLogger(LogLevel min_level) : min_(min_level) {}

  void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) override {
    if (level < min_) {
      return;
    }
    try {
      std::vector<std::string> items;
      items.reserve(fields.size() + 3);
      std::string message(event);
      for (const auto& f : fields) {
        message += fmt::format(" {}={}", f.key, f.value);
      }
      items.push_back("MESSAGE=" + message);
      items.push_back(fmt::format("PRIORITY={}", syslog_priority(level)));
      items.push_back(fmt::format("HOIST_EVENT={}", event));
      for (const auto& f : fields) {
        std::string key;
        for (char c : f.key) {
          key += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : ((c >= '0' && c <= '9') ? c : '_');
        }
        items.push_back("HOIST_" + key + "=" + f.value);
      }
      std::vector<iovec> iov;
      iov.reserve(items.size());
      for (auto& item : items) {
        iov.push_back({item.data(), item.size()});
      }
      sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
    } catch (...) {  // NOLINT(bugprone-empty-catch): a log line is never worth a crash
    }
  }

 private:
  LogLevel min_;
};

class NullLogger final : public Logger {
 public:
  void log(LogLevel /*level*/, std::string_view /*event*/, std::initializer_list<LogField> /*fields*/) override {}
};

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");  // NOLINT(concurrency-mt-unsafe): read once at start
  if (stream == nullptr) {
    return false;
  }
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) {
    return false;
  }
  return fmt::format("{}:{}", st.st_dev, st.st_ino) == stream;
}

}  // namespace

LogField::LogField(std::string_view k, double v) : key(k), value(fmt::format("{}", v)), is_number(true) {}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "error";
}

std::unique_ptr<Logger> make_json_logger(std::FILE* out, LogLevel min_level) {
  return std::make_unique<JsonLogger>(out, min_level);
}

std::unique_ptr<Logger> make_journal_logger(LogLevel min_level) {
  return std::make_unique<JournalLogger>(min_level);
}

std::unique_ptr<Logger> make_default_logger(LogLevel min_level) {
  if (stderr_is_journal()) {
    return make_journal_logger(min_level);
  }
  return make_json_logger(stderr, min_level);
}

std::unique_ptr<Logger> make_null_logger() {
  return std::make_unique<NullLogger>();
}

}  // namespace hoist::log

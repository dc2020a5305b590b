// The metrics registry: the exact text of each kind of family, escaping,
// value formatting, the cap on series, misuse refused, and feeding from
// many threads while rendering.
#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hoist::metrics {
namespace {

TEST(Names, MetricAndLabelNames) {
  EXPECT_TRUE(is_metric_name("hoist_http_requests_total"));
  EXPECT_TRUE(is_metric_name("a:b_c"));
  EXPECT_TRUE(is_metric_name("_x"));
  EXPECT_FALSE(is_metric_name(""));
  EXPECT_FALSE(is_metric_name("1abc"));
  EXPECT_FALSE(is_metric_name("a-b"));
  EXPECT_FALSE(is_metric_name("a b"));
  EXPECT_FALSE(is_metric_name("a\"b"));
  EXPECT_TRUE(is_label_name("route"));
  EXPECT_TRUE(is_label_name("_x"));
  EXPECT_FALSE(is_label_name("__name__"));
  EXPECT_FALSE(is_label_name("a:b"));
  EXPECT_FALSE(is_label_name("9"));
  EXPECT_FALSE(is_label_name(""));
}

TEST(Escaping, LabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)"
                               "\nd"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_label_value("plain {}=,# é"), "plain {}=,# é");
  EXPECT_EQ(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");  // quotes stay in help
}

TEST(Values, Formatting) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(1e20), "1e+20");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Render, CounterWithLabels) {
  Registry r;
  auto& c = r.counter("hoist_things_total", "Things done.", {"kind", "outcome"});
  c.with({"b", "ok"}).inc(2);
  c.with({"a", "ok"}).inc();
  c.with({"a", "ok"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP hoist_things_total Things done.\n"
            "# TYPE hoist_things_total counter\n"
            "hoist_things_total{kind=\"a\",outcome=\"ok\"} 2\n"
            "hoist_things_total{kind=\"b\",outcome=\"ok\"} 2\n");
}

TEST(Render, GaugeWithoutLabelsAndEscapedHelp) {
  Registry r;
  auto& g = r.gauge("hoist_level", "A level\\with \"quotes\"\nand a second line.");
  g.get().set(1.5);
  g.get().add(-0.25);
  EXPECT_EQ(r.render(),
            "# HELP hoist_level A level\\\\with \"quotes\"\\nand a second line.\n"
            "# TYPE hoist_level gauge\n"
            "hoist_level 1.25\n");
}

TEST(Render, FamilyWithoutSamplesHasOnlyItsHeader) {
  Registry r;
  (void)r.counter("hoist_none_total", "Nothing yet.", {"x"});
  EXPECT_EQ(r.render(), "# HELP hoist_none_total Nothing yet.\n# TYPE hoist_none_total counter\n");
}

TEST(Render, LabelValuesAreEscaped) {
  Registry r;
  auto& c = r.counter("hoist_paths_total", "Paths.", {"route"});
  c.with({"/a\"} 999\nfake_metric 1\\"}).inc();
  const auto text = r.render();
  EXPECT_EQ(text,
            "# HELP hoist_paths_total Paths.\n"
            "# TYPE hoist_paths_total counter\n"
            "hoist_paths_total{route=\"/a\\\"} 999\\nfake_metric 1\\\\\"} 1\n");
  // No value can start a line of its own.
  EXPECT_EQ(text.find("\nfake_metric"), std::string::npos);
}

TEST(Render, Histogram) {
  Registry r;
  auto& h = r.histogram("hoist_wait_seconds", "Wait.", {0.1, 1, 10}, {"outcome"});
  auto& ok = h.with({"ok"});
  ok.observe(0.05);
  ok.observe(0.1);  // le is inclusive
  ok.observe(3);
  ok.observe(100);
  EXPECT_EQ(r.render(),
            "# HELP hoist_wait_seconds Wait.\n"
            "# TYPE hoist_wait_seconds histogram\n"
            "hoist_wait_seconds_bucket{outcome=\"ok\",le=\"0.1\"} 2\n"
            "hoist_wait_seconds_bucket{outcome=\"ok\",le=\"1\"} 2\n"
            "hoist_wait_seconds_bucket{outcome=\"ok\",le=\"10\"} 3\n"
            "hoist_wait_seconds_bucket{outcome=\"ok\",le=\"+Inf\"} 4\n"
            "hoist_wait_seconds_sum{outcome=\"ok\"} 103.15\n"
            "hoist_wait_seconds_count{outcome=\"ok\"} 4\n");
}

TEST(Render, HistogramWithoutLabels) {
  Registry r;
  auto& h = r.histogram("hoist_d_seconds", "D.", {1});
  h.get().observe(0.5);
  EXPECT_EQ(r.render(),
            "# HELP hoist_d_seconds D.\n"
            "# TYPE hoist_d_seconds histogram\n"
            "hoist_d_seconds_bucket{le=\"1\"} 1\n"
            "hoist_d_seconds_bucket{le=\"+Inf\"} 1\n"
            "hoist_d_seconds_sum 0.5\n"
            "hoist_d_seconds_count 1\n");
}

TEST(Render, FamiliesInRegistrationOrder) {
  Registry r;
  r.gauge("hoist_b", "B.").get().set(1);
  r.gauge("hoist_a", "A.").get().set(2);
  const auto text = r.render();
  EXPECT_LT(text.find("hoist_b"), text.find("hoist_a"));
}

TEST(Callback, LabelledSamplesSortedCappedAndChecked) {
  Registry r;
  int calls = 0;
  r.gauge_callback(
      "hoist_requests", "Requests by state.", {"state"},
      [&calls]() -> std::optional<std::vector<Sample>> {
        ++calls;
        return std::vector<Sample>{{{"pending"}, 3}, {{"approved"}, 1}, {{"too", "many"}, 9}, {{"pending"}, 4}};
      },
      FamilyOptions{.max_series = 10});
  EXPECT_EQ(r.render(),
            "# HELP hoist_requests Requests by state.\n"
            "# TYPE hoist_requests gauge\n"
            "hoist_requests{state=\"approved\"} 1\n"
            "hoist_requests{state=\"pending\"} 3\n");
  EXPECT_EQ(calls, 1);
  (void)r.render();
  EXPECT_EQ(calls, 2);  // read at every render
}

TEST(Callback, CappedAtMaxSeries) {
  Registry r;
  r.gauge_callback(
      "hoist_many", "Many.", {"i"},
      []() -> std::optional<std::vector<Sample>> {
        std::vector<Sample> out;
        for (int i = 0; i < 1000; ++i) out.push_back({{std::to_string(i)}, 1});
        return out;
      },
      FamilyOptions{.max_series = 5});
  const auto text = r.render();
  std::size_t lines = 0;
  for (const char c : text) lines += c == '\n' ? 1 : 0;
  EXPECT_EQ(lines, 2U + 5U);
}

TEST(Callback, AFailedReadWritesNoSample) {
  Registry r;
  r.gauge_callback("hoist_seq", "Seq.", []() -> std::optional<double> { return std::nullopt; });
  r.gauge_callback("hoist_throws", "Throws.", []() -> std::optional<double> { throw std::runtime_error("x"); });
  r.gauge_callback("hoist_ok", "Ok.", []() -> std::optional<double> { return 7; });
  EXPECT_EQ(r.render(),
            "# HELP hoist_seq Seq.\n# TYPE hoist_seq gauge\n"
            "# HELP hoist_throws Throws.\n# TYPE hoist_throws gauge\n"
            "# HELP hoist_ok Ok.\n# TYPE hoist_ok gauge\nhoist_ok 7\n");
}

TEST(Cap, ValuesPastMaxSeriesGoToOneOverflowSeries) {
  Registry r;
  auto& c = r.counter("hoist_capped_total", "Capped.", {"route", "status"}, FamilyOptions{.max_series = 4});
  for (int i = 0; i < 1000; ++i) c.with({"/x/" + std::to_string(i), "404"}).inc();
  EXPECT_EQ(c.size(), 4U);
  const auto text = r.render();
  EXPECT_NE(text.find("hoist_capped_total{route=\"/x/0\",status=\"404\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hoist_capped_total{route=\"_overflow\",status=\"_overflow\"} 997\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("/x/999"), std::string::npos);
  // A series made before the cap keeps counting.
  c.with({"/x/1", "404"}).inc();
  EXPECT_NE(r.render().find("hoist_capped_total{route=\"/x/1\",status=\"404\"} 2\n"), std::string::npos);
}

TEST(Misuse, RefusedAtRegistration) {
  Registry r;
  EXPECT_THROW((void)r.counter("hoist_no_suffix", "x"), std::logic_error);
  EXPECT_THROW((void)r.gauge("bad name", "x"), std::logic_error);
  EXPECT_THROW((void)r.gauge("hoist_g", "x", {"__reserved"}), std::logic_error);
  EXPECT_THROW((void)r.gauge("hoist_g", "x", {"a", "a"}), std::logic_error);
  EXPECT_THROW((void)r.histogram("hoist_h", "x", {}, {}), std::logic_error);
  EXPECT_THROW((void)r.histogram("hoist_h", "x", {2, 1}), std::logic_error);
  EXPECT_THROW((void)r.histogram("hoist_h", "x", {1, 1}), std::logic_error);
  EXPECT_THROW((void)r.histogram("hoist_h", "x", {1, std::numeric_limits<double>::infinity()}), std::logic_error);
  EXPECT_THROW((void)r.histogram("hoist_h", "x", {1}, {"le"}), std::logic_error);
  EXPECT_THROW((void)r.gauge("hoist_z", "x", {}, FamilyOptions{.max_series = 0}), std::logic_error);
  (void)r.gauge("hoist_dup", "x");
  EXPECT_THROW((void)r.gauge("hoist_dup", "x"), std::logic_error);
  EXPECT_THROW(r.gauge_callback("hoist_dup", "x", [] { return std::optional<double>(1); }), std::logic_error);
}

TEST(Misuse, WrongNumberOfLabelValues) {
  Registry r;
  auto& c = r.counter("hoist_two_total", "x", {"a", "b"});
  EXPECT_THROW((void)c.with({"only one"}), std::logic_error);
  EXPECT_THROW((void)c.get(), std::logic_error);
}

TEST(Threads, FeedingWhileRendering) {
  Registry r;
  auto& c = r.counter("hoist_n_total", "N.", {"t"});
  auto& h = r.histogram("hoist_h_seconds", "H.", {0.5, 1});
  auto& g = r.gauge("hoist_g", "G.");
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string name = "t" + std::to_string(t % 2);
      for (int i = 0; i < kEach; ++i) {
        c.with({name}).inc();
        h.get().observe(0.75);
        g.get().add(1);
      }
    });
  }
  for (int i = 0; i < 50; ++i) (void)r.render();
  for (auto& t : threads) t.join();
  const auto text = r.render();
  EXPECT_NE(text.find("hoist_n_total{t=\"t0\"} 40000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hoist_n_total{t=\"t1\"} 40000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hoist_h_seconds_count 80000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hoist_h_seconds_sum 60000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hoist_g 80000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace hoist::metrics

// A small metrics registry: counters, gauges and histograms with fixed
// label names, and gauges read through a callback when the registry is
// rendered, in Prometheus's text exposition format 0.0.4. Pure: no I/O, no
// clock, no globals; the daemons decide when to render and where the text
// goes (hoistd's GET /metrics, hoist-agent's textfile). docs/metrics.md
// lists the series Hoist feeds.
//
// MUST: a family's label names are fixed when it is registered, and a
// family holds at most its max_series series: label values past that go to
// one overflow series whose every value is kOverflowLabel, so no caller,
// and nobody feeding a caller made-up values, can grow the registry or a
// scrape without bound.
// MUST: every label value and help text is escaped as the format says
// (\\, \" and \n in label values; \\ and \n in help), so no value can end
// a label, a line or a sample early.
// MUST: thread-safe: series are found under their family's mutex and fed
// with atomics, so feeding never waits for a render, and a render never
// waits for a callback of another family.
// Names are checked when a family is registered; a bad or duplicate name is
// a programmer error and throws std::logic_error (at start, before any
// request).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::metrics {

// The media type of render()'s text.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";
// Every label value of the series that takes what a full family has no room for.
inline constexpr std::string_view kOverflowLabel = "_overflow";
// A family's default cap on series.
inline constexpr std::size_t kDefaultMaxSeries = 100;

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
bool is_label_name(std::string_view name);
// A label value as the format writes it between quotes: \ -> \\, " -> \",
// newline -> \n; everything else as is.
std::string escape_label_value(std::string_view value);
// A HELP text: \ -> \\, newline -> \n.
std::string escape_help(std::string_view help);
// A sample value: whole numbers without a point, others in the shortest form
// that reads back the same, +Inf, -Inf and NaN as the format spells them.
std::string format_value(double value);

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  [[nodiscard]] double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, ascending, finite; +Inf is implied.
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;

 private:
  std::span<const double> bounds_;  // the family's; outlives every series
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// A value a callback reports at render time, with its label values in the
// order of the family's label names.
struct Sample {
  std::vector<std::string> labels;
  double value = 0;
};

enum class Type { kCounter, kGauge, kHistogram };

struct FamilyOptions {
  std::size_t max_series = kDefaultMaxSeries;
};

// What every family has: a name, help, type and label names, and a way to
// write its samples.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends the HELP and TYPE lines and every sample.
  void render(std::string& out) const;

 protected:
  virtual void render_samples(std::string& out) const = 0;
  // One line: `name<suffix>{a="x",b="y"[,extra_name="extra_value"]} value`.
  void write_sample(std::string& out, std::string_view suffix, const std::vector<std::string>& values,
                    std::string_view extra_name, std::string_view extra_value, std::string_view value) const;

 private:
  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::string> label_names_;
};

// Orders label-value lists; finds a stored list by the caller's views
// without copying them.
struct LabelsLess {
  using is_transparent = void;
  bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const { return a < b; }
  bool operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const;
  bool operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const;
};

// Counters, gauges or histograms sharing one name and set of label names.
// Instantiated for Counter, Gauge and Histogram only (registry.cpp).
template <class Series>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, FamilyOptions options,
         std::vector<double> bounds = {});

  // The series for these label values, one per label name in order (a
  // wrong count throws std::logic_error: a programmer error). Made at first
  // use; the overflow series once max_series exist. The reference stays
  // valid as long as the registry.
  Series& with(std::initializer_list<std::string_view> values) {
    return with(std::span(values.begin(), values.size()));
  }
  Series& with(std::span<const std::string_view> values);
  // The one series of a family without labels.
  Series& get() { return with(std::span<const std::string_view>()); }
  // How many series exist (the overflow series included).
  [[nodiscard]] std::size_t size() const;

 protected:
  void render_samples(std::string& out) const override;

 private:
  FamilyOptions options_;
  std::vector<double> bounds_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>, LabelsLess> series_;  // sorted: a stable render
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Reads the samples of a callback gauge at render time. It may fail
// (return nullopt: the family is rendered without samples this time) and
// must not call back into the registry.
using GaugeReader = std::function<std::optional<std::vector<Sample>>()>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A counter's name ends in "_total".
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {},
                         FamilyOptions options = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {},
                     FamilyOptions options = {});
  // `bounds` ascending and finite; no label may be called "le".
  HistogramFamily& histogram(std::string name, std::string help, std::vector<double> bounds,
                             std::vector<std::string> label_names = {}, FamilyOptions options = {});
  // A gauge whose samples `read` reports at each render (a store count, a
  // queue's length). At most options.max_series samples are written; a
  // sample with the wrong number of labels is dropped.
  void gauge_callback(std::string name, std::string help, std::vector<std::string> label_names, GaugeReader read,
                      FamilyOptions options = {});
  // The same for a gauge without labels; nullopt: no sample this time.
  void gauge_callback(std::string name, std::string help, std::function<std::optional<double>()> read);

  // Every family in registration order, in the text exposition format.
  [[nodiscard]] std::string render() const;

 private:
  void check_new(const std::string& name, const std::vector<std::string>& label_names) const;
  template <class F>
  F& add(std::unique_ptr<F> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

}  // namespace hoist::metrics

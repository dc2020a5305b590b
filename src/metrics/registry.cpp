#include "metrics/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace hoist::metrics {

namespace {

bool is_name_start(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

bool is_name_char(char c, bool colon) {
  return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

bool is_name(std::string_view name, bool colon) {
  if (name.empty() || !is_name_start(name.front(), colon)) return false;
  return std::all_of(name.begin(), name.end(), [colon](char c) { return is_name_char(c, colon); });
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

// A gauge whose samples a callback reports at render time.
class CallbackFamily final : public FamilyBase {
 public:
  CallbackFamily(std::string name, std::string help, std::vector<std::string> label_names, GaugeReader read,
                 FamilyOptions options)
      : FamilyBase(std::move(name), std::move(help), Type::kGauge, std::move(label_names)),
        read_(std::move(read)),
        options_(options) {}

 protected:
  void render_samples(std::string& out) const override {
    std::optional<std::vector<Sample>> samples;
    try {
      samples = read_();
    } catch (...) {
      return;  // a failed read writes no sample; the next render tries again
    }
    if (!samples) return;
    std::sort(samples->begin(), samples->end(), [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
    std::size_t written = 0;
    const std::vector<std::string>* previous = nullptr;
    for (const auto& s : *samples) {
      if (written == options_.max_series) break;
      if (s.labels.size() != label_names().size()) continue;
      if (previous != nullptr && *previous == s.labels) continue;  // one sample per series
      write_sample(out, "", s.labels, "", "", format_value(s.value));
      previous = &s.labels;
      ++written;
    }
  }

 private:
  GaugeReader read_;
  FamilyOptions options_;
};

}  // namespace

bool is_metric_name(std::string_view name) {
  return is_name(name, true);
}

bool is_label_name(std::string_view name) {
  return is_name(name, false) && !name.starts_with("__");
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return fmt::format("{}", static_cast<std::int64_t>(value));
  }
  return fmt::format("{}", value);
}

// --- Histogram ----------------------------------------------------------------

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::observe(double value) {
  // The first bucket whose bound is >= value ("le"); NaN lands in +Inf.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  const auto i = static_cast<std::size_t>(it - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  if (!std::isnan(value)) sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot out;
  out.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative.push_back(running);
  }
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

// --- Families -----------------------------------------------------------------

bool LabelsLess::operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

bool LabelsLess::operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](std::string_view x, std::string_view y) { return x < y; });
}

FamilyBase::FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}

void FamilyBase::render(std::string& out) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_, type_name(type_));
  render_samples(out);
}

void FamilyBase::write_sample(std::string& out, std::string_view suffix, const std::vector<std::string>& values,
                              std::string_view extra_name, std::string_view extra_value, std::string_view value) const {
  out += name_;
  out += suffix;
  if (!values.empty() || !extra_name.empty()) {
    out += '{';
    bool first = true;
    const auto label = [&](std::string_view n, std::string_view v) {
      if (!first) out += ',';
      first = false;
      out += n;
      out += "=\"";
      out += escape_label_value(v);
      out += '"';
    };
    for (std::size_t i = 0; i < values.size() && i < label_names_.size(); ++i) label(label_names_[i], values[i]);
    if (!extra_name.empty()) label(extra_name, extra_value);
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

template <class Series>
Family<Series>::Family(std::string name, std::string help, std::vector<std::string> label_names, FamilyOptions options,
                       std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help),
                 std::is_same_v<Series, Counter> ? Type::kCounter
                 : std::is_same_v<Series, Gauge> ? Type::kGauge
                                                 : Type::kHistogram,
                 std::move(label_names)),
      options_(options),
      bounds_(std::move(bounds)) {
  if (options_.max_series == 0) throw std::logic_error("a family needs room for at least one series");
}

template <class Series>
Series& Family<Series>::with(std::span<const std::string_view> values) {
  if (values.size() != label_names().size()) {
    throw std::logic_error(
        fmt::format("{} takes {} label values, not {} (this is a bug)", name(), label_names().size(), values.size()));
  }
  const std::lock_guard lock(mu_);
  if (const auto it = series_.find(values); it != series_.end()) return *it->second;
  std::vector<std::string> key;
  // The last slot is kept for the overflow series.
  if (series_.size() + 1 >= options_.max_series) {
    key.assign(values.size(), std::string(kOverflowLabel));
    if (const auto it = series_.find(key); it != series_.end()) return *it->second;
  } else {
    key.assign(values.begin(), values.end());
  }
  std::unique_ptr<Series> made;
  if constexpr (std::is_same_v<Series, Histogram>) {
    made = std::make_unique<Histogram>(std::span<const double>(bounds_));
  } else {
    made = std::make_unique<Series>();
  }
  return *series_.emplace(std::move(key), std::move(made)).first->second;
}

template <class Series>
std::size_t Family<Series>::size() const {
  const std::lock_guard lock(mu_);
  return series_.size();
}

template <class Series>
void Family<Series>::render_samples(std::string& out) const {
  const std::lock_guard lock(mu_);
  for (const auto& [labels, series] : series_) {
    if constexpr (std::is_same_v<Series, Counter>) {
      write_sample(out, "", labels, "", "", fmt::format("{}", series->value()));
    } else if constexpr (std::is_same_v<Series, Gauge>) {
      write_sample(out, "", labels, "", "", format_value(series->value()));
    } else {
      const auto snap = series->snapshot();
      for (std::size_t i = 0; i < bounds_.size(); ++i) {
        write_sample(out, "_bucket", labels, "le", format_value(bounds_[i]), fmt::format("{}", snap.cumulative[i]));
      }
      const auto count = snap.cumulative.back();
      write_sample(out, "_bucket", labels, "le", "+Inf", fmt::format("{}", count));
      write_sample(out, "_sum", labels, "", "", format_value(snap.sum));
      write_sample(out, "_count", labels, "", "", fmt::format("{}", count));
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Registry -----------------------------------------------------------------

void Registry::check_new(const std::string& name, const std::vector<std::string>& label_names) const {
  if (!is_metric_name(name)) throw std::logic_error(fmt::format("\"{}\" is not a metric name", name));
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    if (!is_label_name(label_names[i])) {
      throw std::logic_error(fmt::format("{}: \"{}\" is not a label name", name, label_names[i]));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (label_names[j] == label_names[i]) {
        throw std::logic_error(fmt::format("{}: label \"{}\" is named twice", name, label_names[i]));
      }
    }
  }
  // A histogram's name_bucket, name_sum and name_count must not meet
  // another family's name either; Hoist's names never end so, and a
  // duplicate of the name itself is refused here.
  for (const auto& f : families_) {
    if (f->name() == name) throw std::logic_error(fmt::format("the metric {} is registered twice", name));
  }
}

template <class F>
F& Registry::add(std::unique_ptr<F> family) {
  const std::lock_guard lock(mu_);
  check_new(family->name(), family->label_names());
  F& out = *family;
  families_.push_back(std::move(family));
  return out;
}

CounterFamily& Registry::counter(std::string name, std::string help, std::vector<std::string> label_names,
                                 FamilyOptions options) {
  if (!name.ends_with("_total")) throw std::logic_error(fmt::format("the counter {} must end in _total", name));
  return add(std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names), options));
}

GaugeFamily& Registry::gauge(std::string name, std::string help, std::vector<std::string> label_names,
                             FamilyOptions options) {
  return add(std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names), options));
}

HistogramFamily& Registry::histogram(std::string name, std::string help, std::vector<double> bounds,
                                     std::vector<std::string> label_names, FamilyOptions options) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end() ||
      !std::all_of(bounds.begin(), bounds.end(), [](double b) { return std::isfinite(b); })) {
    throw std::logic_error(fmt::format("{}: bucket bounds must be finite, ascending and distinct", name));
  }
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    throw std::logic_error(fmt::format("{}: \"le\" is the histogram's own label", name));
  }
  return add(std::make_unique<HistogramFamily>(std::move(name), std::move(help), std::move(label_names), options,
                                               std::move(bounds)));
}

void Registry::gauge_callback(std::string name, std::string help, std::vector<std::string> label_names,
                              GaugeReader read, FamilyOptions options) {
  if (!read) throw std::logic_error(fmt::format("{}: no callback", name));
  (void)add(std::make_unique<CallbackFamily>(std::move(name), std::move(help), std::move(label_names), std::move(read),
                                             options));
}

void Registry::gauge_callback(std::string name, std::string help, std::function<std::optional<double>()> read) {
  if (!read) throw std::logic_error(fmt::format("{}: no callback", name));
  gauge_callback(std::move(name), std::move(help), {},
                 [read = std::move(read)]() -> std::optional<std::vector<Sample>> {
                   auto v = read();
                   if (!v) return std::nullopt;
                   return std::vector<Sample>{Sample{{}, *v}};
                 });
}

std::string Registry::render() const {
  std::vector<const FamilyBase*> families;
  {
    const std::lock_guard lock(mu_);
    families.reserve(families_.size());
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::string out;
  for (const auto* f : families) f->render(out);
  return out;
}

}  // namespace hoist::metrics

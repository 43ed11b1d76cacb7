#include "observability/metrics.h"

#include <prometheus/check_names.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace contrast::observability {

struct Registry::Entry {
  std::string name;
  std::string help;
  prometheus::MetricType type;
  const prometheus::Collectable* family = nullptr;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<LabeledCounter> labeled;
};

namespace {

// Metric and label names are constants of the program, never input: a bad one
// is a bug to fix, not a condition to handle at run time.
[[noreturn]] void InvalidRegistration(const std::string& name, const std::string& why) {
  std::fprintf(stderr, "observability: cannot register metric \"%s\": %s\n", name.c_str(), why.c_str());
  std::abort();
}

// prometheus-cpp reports invalid names by throwing; that stays inside this
// file.
template <typename Build>
auto& RegisterFamily(const std::string& name, Build&& build) {
  try {
    return build();
  } catch (const std::exception& e) {
    InvalidRegistration(name, e.what());
  }
}

}  // namespace

void Counter::Increment(uint64_t by) { counter_.Increment(static_cast<double>(by)); }

uint64_t Counter::value() const { return static_cast<uint64_t>(counter_.Value()); }

void Gauge::Set(int64_t value) { gauge_.Set(static_cast<double>(value)); }

void Gauge::Add(int64_t delta) { gauge_.Increment(static_cast<double>(delta)); }

int64_t Gauge::value() const { return static_cast<int64_t>(gauge_.Value()); }

void LabeledCounter::Increment(const std::string& label_value, uint64_t by) {
  // The label name was checked at registration, so Add cannot throw for it.
  family_.Add({{label_, label_value}}).Increment(static_cast<double>(by));
}

uint64_t LabeledCounter::value(const std::string& label_value) const {
  const prometheus::Labels labels{{label_, label_value}};
  if (!family_.Has(labels)) return 0;
  return static_cast<uint64_t>(family_.Add(labels).Value());
}

std::map<std::string, uint64_t> LabeledCounter::Snapshot() const {
  std::map<std::string, uint64_t> values;
  for (const prometheus::MetricFamily& family : family_.Collect()) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == label_) values[label.value] = static_cast<uint64_t>(metric.counter.value);
      }
    }
  }
  return values;
}

Registry::Registry() : registry_(std::make_unique<prometheus::Registry>()) {}

Registry::~Registry() = default;

Registry::Entry* Registry::Find(const std::string& name) {
  for (const auto& entry : entries_) {
    if (entry->name == name) return entry.get();
  }
  return nullptr;
}

Counter& Registry::AddCounter(std::string name, std::string help) {
  std::lock_guard lock(mutex_);
  if (Entry* existing = Find(name)) {
    if (!existing->counter) InvalidRegistration(name, "already registered as another kind");
    return *existing->counter;
  }
  auto& family = RegisterFamily(
      name, [&]() -> auto& { return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_); });
  auto entry =
      std::make_unique<Entry>(Entry{name, help, prometheus::MetricType::Counter, &family, nullptr, nullptr, nullptr});
  entry->counter.reset(new Counter(family.Add({})));
  entries_.push_back(std::move(entry));
  return *entries_.back()->counter;
}

Gauge& Registry::AddGauge(std::string name, std::string help) {
  std::lock_guard lock(mutex_);
  if (Entry* existing = Find(name)) {
    if (!existing->gauge) InvalidRegistration(name, "already registered as another kind");
    return *existing->gauge;
  }
  auto& family = RegisterFamily(
      name, [&]() -> auto& { return prometheus::BuildGauge().Name(name).Help(help).Register(*registry_); });
  auto entry =
      std::make_unique<Entry>(Entry{name, help, prometheus::MetricType::Gauge, &family, nullptr, nullptr, nullptr});
  entry->gauge.reset(new Gauge(family.Add({})));
  entries_.push_back(std::move(entry));
  return *entries_.back()->gauge;
}

LabeledCounter& Registry::AddLabeledCounter(std::string name, std::string help, std::string label) {
  std::lock_guard lock(mutex_);
  if (Entry* existing = Find(name)) {
    if (!existing->labeled || existing->labeled->label() != label) {
      InvalidRegistration(name, "already registered as another kind or with another label");
    }
    return *existing->labeled;
  }
  if (!prometheus::CheckLabelName(label)) InvalidRegistration(name, "invalid label name \"" + label + "\"");
  auto& family = RegisterFamily(
      name, [&]() -> auto& { return prometheus::BuildCounter().Name(name).Help(help).Register(*registry_); });
  auto entry =
      std::make_unique<Entry>(Entry{name, help, prometheus::MetricType::Counter, &family, nullptr, nullptr, nullptr});
  entry->labeled.reset(new LabeledCounter(family, std::move(label)));
  entries_.push_back(std::move(entry));
  return *entries_.back()->labeled;
}

std::string Registry::Render() const {
  std::vector<prometheus::MetricFamily> families;
  {
    std::lock_guard lock(mutex_);
    for (const auto& entry : entries_) {
      std::vector<prometheus::MetricFamily> collected = entry->family->Collect();
      // prometheus-cpp leaves out a family without series (a labeled counter
      // nothing has counted yet); we still announce it, so dashboards and
      // tests see every metric from the start.
      if (collected.empty()) collected.push_back(prometheus::MetricFamily{entry->name, entry->help, entry->type, {}});
      for (auto& family : collected) families.push_back(std::move(family));
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace contrast::observability

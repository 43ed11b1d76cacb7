#include "observability/metrics.h"

namespace contrast::observability {
namespace {

// Label values are escaped as the exposition format requires.
std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void LabeledCounter::Increment(const std::string& label_value, uint64_t by) {
  std::lock_guard lock(mutex_);
  values_[label_value] += by;
}

uint64_t LabeledCounter::value(const std::string& label_value) const {
  std::lock_guard lock(mutex_);
  const auto it = values_.find(label_value);
  return it == values_.end() ? 0 : it->second;
}

std::map<std::string, uint64_t> LabeledCounter::Snapshot() const {
  std::lock_guard lock(mutex_);
  return values_;
}

Counter& Registry::AddCounter(std::string name, std::string help) {
  std::lock_guard lock(mutex_);
  entries_.push_back(Entry{std::move(name), std::move(help), std::make_unique<Counter>(), nullptr, nullptr});
  return *entries_.back().counter;
}

Gauge& Registry::AddGauge(std::string name, std::string help) {
  std::lock_guard lock(mutex_);
  entries_.push_back(Entry{std::move(name), std::move(help), nullptr, std::make_unique<Gauge>(), nullptr});
  return *entries_.back().gauge;
}

LabeledCounter& Registry::AddLabeledCounter(std::string name, std::string help, std::string label) {
  std::lock_guard lock(mutex_);
  entries_.push_back(
      Entry{std::move(name), std::move(help), nullptr, nullptr, std::make_unique<LabeledCounter>(std::move(label))});
  return *entries_.back().labeled;
}

std::string Registry::Render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const Entry& e : entries_) {
    out += "# HELP " + e.name + " " + e.help + "\n";
    out += "# TYPE " + e.name + (e.gauge ? " gauge\n" : " counter\n");
    if (e.counter) {
      out += e.name + " " + std::to_string(e.counter->value()) + "\n";
    } else if (e.gauge) {
      out += e.name + " " + std::to_string(e.gauge->value()) + "\n";
    } else {
      for (const auto& [value, count] : e.labeled->Snapshot()) {
        out +=
            e.name + "{" + e.labeled->label() + "=\"" + EscapeLabelValue(value) + "\"} " + std::to_string(count) + "\n";
      }
    }
  }
  return out;
}

}  // namespace contrast::observability

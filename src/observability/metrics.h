// Prometheus metrics: counters and gauges, optionally with one label, and
// their text exposition format (version 0.0.4).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace contrast::observability {

class Counter {
 public:
  void Increment(uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A counter per value of one label (e.g. reason="tcb-too-low").
class LabeledCounter {
 public:
  explicit LabeledCounter(std::string label) : label_(std::move(label)) {}
  void Increment(const std::string& label_value, uint64_t by = 1);
  uint64_t value(const std::string& label_value) const;
  const std::string& label() const { return label_; }
  std::map<std::string, uint64_t> Snapshot() const;

 private:
  std::string label_;
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> values_;
};

// Owns the metrics of a program; renders them for /metrics. Metric objects
// live as long as the registry and are safe to update from any thread.
class Registry {
 public:
  Counter& AddCounter(std::string name, std::string help);
  Gauge& AddGauge(std::string name, std::string help);
  LabeledCounter& AddLabeledCounter(std::string name, std::string help, std::string label);

  std::string Render() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<LabeledCounter> labeled;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace contrast::observability

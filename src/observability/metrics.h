// Prometheus metrics: counters and gauges, optionally with one label, and
// their text exposition format (version 0.0.4). Storage and the text format
// are prometheus-cpp's (core library only: no embedded HTTP server); this
// header keeps the project's small API so callers never see its types.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace contrast::observability {

// A monotonic count. Lives as long as the Registry that made it; safe to use
// from any thread.
class Counter {
 public:
  void Increment(uint64_t by = 1);
  uint64_t value() const;

 private:
  friend class Registry;
  explicit Counter(prometheus::Counter& counter) : counter_(counter) {}
  prometheus::Counter& counter_;
};

// A value that goes up and down. Lives as long as its Registry; thread-safe.
class Gauge {
 public:
  void Set(int64_t value);
  void Add(int64_t delta);
  int64_t value() const;

 private:
  friend class Registry;
  explicit Gauge(prometheus::Gauge& gauge) : gauge_(gauge) {}
  prometheus::Gauge& gauge_;
};

// A counter per value of one label (e.g. reason="tcb-too-low"). Label values
// are escaped on output; callers keep their number bounded (each value is a
// time series kept forever).
class LabeledCounter {
 public:
  void Increment(const std::string& label_value, uint64_t by = 1);
  uint64_t value(const std::string& label_value) const;
  const std::string& label() const { return label_; }
  std::map<std::string, uint64_t> Snapshot() const;

 private:
  friend class Registry;
  LabeledCounter(prometheus::Family<prometheus::Counter>& family, std::string label)
      : family_(family), label_(std::move(label)) {}
  prometheus::Family<prometheus::Counter>& family_;
  std::string label_;
};

// Owns the metrics of a program; renders them for /metrics in registration
// order. Names and label names are constants of the program: an invalid one,
// or one name registered as two kinds, is a programming error and aborts at
// registration. Registering the same name and kind again returns the same
// metric.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& AddCounter(std::string name, std::string help);
  Gauge& AddGauge(std::string name, std::string help);
  LabeledCounter& AddLabeledCounter(std::string name, std::string help, std::string label);

  std::string Render() const;

 private:
  struct Entry;
  Entry* Find(const std::string& name);

  mutable std::mutex mutex_;
  std::unique_ptr<prometheus::Registry> registry_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace contrast::observability

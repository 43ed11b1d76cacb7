#include "policy/rego/eval.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "policy/rego/errors.h"

namespace contrast::policy::rego {
namespace {

// A non-owning reference to a callable: continuations are created on the
// stack for every expression, so they must not allocate.
template <typename Signature>
class FnRef;

template <typename R, typename... Args>
class FnRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FnRef>>>
  FnRef(F&& f)  // NOLINT(google-explicit-constructor): used like a function parameter
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(object))(std::forward<Args>(args)...);
        }) {}
  FnRef(const FnRef&) = default;
  FnRef& operator=(const FnRef&) = default;

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

// Continuations return false to stop the enumeration (an error, or an early
// exit once the caller has what it needs).
using Cont = FnRef<bool()>;
using ValueCont = FnRef<bool(const Value&)>;
using PairCont = FnRef<bool(const Value&, const Value&)>;

// A frame slot. Bindings are undone in the reverse order they are made
// (a binding lasts while its continuation or the rest of its body runs), so
// a slot can point at any value that was there before it was bound and
// stays until after it is unbound: constants, other slots, arguments, the
// input and rule values. Only values computed for the binding itself are
// kept in the slot (`owned`).
struct Slot {
  const Value* value = nullptr;  // nullptr: unbound
  Value owned;
  bool bound() const { return value != nullptr; }
};

// Frames live on a stack of slabs: rule and function calls nest strictly, and
// allocating a vector per call would dominate small rule bodies.
class FrameStack {
 public:
  Slot* Push(size_t size) {
    if (size == 0) size = 1;
    while (true) {
      if (chunk_ == chunks_.size())
        chunks_.push_back(Chunk{std::make_unique<Slot[]>(std::max(size, kChunk)), std::max(size, kChunk), 0});
      Chunk& chunk = chunks_[chunk_];
      if (chunk.used + size <= chunk.capacity) {
        Slot* frame = chunk.slots.get() + chunk.used;
        chunk.used += size;
        marks_.push_back({chunk_, size});
        return frame;
      }
      if (chunk_ + 1 == chunks_.size() && chunk.used == 0) {
        // An empty chunk too small for this frame: replace it.
        chunks_.back() = Chunk{std::make_unique<Slot[]>(size), size, 0};
        continue;
      }
      ++chunk_;
    }
  }

  // Slots held, used or not.
  size_t capacity() const {
    size_t total = 0;
    for (const Chunk& chunk : chunks_) total += chunk.capacity;
    return total;
  }

  void Pop() {
    const Mark mark = marks_.back();
    marks_.pop_back();
    // Unify unbinds and clears every slot it binds before returning, so the
    // popped slots are already empty.
    chunks_[mark.chunk].used -= mark.size;
    while (chunk_ > 0 && chunks_[chunk_].used == 0) --chunk_;
  }

 private:
  static constexpr size_t kChunk = 512;
  struct Chunk {
    std::unique_ptr<Slot[]> slots;
    size_t capacity = 0;
    size_t used = 0;
  };
  struct Mark {
    size_t chunk;
    size_t size;
  };
  std::vector<Chunk> chunks_;
  std::vector<Mark> marks_;
  size_t chunk_ = 0;
};

struct CacheEntry {
  uint8_t state = 0;  // 0 not evaluated, 1 in progress, 2 done
  bool defined = false;
  Value value;
};

struct FunctionMock {
  const Builtin* builtin = nullptr;
  const ir::RuleNode* function = nullptr;
  const Builtin* mock_builtin = nullptr;
  const ir::RuleNode* mock_function = nullptr;
  Value value;
};

// Where a reference with Term::path_cache led, once evaluated: nullptr
// when it is undefined. Points into a rule's cached value.
struct PathEntry {
  bool resolved = false;
  const Value* value = nullptr;
};

// The parts of the evaluation state that `with` replaces for one expression.
struct WithState {
  Value input;
  bool has_input = false;
  Value data;
  std::vector<const ir::RuleNode*> masked;
  std::vector<FunctionMock> mocks;
  std::vector<CacheEntry>* cache = nullptr;
  std::vector<PathEntry>* paths = nullptr;  // by Term::path_cache, next to `cache`
};

const Value& True() {
  static const Value* const value = new Value(Value::Bool(true));
  return *value;
}

// A boolean result without a reference-count update per comparison.
const Value& Boolean(bool b) {
  static const Value* const false_value = new Value(Value::Bool(false));
  return b ? True() : *false_value;
}

Value SetPath(const Value& root, std::span<const Value> path, const Value& value) {
  if (path.empty()) return value;
  Value::Object object;
  if (root.is_object()) object = root.as_object();
  const Value* child = root.is_object() ? root.Find(path[0]) : nullptr;
  object.insert_or_assign(path[0], SetPath(child != nullptr ? *child : Value::FromObject({}), path.subspan(1), value));
  return Value::FromObject(std::move(object));
}

// Builtins report operand type errors as kInvalidArgument (eval_type_error);
// other failures are eval_builtin_error; kNotFound means plainly undefined.
std::string_view OpaCodeForBuiltinError(const Error& error) {
  return error.code == ErrorCode::kInvalidArgument ? kEvalTypeError : kEvalBuiltinError;
}

// Renders `print` operands as Value::AppendRego does. Policies print whole
// inputs and policy entries on every attempt, so the text of a large
// collection is rendered once per log and reused.
class PrintRenderer {
 public:
  void Append(std::string& out, const Value& value, bool top) {
    switch (value.kind()) {
      case Kind::kArray: AppendComposite(out, value, &value.as_array(), value.as_array().size()); return;
      case Kind::kSet: AppendComposite(out, value, &value.as_set(), value.as_set().size()); return;
      case Kind::kObject: AppendComposite(out, value, &value.as_object(), value.as_object().size()); return;
      default: value.AppendRego(out, top); return;
    }
  }

 private:
  // Collections this small are cheaper to render than to look up.
  static constexpr size_t kMemoMinSize = 4;

  // `identity` is the address of the shared collection inside `value`; the
  // memo keeps `value` alive so the address cannot be reused for another one.
  void AppendComposite(std::string& out, const Value& value, const void* identity, size_t size) {
    if (size < kMemoMinSize) {
      RenderComposite(out, value);
      return;
    }
    auto it = memo_.find(identity);
    if (it == memo_.end()) {
      std::string text;
      RenderComposite(text, value);
      it = memo_.emplace(identity, Memo{value, std::move(text)}).first;
    }
    out += it->second.text;
  }

  void RenderComposite(std::string& out, const Value& value) {
    AppendRegoCollection(out, value, [this](std::string& text, const Value& element) { Append(text, element, false); });
  }

  struct Memo {
    Value value;
    std::string text;
  };
  std::unordered_map<const void*, Memo> memo_;
};

}  // namespace

// Appends print calls to a PrintLog; the evaluator's only way in.
class PrintLogWriter {
 public:
  explicit PrintLogWriter(PrintLog& log) : log_(log) {}

  // `location` null: the line gets no "<file>:<line>: " prefix.
  void BeginCall(const Location* location) {
    PrintLog::Call call;
    if (location != nullptr) {
      // Policies are one or a few files: the log keeps one copy of each
      // name. The compiled policy's locations stay put while it evaluates.
      if (&location->file != last_file_) {
        last_file_ = &location->file;
        auto known = std::find(log_.files_.begin(), log_.files_.end(), location->file);
        if (known == log_.files_.end()) known = log_.files_.insert(known, location->file);
        file_index_ = static_cast<uint32_t>(known - log_.files_.begin()) + 1;
      }
      call.file = file_index_;
      call.line = location->line;
    }
    call.first = static_cast<uint32_t>(log_.operands_.size());
    log_.calls_.push_back(std::move(call));
  }

  // nullptr: the operand was undefined.
  void Operand(const Value* value) {
    log_.operands_.emplace_back(value != nullptr ? std::optional<Value>(*value) : std::nullopt);
    ++log_.calls_.back().count;
  }

 private:
  PrintLog& log_;
  const std::string* last_file_ = nullptr;
  uint32_t file_index_ = 0;
};

std::vector<std::string> PrintLog::Lines() const {
  std::vector<std::string> lines;
  lines.reserve(calls_.size());
  PrintRenderer renderer;
  // Each line is composed in one reused buffer and then copied once, at its
  // final size.
  std::string line;
  for (const Call& call : calls_) {
    line.clear();
    if (call.file != 0) {
      line += files_[call.file - 1];
      line += ':';
      std::array<char, 16> digits;
      const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), call.line).ptr;
      line.append(digits.data(), end);
      line += ": ";
    }
    for (uint32_t i = 0; i < call.count; ++i) {
      if (i > 0) line += ' ';
      const std::optional<Value>& operand = operands_[call.first + i];
      if (operand) {
        renderer.Append(line, *operand, true);
      } else {
        line += "<undefined>";
      }
    }
    lines.push_back(line);
  }
  return lines;
}

namespace {

// Results of the builtins marked Builtin::memoize, found again by the
// identity of their operands (Value::identity): values are immutable, so
// the same operand objects give the same result, and an entry holds its
// operands, so their addresses cannot be reused while it exists. A policy's
// constants are the same objects in every evaluation, so chains such as
// replace(replace(p, "$(a)", x), "$(b)", y) over them are computed once per
// thread. Entries are filed under the policy's generation, which no other
// compilation shares, so a builtin pointer is only ever compared with those
// of the policy that made the entry. Only scalar operands and results of
// bounded size are kept, which bounds the memory the table holds.
class BuiltinMemo {
 public:
  static constexpr size_t kMaxOperands = 3;

  // The remembered result, or nullptr.
  const Value* Find(uint64_t generation, const Builtin* builtin, std::span<const Value* const> operands) {
    if (entries_.empty() || operands.size() > kMaxOperands) return nullptr;
    const size_t set = Set(generation, builtin, operands);
    for (size_t way = 0; way < kWays; ++way) {
      const Entry& entry = entries_[set * kWays + way];
      if (Matches(entry, generation, builtin, operands)) {
        recent_[set] = static_cast<uint8_t>(way);
        return &entry.result;
      }
    }
    return nullptr;
  }

  void Insert(uint64_t generation, const Builtin* builtin, std::span<const Value* const> operands,
              const Value& result) {
    if (operands.size() > kMaxOperands || !Small(result)) return;
    for (const Value* operand : operands) {
      if (!Small(*operand) || operand->is_array()) return;
    }
    if (entries_.empty()) {
      entries_.resize(kSets * kWays);
      recent_.resize(kSets);
    }
    // Each set keeps the entry found last and replaces the other one: the
    // results a policy needs in every evaluation stay while calls on
    // operands seen once come and go.
    const size_t set = Set(generation, builtin, operands);
    const size_t way = (recent_[set] + 1) % kWays;
    recent_[set] = static_cast<uint8_t>(way);
    Entry& entry = entries_[set * kWays + way];
    entry.generation = generation;
    entry.builtin = builtin;
    entry.count = static_cast<uint8_t>(operands.size());
    for (size_t i = 0; i < kMaxOperands; ++i) entry.operands[i] = i < operands.size() ? *operands[i] : Value();
    entry.result = result;
  }

 private:
  static constexpr size_t kSets = 512;
  static constexpr size_t kWays = 2;
  static constexpr size_t kMaxString = 4096;
  static constexpr size_t kMaxElements = 64;

  // Scalars, strings up to kMaxString and arrays of up to kMaxElements such
  // strings (what split returns).
  static bool Small(const Value& value) {
    switch (value.kind()) {
      case Kind::kNull:
      case Kind::kBool:
      case Kind::kNumber: return true;
      case Kind::kString: return value.as_string().size() <= kMaxString;
      case Kind::kArray: {
        const Value::Array& items = value.as_array();
        return items.size() <= kMaxElements && std::all_of(items.begin(), items.end(), [](const Value& item) {
                 return item.is_string() && item.as_string().size() <= kMaxString;
               });
      }
      default: return false;
    }
  }

  static size_t Set(uint64_t generation, const Builtin* builtin, std::span<const Value* const> operands) {
    uint64_t hash = generation * 0x9E3779B97F4A7C15ULL ^ reinterpret_cast<uintptr_t>(builtin);
    for (const Value* operand : operands) {
      hash = (hash ^ reinterpret_cast<uintptr_t>(operand->identity())) * 0x9E3779B97F4A7C15ULL;
    }
    return static_cast<size_t>(hash >> 32) % kSets;
  }

  struct Entry {
    uint64_t generation = 0;
    const Builtin* builtin = nullptr;
    uint8_t count = 0;
    std::array<Value, kMaxOperands> operands;
    Value result;
  };

  static bool Matches(const Entry& entry, uint64_t generation, const Builtin* builtin,
                      std::span<const Value* const> operands) {
    if (entry.builtin != builtin || entry.generation != generation || entry.count != operands.size()) return false;
    for (size_t i = 0; i < operands.size(); ++i) {
      if (entry.operands[i].identity() != operands[i]->identity()) return false;
    }
    return true;
  }

  std::vector<Entry> entries_;   // kWays per set; allocated on first use
  std::vector<uint8_t> recent_;  // per set: the way found or filled last
};

// What one evaluation leaves to the next on its thread: the rule cache, the
// cached paths and the frame slabs, emptied but with their memory, so that
// a small decision allocates nothing large after a big one. An evaluation
// left by an exception may leave bindings in its frames: those are dropped.
struct Scratch {
  bool in_use = false;
  std::vector<CacheEntry> cache;
  std::vector<PathEntry> paths;
  FrameStack frames;
};

class Evaluator {
 public:
  Evaluator(const ir::Policy& policy, const Value& data, const EvalOptions& options)
      : policy_(policy), options_(options), tracer_(options.tracer), frames_(BorrowScratch().frames) {
    state_.data = data;
    if (options.input != nullptr) {
      state_.input = *options.input;
      state_.has_input = true;
    }
    scratch_->cache.resize(policy.rule_nodes.size());
    state_.cache = &scratch_->cache;
    scratch_->paths.resize(static_cast<size_t>(policy.path_cache_size));
    state_.paths = &scratch_->paths;
    deadline_ = std::chrono::steady_clock::now() + options.limits.max_time;
    InitStackLimit();
  }

  ~Evaluator() {
    // Cached values go now, not with the next evaluation; memory an unusual
    // policy needed is not kept for the thread's lifetime.
    constexpr size_t kKeepBytes = 1 << 20;
    const size_t held = scratch_->cache.capacity() * sizeof(CacheEntry) +
                        scratch_->paths.capacity() * sizeof(PathEntry) + frames_.capacity() * sizeof(Slot);
    const bool clean = std::uncaught_exceptions() == exceptions_at_start_;
    if (held > kKeepBytes || !clean) {
      scratch_->cache = {};
      scratch_->paths = {};
      scratch_->frames = FrameStack();
    } else {
      scratch_->cache.clear();
      scratch_->paths.clear();
    }
    scratch_->in_use = false;
  }

  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  Result<QueryResult> RunQuery(const ir::Query& query) {
    QueryResult result;
    std::vector<Slot> frame(static_cast<size_t>(query.frame_size));
    frame_ = frame.data();
    slot_names_ = &query.slot_names;
    std::vector<Value> values(query.expr_count);
    EvalBody(
        query.body, 0,
        [&]() {
          QueryResult::Row row;
          for (const auto& [name, slot] : query.user_vars) {
            const Slot& s = frame_[slot];
            if (s.bound()) row.bindings.emplace(name, *s.value);
          }
          row.expressions = values;
          result.rows.push_back(std::move(row));
          return true;
        },
        &values);
    result.prints = print_log_.Lines();
    if (error_) return Fail(*error_);
    return result;
  }

  Result<std::optional<Value>> RunDocument(const std::vector<Value>& path, PrintLog* prints) {
    want_prints_ = prints != nullptr;
    ir::Term ref;
    ref.kind = ir::TermKind::kRef;
    ref.operands.emplace_back();
    ref.operands[0].kind = ir::TermKind::kData;
    for (const Value& element : path) {
      ir::Term constant;
      constant.value = element;
      ref.operands.push_back(std::move(constant));
    }
    std::optional<Value> found;
    EvalRef(ref, [&](const Value& value) {
      found = value;
      return false;
    });
    if (prints != nullptr) *prints = std::move(print_log_);
    if (error_) return Fail(*error_);
    return found;
  }

 private:
  // ---------------------------------------------------------------- control

  bool Stop(Error error) {
    if (!error_) error_ = std::move(error);
    return false;
  }

  Location ExprLocation() const {
    if (current_location_ == nullptr) return {};
    Location location = *current_location_;
    location.column = 0;  // OPA reports evaluation errors as file:line
    return location;
  }

  // A thread's stack does not move, and asking for its bounds is slow (for
  // the main thread glibc parses /proc/self/maps): look it up once per thread.
  static uintptr_t ThreadStackLow() {
    thread_local const uintptr_t low = [] {
      uintptr_t result = 0;
      pthread_attr_t attr;
      if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void* address = nullptr;
        size_t size = 0;
        if (pthread_attr_getstack(&attr, &address, &size) == 0) result = reinterpret_cast<uintptr_t>(address);
        pthread_attr_destroy(&attr);
      }
      return result;
    }();
    return low;
  }

  void InitStackLimit() {
    char probe = 0;
    const auto here = reinterpret_cast<uintptr_t>(&probe);
    const uintptr_t low = ThreadStackLow();
    // Keep a reserve for builtins (regex, JSON) and the caller.
    constexpr uintptr_t kReserve = 256 * 1024;
    constexpr uintptr_t kFallbackBudget = 1024 * 1024;
    if (low == 0 || here <= low + 2 * kReserve) {
      stack_limit_ = here > kFallbackBudget ? here - kFallbackBudget : 0;
    } else {
      stack_limit_ = low + kReserve;
    }
  }

  bool StackExhausted() const {
    char probe = 0;
    return reinterpret_cast<uintptr_t>(&probe) < stack_limit_;
  }

  // One step: false when the evaluation must stop. The step and time
  // limits are checked in full every 1024 steps (and at the step limit).
  bool Tick() {
    if (++steps_ < next_check_ && !error_ && !StackExhausted()) return true;
    return CheckLimits();
  }

  [[gnu::noinline]] bool CheckLimits() {
    if (error_) return false;
    if (steps_ > options_.limits.max_steps) {
      return Stop(RegoError(kEvalCancelError, ExprLocation(), "evaluation step limit exceeded"));
    }
    if (StackExhausted()) {
      return Stop(RegoError(kEvalCancelError, ExprLocation(), "evaluation nested too deeply"));
    }
    if (steps_ >= next_check_) {
      if (std::chrono::steady_clock::now() > deadline_) {
        return Stop(RegoError(kEvalCancelError, ExprLocation(), "evaluation time limit exceeded"));
      }
      next_check_ = std::min(steps_ + 1024, options_.limits.max_steps);
    }
    return true;
  }

  bool EnterCall() {
    if (++depth_ > options_.limits.max_depth || StackExhausted()) {
      return Stop(RegoError(kEvalCancelError, ExprLocation(), "evaluation call depth limit exceeded"));
    }
    return true;
  }

  // ---------------------------------------------------------------- tracing

  void Trace(TraceEvent::Type type, const std::string& rule, int body_index, const Location& location,
             std::string text) {
    TraceEvent event;
    event.type = type;
    event.rule = rule;
    event.body_index = body_index;
    event.location = location;
    event.text = std::move(text);
    tracer_->Trace(event);
  }

  void TraceFailExpr(const ir::Expr& expr) {
    TraceEvent event;
    event.type = TraceEvent::Type::kFailExpr;
    event.rule = trace_rule_ != nullptr ? *trace_rule_ : std::string();
    event.body_index = trace_body_;
    event.location = expr.location;
    if (expr.source != nullptr) event.text = expr.source->text;
    for (int slot : expr.trace_slots) {
      const Slot& s = frame_[slot];
      if (!s.bound() || slot_names_ == nullptr) continue;
      const std::string& name = (*slot_names_)[static_cast<size_t>(slot)];
      if (name.find('$') != std::string::npos) continue;
      event.bindings.emplace_back(name, *s.value);
    }
    tracer_->Trace(event);
  }

  static std::string HeadText(const ir::RuleDef& def) {
    return def.source != nullptr ? def.source->head_text : std::string();
  }

  // ---------------------------------------------------------------- bodies

  // What evaluating something in place gave: one value (or, for an
  // expression, success), no value, an error (evaluation stops), or nothing
  // yet because it needs the general evaluator.
  enum class Outcome { kValue, kUndefined, kStop, kGeneral };
  // Most calls have few arguments: keep them off the heap.
  static constexpr size_t kInlineArgs = ir::kMaxInPlaceArgs;

  bool EvalBody(const ir::Body& body, size_t i, Cont k, std::vector<Value>* record) {
    if (tracer_ == nullptr && record == nullptr) return EvalBodyInPlace(body, i, k);
    if (!Tick()) return false;
    if (i == body.exprs.size()) return k();
    const ir::Expr& expr = body.exprs[i];
    if (tracer_ == nullptr) {
      return EvalExpr(expr, [&](const Value& value) {
        if (record != nullptr) (*record)[static_cast<size_t>(expr.index)] = value;
        return EvalBody(body, i + 1, k, record);
      });
    }
    bool any = false;
    const bool result = EvalExpr(expr, [&](const Value& value) {
      any = true;
      if (record != nullptr) (*record)[static_cast<size_t>(expr.index)] = value;
      return EvalBody(body, i + 1, k, record);
    });
    if (!any && !error_) TraceFailExpr(expr);
    return result;
  }

  // Binds a slot to a value that outlives the binding (see Slot). The
  // input and data documents are the exception: `with` swaps the values at
  // their addresses, so a binding to one of them keeps its own copy.
  void Bind(Slot& slot, const Value& value) {
    if (&value == &state_.input || &value == &state_.data) {
      BindOwned(slot, value);
    } else {
      slot.value = &value;
    }
  }

  static void BindOwned(Slot& slot, Value value) {
    slot.owned = std::move(value);
    slot.value = &slot.owned;
  }

  static void Unbind(Slot& slot) {
    if (slot.value == &slot.owned) slot.owned = Value();
    slot.value = nullptr;
  }

  // Slots bound by one run of an in-place loop; unbound (as Unify does)
  // when the loop returns.
  struct InPlaceBindings {
    static constexpr size_t kCapacity = 16;
    std::array<Slot*, kCapacity> slots;
    size_t size = 0;
    bool full() const { return size == slots.size(); }
    void Add(Slot& slot) { slots[size++] = &slot; }
    ~InPlaceBindings() {
      while (size > 0) Unbind(*slots[--size]);
    }
  };

  // EvalBody without a tracer: expressions with at most one solution
  // (assignments, comparisons, calls and prints of terms that need no
  // backtracking) are evaluated in a loop; only the others take a
  // continuation. Each expression costs one step either way, and the
  // current location follows the expressions as in EvalExpr.
  bool EvalBodyInPlace(const ir::Body& body, size_t i, Cont k) {
    struct RestoreLocation {
      Evaluator* self;
      const Location* saved;
      ~RestoreLocation() { self->current_location_ = saved; }
    } restore{this, current_location_};
    InPlaceBindings bound;
    for (;; ++i) {
      if (bound.full()) return EvalBodyInPlace(body, i, k);
      if (!Tick()) return false;
      if (i == body.exprs.size()) return k();
      const ir::Expr& expr = body.exprs[i];
      current_location_ = &expr.location;
      switch (ExprInPlace(expr, bound)) {
        case Outcome::kValue: continue;
        case Outcome::kUndefined: return true;
        case Outcome::kStop: return false;
        case Outcome::kGeneral:
          if (const Value* wanted = nullptr; expr.filter_operand >= 0 && state_.mocks.empty() &&
                                             state_.masked.empty() && Direct(FilterTerm(body, i), wanted)) {
            return FilteredSomeIn(body, i, wanted, k);
          }
          return EvalExpr(expr, [&](const Value&) { return EvalBodyInPlace(body, i + 1, k); });
      }
    }
  }

  // The t of `some x in domain` followed by `x == t` (ir::Expr::filter_operand).
  static const ir::Term& FilterTerm(const ir::Body& body, size_t i) {
    return body.exprs[i + 1].term.operands[static_cast<size_t>(body.exprs[i].filter_operand)];
  }

  // `some x in domain` followed by `x == t`, with t already read (`wanted`;
  // nullptr when undefined): the elements equal to t are the solutions of
  // both, so each element is compared with t here and only those equal go
  // on to the expression after the comparison. t is a lookup of variables
  // bound before the domain is evaluated, so reading it once changes
  // nothing but the cost.
  bool FilteredSomeIn(const ir::Body& body, size_t i, const Value* wanted, Cont k) {
    const ir::Expr& expr = body.exprs[i];
    const Location* saved = current_location_;
    current_location_ = &expr.location;
    const bool result = EvalTerm(expr.term, [&](const Value& collection) {
      if (wanted == nullptr) return true;  // undefined: no element compares equal
      return IterateValues(collection, [&](const Value& value) {
        if (value != *wanted) return true;
        return Unify(expr.rhs, value, [&]() { return EvalBodyInPlace(body, i + 2, k); });
      });
    });
    current_location_ = saved;
    return result;
  }

  // One expression of EvalBodyInPlace: kValue when it holds, kUndefined when
  // it does not, kGeneral (before evaluating anything) when it needs EvalExpr.
  Outcome ExprInPlace(const ir::Expr& expr, InPlaceBindings& bound) {
    if (expr.quiet_print && !want_prints_) return Outcome::kValue;
    if (!expr.with.empty()) return Outcome::kGeneral;
    if (expr.kind == ir::ExprKind::kTerm && expr.term.kind == ir::TermKind::kCall &&
        expr.term.call == ir::CallKind::kPrint && !expr.negated) {
      return Print(expr.term) ? Outcome::kValue : Outcome::kStop;
    }
    // Under `with`, functions may be replaced and rules hidden.
    if (!state_.mocks.empty() || !state_.masked.empty()) return Outcome::kGeneral;
    switch (expr.kind) {
      case ir::ExprKind::kSomeDecl: return expr.negated ? Outcome::kGeneral : Outcome::kValue;
      case ir::ExprKind::kTerm: {
        if (!Ready(expr.in_place[0])) return Outcome::kGeneral;
        const Value* value = nullptr;
        Value storage;
        const Outcome outcome = EvalInPlace(expr.term, value, storage);
        if (outcome == Outcome::kStop) return outcome;
        const bool holds = outcome == Outcome::kValue && !(value->is_bool() && !value->as_bool());
        return holds != expr.negated ? Outcome::kValue : Outcome::kUndefined;
      }
      case ir::ExprKind::kUnify:
      case ir::ExprKind::kAssign: {
        if (expr.negated || bound.full()) return Outcome::kGeneral;
        // A local on one side, a term with one value on the other.
        const ir::Term* target = &expr.lhs;
        const ir::Term* source = &expr.rhs;
        if (target->kind != ir::TermKind::kLocal || !Ready(expr.in_place[1])) {
          std::swap(target, source);
          if (target->kind != ir::TermKind::kLocal || !Ready(expr.in_place[0])) return Outcome::kGeneral;
        }
        const Value* value = nullptr;
        Value storage;
        const Outcome outcome = EvalInPlace(*source, value, storage);
        if (outcome != Outcome::kValue) return outcome;
        Slot& slot = frame_[target->slot];
        if (slot.bound()) return *slot.value == *value ? Outcome::kValue : Outcome::kUndefined;
        if (value == &storage) {
          BindOwned(slot, std::move(storage));
        } else {
          Bind(slot, *value);
        }
        bound.Add(slot);
        return Outcome::kValue;
      }
      default: return Outcome::kGeneral;
    }
  }

  // Whether a term of this shape can be evaluated in place now.
  bool Ready(const ir::InPlaceShape& shape) const {
    if (!shape.ok) return false;
    for (size_t i = 0; i < shape.count; ++i) {
      const uint16_t slot = shape.reads[i];
      if (!frame_[slot].bound()) return false;
    }
    return true;
  }

  // Evaluates a term whose shape is Ready. `out` points at the value
  // (into the term, a frame, the input, a rule's cached value or `storage`).
  Outcome EvalInPlace(const ir::Term& term, const Value*& out, Value& storage) {
    switch (term.kind) {
      case ir::TermKind::kConst: out = &term.value; return Outcome::kValue;
      case ir::TermKind::kLocal: out = frame_[term.slot].value; return Outcome::kValue;
      case ir::TermKind::kRef:
        if (term.operands[0].kind == ir::TermKind::kData) return RuleRefInPlace(term, out);
        [[fallthrough]];
      case ir::TermKind::kInput: Direct(term, out); return out != nullptr ? Outcome::kValue : Outcome::kUndefined;
      case ir::TermKind::kArray: return ArrayInPlace(term, out, storage);
      default: return CallInPlace(term, out, storage);
    }
  }

  // The parts of EvalInPlace that need more than a lookup stay out of line,
  // so that evaluating a constant, local or reference (most operands) does
  // not pay for their stack frames.
  [[gnu::noinline]] Outcome RuleRefInPlace(const ir::Term& ref, const Value*& out) {
    PathEntry* path = ref.path_cache >= 0 ? &(*state_.paths)[static_cast<size_t>(ref.path_cache)] : nullptr;
    if (path != nullptr && path->resolved) {
      out = path->value;
      return out != nullptr ? Outcome::kValue : Outcome::kUndefined;
    }
    const CacheEntry* entry = EvalRuleNode(ref.rule);
    if (entry == nullptr) return Outcome::kStop;
    size_t i = ref.rule_next;
    out = entry->defined ? Follow(&entry->value, ref, i) : nullptr;
    if (path != nullptr) *path = {true, out};
    return out != nullptr ? Outcome::kValue : Outcome::kUndefined;
  }

  [[gnu::noinline]] Outcome ArrayInPlace(const ir::Term& term, const Value*& out, Value& storage) {
    Value::Array items;
    items.reserve(term.operands.size());
    for (const ir::Term& element : term.operands) {
      const Value* value = nullptr;
      Value element_storage;
      const Outcome outcome = EvalInPlace(element, value, element_storage);
      if (outcome != Outcome::kValue) return outcome;
      items.push_back(*value);
    }
    storage = Value::FromArray(std::move(items));
    out = &storage;
    return Outcome::kValue;
  }

  // A call: operands left to right; an undefined operand means no call.
  // Operators, functions and builtins get pointers to the operands where
  // they are; `args` holds the operands computed here.
  [[gnu::noinline]] Outcome CallInPlace(const ir::Term& term, const Value*& out, Value& storage) {
    const size_t count = term.operands.size();
    std::array<Value, kInlineArgs> args;
    std::array<const Value*, kInlineArgs> values;
    for (size_t i = 0; i < count; ++i) {
      const ir::Term& operand = term.operands[i];
      // Most operands are locals and constants: no call for those.
      if (operand.kind == ir::TermKind::kLocal) {
        values[i] = frame_[operand.slot].value;
        continue;
      }
      if (operand.kind == ir::TermKind::kConst) {
        values[i] = &operand.value;
        continue;
      }
      const Outcome outcome = EvalInPlace(operand, values[i], args[i]);
      if (outcome != Outcome::kValue) return outcome;
    }
    if (IsOperator(term.call)) {
      out = &Boolean(ApplyOperator(term.call, *values[0], *values[1], count > 2 ? values[2] : nullptr));
      return Outcome::kValue;
    }
    if (term.call == ir::CallKind::kFunction) {
      std::optional<Value> result;
      if (!EvalFunction(term.function, std::span<const Value* const>(values.data(), count), result)) {
        return Outcome::kStop;
      }
      if (!result) return Outcome::kUndefined;
      storage = std::move(*result);
      out = &storage;
      return Outcome::kValue;
    }
    const Outcome outcome = ApplyBuiltin(*term.builtin, std::span<const Value* const>(values.data(), count), storage);
    if (outcome == Outcome::kValue) out = &storage;
    return outcome;
  }

  bool EvalExpr(const ir::Expr& expr, ValueCont k) {
    const Location* saved = current_location_;
    current_location_ = &expr.location;
    bool result;
    if (expr.with.empty()) {
      result = EvalNegatable(expr, k);
    } else {
      WithState next = state_;
      result = EvalWith(expr, 0, next, k);
    }
    current_location_ = saved;
    return result;
  }

  bool EvalNegatable(const ir::Expr& expr, ValueCont k) {
    if (!expr.negated) return EvalPositive(expr, k);
    bool found = false;
    EvalPositive(expr, [&](const Value&) {
      found = true;
      return false;
    });
    if (error_) return false;
    return found ? true : k(True());
  }

  bool EvalPositive(const ir::Expr& expr, ValueCont k) {
    switch (expr.kind) {
      case ir::ExprKind::kTerm: {
        const ir::Term& term = expr.term;
        if (term.kind == ir::TermKind::kCall && term.output_arg) {
          return EvalCall(term, [&](const Value& value) {
            return Unify(term.operands.back(), value, [&]() { return k(True()); });
          });
        }
        return EvalTerm(term, [&](const Value& value) {
          if (value.is_bool() && !value.as_bool()) return true;
          return k(value);
        });
      }
      case ir::ExprKind::kUnify:
      case ir::ExprKind::kAssign: return UnifyTerms(expr.lhs, expr.rhs, [&]() { return k(True()); });
      case ir::ExprKind::kSomeDecl: return k(True());
      case ir::ExprKind::kSomeIn:
        return EvalTerm(expr.term, [&](const Value& collection) {
          if (!expr.has_key) {
            return IterateValues(
                collection, [&](const Value& value) { return Unify(expr.rhs, value, [&]() { return k(True()); }); });
          }
          return Iterate(collection, [&](const Value& key, const Value& value) {
            return Unify(expr.lhs, key, [&]() { return Unify(expr.rhs, value, [&]() { return k(True()); }); });
          });
        });
      case ir::ExprKind::kEvery:
        return EvalTerm(expr.term, [&](const Value& collection) {
          bool all = true;
          Iterate(collection, [&](const Value& key, const Value& value) {
            bool ok = false;
            auto body = [&]() {
              return EvalBody(
                  *expr.body, 0,
                  [&]() {
                    ok = true;
                    return false;
                  },
                  nullptr);
            };
            if (expr.has_key) {
              Unify(expr.lhs, key, [&]() { return Unify(expr.rhs, value, body); });
            } else {
              Unify(expr.rhs, value, body);
            }
            if (error_) return false;
            if (!ok) all = false;
            return ok;
          });
          if (error_) return false;
          return all ? k(True()) : true;
        });
    }
    return true;
  }

  bool EvalWith(const ir::Expr& expr, size_t i, WithState& next, ValueCont k) {
    if (i == expr.with.size()) {
      std::vector<CacheEntry> cache(policy_.rule_nodes.size());
      std::vector<PathEntry> paths(static_cast<size_t>(policy_.path_cache_size));
      next.cache = &cache;
      next.paths = &paths;
      std::swap(state_, next);
      const bool result = EvalNegatable(expr, [&](const Value& value) {
        std::swap(state_, next);
        const bool r = k(value);
        std::swap(state_, next);
        return r;
      });
      std::swap(state_, next);
      return result;
    }
    const ir::WithModifier& with = expr.with[i];
    if (with.target == ir::WithModifier::Target::kFunction &&
        (with.mock_builtin != nullptr || with.mock_function != nullptr)) {
      WithState modified = next;
      modified.mocks.push_back({with.builtin, with.function, with.mock_builtin, with.mock_function, Value()});
      return EvalWith(expr, i + 1, modified, k);
    }
    return EvalTerm(with.value, [&](const Value& value) {
      WithState modified = next;
      switch (with.target) {
        case ir::WithModifier::Target::kInput:
          modified.input = SetPath(modified.has_input ? modified.input : Value::FromObject({}), with.path, value);
          modified.has_input = true;
          break;
        case ir::WithModifier::Target::kData: {
          modified.data = SetPath(modified.data, with.path, value);
          // The replaced document hides the rules at or below its path; a
          // path below all rules (`data.pkg.x` next to rules of pkg) only
          // adds base data, which merges with the rules' values.
          const ir::RuleNode* node = policy_.root.get();
          bool hides = true;
          for (const Value& element : with.path) {
            const ir::RuleNode* child = node->Child(element);
            if (child == nullptr) {
              hides = false;
              break;
            }
            node = child;
            if (node->has_rules) break;
          }
          if (hides && node != policy_.root.get()) modified.masked.push_back(node);
          break;
        }
        case ir::WithModifier::Target::kFunction:
          modified.mocks.push_back({with.builtin, with.function, nullptr, nullptr, value});
          break;
      }
      return EvalWith(expr, i + 1, modified, k);
    });
  }

  // ---------------------------------------------------------------- terms

  bool Evaluable(const ir::Term& term) const {
    switch (term.kind) {
      case ir::TermKind::kLocal: return frame_[term.slot].bound();
      case ir::TermKind::kArray:
        for (const ir::Term& element : term.operands) {
          if (!Evaluable(element)) return false;
        }
        return true;
      case ir::TermKind::kObject:
        for (size_t i = 1; i < term.operands.size(); i += 2) {
          if (!Evaluable(term.operands[i])) return false;
        }
        return true;
      default: return true;
    }
  }

  bool EvalTerm(const ir::Term& term, ValueCont k) {
    switch (term.kind) {
      case ir::TermKind::kConst: return k(term.value);
      case ir::TermKind::kLocal: {
        const Slot& slot = frame_[term.slot];
        return slot.bound() ? k(*slot.value) : true;
      }
      case ir::TermKind::kInput: return state_.has_input ? k(state_.input) : true;
      case ir::TermKind::kData: {
        ir::Term ref;
        ref.kind = ir::TermKind::kRef;
        ref.operands.push_back(term);
        return EvalRef(ref, k);
      }
      case ir::TermKind::kRef: return EvalRef(term, k);
      case ir::TermKind::kArray:
      case ir::TermKind::kSet:
      case ir::TermKind::kObject: {
        std::vector<Value> values;
        values.reserve(term.operands.size());
        return EvalElements(term.operands, 0, values, [&]() {
          switch (term.kind) {
            case ir::TermKind::kArray: return k(Value::FromArray(values));
            case ir::TermKind::kSet: return k(Value::FromSet(Value::Set(values.begin(), values.end())));
            default: {
              Value::Object object;
              for (size_t i = 0; i + 1 < values.size(); i += 2) object.insert_or_assign(values[i], values[i + 1]);
              return k(Value::FromObject(std::move(object)));
            }
          }
        });
      }
      case ir::TermKind::kArrayCompr:
      case ir::TermKind::kSetCompr:
      case ir::TermKind::kObjectCompr: return EvalComprehension(term, k);
      case ir::TermKind::kCall: return EvalCall(term, k);
    }
    return true;
  }

  bool EvalElements(const std::vector<ir::Term>& terms, size_t i, std::vector<Value>& values, Cont k) {
    if (i == terms.size()) return k();
    return EvalTerm(terms[i], [&](const Value& value) {
      values.push_back(value);
      const bool result = EvalElements(terms, i + 1, values, k);
      values.pop_back();
      return result;
    });
  }

  bool EvalComprehension(const ir::Term& term, ValueCont k) {
    if (!Tick()) return false;
    switch (term.kind) {
      case ir::TermKind::kArrayCompr: {
        Value::Array items;
        EvalBody(
            *term.body, 0,
            [&]() {
              return EvalTerm(term.operands[0], [&](const Value& value) {
                items.push_back(value);
                return true;
              });
            },
            nullptr);
        if (error_) return false;
        return k(Value::FromArray(std::move(items)));
      }
      case ir::TermKind::kSetCompr: {
        Value::Set items;
        EvalBody(
            *term.body, 0,
            [&]() {
              return EvalTerm(term.operands[0], [&](const Value& value) {
                items.insert(value);
                return true;
              });
            },
            nullptr);
        if (error_) return false;
        return k(Value::FromSet(std::move(items)));
      }
      default: {
        Value::Object items;
        EvalBody(
            *term.body, 0,
            [&]() {
              return EvalTerm(term.operands[0], [&](const Value& key) {
                return EvalTerm(term.operands[1], [&](const Value& value) {
                  auto [it, inserted] = items.emplace(key, value);
                  if (!inserted && it->second != value) {
                    return Stop(RegoError(kEvalConflictError, ExprLocation(), "object keys must be unique"));
                  }
                  return true;
                });
              });
            },
            nullptr);
        if (error_) return false;
        return k(Value::FromObject(std::move(items)));
      }
    }
  }

  // Calls `k(key, value)` for each member of a collection.
  static bool Iterate(const Value& collection, PairCont k) {
    switch (collection.kind()) {
      case Kind::kArray: {
        const Value::Array& items = collection.as_array();
        for (size_t i = 0; i < items.size(); ++i) {
          if (!k(Value::Int(static_cast<int64_t>(i)), items[i])) return false;
        }
        return true;
      }
      case Kind::kObject:
        for (const auto& [key, value] : collection.as_object()) {
          if (!k(key, value)) return false;
        }
        return true;
      case Kind::kSet:
        for (const Value& item : collection.as_set()) {
          if (!k(item, item)) return false;
        }
        return true;
      default: return true;
    }
  }

  // Calls `k(value)` for each member of a collection (Iterate without
  // making the keys).
  static bool IterateValues(const Value& collection, ValueCont k) {
    switch (collection.kind()) {
      case Kind::kArray:
        for (const Value& item : collection.as_array()) {
          if (!k(item)) return false;
        }
        return true;
      case Kind::kObject:
        for (const auto& [key, value] : collection.as_object()) {
          if (!k(value)) return false;
        }
        return true;
      case Kind::kSet:
        for (const Value& item : collection.as_set()) {
          if (!k(item)) return false;
        }
        return true;
      default: return true;
    }
  }

  // ---------------------------------------------------------------- references

  bool EvalRef(const ir::Term& ref, ValueCont k) {
    const ir::Term& head = ref.operands[0];
    switch (head.kind) {
      case ir::TermKind::kData:
        if (ref.rule != nullptr && state_.masked.empty()) {
          const CacheEntry* entry = EvalRuleNode(ref.rule);
          if (entry == nullptr) return false;
          if (!entry->defined) return true;
          const Value& value = entry->value;  // a finished entry never changes
          return IndexValue(value, ref, ref.rule_next, k);
        }
        return EvalDataPath(policy_.root.get(), &state_.data, ref, 1, k);
      case ir::TermKind::kInput: return state_.has_input ? IndexValue(state_.input, ref, 1, k) : true;
      case ir::TermKind::kLocal: {
        const Slot& slot = frame_[head.slot];
        return slot.bound() ? IndexValue(*slot.value, ref, 1, k) : true;
      }
      default: return EvalTerm(head, [&](const Value& value) { return IndexValue(value, ref, 1, k); });
    }
  }

  // The key a reference element stands for when it needs no evaluation (a
  // constant or a bound local), else nullptr.
  const Value* DirectKey(const ir::Term& element) const {
    if (element.kind == ir::TermKind::kConst) return &element.value;
    if (element.kind == ir::TermKind::kLocal) return frame_[element.slot].value;
    return nullptr;
  }

  // Follows ref.operands[i...] from `value` while the elements are direct
  // keys; returns the value reached (nullptr: undefined) and the first
  // element not followed in `i`.
  const Value* Follow(const Value* value, const ir::Term& ref, size_t& i) const {
    for (; i < ref.operands.size() && value != nullptr; ++i) {
      const Value* key = DirectKey(ref.operands[i]);
      if (key == nullptr) break;
      value = value->Find(*key);
    }
    return value;
  }

  // Terms with at most one value that need no backtracking: constants, bound
  // locals, `input`, and references from a bound local or `input` through
  // direct keys. Sets `out` (nullptr when undefined) and returns true; false
  // when the term needs full evaluation.
  bool Direct(const ir::Term& term, const Value*& out) const {
    switch (term.kind) {
      case ir::TermKind::kConst: out = &term.value; return true;
      case ir::TermKind::kLocal: out = frame_[term.slot].value; return out != nullptr;
      case ir::TermKind::kInput: out = state_.has_input ? &state_.input : nullptr; return true;
      case ir::TermKind::kRef: {
        const ir::Term& head = term.operands[0];
        const Value* base = nullptr;
        if (head.kind == ir::TermKind::kInput) {
          if (!state_.has_input) {
            out = nullptr;
            return true;
          }
          base = &state_.input;
        } else if (head.kind == ir::TermKind::kLocal && frame_[head.slot].bound()) {
          base = frame_[head.slot].value;
        } else {
          return false;
        }
        size_t i = 1;
        const Value* value = Follow(base, term, i);
        if (value != nullptr && i < term.operands.size()) return false;
        out = value;
        return true;
      }
      default: return false;
    }
  }

  bool IndexValue(const Value& start, const ir::Term& ref, size_t i, ValueCont k) {
    const Value* reached = Follow(&start, ref, i);
    if (reached == nullptr) return true;
    const Value& value = *reached;
    if (i == ref.operands.size()) return k(value);
    const ir::Term& element = ref.operands[i];
    if (Evaluable(element)) {
      return EvalTerm(element, [&](const Value& key) {
        const Value* child = value.Find(key);
        return child != nullptr ? IndexValue(*child, ref, i + 1, k) : true;
      });
    }
    return Iterate(value, [&](const Value& key, const Value& child) {
      return Unify(element, key, [&]() { return IndexValue(child, ref, i + 1, k); });
    });
  }

  bool IsMasked(const ir::RuleNode* node) const {
    for (const ir::RuleNode* masked : state_.masked) {
      if (masked == node) return true;
    }
    return false;
  }

  bool EvalDataPath(const ir::RuleNode* node, const Value* base, const ir::Term& ref, size_t i, ValueCont k) {
    if (node != nullptr && !state_.masked.empty() && IsMasked(node)) node = nullptr;
    if (node != nullptr && node->has_rules) {
      if (node->kind == ast::RuleKind::kFunction) return true;
      const CacheEntry* entry = EvalRuleNode(node);
      if (entry == nullptr) return false;
      if (!entry->defined) return true;
      const Value& value = entry->value;  // a finished entry never changes
      return IndexValue(value, ref, i, k);
    }
    if (node == nullptr) return base != nullptr ? IndexValue(*base, ref, i, k) : true;
    if (i == ref.operands.size()) {
      Value document;
      if (!BuildVirtualDocument(node, base, document)) return false;
      return k(document);
    }
    const ir::Term& element = ref.operands[i];
    auto step = [&](const Value& key) -> bool {
      const ir::RuleNode* child = node->Child(key);
      const Value* base_child = base != nullptr ? base->Find(key) : nullptr;
      if (child == nullptr && base_child == nullptr) return true;
      if (child == nullptr) return IndexValue(*base_child, ref, i + 1, k);
      return EvalDataPath(child, base_child, ref, i + 1, k);
    };
    if (element.kind == ir::TermKind::kConst) return step(element.value);
    if (element.kind == ir::TermKind::kLocal && frame_[element.slot].bound()) return step(*frame_[element.slot].value);
    if (Evaluable(element)) return EvalTerm(element, step);
    // Enumerate the rules and the base documents below this node.
    std::vector<Value> keys;
    for (const auto& [key, child] : node->children) {
      if (child->has_rules && child->kind == ast::RuleKind::kFunction) continue;
      keys.push_back(key);
    }
    if (base != nullptr && base->is_object()) {
      for (const auto& [key, value] : base->as_object()) {
        if (node->Child(key) == nullptr) keys.push_back(key);
      }
    }
    for (const Value& key : keys) {
      if (!Unify(element, key, [&]() { return step(key); })) return false;
    }
    return true;
  }

  bool BuildVirtualDocument(const ir::RuleNode* node, const Value* base, Value& out) {
    Value::Object object;
    if (base != nullptr && base->is_object()) object = base->as_object();
    for (const auto& [key, child] : node->children) {
      if (!state_.masked.empty() && IsMasked(child.get())) continue;
      const Value* base_child = base != nullptr ? base->Find(key) : nullptr;
      if (child->has_rules) {
        if (child->kind == ast::RuleKind::kFunction) continue;
        const CacheEntry* entry = EvalRuleNode(child.get());
        if (entry == nullptr) return false;
        if (entry->defined) object.insert_or_assign(key, entry->value);
      } else {
        Value sub;
        if (!BuildVirtualDocument(child.get(), base_child, sub)) return false;
        object.insert_or_assign(key, std::move(sub));
      }
    }
    out = Value::FromObject(std::move(object));
    return true;
  }

  // ---------------------------------------------------------------- unification

  bool Unify(const ir::Term& pattern, const Value& value, Cont k) {
    switch (pattern.kind) {
      case ir::TermKind::kLocal: {
        Slot& slot = frame_[pattern.slot];
        if (slot.bound()) return *slot.value == value ? k() : true;
        Bind(slot, value);
        const bool result = k();
        Unbind(slot);
        return result;
      }
      case ir::TermKind::kConst: return pattern.value == value ? k() : true;
      case ir::TermKind::kArray:
        if (!value.is_array() || value.as_array().size() != pattern.operands.size()) return true;
        return UnifyArray(pattern, value.as_array(), 0, k);
      case ir::TermKind::kObject:
        if (!value.is_object() || value.as_object().size() * 2 != pattern.operands.size()) return true;
        return UnifyObject(pattern, value, 0, k);
      default: return EvalTerm(pattern, [&](const Value& actual) { return actual == value ? k() : true; });
    }
  }

  bool UnifyArray(const ir::Term& pattern, const Value::Array& items, size_t i, Cont k) {
    if (i == items.size()) return k();
    return Unify(pattern.operands[i], items[i], [&]() { return UnifyArray(pattern, items, i + 1, k); });
  }

  bool UnifyObject(const ir::Term& pattern, const Value& object, size_t i, Cont k) {
    if (i >= pattern.operands.size()) return k();
    return EvalTerm(pattern.operands[i], [&](const Value& key) {
      const Value* member = object.Find(key);
      if (member == nullptr) return true;
      return Unify(pattern.operands[i + 1], *member, [&]() { return UnifyObject(pattern, object, i + 2, k); });
    });
  }

  bool UnifyTerms(const ir::Term& a, const ir::Term& b, Cont k) {
    if (Evaluable(b)) return EvalTerm(b, [&](const Value& value) { return Unify(a, value, k); });
    if (Evaluable(a)) return EvalTerm(a, [&](const Value& value) { return Unify(b, value, k); });
    if (a.kind == ir::TermKind::kArray && b.kind == ir::TermKind::kArray && a.operands.size() == b.operands.size()) {
      return UnifyPairs(a, b, 0, k);
    }
    if (a.kind == ir::TermKind::kObject && b.kind == ir::TermKind::kObject && a.operands.size() == b.operands.size()) {
      return UnifyObjectPairs(a, b, 0, k);
    }
    return true;
  }

  bool UnifyPairs(const ir::Term& a, const ir::Term& b, size_t i, Cont k) {
    if (i == a.operands.size()) return k();
    return UnifyTerms(a.operands[i], b.operands[i], [&]() { return UnifyPairs(a, b, i + 1, k); });
  }

  bool UnifyObjectPairs(const ir::Term& a, const ir::Term& b, size_t i, Cont k) {
    if (i >= a.operands.size()) return k();
    const ir::Term& key = a.operands[i];
    if (key.kind != ir::TermKind::kConst) return true;
    for (size_t j = 0; j + 1 < b.operands.size(); j += 2) {
      if (b.operands[j].kind == ir::TermKind::kConst && b.operands[j].value == key.value) {
        return UnifyTerms(a.operands[i + 1], b.operands[j + 1], [&]() { return UnifyObjectPairs(a, b, i + 2, k); });
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- calls

  bool EvalArgs(const ir::Term& call, size_t count, size_t i, std::span<Value> args, Cont k) {
    // Arguments with at most one value are looked up in a loop; the first
    // that needs full evaluation continues through EvalTerm.
    for (; i < count; ++i) {
      const Value* value = nullptr;
      if (!Direct(call.operands[i], value)) break;
      if (value == nullptr) return true;
      args[i] = *value;
    }
    if (i == count) return k();
    const ir::Term& operand = call.operands[i];
    return EvalTerm(operand, [&](const Value& value) {
      args[i] = value;
      return EvalArgs(call, count, i + 1, args, k);
    });
  }

  bool EvalPrint(const ir::Term& call, ValueCont k) { return Print(call) && k(True()); }

  // Records one print call; false on an error in an operand.
  bool Print(const ir::Term& call) {
    // Operands are evaluated even when nobody reads the output: their errors
    // (strict builtins, limits) must not depend on whether prints are kept.
    // Only lookups, which can neither fail nor print, are skipped then.
    if (want_prints_) {
      print_writer_.BeginCall(options_.print_locations ? current_location_ : nullptr);
    }
    for (const ir::Term& operand : call.operands) {
      if (!want_prints_ && ir::IsLookup(operand)) continue;
      if (const Value* value = nullptr; Direct(operand, value)) {
        if (want_prints_) print_writer_.Operand(value);
        continue;
      }
      bool defined = false;
      EvalTerm(operand, [&](const Value& value) {
        if (want_prints_) print_writer_.Operand(&value);
        defined = true;
        return false;
      });
      if (error_) return false;
      if (want_prints_ && !defined) print_writer_.Operand(nullptr);
    }
    return true;
  }

  bool EvalCall(const ir::Term& call, ValueCont k) {
    if (call.call == ir::CallKind::kPrint) return EvalPrint(call, k);
    const size_t count = call.operands.size() - (call.output_arg ? 1 : 0);
    constexpr size_t kInline = kInlineArgs;
    // Operators and builtins whose operands need no evaluation (constants,
    // locals, plain references) are applied without continuations.
    if (count <= kInline && call.call != ir::CallKind::kFunction) {
      std::array<const Value*, kInline> direct{};
      size_t n = 0;
      for (; n < count && Direct(call.operands[n], direct[n]); ++n) {
        if (direct[n] == nullptr) return true;  // an undefined operand: no call
      }
      if (n == count && IsOperator(call.call)) {
        return k(Boolean(ApplyOperator(call.call, *direct[0], *direct[1], count > 2 ? direct[2] : nullptr)));
      }
      if (n == count && call.builtin != nullptr && !call.builtin->relation && state_.mocks.empty()) {
        Value result;
        switch (ApplyBuiltin(*call.builtin, std::span<const Value* const>(direct.data(), count), result)) {
          case Outcome::kValue: return k(result);
          case Outcome::kUndefined: return true;
          case Outcome::kStop:
          case Outcome::kGeneral: return false;
        }
      }
    }
    std::array<Value, kInline> inline_args;
    std::vector<Value> heap_args;
    std::span<Value> args(inline_args.data(), count);
    if (count > kInline) {
      heap_args.resize(count);
      args = std::span<Value>(heap_args);
    }
    return EvalArgs(call, count, 0, args, [&]() { return Dispatch(call, args, k); });
  }

  static bool Member(const Value& needle, const Value& collection) {
    switch (collection.kind()) {
      case Kind::kArray:
        for (const Value& item : collection.as_array()) {
          if (item == needle) return true;
        }
        return false;
      case Kind::kSet: return collection.as_set().contains(needle);
      case Kind::kObject:
        for (const auto& [key, value] : collection.as_object()) {
          if (value == needle) return true;
        }
        return false;
      default: return false;
    }
  }

  static bool IsOperator(ir::CallKind kind) {
    return kind != ir::CallKind::kFunction && kind != ir::CallKind::kBuiltin && kind != ir::CallKind::kPrint;
  }

  // ==, !=, <, <=, >, >= and `in` (a in b; key, value in c).
  static bool ApplyOperator(ir::CallKind kind, const Value& a, const Value& b, const Value* c) {
    switch (kind) {
      case ir::CallKind::kEqual: return a == b;
      case ir::CallKind::kNotEqual: return a != b;
      case ir::CallKind::kLess: return Compare(a, b) < 0;
      case ir::CallKind::kLessEqual: return Compare(a, b) <= 0;
      case ir::CallKind::kGreater: return Compare(a, b) > 0;
      case ir::CallKind::kGreaterEqual: return Compare(a, b) >= 0;
      case ir::CallKind::kMember2: return Member(a, b);
      case ir::CallKind::kMember3: {
        if (c->is_set()) return a == b && c->as_set().contains(a);
        const Value* member = c->Find(a);
        return member != nullptr && *member == b;
      }
      default: return false;
    }
  }

  // Runs a builtin. An error makes the call undefined, or stops the
  // evaluation with strict builtin errors.
  Outcome ApplyBuiltin(const Builtin& builtin, std::span<const Value> args, Value& out) {
    if (builtin.memoize && args.size() <= BuiltinMemo::kMaxOperands) {
      std::array<const Value*, BuiltinMemo::kMaxOperands> operands;
      for (size_t i = 0; i < args.size(); ++i) operands[i] = &args[i];
      return ApplyBuiltin(builtin, std::span<const Value* const>(operands.data(), args.size()), out);
    }
    return CallAndCheck(builtin, args, out);
  }

  // As above, with the operands where they are: a remembered result is
  // found without copying them.
  Outcome ApplyBuiltin(const Builtin& builtin, std::span<const Value* const> operands, Value& out) {
    if (builtin.memoize) {
      if (const Value* known = Memo().Find(policy_.generation, &builtin, operands)) {
        out = *known;
        return Outcome::kValue;
      }
    }
    std::array<Value, kInlineArgs> inline_args;
    std::vector<Value> heap_args;
    std::span<Value> args(inline_args.data(), operands.size());
    if (operands.size() > kInlineArgs) {
      heap_args.resize(operands.size());
      args = std::span<Value>(heap_args);
    }
    for (size_t i = 0; i < operands.size(); ++i) args[i] = *operands[i];
    const Outcome outcome = CallAndCheck(builtin, args, out);
    if (outcome == Outcome::kValue && builtin.memoize) Memo().Insert(policy_.generation, &builtin, operands, out);
    return outcome;
  }

  static BuiltinMemo& Memo() {
    thread_local BuiltinMemo memo;
    return memo;
  }

  Outcome CallAndCheck(const Builtin& builtin, std::span<const Value> args, Value& out) {
    Result<Value> result = CallBuiltin(builtin, args);
    if (!result) {
      if (result.error().code == ErrorCode::kNotFound || !options_.strict_builtin_errors) return Outcome::kUndefined;
      Stop(RegoError(OpaCodeForBuiltinError(result.error()), ExprLocation(), result.error().message));
      return Outcome::kStop;
    }
    out = std::move(*result);
    return Outcome::kValue;
  }

  bool Dispatch(const ir::Term& call, std::span<const Value> args, ValueCont k) {
    if (call.call == ir::CallKind::kPrint) return true;
    if (IsOperator(call.call)) {
      return k(Boolean(ApplyOperator(call.call, args[0], args[1], args.size() > 2 ? &args[2] : nullptr)));
    }
    const Builtin* builtin = call.builtin;
    const ir::RuleNode* function = call.function;
    for (auto it = state_.mocks.rbegin(); it != state_.mocks.rend(); ++it) {
      const bool matches =
          (builtin != nullptr && it->builtin == builtin) || (function != nullptr && it->function == function);
      if (!matches) continue;
      if (it->mock_builtin == nullptr && it->mock_function == nullptr) return k(it->value);
      builtin = it->mock_builtin;
      function = it->mock_function;
      break;
    }
    // A replacement runs without the replacements in force, so it can call
    // the function it replaces.
    std::vector<FunctionMock> saved_mocks;
    const bool mocked = builtin != call.builtin || function != call.function;
    if (mocked) std::swap(saved_mocks, state_.mocks);
    struct Restore {
      Evaluator* self;
      std::vector<FunctionMock>* saved;
      bool active;
      ~Restore() {
        if (active) std::swap(*saved, self->state_.mocks);
      }
    } restore{this, &saved_mocks, mocked};
    if (function != nullptr) {
      if (static_cast<int>(args.size()) != function->arity) return true;
      std::vector<const Value*> pointers(args.size());
      for (size_t i = 0; i < args.size(); ++i) pointers[i] = &args[i];
      std::optional<Value> result;
      if (!EvalFunction(function, pointers, result)) return false;
      if (mocked) std::swap(saved_mocks, state_.mocks), restore.active = false;
      return result ? k(*result) : true;
    }
    if (builtin == nullptr) return true;
    Value result;
    const Outcome outcome = ApplyBuiltin(*builtin, args, result);
    if (mocked) std::swap(saved_mocks, state_.mocks), restore.active = false;
    if (outcome != Outcome::kValue) return outcome == Outcome::kUndefined;
    if (builtin->relation) {
      if (!result.is_array()) return true;
      for (const Value& item : result.as_array()) {
        if (!k(item)) return false;
      }
      return true;
    }
    return k(result);
  }

  static Result<Value> CallBuiltin(const Builtin& builtin, std::span<const Value> args) {
    try {
      return builtin.function(args);
    } catch (const std::exception& e) {
      return contrast::Fail(ErrorCode::kInternal, builtin.name + ": " + e.what());
    }
  }

  // ---------------------------------------------------------------- rules

  // Runs one definition's body in a fresh frame (after binding the function
  // arguments); `k` runs inside that frame, at the rule's location.
  bool RunDef(const ir::RuleDef& def, std::span<const Value* const> args, const std::string& rule, Cont k) {
    // A body that fails at its guard fails without a frame; the step its
    // guard would have taken still counts.
    if (def.guard >= 0 && GuardFails(def, args)) return Tick();
    Slot* frame = frames_.Push(static_cast<size_t>(def.frame_size));
    Slot* saved_frame = frame_;
    const std::vector<std::string>* saved_names = slot_names_;
    const std::string* saved_rule = trace_rule_;
    const int saved_body = trace_body_;
    frame_ = frame;
    slot_names_ = &def.slot_names;
    trace_rule_ = &rule;
    trace_body_ = def.body_index;
    // Head terms are evaluated after the body: errors there point at the rule.
    auto head = [&]() {
      const Location* saved_location = current_location_;
      current_location_ = &def.location;
      const bool r = k();
      current_location_ = saved_location;
      return r;
    };
    bool result;
    if (tracer_ == nullptr && def.plain_params && args.size() <= InPlaceBindings::kCapacity) {
      // Parameters are plain names: bind them in a loop and run the body
      // in place.
      InPlaceBindings bound;
      bool ok = true;
      for (size_t i = 0; i < args.size(); ++i) {
        Slot& slot = frame_[def.args[i].slot];
        if (!slot.bound()) {
          Bind(slot, *args[i]);
          bound.Add(slot);
        } else if (*slot.value != *args[i]) {
          ok = false;  // f(x, x) called with two different values
          break;
        }
      }
      result = ok ? EvalBodyInPlace(def.body, 0, head) : true;
    } else {
      auto body = [&]() {
        if (tracer_ == nullptr) return EvalBody(def.body, 0, head, nullptr);
        Trace(TraceEvent::Type::kEnterBody, rule, def.body_index, def.location, HeadText(def));
        return EvalBody(
            def.body, 0,
            [&]() {
              Trace(TraceEvent::Type::kExitBody, rule, def.body_index, def.location, HeadText(def));
              return head();
            },
            nullptr);
      };
      result = args.empty() ? body() : UnifyArgs(def, args, 0, body);
    }
    frames_.Pop();
    frame_ = saved_frame;
    slot_names_ = saved_names;
    trace_rule_ = saved_rule;
    trace_body_ = saved_body;
    return result;
  }

  // Whether a function body's guard (ir::RuleDef::guard) is false or
  // undefined for these arguments. Only where skipping the body changes
  // nothing else: no tracer follows it, no `with` replaces anything, and
  // the prints before the guard are not kept.
  bool GuardFails(const ir::RuleDef& def, std::span<const Value* const> args) const {
    if (tracer_ != nullptr || (want_prints_ && def.guard_after_prints) || !state_.mocks.empty() ||
        !state_.masked.empty()) {
      return false;
    }
    const ir::Term& guard = def.body.exprs[static_cast<size_t>(def.guard)].term;
    std::array<const Value*, 2> operands;
    for (size_t i = 0; i < 2; ++i) {
      const ir::Term& operand = guard.operands[i];
      const int param = def.guard_params[i];
      if (operand.kind == ir::TermKind::kConst) {
        operands[i] = &operand.value;
        continue;
      }
      const Value* base = param >= 0 ? args[static_cast<size_t>(param)] : (state_.has_input ? &state_.input : nullptr);
      if (base == nullptr) return true;  // undefined input: the comparison is undefined
      size_t next = 1;
      operands[i] = operand.kind == ir::TermKind::kRef ? Follow(base, operand, next) : base;
      if (operands[i] == nullptr) return true;
    }
    return !ApplyOperator(guard.call, *operands[0], *operands[1], nullptr);
  }

  bool UnifyArgs(const ir::RuleDef& def, std::span<const Value* const> args, size_t i, Cont k) {
    if (i == args.size() || i >= def.args.size()) return k();
    return Unify(def.args[i], *args[i], [&]() { return UnifyArgs(def, args, i + 1, k); });
  }

  // Whether this evaluation may stop at a rule's first successful body
  // (ir::RuleNode::early_exit). Only when nothing can observe the bodies it
  // skips: their prints are not read, no tracer follows them, builtin errors
  // do not stop the evaluation, and no `with` has replaced functions or data.
  bool EarlyExit(const ir::RuleNode* node) const {
    return node->early_exit && !want_prints_ && tracer_ == nullptr && !options_.strict_builtin_errors &&
           state_.mocks.empty() && state_.masked.empty();
  }

  // Complete rules and functions: the first definition of an else chain that
  // succeeds gives the value; all values must agree.
  bool EvalValueChains(const ir::RuleNode* node, std::span<const Value* const> args, std::optional<Value>& result) {
    const bool function = node->kind == ast::RuleKind::kFunction;
    const bool early_exit = EarlyExit(node);
    for (const auto& def : node->defs) {
      for (const ir::RuleDef* link = def.get(); link != nullptr; link = link->else_rule.get()) {
        bool produced = false;
        auto produce = [&](const Value& value) {
          produced = true;
          if (!result) {
            result = value;
          } else if (*result != value) {
            return Stop(RegoError(kEvalConflictError, RuleLocation(*link),
                                  function ? "functions must not produce multiple outputs for same inputs: function " +
                                                 node->path_text + " produced conflicting values for the same inputs"
                                           : "complete rules must not produce multiple outputs: rule " +
                                                 node->path_text + " produced conflicting values"));
          }
          // A rule body with a constant head cannot produce another value.
          // Function bodies are enumerated fully, as the Kata agent's engine
          // does (their print output must match), unless they may exit early.
          return !early_exit && (function || link->value.kind != ir::TermKind::kConst);
        };
        RunDef(*link, args, node->path_text, [&]() {
          if (link->value.kind == ir::TermKind::kConst) return produce(link->value.value);
          return EvalTerm(link->value, produce);
        });
        if (error_) return false;
        if (produced) break;
      }
      if (result && early_exit) break;
    }
    if (!result && node->default_def) {
      const ir::RuleDef& def = *node->default_def;
      if (def.value.kind == ir::TermKind::kConst) {
        result = def.value.value;
      } else {
        RunDef(def, args, node->path_text, [&]() {
          return EvalTerm(def.value, [&](const Value& value) {
            result = value;
            return false;
          });
        });
        if (error_) return false;
      }
    }
    return true;
  }

  static Location RuleLocation(const ir::RuleDef& def) {
    Location location = def.location;
    location.column = 0;
    return location;
  }

  const CacheEntry* EvalRuleNode(const ir::RuleNode* node) {
    CacheEntry& entry = (*state_.cache)[static_cast<size_t>(node->index)];
    if (entry.state == 2) return &entry;
    if (entry.state == 1) {
      Stop(RegoError(kRegoRecursionError, ExprLocation(), "rule " + node->path_text + " is recursive"));
      return nullptr;
    }
    if (!EnterCall()) return nullptr;
    entry.state = 1;
    std::vector<CacheEntry>* cache = state_.cache;
    if (tracer_ != nullptr) Trace(TraceEvent::Type::kEnterRule, node->path_text, 0, NodeLocation(node), "");
    bool ok = true;
    std::optional<Value> result;
    if (node->general) {
      ok = EvalGeneralRules(node, result);
    } else {
      switch (node->kind) {
        case ast::RuleKind::kComplete:
        case ast::RuleKind::kFunction: ok = EvalValueChains(node, {}, result); break;
        case ast::RuleKind::kPartialSet: {
          Value::Set items;
          for (const auto& def : node->defs) {
            RunDef(*def, {}, node->path_text, [&]() {
              return EvalTerm(def->key, [&](const Value& value) {
                items.insert(value);
                return true;
              });
            });
            if (error_) break;
          }
          ok = !error_;
          result = Value::FromSet(std::move(items));
          break;
        }
        case ast::RuleKind::kPartialObject: {
          Value::Object items;
          for (const auto& def : node->defs) {
            RunDef(*def, {}, node->path_text, [&]() {
              return EvalTerm(def->key, [&](const Value& key) {
                return EvalTerm(def->value, [&](const Value& value) {
                  auto [it, inserted] = items.emplace(key, value);
                  if (!inserted && it->second != value) {
                    return Stop(RegoError(kEvalConflictError, RuleLocation(*def), "object keys must be unique"));
                  }
                  return true;
                });
              });
            });
            if (error_) break;
          }
          ok = !error_;
          result = Value::FromObject(std::move(items));
          break;
        }
      }
    }
    --depth_;
    // `with` may have swapped the cache while we ran; write to the one we read.
    CacheEntry& done = (*cache)[static_cast<size_t>(node->index)];
    if (!ok) {
      done.state = 0;
      return nullptr;
    }
    done.state = 2;
    done.defined = result.has_value();
    if (result) done.value = std::move(*result);
    if (tracer_ != nullptr) {
      Trace(done.defined ? TraceEvent::Type::kExitRule : TraceEvent::Type::kFailRule, node->path_text, 0,
            NodeLocation(node), "");
    }
    return &done;
  }

  // The document of rules with variables in their reference heads, built up
  // as a tree: a leaf holds a value or, for `contains` rules, a set.
  struct DocTree {
    std::map<Value, std::unique_ptr<DocTree>> children;
    std::optional<Value> value;
    std::optional<Value::Set> set;

    Value ToValue() const {
      if (value) return *value;
      if (set) return Value::FromSet(*set);
      Value::Object object;
      for (const auto& [key, child] : children) object.emplace(key, child->ToValue());
      return Value::FromObject(std::move(object));
    }
  };

  bool EvalGeneralRules(const ir::RuleNode* node, std::optional<Value>& result) {
    DocTree tree;
    for (const auto& def : node->defs) {
      const ast::RuleKind kind = def->source != nullptr ? def->source->kind : ast::RuleKind::kComplete;
      std::vector<Value> keys;
      RunDef(*def, {}, node->path_text, [&]() {
        return EvalElements(def->key_path, 0, keys, [&]() {
          if (kind == ast::RuleKind::kPartialSet) {
            return EvalTerm(def->key,
                            [&](const Value& element) { return InsertGeneral(tree, keys, {}, &element, *def); });
          }
          return EvalTerm(def->value, [&](const Value& value) {
            if (kind != ast::RuleKind::kPartialObject) return InsertGeneral(tree, keys, value, nullptr, *def);
            return EvalTerm(def->key, [&](const Value& key) {
              keys.push_back(key);
              const bool r = InsertGeneral(tree, keys, value, nullptr, *def);
              keys.pop_back();
              return r;
            });
          });
        });
      });
      if (error_) return false;
    }
    result = tree.ToValue();
    return true;
  }

  // Puts `value` (or `element` into the set) at `keys` below `tree`.
  bool InsertGeneral(DocTree& tree, const std::vector<Value>& keys, const Value& value, const Value* element,
                     const ir::RuleDef& def) {
    auto conflict = [&]() {
      return Stop(RegoError(kEvalConflictError, RuleLocation(def),
                            "object insert conflict: rule " + HeadText(def) + " produced conflicting values"));
    };
    DocTree* at = &tree;
    for (const Value& key : keys) {
      if (at->value || at->set) return conflict();
      auto& child = at->children[key];
      if (!child) child = std::make_unique<DocTree>();
      at = child.get();
    }
    if (element != nullptr) {
      if (at->value || !at->children.empty()) return conflict();
      if (!at->set) at->set.emplace();
      at->set->insert(*element);
      return true;
    }
    if (at->set || !at->children.empty() || (at->value && *at->value != value)) return conflict();
    at->value = value;
    return true;
  }

  static Location NodeLocation(const ir::RuleNode* node) {
    if (!node->defs.empty()) return node->defs[0]->location;
    if (node->default_def) return node->default_def->location;
    return {};
  }

  bool EvalFunction(const ir::RuleNode* node, std::span<const Value* const> args, std::optional<Value>& result) {
    if (!EnterCall()) return false;
    if (tracer_ != nullptr) Trace(TraceEvent::Type::kEnterRule, node->path_text, 0, NodeLocation(node), "");
    const bool ok = EvalValueChains(node, args, result);
    --depth_;
    if (ok && tracer_ != nullptr) {
      Trace(result ? TraceEvent::Type::kExitRule : TraceEvent::Type::kFailRule, node->path_text, 0, NodeLocation(node),
            "");
    }
    return ok;
  }

  const ir::Policy& policy_;
  const EvalOptions& options_;
  Tracer* tracer_;
  WithState state_;
  // The thread's scratch, or (for an evaluation inside another on the same
  // thread) one of its own.
  Scratch& BorrowScratch() {
    thread_local Scratch shared;
    if (shared.in_use) {
      own_scratch_ = std::make_unique<Scratch>();
      scratch_ = own_scratch_.get();
    } else {
      scratch_ = &shared;
    }
    scratch_->in_use = true;
    return *scratch_;
  }

  std::unique_ptr<Scratch> own_scratch_;
  Scratch* scratch_ = nullptr;
  const int exceptions_at_start_ = std::uncaught_exceptions();
  FrameStack& frames_;
  Slot* frame_ = nullptr;
  const std::vector<std::string>* slot_names_ = nullptr;
  const std::string* trace_rule_ = nullptr;
  int trace_body_ = 0;
  const Location* current_location_ = nullptr;
  bool want_prints_ = true;  // false: nobody reads the print output
  PrintLog print_log_;
  PrintLogWriter print_writer_{print_log_};
  std::optional<Error> error_;
  uint64_t steps_ = 0;
  uint64_t next_check_ = 0;  // the step at which Tick checks the limits in full
  uint32_t depth_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  uintptr_t stack_limit_ = 0;
};

}  // namespace

Result<QueryResult> EvaluateQuery(const ir::Policy& policy, const ir::Query& query, const Value& data,
                                  const EvalOptions& options) {
  Evaluator evaluator(policy, data, options);
  return evaluator.RunQuery(query);
}

Result<std::optional<Value>> EvaluateDocument(const ir::Policy& policy, const std::vector<Value>& path,
                                              const Value& data, const EvalOptions& options, PrintLog* prints) {
  Evaluator evaluator(policy, data, options);
  return evaluator.RunDocument(path, prints);
}

}  // namespace contrast::policy::rego

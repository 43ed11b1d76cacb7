#include "history/etcd_store.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace contrast::history {
namespace {

namespace pb = etcdserverpb;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
// Room for the protobuf framing around the largest value.
constexpr size_t kMessageOverhead = 64 * 1024;

bool Retryable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "code " + std::to_string(static_cast<int>(code));
  }
}

// gRPC messages come from the server or the TLS stack: shown, but bounded
// and printable.
std::string Describe(const grpc::Status& status) {
  std::string message = status.error_message().substr(0, 300);
  for (char& c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return CodeName(status.error_code()) + ": " + message;
}

// gRPC deadlines are on the system clock; ours on the steady one.
void SetDeadlineIn(grpc::ClientContext& context, Clock::duration timeout) {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
}

bool IsLoopback(const std::string& endpoint) {
  return endpoint.starts_with("127.") || endpoint.starts_with("localhost:") || endpoint.starts_with("[::1]:");
}

// Exponential backoff with full jitter: a random wait in [d/2, d], d doubling
// up to kMaxBackoff.
class Backoff {
 public:
  std::chrono::milliseconds Next() {
    const auto ceiling = current_;
    current_ = std::min(current_ * 2, kMaxBackoff);
    std::uniform_int_distribution<int64_t> pick(ceiling.count() / 2, ceiling.count());
    return std::chrono::milliseconds(pick(random_));
  }
  void Reset() { current_ = kFirstBackoff; }

 private:
  std::chrono::milliseconds current_ = kFirstBackoff;
  std::mt19937_64 random_{std::random_device{}()};
};

// One Range result for one key, checked.
struct KeyValue {
  std::optional<Bytes> value;
  int64_t mod_revision = 0;
  int64_t header_revision = 0;
};

}  // namespace

struct EtcdStore::Impl {
  EtcdStoreOptions options;
  std::vector<std::unique_ptr<pb::KV::Stub>> kv;
  std::vector<std::unique_ptr<pb::Watch::Stub>> watch;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  // The endpoint that answered last: where the next call starts.
  std::atomic<size_t> preferred{0};

  std::string EndpointList() const {
    std::string list;
    for (const auto& e : options.endpoints) list += (list.empty() ? "" : ",") + e;
    return list;
  }
  std::string FullKey(std::string_view key) const { return options.prefix + std::string(key); }
  // TLS failures reach us as UNAVAILABLE like any other connection failure.
  std::string TlsHint() const {
    if (!options.tls) return "";
    if (options.tls->client_cert_pem.empty()) {
      return " (TLS without a client certificate: a cluster with --client-cert-auth refuses the connection)";
    }
    return " (a TLS failure shows as UNAVAILABLE too: check the CA and the client certificate)";
  }

  void SetDeadline(grpc::ClientContext& context, Clock::time_point budget_end) const {
    const auto now = Clock::now();
    SetDeadlineIn(
        context, std::min<Clock::duration>(options.rpc_timeout,
                                           std::max<Clock::duration>(budget_end - now, std::chrono::milliseconds(50))));
  }

  Error CallError(size_t endpoint, std::string_view what, const grpc::Status& status) const {
    ErrorCode code = Retryable(status) ? ErrorCode::kUnavailable : ErrorCode::kIo;
    // gRPC refuses an answer above the channel's receive limit (a value far
    // above max_value_size): the same as an oversized value read.
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        status.error_message().starts_with("Received message larger than max")) {
      code = ErrorCode::kParse;
    }
    return Error{code,
                 "etcd " + std::string(what) + " at " + options.endpoints[endpoint] + " failed: " + Describe(status)};
  }

  // Runs `call` against one endpoint after the other until it returns
  // anything but UNAVAILABLE/DEADLINE_EXCEEDED or the retry budget is spent.
  // Only for calls that may safely run twice (reads, a plain Put).
  Status Retry(std::string_view what,
               const std::function<grpc::Status(size_t endpoint, grpc::ClientContext& context)>& call,
               std::optional<Clock::time_point> until = std::nullopt) {
    const auto budget_end = until.value_or(Clock::now() + options.retry_budget);
    Backoff backoff;
    size_t endpoint = preferred.load() % options.endpoints.size();
    grpc::Status last;
    size_t last_endpoint = endpoint;
    int attempts = 0;
    for (;;) {
      grpc::ClientContext context;
      SetDeadline(context, budget_end);
      last = call(endpoint, context);
      last_endpoint = endpoint;
      ++attempts;
      if (last.ok()) {
        preferred.store(endpoint);
        return {};
      }
      if (!Retryable(last)) return Fail(CallError(endpoint, what, last));
      endpoint = (endpoint + 1) % options.endpoints.size();
      const auto wait = backoff.Next();
      if (Clock::now() + wait >= budget_end) break;
      Pause(endpoint, wait);
    }
    return Fail(ErrorCode::kUnavailable, "etcd " + std::string(what) + ": no endpoint of " + EndpointList() +
                                             " answered within " + std::to_string(options.retry_budget.count()) +
                                             " ms (" + std::to_string(attempts) + " attempts); last error from " +
                                             options.endpoints[last_endpoint] + ": " + Describe(last) + TlsHint());
  }

  // Checks a Range response for exactly `full_key`.
  Result<KeyValue> CheckRange(const pb::RangeResponse& response, const std::string& full_key) const {
    KeyValue result;
    result.header_revision = response.has_header() ? response.header().revision() : 0;
    if (response.kvs_size() == 0) return result;
    if (response.kvs_size() != 1) {
      return Fail(ErrorCode::kParse,
                  "etcd answered a read of one key with " + std::to_string(response.kvs_size()) + " values");
    }
    const auto& entry = response.kvs(0);
    if (entry.key() != full_key) return Fail(ErrorCode::kParse, "etcd answered a read with a value of another key");
    if (entry.value().size() > options.max_value_size) {
      return Fail(ErrorCode::kParse, "etcd value " + full_key + " is " + std::to_string(entry.value().size()) +
                                         " bytes, larger than the limit of " + std::to_string(options.max_value_size));
    }
    if (entry.mod_revision() <= 0) return Fail(ErrorCode::kParse, "etcd value " + full_key + " has no revision");
    result.value = Bytes(entry.value().begin(), entry.value().end());
    result.mod_revision = entry.mod_revision();
    return result;
  }

  Result<KeyValue> Read(std::string_view key, std::optional<Clock::time_point> until = std::nullopt) {
    const std::string full_key = FullKey(key);
    pb::RangeRequest request;
    request.set_key(full_key);
    request.set_serializable(false);  // linearizable
    pb::RangeResponse response;
    auto done = Retry(
        "read of " + full_key,
        [&](size_t endpoint, grpc::ClientContext& context) {
          response.Clear();
          return kv[endpoint]->Range(&context, request, &response);
        },
        until);
    if (!done) return Fail(done.error());
    return CheckRange(response, full_key);
  }

  Status CheckValue(std::string_view key, ByteView value) const {
    if (value.size() > options.max_value_size) {
      return Fail(ErrorCode::kInvalidArgument, "history value " + std::string(key) + " is " +
                                                   std::to_string(value.size()) + " bytes, the limit is " +
                                                   std::to_string(options.max_value_size));
    }
    return {};
  }

  // Waits `wait` before the next attempt on `endpoint`. gRPC's synchronous
  // API only makes progress on a connection while some thread polls for it;
  // after a failed attempt nothing does (a fail-fast RPC returns at once),
  // so a member that came back would only be noticed by gRPC's 5 s backup
  // poller. Waiting for the connection instead of sleeping does the polling.
  void Pause(size_t endpoint, std::chrono::milliseconds wait) const {
    const auto until = Clock::now() + wait;
    channels[endpoint]->WaitForConnected(std::chrono::system_clock::now() + wait);
    std::this_thread::sleep_until(until);  // connected early: still back off
  }
};

namespace {

class EtcdWatch final : public StoreWatch {
 public:
  EtcdWatch(std::shared_ptr<EtcdStore::Impl> store, std::string key, WatchCallbacks callbacks)
      : store_(std::move(store)),
        key_(std::move(key)),
        full_key_(store_->FullKey(key_)),
        callbacks_(std::move(callbacks)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~EtcdWatch() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      if (active_) active_->TryCancel();
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  // Makes `context` the one the destructor cancels; false when stopping.
  bool Activate(grpc::ClientContext* context) {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    active_ = context;
    return true;
  }
  void Deactivate() {
    std::lock_guard lock(mutex_);
    active_ = nullptr;
  }
  bool Stopping() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  void Run() {
    size_t endpoint = store_->preferred.load() % store_->options.endpoints.size();
    bool healthy = true;
    Backoff backoff;
    while (!Stopping()) {
      Status session = Session(endpoint, healthy, backoff);
      if (Stopping()) break;
      if (!session) {
        if (healthy && callbacks_.on_health) callbacks_.on_health(session);
        healthy = false;
        endpoint = (endpoint + 1) % store_->options.endpoints.size();
      }
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, backoff.Next(), [this] { return stopping_; });
    }
  }

  // One read and one watch stream on `endpoint`, until the stream breaks.
  Status Session(size_t endpoint, bool& healthy, Backoff& backoff) {
    KeyValue current;
    {
      grpc::ClientContext context;
      SetDeadlineIn(context, store_->options.rpc_timeout);
      // Waits (and so polls) for the connection, up to the deadline: see
      // Impl::Pause.
      context.set_wait_for_ready(true);
      pb::RangeRequest request;
      request.set_key(full_key_);
      pb::RangeResponse response;
      if (!Activate(&context)) return {};
      const grpc::Status status = store_->kv[endpoint]->Range(&context, request, &response);
      Deactivate();
      if (!status.ok()) return Fail(store_->CallError(endpoint, "watch read of " + full_key_, status));
      auto checked = store_->CheckRange(response, full_key_);
      if (!checked) return Fail(checked.error());
      if (checked->header_revision <= 0 || checked->header_revision == std::numeric_limits<int64_t>::max()) {
        return Fail(ErrorCode::kParse, "etcd answered a read with an unusable revision");
      }
      current = std::move(*checked);
    }
    if (Stopping()) return {};
    if (!healthy && callbacks_.on_health) callbacks_.on_health(Status{});
    healthy = true;
    backoff.Reset();
    callbacks_.on_value(current.value);

    grpc::ClientContext context;
    // Without this, a member that lost its leader keeps the stream open and
    // silent; with it, etcd closes the stream and we move to another member.
    context.AddMetadata("hasleader", "true");
    if (!Activate(&context)) return {};
    auto stream = store_->watch[endpoint]->Watch(&context);
    pb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(full_key_);
    create->set_start_revision(current.header_revision + 1);
    Status result;
    if (!stream->Write(request)) {
      result = Fail(ErrorCode::kUnavailable, "etcd watch at " + store_->options.endpoints[endpoint] +
                                                 ": the stream closed before the watch was created");
    } else {
      result = Follow(*stream, endpoint);
    }
    context.TryCancel();
    const grpc::Status finished = stream->Finish();
    Deactivate();
    if (result && !finished.ok()) return Fail(store_->CallError(endpoint, "watch of " + full_key_, finished));
    if (result) {
      return Fail(ErrorCode::kUnavailable, "etcd watch at " + store_->options.endpoints[endpoint] + " ended");
    }
    return result;
  }

  // Reads watch responses until the stream breaks; an error says why.
  Status Follow(grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>& stream, size_t endpoint) {
    pb::WatchResponse response;
    bool created = false;
    while (stream.Read(&response)) {
      if (Stopping()) return {};
      if (response.canceled()) {
        // Compacted past our start revision (or any other reason): the
        // next session reads the value afresh.
        return Fail(ErrorCode::kUnavailable, "etcd watch at " + store_->options.endpoints[endpoint] +
                                                 " was cancelled (compact revision " +
                                                 std::to_string(response.compact_revision()) + ")");
      }
      if (response.created()) {
        created = true;
        continue;
      }
      if (!created) return Fail(ErrorCode::kParse, "etcd sent watch events before creating the watch");
      if (response.events_size() == 0) continue;  // progress notification
      // Coalesced: only the newest event of a batch matters.
      const auto& event = response.events(response.events_size() - 1);
      for (const auto& e : response.events()) {
        if (e.kv().key() != full_key_) return Fail(ErrorCode::kParse, "etcd watch sent an event of another key");
      }
      if (event.type() == mvccpb::Event::DELETE) {
        callbacks_.on_value(std::nullopt);
        continue;
      }
      if (event.kv().value().size() > store_->options.max_value_size) {
        return Fail(ErrorCode::kParse, "etcd watch sent a value of " + std::to_string(event.kv().value().size()) +
                                           " bytes, larger than the limit");
      }
      callbacks_.on_value(Bytes(event.kv().value().begin(), event.kv().value().end()));
    }
    return {};  // the caller reports Finish()'s status
  }

  std::shared_ptr<EtcdStore::Impl> store_;
  const std::string key_;
  const std::string full_key_;
  const WatchCallbacks callbacks_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  grpc::ClientContext* active_ = nullptr;
  std::thread thread_;
};

}  // namespace

Result<std::shared_ptr<EtcdStore>> EtcdStore::Open(EtcdStoreOptions options) {
  if (options.endpoints.empty()) return Fail(ErrorCode::kInvalidArgument, "etcd store: no endpoints");
  if (options.prefix.empty() || options.prefix.front() != '/' || options.prefix.back() != '/') {
    return Fail(ErrorCode::kInvalidArgument, "etcd store: the key prefix must start and end with '/'");
  }
  if (options.rpc_timeout <= std::chrono::milliseconds::zero() ||
      options.retry_budget <= std::chrono::milliseconds::zero()) {
    return Fail(ErrorCode::kInvalidArgument, "etcd store: timeouts must be positive");
  }
  if (options.max_value_size > (size_t{1} << 30)) {
    return Fail(ErrorCode::kInvalidArgument, "etcd store: max value size above 1 GiB");
  }
  if (options.tls && options.tls->ca_pem.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "etcd store: TLS needs the CA of the etcd members");
  }
  if (options.tls && options.tls->client_cert_pem.empty() != options.tls->client_key_pem.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "etcd store: a TLS client certificate needs its key, and a key its certificate");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls->ca_pem;
    ssl.pem_cert_chain = options.tls->client_cert_pem;
    ssl.pem_private_key = options.tls->client_key_pem;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
    for (const auto& endpoint : options.endpoints) {
      if (!IsLoopback(endpoint)) {
        spdlog::warn(
            "etcd store: talking to {} without TLS; anyone on the path can read and change the history "
            "store (use --etcd-ca/--etcd-cert/--etcd-key)",
            endpoint);
      }
    }
  }
  auto impl = std::make_shared<Impl>();
  for (const auto& endpoint : options.endpoints) {
    if (endpoint.empty()) return Fail(ErrorCode::kInvalidArgument, "etcd store: empty endpoint");
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(options.max_value_size + kMessageOverhead));
    args.SetMaxSendMessageSize(static_cast<int>(options.max_value_size + kMessageOverhead));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time.count()));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout.count()));
    // Pings only while a call or watch is open: etcd answers pings on an idle
    // connection with GOAWAY ("too many pings"), and an idle connection has
    // nothing to lose anyway (the next call reconnects).
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    // A watch stream is silent between changes; keep pinging it.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // Reconnect quickly after a member comes back.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    // gRPC takes this both as the shortest wait before reconnecting (the
    // default, 20 s, would keep a restarted member unused that long) and as
    // the timeout of one connection attempt, TLS handshake included (so not
    // much shorter).
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // This store retries by itself (across endpoints, never replaying an
    // ambiguous transaction). gRPC's own transparent retries are off: they
    // would replay behind our back, and gRPC 1.51's retry filter aborts the
    // process when a TLS server goes away mid-call (grpc/grpc#34683; seen
    // here when an etcd member was killed under load).
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    auto channel = grpc::CreateCustomChannel(endpoint, credentials, args);
    impl->kv.push_back(pb::KV::NewStub(channel));
    impl->watch.push_back(pb::Watch::NewStub(channel));
    impl->channels.push_back(std::move(channel));
  }
  impl->options = std::move(options);
  return std::shared_ptr<EtcdStore>(new EtcdStore(std::move(impl)));
}

EtcdStore::~EtcdStore() = default;

const EtcdStoreOptions& EtcdStore::options() const { return impl_->options; }

Result<std::optional<Bytes>> EtcdStore::Get(std::string_view key) {
  if (auto valid = ValidateStoreKey(key); !valid) return Fail(valid.error());
  auto read = impl_->Read(key);
  if (!read) return Fail(read.error());
  return std::move(read->value);
}

Result<bool> EtcdStore::Has(std::string_view key) {
  auto value = Get(key);
  if (!value) return Fail(value.error());
  return value->has_value();
}

Status EtcdStore::Set(std::string_view key, ByteView value) {
  if (auto valid = ValidateStoreKey(key); !valid) return Fail(valid.error());
  if (auto ok = impl_->CheckValue(key, value); !ok) return ok;
  pb::PutRequest request;
  request.set_key(impl_->FullKey(key));
  request.set_value(std::string(AsChars(value)));
  // Put is idempotent (the same value again), so it is retried like a read.
  return impl_->Retry("write of " + request.key(), [&](size_t endpoint, grpc::ClientContext& context) {
    pb::PutResponse response;
    return impl_->kv[endpoint]->Put(&context, request, &response);
  });
}

Result<bool> EtcdStore::CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) {
  if (auto valid = ValidateStoreKey(key); !valid) return Fail(valid.error());
  if (auto ok = impl_->CheckValue(key, value); !ok) return Fail(ok.error());
  const std::string full_key = impl_->FullKey(key);
  const auto budget_end = Clock::now() + impl_->options.retry_budget;
  Backoff backoff;
  size_t endpoint = impl_->preferred.load() % impl_->options.endpoints.size();
  // Once a transaction may have been applied without our hearing of it, a
  // later read that finds exactly our value means it was (values are unique
  // records), however the attempts since then ended.
  bool ambiguous = false;
  const auto holds_ours = [&](const std::optional<Bytes>& current) {
    return ambiguous && current && std::equal(current->begin(), current->end(), value.begin(), value.end());
  };
  for (;;) {
    pb::TxnRequest txn;
    auto* compare = txn.add_compare();
    compare->set_key(full_key);
    compare->set_result(pb::Compare::EQUAL);
    if (!expected) {
      compare->set_target(pb::Compare::CREATE);
      compare->set_create_revision(0);  // absent
    } else {
      auto current = impl_->Read(key, budget_end);
      if (!current) return Fail(current.error());
      if (holds_ours(current->value)) return true;
      if (!current->value ||
          !std::equal(current->value->begin(), current->value->end(), expected->begin(), expected->end())) {
        return false;
      }
      // Send the transaction where the read was answered.
      endpoint = impl_->preferred.load() % impl_->options.endpoints.size();
      compare->set_target(pb::Compare::MOD);
      compare->set_mod_revision(current->mod_revision);
    }
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(full_key);
    put->set_value(std::string(AsChars(value)));

    grpc::ClientContext context;
    impl_->SetDeadline(context, budget_end);
    pb::TxnResponse response;
    const grpc::Status status = impl_->kv[endpoint]->Txn(&context, txn, &response);
    if (status.ok()) {
      impl_->preferred.store(endpoint);
      if (response.succeeded()) return true;
      if (!expected) {
        // The key exists: maybe as our own earlier, unacknowledged create.
        if (!ambiguous) return false;
        auto now = impl_->Read(key, budget_end);
        if (!now) return Fail(now.error());
        return holds_ours(now->value);
      }
      // The key changed since our read; its value may still equal
      // `expected` (written again), or be ours: read and compare again.
    } else if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
               status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
               status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
               status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
               status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      // etcd refused the request itself: nothing was applied.
      return Fail(impl_->CallError(endpoint, "compare-and-swap of " + full_key, status));
    } else {
      // Any other failure (unavailable, deadline, a reset stream) is
      // ambiguous: the transaction may have been applied. Never replay it
      // blindly; a value equal to ours means it was (see etcd_store.h).
      ambiguous = true;
      auto now = impl_->Read(key, budget_end);
      if (!now) return Fail(now.error());
      if (holds_ours(now->value)) return true;
      endpoint = (endpoint + 1) % impl_->options.endpoints.size();
      if (Clock::now() >= budget_end) {
        return Fail(ErrorCode::kUnavailable, "etcd compare-and-swap of " + full_key + ": no endpoint of " +
                                                 impl_->EndpointList() + " applied it within " +
                                                 std::to_string(impl_->options.retry_budget.count()) +
                                                 " ms; last error: " + Describe(status));
      }
    }
    if (Clock::now() >= budget_end) {
      return Fail(ErrorCode::kUnavailable, "etcd compare-and-swap of " + full_key + ": the key kept changing for " +
                                               std::to_string(impl_->options.retry_budget.count()) + " ms");
    }
    impl_->Pause(endpoint,
                 std::min<std::chrono::milliseconds>(
                     backoff.Next(), std::chrono::duration_cast<std::chrono::milliseconds>(budget_end - Clock::now())));
  }
}

Result<std::unique_ptr<StoreWatch>> EtcdStore::Watch(std::string_view key, WatchCallbacks callbacks) {
  if (auto valid = ValidateStoreKey(key); !valid) return Fail(valid.error());
  if (!callbacks.on_value) return Fail(ErrorCode::kInvalidArgument, "a store watch needs an on_value callback");
  return std::unique_ptr<StoreWatch>(new EtcdWatch(impl_, std::string(key), std::move(callbacks)));
}

}  // namespace contrast::history

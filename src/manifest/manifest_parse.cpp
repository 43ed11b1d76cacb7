// Parsing and validation of manifest JSON. The text is untrusted: no
// exception escapes, size and nesting are bounded, and every problem is
// collected (with its JSON path) instead of stopping at the first.
#include "common/text.h"
#include "manifest/manifest.h"

#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <initializer_list>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "crypto/openssl.h"

namespace contrast::manifest {
namespace {

using nlohmann::json;

// Label for problems about the document as a whole.
constexpr std::string_view kRoot = "manifest";
constexpr size_t kMaxProblems = attest::snp::kMaxReportedParseProblems;

std::string Describe(const json& v) {
  if (v.is_number()) return "number " + PrintableExcerpt(v.dump());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_string()) return "string \"" + PrintableExcerpt(v.get_ref<const std::string&>()) + "\"";
  return v.type_name();
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? PrintableExcerpt(key) : path + "." + PrintableExcerpt(key);
}

std::string Index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// Collects problems, listing at most kMaxProblems of them. The SNP entry
// reader appends to the same list (with the same cap).
class Problems {
 public:
  void Add(std::string_view path, const std::string& message) {
    if (list_.size() >= kMaxProblems) {
      ++dropped_;
      return;
    }
    list_.push_back(std::string(path) + ": " + message);
  }
  attest::snp::ParseProblems& list() { return list_; }
  bool empty() const { return list_.empty() && dropped_ == 0; }
  ManifestProblems Take() {
    if (dropped_ > 0) list_.push_back("(" + std::to_string(dropped_) + " more problems not shown)");
    dropped_ = 0;
    return std::move(list_);
  }

 private:
  ManifestProblems list_;
  size_t dropped_ = 0;
};

// --- Pass 1: the JSON text (syntax, duplicate keys, depth). ---------------

// Thrown from the parser callback to stop at the depth limit.
struct TooDeep {
  std::string path;
};

// nlohmann keeps the last of duplicate keys silently; a verifier must not
// read a different value than another tool reading the same manifest. This
// parser callback follows the JSON path of each event to name duplicates.
class KeyTracker {
 public:
  explicit KeyTracker(Problems& problems) : problems_(problems) {}

  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (frames_.size() >= static_cast<size_t>(kMaxManifestJsonDepth)) throw TooDeep{CurrentPath()};
        frames_.push_back(Frame{event == json::parse_event_t::object_start, CurrentPath(), {}, {}, 0});
        break;
      case json::parse_event_t::key: {
        Frame& top = frames_.back();
        top.last_key = parsed.get<std::string>();
        if (!top.keys.insert(top.last_key).second) {
          problems_.Add(Join(top.path, top.last_key), "duplicate key (each key may appear only once)");
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        ElementDone();
        break;
      case json::parse_event_t::value: ElementDone(); break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::string path;
    std::set<std::string> keys;
    std::string last_key;
    size_t index;
  };

  // The path of the value being read now.
  std::string CurrentPath() const {
    if (frames_.empty()) return "";
    const Frame& top = frames_.back();
    return top.object ? Join(top.path, top.last_key) : Index(top.path, top.index);
  }

  void ElementDone() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }

  Problems& problems_;
  std::vector<Frame> frames_;
};

std::optional<json> ParseJson(std::string_view text, Problems& problems) {
  if (text.size() > kMaxManifestSize) {
    problems.Add(kRoot, "is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                            std::to_string(kMaxManifestSize));
    return std::nullopt;
  }
  try {
    KeyTracker tracker(problems);
    return json::parse(text.begin(), text.end(), [&tracker](int depth, json::parse_event_t event, json& parsed) {
      return tracker(depth, event, parsed);
    });
  } catch (const TooDeep& e) {
    problems.Add(e.path.empty() ? std::string(kRoot) : e.path,
                 "JSON nested deeper than " + std::to_string(kMaxManifestJsonDepth) + " levels");
  } catch (const json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 7: ..."
    std::string_view what = e.what();
    if (const size_t end = what.find("] "); end != std::string_view::npos) what.remove_prefix(end + 2);
    problems.Add(kRoot, "invalid JSON: " + PrintableExcerpt(what, 240));
  } catch (const std::exception& e) {
    problems.Add(kRoot, std::string("cannot parse: ") + e.what());
  }
  return std::nullopt;
}

// --- Pass 2: the schema. ----------------------------------------------------

// The member, or nullptr when absent or null (Go writes nil as null).
const json* Member(const json& object, std::string_view key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// True when `v` is an object; reports every key not in `known`.
bool CheckObject(Problems& p, const json& v, const std::string& path, std::initializer_list<std::string_view> known,
                 std::string_view unknown_message = "unknown field") {
  if (!v.is_object()) {
    p.Add(path.empty() ? kRoot : path, "expected an object, got " + Describe(v));
    return false;
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      p.Add(Join(path, it.key()), std::string(unknown_message));
    }
  }
  return true;
}

bool IsHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); });
}

// A SHA-256 digest written as 64 hex characters; `what` says whose.
std::optional<crypto::Sha256Digest> ReadDigest(Problems& p, const json& v, const std::string& path,
                                               std::string_view what) {
  const std::string expected = "expected 64 hex characters (" + std::string(what) + ")";
  if (!v.is_string()) {
    p.Add(path, expected + ", got " + Describe(v));
    return std::nullopt;
  }
  const std::string& text = v.get_ref<const std::string&>();
  if (text.size() != 64 || !IsHex(text)) {
    p.Add(path, expected + ", got " +
                    (text.size() != 64 ? std::to_string(text.size()) + " characters" : "a non-hex character"));
    return std::nullopt;
  }
  return PolicyHash::FromHex(text)->bytes;
}

// An array of `T` read by `read(element, path)` -> optional<T>; elements
// that fail are dropped (`read` reported them). With `unique`, an element
// equal to an earlier one is reported as its duplicate.
template <typename T, typename ReadFn>
std::vector<T> ReadList(Problems& p, const json& v, const std::string& path, std::string_view element_kind, ReadFn read,
                        bool unique = false) {
  std::vector<T> out;
  std::vector<std::string> paths;
  if (!v.is_array()) {
    p.Add(path, "expected an array of " + std::string(element_kind) + ", got " + Describe(v));
    return out;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string at = Index(path, i);
    std::optional<T> item = read(v[i], at);
    if (!item) continue;
    if (unique) {
      if (const auto earlier = std::find(out.begin(), out.end(), *item); earlier != out.end()) {
        p.Add(at, "duplicate of " + paths[static_cast<size_t>(earlier - out.begin())]);
        continue;
      }
    }
    out.push_back(std::move(*item));
    paths.push_back(at);
  }
  return out;
}

// Policies -------------------------------------------------------------------

std::optional<std::string> ReadSan(Problems& p, const json& v, const std::string& path) {
  if (!v.is_string()) {
    p.Add(path, "expected a non-empty string, got " + Describe(v));
    return std::nullopt;
  }
  const std::string& san = v.get_ref<const std::string&>();
  if (san.empty()) {
    p.Add(path, "must not be empty");
    return std::nullopt;
  }
  if (std::any_of(san.begin(), san.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; })) {
    p.Add(path, "contains a control character");
    return std::nullopt;
  }
  return san;
}

PolicyEntry ReadPolicyEntry(Problems& p, const json& v, const std::string& path) {
  PolicyEntry out;
  if (!CheckObject(p, v, path, {"SANs", "WorkloadSecretID", "Role"})) return out;
  if (const json* sans = Member(v, "SANs")) {
    out.sans = ReadList<std::string>(p, *sans, Join(path, "SANs"), "strings",
                                     [&p](const json& e, const std::string& at) { return ReadSan(p, e, at); });
  }
  if (const json* id = Member(v, "WorkloadSecretID")) {
    if (id->is_string() && id->get_ref<const std::string&>().size() > kMaxWorkloadSecretIdLength) {
      p.Add(Join(path, "WorkloadSecretID"), "is " + std::to_string(id->get_ref<const std::string&>().size()) +
                                                " bytes long, at most " + std::to_string(kMaxWorkloadSecretIdLength) +
                                                " are allowed");
    } else if (id->is_string()) {
      out.workload_secret_id = id->get<std::string>();
    } else {
      p.Add(Join(path, "WorkloadSecretID"), "expected a string, got " + Describe(*id));
    }
  }
  if (const json* role = Member(v, "Role")) {
    if (role->is_string() && role->get_ref<const std::string&>() == "coordinator") {
      out.role = Role::kCoordinator;
    } else if (!role->is_string() || !role->get_ref<const std::string&>().empty()) {
      p.Add(Join(path, "Role"), "expected \"coordinator\" or \"\", got " + Describe(*role));
    }
  }
  return out;
}

void ReadPolicies(Problems& p, const json* v, std::map<PolicyHash, PolicyEntry>& out) {
  const std::string path = "Policies";
  if (v == nullptr) {
    p.Add(path, "missing");
    return;
  }
  if (!v->is_object()) {
    p.Add(path, "expected an object (policy hash -> entry), got " + Describe(*v));
    return;
  }
  std::map<PolicyHash, std::string> spelling;  // the key as written, per hash
  bool has_coordinator = false;
  for (auto it = v->begin(); it != v->end(); ++it) {
    const std::string& key = it.key();
    const std::string entry_path = Join(path, key);
    PolicyEntry entry = ReadPolicyEntry(p, it.value(), entry_path);
    has_coordinator = has_coordinator || entry.role == Role::kCoordinator;
    if (key.size() != 64 || !IsHex(key)) {
      p.Add(entry_path, "key must be 64 hex characters (SHA-256 of the policy document), got " +
                            (key.size() != 64 ? std::to_string(key.size()) + " characters" : "a non-hex character"));
      continue;
    }
    const PolicyHash hash = *PolicyHash::FromHex(key);
    if (const auto [earlier, inserted] = spelling.emplace(hash, key); !inserted) {
      p.Add(entry_path, "conflicts with " + Join(path, earlier->second) + " (the same hash in different case)");
      continue;
    }
    out.emplace(hash, std::move(entry));
  }
  if (!has_coordinator) p.Add(path, "no policy has Role \"coordinator\"");
  if (v->size() > kMaxPolicies) {
    p.Add(path, "has " + std::to_string(v->size()) + " entries, at most " + std::to_string(kMaxPolicies) +
                    " are allowed (split the deployment)");
  }
}

// ReferenceValues ------------------------------------------------------------

std::optional<attest::emulated::InsecureEmulatedReferenceValues> ReadEmulatedEntry(Problems& p, const json& v,
                                                                                   const std::string& path) {
  if (!v.is_object()) {
    p.Add(path, "expected an object, got " + Describe(v));
    return std::nullopt;
  }
  attest::emulated::InsecureEmulatedReferenceValues out;
  // The SNP part is an ordinary SNP entry; the root is ours.
  json snp = v;
  snp.erase("EmulatedRootSHA256");
  out.snp = attest::snp::ReadSnpReferenceValues(snp, path, p.list());
  if (const json* root = Member(v, "EmulatedRootSHA256")) {
    if (auto digest = ReadDigest(p, *root, Join(path, "EmulatedRootSHA256"),
                                 "SHA-256 of the emulated secure processor's ARK certificate DER")) {
      out.root_sha256 = *digest;
    }
  } else {
    p.Add(Join(path, "EmulatedRootSHA256"), "missing");
  }
  return out;
}

void ReadReferenceValues(Problems& p, const json* v, ReferenceValues& out) {
  const std::string path = "ReferenceValues";
  if (v == nullptr) {
    p.Add(path, "missing");
    return;
  }
  if (!CheckObject(p, *v, path, {"snp", "tdx", "emulated"}, "unknown platform (expected snp, tdx or emulated)")) {
    return;
  }
  size_t real_entries = 0;
  size_t emulated_entries = 0;
  bool malformed = false;
  // Calls read(element, path) for each element of the array under `key`.
  auto each = [&](std::string_view key, size_t& count, auto read) {
    const json* list = Member(*v, key);
    if (list == nullptr) return;
    const std::string list_path = Join(path, key);
    if (!list->is_array()) {
      p.Add(list_path, "expected an array, got " + Describe(*list));
      malformed = true;
      return;
    }
    count += list->size();
    for (size_t i = 0; i < list->size(); ++i) read((*list)[i], Index(list_path, i));
  };
  each("snp", real_entries, [&](const json& entry, const std::string& at) {
    out.snp.push_back(attest::snp::ReadSnpReferenceValues(entry, at, p.list()));
  });
  each("tdx", real_entries, [&](const json& entry, const std::string& at) {
    out.tdx.push_back(attest::tdx::ReadTdxReferenceValues(entry, at, p.list()));
  });
  each("emulated", emulated_entries, [&](const json& entry, const std::string& at) {
    if (auto e = ReadEmulatedEntry(p, entry, at)) out.emulated.push_back(std::move(*e));
  });
  if (real_entries + emulated_entries == 0 && !malformed) p.Add(path, "no entries (snp, tdx or emulated)");
  if (real_entries > 0 && emulated_entries > 0) {
    // An emulated root is trusted only in a manifest that says it is
    // insecure as a whole; mixing would hide that behind real hardware.
    p.Add(path, "emulated entries cannot be combined with real platforms");
  }
}

// Owner keys -----------------------------------------------------------------

// An RSA public key in PKCS#1 DER (RSAPublicKey), through d2i_PublicKey with
// EVP_PKEY_RSA (OpenSSL decodes the "type-specific" structure for it).
Status CheckRsaPkcs1PublicKey(ByteView der) {
  if (der.empty()) return Fail(ErrorCode::kParse, "empty key");
  if (der.size() > static_cast<size_t>(LONG_MAX)) return Fail(ErrorCode::kParse, "key too large");
  const unsigned char* cursor = der.data();
  crypto::EvpPkeyPtr key(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &cursor, static_cast<long>(der.size())));
  if (key == nullptr) return Fail(crypto::OpensslError(ErrorCode::kParse, "not an RSA public key in PKCS#1 DER"));
  // The decoders tried on the way may leave errors behind even on success.
  crypto::ClearOpensslErrors();
  if (const auto used = static_cast<size_t>(cursor - der.data()); used != der.size()) {
    return Fail(ErrorCode::kParse, std::to_string(der.size() - used) + " bytes after the PKCS#1 DER key");
  }
  if (const int bits = EVP_PKEY_get_bits(key.get()); bits < kMinSeedshareKeyBits) {
    return Fail(ErrorCode::kParse, "RSA key has " + std::to_string(bits) + " bits, at least " +
                                       std::to_string(kMinSeedshareKeyBits) + " are required");
  }
  return {};
}

std::optional<Bytes> ReadSeedshareKey(Problems& p, const json& v, const std::string& path) {
  const std::string expected = "expected hex of an RSA public key (PKCS#1 DER)";
  if (!v.is_string()) {
    p.Add(path, expected + ", got " + Describe(v));
    return std::nullopt;
  }
  auto der = HexDecode(v.get_ref<const std::string&>());
  if (!der) {
    p.Add(path, expected + ", got invalid hex (" + der.error().message + ")");
    return std::nullopt;
  }
  if (auto ok = CheckRsaPkcs1PublicKey(*der); !ok) {
    p.Add(path, ok.error().message);
    return std::nullopt;
  }
  return std::move(*der);
}

Manifest ReadManifest(Problems& p, const json& root) {
  Manifest out;
  if (!CheckObject(
          p, root, "",
          {"Policies", "ReferenceValues", "WorkloadOwnerKeyDigests", "SeedshareOwnerPubKeys", "WorkloadOwnerPubKeys"},
          "unknown field (expected Policies, ReferenceValues, WorkloadOwnerKeyDigests or "
          "SeedshareOwnerPubKeys)")) {
    return out;
  }
  ReadPolicies(p, Member(root, "Policies"), out.policies);
  ReadReferenceValues(p, Member(root, "ReferenceValues"), out.reference_values);
  if (const json* digests = Member(root, "WorkloadOwnerKeyDigests")) {
    out.workload_owner_key_digests = ReadList<crypto::Sha256Digest>(
        p, *digests, "WorkloadOwnerKeyDigests", "hex strings",
        [&p](const json& e, const std::string& at) { return ReadDigest(p, e, at, "SHA-256 of the key's SPKI DER"); },
        /*unique=*/true);
  }
  if (const json* keys = Member(root, "SeedshareOwnerPubKeys")) {
    out.seedshare_owner_pub_keys = ReadList<Bytes>(
        p, *keys, "SeedshareOwnerPubKeys", "hex strings",
        [&p](const json& e, const std::string& at) { return ReadSeedshareKey(p, e, at); }, /*unique=*/true);
  }
  // Upstream's newer form lists the keys themselves. An empty list means
  // the same as no digests, so only a non-empty one is refused.
  if (const json* keys = Member(root, "WorkloadOwnerPubKeys");
      keys != nullptr && !(keys->is_array() && keys->empty())) {
    p.Add("WorkloadOwnerPubKeys",
          "not supported: list the SHA-256 of each key's SPKI DER in WorkloadOwnerKeyDigests instead");
  }
  return out;
}

}  // namespace

tl::expected<Manifest, ManifestProblems> ParseManifestReportingProblems(std::string_view text) {
  Problems problems;
  try {
    std::optional<json> root = ParseJson(text, problems);
    if (root) {
      Manifest manifest = ReadManifest(problems, *root);
      if (problems.empty()) return manifest;
    }
  } catch (const std::exception& e) {
    // Defensive: the readers check types before every access.
    problems.Add(kRoot, std::string("cannot read: ") + e.what());
  }
  return tl::unexpected(problems.Take());
}

Result<Manifest> ParseManifest(std::string_view text) {
  auto parsed = ParseManifestReportingProblems(text);
  if (parsed) return std::move(*parsed);
  std::string message;
  for (const std::string& line : parsed.error()) {
    if (!message.empty()) message += '\n';
    message += line;
  }
  return Fail(ErrorCode::kParse, std::move(message));
}

}  // namespace contrast::manifest

#include "attest/emulated/secure_processor.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "crypto/x509_builder.h"

namespace contrast::attest::emulated {

// What real hardware keeps in fuses and firmware; the VCEK key signs reports.
namespace detail {
struct Platform {
  snp::Product product = snp::Product::kUnknown;
  snp::TcbParts tcb;
  ChipId chip_id{};
  crypto::PrivateKey vcek_key;
  Bytes ark_der;
  Bytes ask_der;
  Bytes vcek_der;
};
}  // namespace detail

namespace {

using crypto::KeyType;
using crypto::PrivateKey;

// How a product line appears in reports (CPUID) and in its VCEK (productName).
struct ProductShape {
  snp::Product product;
  uint8_t family;
  uint8_t model;
  uint8_t stepping;
  std::string_view vcek_product_name;  // KDS stepping names: B0 = 0, B1 = 1
  uint8_t serial_prefix;               // ARK 0x<p>0000, ASK 0x<p>0001, as AMD numbers them
};
constexpr ProductShape kShapes[] = {
    {snp::Product::kMilan, 0x19, 0x01, 1, "Milan-B1", 0x01},
    {snp::Product::kGenoa, 0x19, 0x11, 1, "Genoa", 0x02},
};

// Firmware 1.55 build 1.
constexpr uint8_t kFirmwareMajor = 1;
constexpr uint8_t kFirmwareMinor = 55;
constexpr uint8_t kFirmwareBuild = 1;

constexpr std::string_view kAmdArc = "1.3.6.1.4.1.3704.1.";
constexpr auto kRootValidity = std::chrono::years(25);
constexpr auto kVcekValidity = std::chrono::years(7);

constexpr std::string_view kStateFile = "state.json";
constexpr std::string_view kStateFormat = "contrast-emulated-snp/v1";
constexpr unsigned kKeyMode = 0400;
constexpr unsigned kCertMode = 0644;

Result<const ProductShape*> FindShape(snp::Product product) {
  for (const ProductShape& shape : kShapes) {
    if (shape.product == product) return &shape;
  }
  return Fail(ErrorCode::kUnsupported,
              "the emulated secure processor supports Milan and Genoa, not " + std::string(snp::ProductName(product)));
}

template <size_t N>
Status RandomFill(snp::ByteArray<N>& out) {
  return crypto::Check(RAND_bytes(out.data(), static_cast<int>(N)), "drawing random bytes");
}

TimePoint Plus(TimePoint t, std::chrono::years years) {
  return t + std::chrono::duration_cast<std::chrono::seconds>(years);
}

crypto::DistinguishedName AmdShapedName(std::string common_name) {
  return {{"OU", "Engineering"},
          {"C", "US"},
          {"L", "Santa Clara"},
          {"ST", "CA"},
          {"O", std::string(kEmulatedOrganization)},
          {"CN", std::move(common_name)}};
}

// The AMD extensions of a VCEK, in the order KDS writes them. Load compares a
// stored VCEK against the same list.
Result<std::vector<std::pair<std::string, Bytes>>> VcekExtensions(const ProductShape& shape, const snp::TcbParts& tcb,
                                                                  const ChipId& chip_id) {
  std::vector<std::pair<std::string, Bytes>> out;
  auto add_integer = [&](std::string_view oid, int64_t value) -> Status {
    auto der = crypto::EncodeDerInteger(value);
    if (!der) return Fail(der.error());
    out.emplace_back(std::string(kAmdArc) + std::string(oid), std::move(*der));
    return {};
  };
  auto product_name = crypto::EncodeDerIa5String(shape.vcek_product_name);
  if (!product_name) return Fail(product_name.error());
  const std::pair<std::string_view, int64_t> integers[] = {
      {"3.1", tcb.bootloader}, {"3.2", tcb.tee},       {"3.4", 0}, {"3.5", 0}, {"3.6", 0}, {"3.7", 0},
      {"3.3", tcb.snp},        {"3.8", tcb.microcode},
  };
  if (auto ok = add_integer("1", 0); !ok) return Fail(ok.error());  // structVersion
  out.emplace_back(std::string(kAmdArc) + "2", std::move(*product_name));
  for (const auto& [oid, value] : integers) {
    if (auto ok = add_integer(oid, value); !ok) return Fail(ok.error());
  }
  out.emplace_back(std::string(kAmdArc) + "4", Bytes(chip_id.begin(), chip_id.end()));  // raw, as KDS does
  return out;
}

std::string CrlUrl(snp::Product product) {
  // The KDS path layout on a reserved, unresolvable domain.
  return "https://emulated-snp.invalid/vcek/v1/" + std::string(snp::ProductName(product)) + "/crl";
}

struct IssuedChain {
  PrivateKey ark_key;
  PrivateKey ask_key;
  PrivateKey vcek_key;
  Bytes ark_der;
  Bytes ask_der;
  Bytes vcek_der;
};

Result<IssuedChain> IssueChain(const ProductShape& shape, const SecureProcessorOptions& options,
                               const ChipId& chip_id) {
  const std::string product(snp::ProductName(shape.product));
  const TimePoint not_before = options.not_before;
  auto ark_key = PrivateKey::Generate(options.ca_key_type_for_test);
  if (!ark_key) return Fail(ark_key.error());
  auto ask_key = PrivateKey::Generate(options.ca_key_type_for_test);
  if (!ask_key) return Fail(ask_key.error());
  auto vcek_key = PrivateKey::Generate(KeyType::kEcP384);
  if (!vcek_key) return Fail(vcek_key.error());

  const crypto::DistinguishedName ark_name = AmdShapedName("ARK-" + product);
  const crypto::DistinguishedName ask_name = AmdShapedName("SEV-" + product);

  auto ark_der = crypto::CertificateBuilder()
                     .SetSubject(ark_name)
                     .SetIssuer(ark_name)
                     .SetSerial({shape.serial_prefix, 0x00, 0x00})
                     .SetValidity(not_before, Plus(not_before, kRootValidity))
                     .SetPublicKey(*ark_key)
                     .AddKeyUsage(crypto::kKeyUsageKeyCertSign | crypto::kKeyUsageCrlSign)
                     .AddBasicConstraints(true)
                     .AddCrlDistributionPoint(CrlUrl(shape.product))
                     .SignDer(*ark_key);
  if (!ark_der) return Fail(ark_der.error().Wrap("issuing the ARK"));

  auto ask_der = crypto::CertificateBuilder()
                     .SetSubject(ask_name)
                     .SetIssuer(ark_name)
                     .SetSerial({shape.serial_prefix, 0x00, 0x01})
                     .SetValidity(not_before, Plus(not_before, kRootValidity))
                     .SetPublicKey(*ask_key)
                     .AddBasicConstraints(true, 0)
                     .AddKeyUsage(crypto::kKeyUsageKeyCertSign)
                     .AddCrlDistributionPoint(CrlUrl(shape.product))
                     .SignDer(*ark_key);
  if (!ask_der) return Fail(ask_der.error().Wrap("issuing the ASK"));

  auto extensions = VcekExtensions(shape, options.tcb, chip_id);
  if (!extensions) return Fail(extensions.error());
  crypto::CertificateBuilder vcek;
  vcek.SetSubject(AmdShapedName("SEV-VCEK"))
      .SetIssuer(ask_name)
      .SetSerial({0x00})
      .SetValidity(not_before, Plus(not_before, kVcekValidity))
      .SetPublicKey(*vcek_key);
  for (auto& [oid, value] : *extensions) vcek.AddExtension(oid, std::move(value));
  auto vcek_der = vcek.SignDer(*ask_key);
  if (!vcek_der) return Fail(vcek_der.error().Wrap("issuing the VCEK"));

  return IssuedChain{std::move(*ark_key), std::move(*ask_key), std::move(*vcek_key),
                     std::move(*ark_der), std::move(*ask_der), std::move(*vcek_der)};
}

bool IsCaKeyType(KeyType type) { return type == KeyType::kRsa4096 || type == KeyType::kRsa2048; }

Status ValidateOptions(const SecureProcessorOptions& options) {
  if (auto shape = FindShape(options.product); !shape) return Fail(shape.error());
  if (options.tcb.fmc != 0) {
    return Fail(ErrorCode::kInvalidArgument, "fmc SPL must be 0 for " + std::string(snp::ProductName(options.product)) +
                                                 ", got " + std::to_string(options.tcb.fmc));
  }
  if (!IsCaKeyType(options.ca_key_type_for_test)) {
    return Fail(ErrorCode::kInvalidArgument,
                "ARK and ASK keys must be RSA, not " + std::string(crypto::KeyTypeName(options.ca_key_type_for_test)));
  }
  return {};
}

// A new emulated chip, and the CA keys that only Create needs (to store them).
struct FreshPlatform {
  std::shared_ptr<const detail::Platform> platform;
  PrivateKey ark_key;
  PrivateKey ask_key;
};

Result<FreshPlatform> NewPlatform(const SecureProcessorOptions& options) {
  if (auto ok = ValidateOptions(options); !ok) return Fail(ok.error());
  ChipId chip_id{};
  if (auto ok = RandomFill(chip_id); !ok) return Fail(ok.error());
  auto chain = IssueChain(**FindShape(options.product), options, chip_id);
  if (!chain) return Fail(chain.error());
  auto platform = std::make_shared<const detail::Platform>(
      detail::Platform{options.product, options.tcb, chip_id, std::move(chain->vcek_key), std::move(chain->ark_der),
                       std::move(chain->ask_der), std::move(chain->vcek_der)});
  return FreshPlatform{std::move(platform), std::move(chain->ark_key), std::move(chain->ask_key)};
}

// --- Persistence -----------------------------------------------------------

struct StateFiles {
  std::filesystem::path dir;
  std::filesystem::path Cert(std::string_view role) const { return dir / (std::string(role) + ".pem"); }
  std::filesystem::path Key(std::string_view role) const { return dir / (std::string(role) + ".key.pem"); }
  std::filesystem::path State() const { return dir / kStateFile; }
};

Status WriteKeyAndCert(const StateFiles& files, std::string_view role, const PrivateKey& key, ByteView der) {
  auto key_pem = key.ToPkcs8Pem();
  if (!key_pem) return Fail(key_pem.error());
  if (auto ok = WriteFileAtomic(files.Key(role), *key_pem, kKeyMode); !ok) return ok;
  auto cert_pem = crypto::CertificatePemFromDer(der);
  if (!cert_pem) return Fail(cert_pem.error());
  return WriteFileAtomic(files.Cert(role), *cert_pem, kCertMode);
}

nlohmann::json StateJson(const detail::Platform& platform) {
  return nlohmann::json{
      {"format", kStateFormat},
      {"product", snp::ProductName(platform.product)},
      {"chip_id", HexEncode(platform.chip_id)},
      {"tcb",
       {{"bootloader", platform.tcb.bootloader},
        {"tee", platform.tcb.tee},
        {"snp", platform.tcb.snp},
        {"microcode", platform.tcb.microcode}}},
  };
}

struct StoredState {
  snp::Product product = snp::Product::kUnknown;
  ChipId chip_id{};
  snp::TcbParts tcb;
};

Result<StoredState> ParseStateJson(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return Fail(ErrorCode::kParse, "state.json is not a JSON object");
  StoredState state;
  try {
    if (json.at("format").get<std::string>() != kStateFormat) {
      return Fail(ErrorCode::kUnsupported, "state.json format is \"" + json.at("format").get<std::string>() +
                                               "\", expected \"" + std::string(kStateFormat) + "\"");
    }
    auto product = snp::ParseProduct(json.at("product").get<std::string>());
    if (!product) return Fail(product.error());
    state.product = *product;
    auto chip_id = HexDecode(json.at("chip_id").get<std::string>());
    if (!chip_id || chip_id->size() != state.chip_id.size()) {
      return Fail(ErrorCode::kParse, "state.json chip_id must be 64 bytes of hex");
    }
    std::copy(chip_id->begin(), chip_id->end(), state.chip_id.begin());
    const nlohmann::json& tcb = json.at("tcb");
    auto spl = [&tcb](const char* name) -> Result<uint8_t> {
      const nlohmann::json& value = tcb.at(name);
      if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > 255) {
        return Fail(ErrorCode::kParse,
                    std::string("state.json tcb.") + name + " is " + value.dump() + ", expected an integer 0..255");
      }
      return static_cast<uint8_t>(value.get<int64_t>());
    };
    auto bootloader = spl("bootloader");
    auto tee = spl("tee");
    auto snp_spl = spl("snp");
    auto microcode = spl("microcode");
    for (const auto* part : {&bootloader, &tee, &snp_spl, &microcode}) {
      if (!*part) return Fail(part->error());
    }
    state.tcb =
        snp::TcbParts{.fmc = 0, .bootloader = *bootloader, .tee = *tee, .snp = *snp_spl, .microcode = *microcode};
  } catch (const nlohmann::json::exception& e) {
    return Fail(ErrorCode::kParse, std::string("state.json: ") + e.what());
  }
  return state;
}

struct LoadedPair {
  PrivateKey key;
  crypto::Certificate cert;
};

// `ca`: an RSA key (ARK, ASK); otherwise EC P-384 (VCEK).
Result<LoadedPair> LoadKeyAndCert(const StateFiles& files, std::string_view role, bool ca) {
  auto key_pem = ReadTextFile(files.Key(role), 1 << 20);
  if (!key_pem) return Fail(key_pem.error());
  auto key = PrivateKey::FromPkcs8Pem(*key_pem);
  if (!key) return Fail(key.error().Wrap(files.Key(role).string()));
  if (ca ? !IsCaKeyType(key->type()) : key->type() != KeyType::kEcP384) {
    return Fail(ErrorCode::kInvalidArgument, files.Key(role).string() + " holds a " +
                                                 std::string(crypto::KeyTypeName(key->type())) + " key, expected " +
                                                 (ca ? "RSA" : "EC P-384"));
  }
  auto cert_pem = ReadTextFile(files.Cert(role), 1 << 20);
  if (!cert_pem) return Fail(cert_pem.error());
  auto cert = crypto::Certificate::ParsePem(*cert_pem);
  if (!cert) return Fail(cert.error().Wrap(files.Cert(role).string()));
  if (!key->Matches(cert->PublicKey())) {
    return Fail(ErrorCode::kCertificateInvalid,
                files.Key(role).string() + " is not the key of the certificate " + files.Cert(role).string());
  }
  return LoadedPair{std::move(*key), std::move(*cert)};
}

Status CheckVcekExtensions(const crypto::Certificate& vcek, const StoredState& state) {
  auto expected = VcekExtensions(**FindShape(state.product), state.tcb, state.chip_id);
  if (!expected) return Fail(expected.error());
  for (const auto& [oid, value] : *expected) {
    auto actual = vcek.ExtensionValue(oid);
    if (!actual) return Fail(actual.error());
    if (!actual->has_value() || **actual != value) {
      return Fail(ErrorCode::kCertificateInvalid, "VCEK extension " + oid + " is " +
                                                      (actual->has_value() ? HexEncode(**actual) : "missing") +
                                                      ", expected " + HexEncode(value) + " from state.json");
    }
  }
  return {};
}

Result<std::shared_ptr<const detail::Platform>> LoadPlatform(const StateFiles& files) {
  auto text = ReadTextFile(files.State(), 1 << 16);
  if (!text) return Fail(text.error());
  auto state = ParseStateJson(*text);
  if (!state) return Fail(state.error());
  if (auto ok = ValidateOptions({.product = state->product, .tcb = state->tcb}); !ok) return Fail(ok.error());

  auto ark = LoadKeyAndCert(files, "ark", /*ca=*/true);
  if (!ark) return Fail(ark.error());
  auto ask = LoadKeyAndCert(files, "ask", /*ca=*/true);
  if (!ask) return Fail(ask.error());
  auto vcek = LoadKeyAndCert(files, "vcek", /*ca=*/false);
  if (!vcek) return Fail(vcek.error());
  if (auto ok = ark->cert.VerifySignedBy(ark->cert); !ok) return Fail(ok.error().Wrap("ARK"));
  if (auto ok = ask->cert.VerifySignedBy(ark->cert); !ok) return Fail(ok.error().Wrap("ASK"));
  if (auto ok = vcek->cert.VerifySignedBy(ask->cert); !ok) return Fail(ok.error().Wrap("VCEK"));
  if (auto ok = CheckVcekExtensions(vcek->cert, *state); !ok) return Fail(ok.error());

  return std::make_shared<const detail::Platform>(detail::Platform{state->product, state->tcb, state->chip_id,
                                                                   std::move(vcek->key), ark->cert.Der(),
                                                                   ask->cert.Der(), vcek->cert.Der()});
}

std::string PemOf(const Bytes& der) {
  auto pem = crypto::CertificatePemFromDer(der);
  return pem ? *pem : std::string();  // the DER was produced or checked by us
}

}  // namespace

// --- VmHandle ----------------------------------------------------------------

VmHandle::VmHandle(std::shared_ptr<const detail::Platform> platform, const Measurement& measurement,
                   const HostData& host_data, uint64_t policy, const snp::ByteArray<32>& report_id)
    : platform_(std::move(platform)),
      measurement_(measurement),
      host_data_(host_data),
      policy_(policy),
      report_id_(report_id) {}

Result<Bytes> VmHandle::GetReport(ByteView report_data) const {
  snp::Report report;
  if (report_data.size() > report.report_data.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "REPORT_DATA is " + std::to_string(report_data.size()) + " bytes, at most 64 allowed");
  }
  const detail::Platform& platform = *platform_;
  const ProductShape& shape = **FindShape(platform.product);
  const uint64_t tcb = snp::EncodeTcb(platform.tcb, platform.product);

  report.version = 3;
  report.policy = policy_;
  report.vmpl = 0;
  report.signature_algo = snp::kSignatureAlgoEcdsaP384Sha384;
  report.current_tcb = report.reported_tcb = report.committed_tcb = report.launch_tcb = tcb;
  report.platform_info = snp::PlatformInfo{.smt_enabled = true}.Encode();
  report.signer_info = snp::SignerInfo{.signing_key = snp::SigningKey::kVcek}.Encode();
  std::copy(report_data.begin(), report_data.end(), report.report_data.begin());
  report.measurement = measurement_;
  report.host_data = host_data_;
  report.report_id = report_id_;
  report.report_id_ma.fill(0xFF);  // no migration agent
  report.cpuid_fam_id = shape.family;
  report.cpuid_mod_id = shape.model;
  report.cpuid_step = shape.stepping;
  report.chip_id = platform.chip_id;
  report.current_major = report.committed_major = kFirmwareMajor;
  report.current_minor = report.committed_minor = kFirmwareMinor;
  report.current_build = report.committed_build = kFirmwareBuild;

  const Bytes unsigned_report = snp::SerializeReport(report);
  auto signature =
      crypto::SignEcdsaP384Sha384(platform.vcek_key, ByteView(unsigned_report).first(snp::kSignedRegionSize));
  if (!signature) return Fail(signature.error().Wrap("signing the report"));
  // The report stores r and s little-endian in 72-byte fields.
  std::reverse_copy(signature->r.begin(), signature->r.end(), report.signature_r.begin());
  std::reverse_copy(signature->s.begin(), signature->s.end(), report.signature_s.begin());
  return snp::SerializeReport(report);
}

// --- SecureProcessor -----------------------------------------------------------

Result<SecureProcessor> SecureProcessor::CreateInMemory(const SecureProcessorOptions& options) {
  auto fresh = NewPlatform(options);
  if (!fresh) return Fail(fresh.error());
  return SecureProcessor(std::move(fresh->platform));
}

Result<SecureProcessor> SecureProcessor::Create(const std::filesystem::path& state_dir,
                                                const SecureProcessorOptions& options) {
  const StateFiles files{state_dir};
  std::error_code ec;
  if (std::filesystem::exists(files.State(), ec)) {
    return Fail(ErrorCode::kInvalidArgument, state_dir.string() + " already holds an emulator state; not overwriting");
  }
  if (std::filesystem::create_directories(state_dir, ec)) {
    std::filesystem::permissions(state_dir, std::filesystem::perms::owner_all, ec);
  }
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + state_dir.string() + ": " + ec.message());

  auto fresh = NewPlatform(options);
  if (!fresh) return Fail(fresh.error());
  const detail::Platform& platform = *fresh->platform;
  // state.json goes last: its presence marks a complete state.
  Status written = WriteKeyAndCert(files, "ark", fresh->ark_key, platform.ark_der);
  if (written) written = WriteKeyAndCert(files, "ask", fresh->ask_key, platform.ask_der);
  if (written) written = WriteKeyAndCert(files, "vcek", platform.vcek_key, platform.vcek_der);
  if (written) written = WriteFileAtomic(files.State(), StateJson(platform).dump(2) + "\n", kCertMode);
  if (!written) return Fail(written.error().Wrap("writing the emulator state to " + state_dir.string()));
  return SecureProcessor(std::move(fresh->platform));
}

Result<SecureProcessor> SecureProcessor::Load(const std::filesystem::path& state_dir) {
  auto platform = LoadPlatform(StateFiles{state_dir});
  if (!platform) return Fail(platform.error().Wrap("loading the emulator state from " + state_dir.string()));
  return SecureProcessor(std::move(*platform));
}

Result<VmHandle> SecureProcessor::RegisterVm(const Measurement& measurement, const HostData& host_data,
                                             const snp::GuestPolicy& policy) const {
  snp::ByteArray<32> report_id{};
  if (auto ok = RandomFill(report_id); !ok) return Fail(ok.error());
  return VmHandle(platform_, measurement, host_data, policy.Encode(), report_id);
}

snp::Product SecureProcessor::product() const { return platform_->product; }
const ChipId& SecureProcessor::chip_id() const { return platform_->chip_id; }
const snp::TcbParts& SecureProcessor::tcb() const { return platform_->tcb; }
const Bytes& SecureProcessor::ark_der() const { return platform_->ark_der; }
const Bytes& SecureProcessor::ask_der() const { return platform_->ask_der; }
const Bytes& SecureProcessor::vcek_der() const { return platform_->vcek_der; }
std::string SecureProcessor::ark_pem() const { return PemOf(platform_->ark_der); }
std::string SecureProcessor::ask_pem() const { return PemOf(platform_->ask_der); }
std::string SecureProcessor::vcek_pem() const { return PemOf(platform_->vcek_der); }

snp::ProductAnchors SecureProcessor::TrustAnchor() const {
  return snp::ProductAnchors{.product = platform_->product,
                             .ark_der = platform_->ark_der,
                             .ask_der = platform_->ask_der,
                             .asvk_der = {},
                             .insecure = true};
}

}  // namespace contrast::attest::emulated

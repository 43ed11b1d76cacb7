#include "cli/attestation.h"

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/snp/abi.h"
#include "attest/snp/kds.h"
#include "attest/snp/reference_values.h"
#include "attest/snp/validate.h"
#include "attest/snp/verify.h"
#include "cli/app.h"
#include "cli/attestation_output.h"
#include "cli/output.h"
#include "common/files.h"
#include "common/time.h"
#include "crypto/x509.h"

namespace contrast::cli {
namespace {

using namespace contrast::attest::snp;

// Upper bound for the files this command reads: a report is 1184 bytes, a
// certificate or CRL a few KiB, reference values small JSON.
constexpr size_t kMaxInputFile = 4 * 1024 * 1024;

Result<Product> ResolveProduct(const std::string& flag, const Report& report) {
  if (!flag.empty()) return ParseProduct(flag);
  return report.ProductFromCpuid();  // may be kUnknown: the VCEK then decides
}

// Trust anchors from a PEM file with the intermediate (ASK) then the root (ARK).
Result<ProductAnchors> LoadEmulatedAnchors(const std::filesystem::path& path, Product product) {
  auto pem = ReadTextFile(path, kMaxInputFile);
  if (!pem) return Fail(pem.error());
  auto chain = crypto::Certificate::ParsePemChain(*pem);
  if (!chain) return Fail(chain.error().Wrap(path.string()));
  if (chain->size() != 2) {
    return Fail(ErrorCode::kInvalidArgument,
                path.string() + ": expected 2 certificates (ASK then ARK), found " + std::to_string(chain->size()));
  }
  ProductAnchors anchors;
  anchors.product = product;
  anchors.ask_der = (*chain)[0].Der();
  anchors.ark_der = (*chain)[1].Der();
  anchors.insecure = true;
  return anchors;
}

struct VerifyRun {
  std::vector<Check> checks;
  bool authentic = false;
  bool usage_error = false;
  bool insecure = false;
  std::optional<ValidationResult> validation;
};

}  // namespace

void PrintFields(std::ostream& out, const nlohmann::ordered_json& j, int indent) {
  size_t width = 0;
  for (const auto& [key, value] : j.items()) width = std::max(width, key.size());
  for (const auto& [key, value] : j.items()) {
    out << std::string(indent, ' ') << key;
    if (value.is_object()) {
      out << ":\n";
      PrintFields(out, value, indent + 2);
      continue;
    }
    out << std::string(width - key.size() + 2, ' ') << (value.is_string() ? value.get<std::string>() : value.dump())
        << "\n";
  }
}

int RunAttestationShow(const AttestationShowCommand& command, std::ostream& out, std::ostream& err) {
  auto bytes = ReadFile(command.report, kMaxInputFile);
  if (!bytes) {
    err << "error: " << bytes.error().message << "\n";
    return kExitUsage;
  }
  Product product = Product::kUnknown;
  if (!command.product.empty()) {
    auto parsed = ParseProduct(command.product);
    if (!parsed) {
      err << "error: " << parsed.error().message << "\n";
      return kExitUsage;
    }
    product = *parsed;
  }
  auto report = ParseReport(*bytes);
  if (!report) {
    err << "error: " << command.report.string() << " is not a valid SEV-SNP report: " << report.error().message << "\n";
    return kExitFailed;
  }
  const nlohmann::ordered_json j = ReportToJson(*report, product);
  if (command.json) {
    out << j.dump(2) << "\n";
  } else {
    out << "SEV-SNP attestation report " << command.report.string() << " (unverified)\n";
    PrintFields(out, j, 2);
  }
  return kExitOk;
}

int RunAttestationVerify(const AttestationVerifyCommand& command, std::ostream& out, std::ostream& err) {
  if (command.quote) return RunAttestationVerifyQuote(command, out, err);
  auto usage = [&](const Error& error) {
    err << "error: " << error.message << "\n";
    return kExitUsage;
  };

  // Inputs the user named must exist and parse as what they claim to be;
  // anything wrong there is a usage error, reported before any check runs.
  auto report_bytes = ReadFile(command.report, kMaxInputFile);
  if (!report_bytes) return usage(report_bytes.error());
  std::optional<ReferenceValues> reference_values;
  if (command.reference_values) {
    auto text = ReadTextFile(*command.reference_values, kMaxInputFile);
    if (!text) return usage(text.error());
    auto parsed = ParseReferenceValues(*text);
    if (!parsed) return usage(parsed.error().Wrap("invalid reference values in " + command.reference_values->string()));
    if (parsed->snp.empty()) {
      return usage(Error{ErrorCode::kUnsupported, command.reference_values->string() +
                                                      ": no SEV-SNP entries (TDX validation is not implemented yet)"});
    }
    reference_values = std::move(*parsed);
  }
  VerifyOptions options;
  if (!command.at.empty()) {
    auto at = ParseRfc3339(command.at);
    if (!at) return usage(at.error().Wrap("--at"));
    options.at = *at;
  }
  if (command.crl) {
    auto crl = ReadFile(*command.crl, kMaxInputFile);
    if (!crl) return usage(crl.error());
    options.crl = std::move(*crl);
  }
  std::optional<Bytes> vcek;
  if (command.vcek) {
    auto bytes = ReadFile(*command.vcek, kMaxInputFile);
    if (!bytes) return usage(bytes.error());
    vcek = std::move(*bytes);
  }

  const bool to_json = command.json;
  nlohmann::ordered_json result;
  std::vector<Check> checks;
  auto fail = [&](const Error& error) {
    checks.push_back({false, std::string(ErrorCodeName(error.code)), error.message});
  };

  auto report = ParseReport(*report_bytes);
  bool authentic = false;
  bool insecure = false;
  std::optional<ValidationResult> validation;
  if (!report) {
    fail(report.error().Wrap("parsing " + command.report.string()));
  } else {
    result["report"] = ReportToJson(*report);
    auto product = ResolveProduct(command.product, *report);
    if (!product) return usage(product.error());
    options.product = *product;

    // The endorsement key: given, or from the AMD key server.
    KdsOptions kds_options;
    if (!command.kds_url.empty()) kds_options.base_url = command.kds_url;
    if (!command.collateral_proxy.empty()) kds_options.base_url = command.collateral_proxy;
    if (command.cache_dir) kds_options.cache_dir = *command.cache_dir;
    const KdsClient kds(kds_options);
    if (!vcek) {
      if (report->Signer().signing_key == SigningKey::kVlek) {
        fail(Error{ErrorCode::kInvalidArgument,
                   "the report is signed by a VLEK, which the AMD key server does not hand out: pass --vcek FILE"});
      } else if (options.product == Product::kUnknown) {
        fail(Error{ErrorCode::kInvalidArgument,
                   "a version 2 report does not name its product: pass --product to fetch its VCEK"});
      } else if (auto fetched = kds.FetchVcekForReport(*report, options.product)) {
        vcek = std::move(*fetched);
        checks.push_back({true, "", "VCEK fetched from " + kds_options.base_url});
      } else {
        fail(fetched.error().Wrap("fetching the VCEK"));
      }
    }
    if (command.fetch_crl && !options.crl && options.product != Product::kUnknown) {
      if (auto crl = kds.FetchCrl(options.product, report->Signer().signing_key)) {
        options.crl = std::move(*crl);
        checks.push_back({true, "", "CRL fetched from " + kds_options.base_url});
      } else {
        fail(crl.error().Wrap("fetching the CRL"));
      }
    }

    if (vcek) {
      std::optional<Verifier> emulated_verifier;
      if (command.insecure_emulated_chain) {
        Product anchor_product = options.product;
        if (anchor_product == Product::kUnknown) {
          if (auto key = ParseEndorsementKey(*vcek); key && ParseProduct(key->product_name)) {
            anchor_product = *ParseProduct(key->product_name);
          }
        }
        auto anchors = LoadEmulatedAnchors(*command.insecure_emulated_chain, anchor_product);
        if (!anchors) return usage(anchors.error());
        emulated_verifier.emplace(TrustAnchors{{std::move(*anchors)}});
      }
      std::optional<Verifier> amd_verifier;
      if (!emulated_verifier) amd_verifier.emplace();
      const Verifier& verifier = emulated_verifier ? *emulated_verifier : *amd_verifier;
      auto verified = verifier.Verify(*report, *vcek, options);
      if (!verified) {
        fail(verified.error());
      } else {
        authentic = true;
        insecure = verified->insecure_root();
        checks.push_back({true, "",
                          "endorsement key " + std::string(SigningKeyName(verified->signing_key())) + " chains to " +
                              verified->root_name() + " (" + std::string(ProductName(verified->product())) +
                              "), valid at " + FormatRfc3339(options.at)});
        checks.push_back({true, "",
                          "REPORTED_TCB equals the endorsement key's TCB (" +
                              FormatTcb(verified->endorsed_tcb(), verified->product()) + ")"});
        if (verified->signing_key() == SigningKey::kVcek) {
          checks.push_back({true, "", "CHIP_ID equals the VCEK's hardware id"});
        }
        const RevocationCheck& revocation = verified->revocation();
        checks.push_back({true, "",
                          revocation.checked
                              ? "not revoked (" + revocation.detail + ")"
                              : "revocation NOT checked: " + revocation.detail + " (use --crl FILE or --fetch-crl)"});
        checks.push_back({true, "", "report signature (ECDSA P-384, SHA-384) verifies"});

        ValidateOptions validate_options;
        validate_options.insecure_accept_non_amd_root = command.insecure_emulated_chain.has_value();
        if (reference_values) {
          validation = ValidateAgainstAny(*verified, reference_values->snp, validate_options);
        } else {
          validation = ValidateBaseline(verified->report());
        }
      }
    }
  }

  const bool valid = authentic && validation && validation->ok();
  if (to_json) {
    result["verification"] = {{"authentic", authentic}, {"insecure_root", insecure}, {"checks", ChecksJson(checks)}};
    if (validation) result["validation"] = ValidationJson(*validation, reference_values.has_value());
    result["verdict"] = valid ? "valid" : "invalid";
    out << result.dump(2) << "\n";
  } else {
    if (insecure) PrintInsecureWarning(err);
    if (report) {
      out << "SEV-SNP attestation report " << command.report.string() << "\n";
      PrintFields(out, result["report"], 2);
      out << "\n";
    }
    PrintChecks(out, "Verification (authenticity)", checks);
    if (validation) PrintValidation(out, *validation, reference_values.has_value());
    PrintVerdict(out, valid, FailedChecks(checks) + (validation ? validation->mismatches.size() : 0), insecure);
  }
  return valid ? kExitOk : kExitFailed;
}

}  // namespace contrast::cli

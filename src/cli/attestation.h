// `contrast attestation show` and `contrast attestation verify`.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

namespace contrast::cli {

struct AttestationShowCommand {
  std::filesystem::path report;
  std::string product;  // optional: decode TCBs for this product line
  bool json = false;
};

struct AttestationVerifyCommand {
  std::filesystem::path report;                // SEV-SNP; or:
  std::optional<std::filesystem::path> quote;  // Intel TDX (the fields below marked TDX)
  std::optional<std::filesystem::path> vcek;   // else fetched from the KDS
  std::string product;                         // Milan | Genoa | Turin; else from the report / VCEK
  std::optional<std::filesystem::path> reference_values;
  std::string at;  // RFC 3339; empty = now
  std::string kds_url;
  std::optional<std::filesystem::path> cache_dir;
  std::optional<std::filesystem::path> crl;  // DER or PEM, issued by the ARK
  bool fetch_crl = false;                    // fetch the CRL from the KDS
  // PEM with the emulated secure processor's ASK then ARK: trusts a non-AMD
  // root. Development only.
  std::optional<std::filesystem::path> insecure_emulated_chain;
  bool json = false;
  // TDX: Intel PCS collateral as files (response bodies; their issuer chain),
  // else fetched from pcs_url (or collateral_proxy) into cache_dir/pcs.
  std::optional<std::filesystem::path> tcb_info;
  std::optional<std::filesystem::path> qe_identity;
  std::optional<std::filesystem::path> collateral_chain;
  std::optional<std::filesystem::path> pck_crl;
  std::optional<std::filesystem::path> root_crl;
  std::string accept_tcb_status = "UpToDate";  // comma-separated
  std::string pcs_url;
  std::string collateral_proxy;
};

int RunAttestationShow(const AttestationShowCommand& command, std::ostream& out, std::ostream& err);
// SEV-SNP (`report`) or, when `quote` is set, TDX (RunAttestationVerifyQuote).
int RunAttestationVerify(const AttestationVerifyCommand& command, std::ostream& out, std::ostream& err);
int RunAttestationVerifyQuote(const AttestationVerifyCommand& command, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli

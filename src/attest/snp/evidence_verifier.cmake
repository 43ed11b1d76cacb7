# contrast_snp_evidence_checks: what the "snp" and "emulated-snp" evidence
# verifiers share. contrast_snp_evidence_verifier: the "snp" one.
contrast_library(contrast_snp_evidence_checks
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/evidence_checks.cpp
  DEPS contrast_attest_verifier contrast_snp contrast_snp_validate contrast_snp_collateral)
contrast_library(contrast_snp_evidence_verifier
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/evidence_verifier.cpp
  DEPS contrast_snp_evidence_checks contrast_attest_verifier contrast_snp contrast_snp_collateral)

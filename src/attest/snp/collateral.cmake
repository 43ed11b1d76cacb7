# contrast_snp_collateral: VCEKs and ARK CRLs for verifiers, from KDS or a
# collateral proxy, cached in memory and on disk.
contrast_library(contrast_snp_collateral
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/collateral.cpp
  DEPS contrast_snp contrast_snp_kds)

# contrast_snp_validate (reference values + validate) goes here.

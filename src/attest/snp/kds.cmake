# contrast_snp_kds (AMD KDS client) goes here.

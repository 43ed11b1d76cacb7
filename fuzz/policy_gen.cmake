# Policy generation from hostile pod YAML (and settings JSON).
contrast_fuzz_target(policy_gen_fuzz
  SOURCES policy_gen_fuzz.cpp
  DEPS contrast_policy_gen yaml-cpp
  SEEDS kata/genpolicy-policy-tests/createcontainer/volumes/emptydir/pod.yaml
        kata/genpolicy-policy-tests/createcontainer/env_vars/pod.yaml
        kata/genpolicy-policy-tests/createcontainer/security_context/supplemental_groups/pod.yaml
        kata/genpolicy-policy-tests/state/execprocess/pod.yaml
        kata/genpolicy-policy-tests/state/execprocessdeployment/pod.yaml)

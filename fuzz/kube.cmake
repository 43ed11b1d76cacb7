# Kubernetes YAML: reading, finding workloads, patching and writing back.
contrast_fuzz_target(kube_yaml_fuzz
  SOURCES kube_yaml_fuzz.cpp
  DEPS contrast_kube
  SEEDS)

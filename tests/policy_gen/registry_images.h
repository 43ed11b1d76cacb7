// The genpolicy test images (test_images.h) served from a real registry, as
// `contrast generate --registry-mirror` reaches them: Debian's
// docker-registry on a loopback port (support/registry.h) holds every image,
// built by the harness with its config and its /etc/passwd and /etc/group as
// layer files, under its repository path; an image::ImageResolver whose
// mirrors send registry.k8s.io, quay.io and ghcr.io to that registry
// resolves the pods' images.
//
// A built image cannot have the digest a pod pins (the digest of the real
// upstream image), so a test substitutes the built image's digest for the
// pinned one, as a plain text replacement of the 64 hex digits, in the pod
// YAML and in every expected request, and changes nothing else.
//
//   static std::unique_ptr<GenpolicyRegistry> registry = GenpolicyRegistry::Start();  // SetUpTestSuite
//   CONTRAST_REQUIRE_GENPOLICY_REGISTRY(registry);                                     // SetUp
//   for (auto& line : registry->SubstitutePinnedDigests(pod_yaml, {&requests})) print(line);
//   ResolvedImages images;
//   ASSERT_TRUE(images.Resolve(registry->ResolverOptions(), PodImages(pod)));
//   GeneratePodPolicy(pod, images.AsFunction(), configs);
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "image/image.h"
#include "kube/workload.h"
#include "policy/gen/generator.h"
#include "policy_gen/test_images.h"
#include "support/registry.h"

namespace contrast::testing {

// Skips the calling test (SetUp or a test body) when docker-registry is not
// installed, and fails it instead under CI=true, where it must be.
#define CONTRAST_REQUIRE_GENPOLICY_REGISTRY(registry)                                                        \
  do {                                                                                                       \
    if ((registry) == nullptr) {                                                                             \
      const char* contrast_ci = std::getenv("CI");                                                           \
      if (contrast_ci != nullptr && std::string_view(contrast_ci) == "true")                                 \
        FAIL() << "docker-registry is not installed (scripts/setup installs it); CI needs it";               \
      GTEST_SKIP() << "docker-registry is not installed (scripts/setup installs it): the images are served " \
                      "from a real local registry";                                                          \
    }                                                                                                        \
    ASSERT_TRUE((registry)->ok()) << "the test registry did not start or an image push failed";              \
  } while (false)

class GenpolicyRegistry {
 public:
  // Starts docker-registry and pushes every image of GenpolicyTestImages();
  // nullptr when docker-registry is not installed. Problems are recorded as
  // test failures and leave ok() false.
  static std::unique_ptr<GenpolicyRegistry> Start() {
    if (!TestRegistry::Available()) return nullptr;
    return std::unique_ptr<GenpolicyRegistry>(new GenpolicyRegistry());
  }

  ~GenpolicyRegistry() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  GenpolicyRegistry(const GenpolicyRegistry&) = delete;
  GenpolicyRegistry& operator=(const GenpolicyRegistry&) = delete;

  bool ok() const { return ok_; }
  std::string Host() const { return registry_.Host(); }

  // The digest the registry serves for an image of the table, by its
  // reference as the pod YAML writes it ("" when unknown).
  std::string BuiltDigest(std::string_view reference) const {
    auto it = built_digests_.find(std::string(reference));
    return it == built_digests_.end() ? std::string() : it->second;
  }

  // For every image of the table whose reference `pod_yaml` contains with a
  // pinned digest, replaces that digest's hex by the built image's, in
  // `pod_yaml` and in each of `texts` (every occurrence; nothing else
  // changes). Returns one line per substitution, saying what was replaced.
  std::vector<std::string> SubstitutePinnedDigests(std::string& pod_yaml,
                                                   const std::vector<std::string*>& texts) const {
    std::vector<std::string> report;
    for (const GenpolicyImage& image : GenpolicyTestImages()) {
      const size_t at = image.reference.find("@sha256:");
      if (at == std::string::npos || pod_yaml.find(image.reference) == std::string::npos) continue;
      const std::string pinned = image.reference.substr(at + 8);
      const std::string built = BuiltDigest(image.reference);
      if (built.size() != 71) {
        ADD_FAILURE() << "no built image for " << image.reference;
        continue;
      }
      const std::string replacement = built.substr(7);
      size_t count = ReplaceAll(pod_yaml, pinned, replacement);
      for (std::string* text : texts) count += ReplaceAll(*text, pinned, replacement);
      report.push_back("substituted the built image's digest sha256:" + replacement +
                       " for the pinned sha256:" + pinned + " (" + image.reference.substr(0, at) + "), " +
                       std::to_string(count) + " occurrence(s) in the pod and the requests");
    }
    return report;
  }

  // How `contrast generate --registry-mirror registry.k8s.io=HOST
  // --registry-mirror quay.io=HOST --registry-mirror ghcr.io=HOST` resolves:
  // no disk cache (every resolution reaches the registry) and no
  // credentials of the developer's own.
  image::ResolverOptions ResolverOptions() const {
    image::ResolverOptions options;
    for (const char* host : {"registry.k8s.io", "quay.io", "ghcr.io"}) options.mirrors[host] = Host();
    options.docker_config = dir_ / "docker-config.json";
    options.timeout_seconds = 30;
    return options;
  }

  // The `--registry-mirror` flags of the same mirrors, for the CLI.
  std::vector<std::string> MirrorFlags() const {
    std::vector<std::string> flags;
    for (const char* host : {"registry.k8s.io", "quay.io", "ghcr.io"}) {
      flags.push_back("--registry-mirror");
      flags.push_back(std::string(host) + "=" + Host());
    }
    return flags;
  }

 private:
  GenpolicyRegistry()
      : dir_(std::filesystem::temp_directory_path() / ("contrast-genpolicy-registry-" + std::to_string(::getpid()))) {
    if (!registry_.ok()) return;
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "docker-config.json") << "{}\n";
    bool pushed = true;
    for (const GenpolicyImage& image : GenpolicyTestImages()) {
      const std::string digest = registry_.PushImage(image.repository, image.tag, Build(image));
      if (digest.empty()) {
        pushed = false;
        continue;
      }
      built_digests_[image.reference] = digest;
    }
    ok_ = pushed;
  }

  // The image as the registry serves it: its config, and one layer with its
  // /etc/passwd and /etc/group (an image without them gets a layer with
  // just its entrypoint, as the pause image has).
  static TestImage Build(const GenpolicyImage& image) {
    TestImage built;
    built.config = image.config;
    TestLayer layer;
    if (image.files.passwd) layer.files.emplace_back("etc/passwd", *image.files.passwd);
    if (image.files.group) layer.files.emplace_back("etc/group", *image.files.group);
    if (layer.files.empty()) {
      const std::string entrypoint = image.config.entrypoint.empty() ? "bin/sh" : image.config.entrypoint[0];
      layer.files.emplace_back(entrypoint.substr(entrypoint.find_first_not_of('/')), "#!test\n", 0755);
    }
    built.layers.push_back(std::move(layer));
    return built;
  }

  static size_t ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
    size_t count = 0;
    for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size(), ++count)
      text.replace(pos, from.size(), to);
    return count;
  }

  TestRegistry registry_;
  std::filesystem::path dir_;
  std::map<std::string, std::string> built_digests_;  // reference as written -> "sha256:…"
  bool ok_ = false;
};

// The `image:` values of a pod's init and app containers, in order.
inline std::vector<std::string> PodImages(const kube::PodTemplate& pod) {
  std::vector<std::string> images;
  for (const char* list : {"initContainers", "containers"}) {
    const YAML::Node containers = pod.spec[list];
    if (!containers || !containers.IsSequence()) continue;
    for (const YAML::Node& container : containers) {
      const YAML::Node image = container["image"];
      if (image && image.IsScalar()) images.push_back(image.Scalar());
    }
  }
  return images;
}

// Images resolved by a real image::ImageResolver, looked up by the
// reference as the pod YAML writes it.
class ResolvedImages {
 public:
  // Resolves `references` (concurrently, as `generate` does); a reference
  // that does not resolve is a test failure, and the result false.
  bool Resolve(const image::ResolverOptions& options, const std::vector<std::string>& references) {
    image::ImageResolver resolver(options);
    auto results = resolver.ResolveAll(references);
    // Nothing is cached: every image came from the registry.
    if (!references.empty()) {
      EXPECT_GT(resolver.stats().manifests_fetched, 0u);
    }
    bool all = true;
    for (size_t i = 0; i < references.size(); ++i) {
      if (!results[i]) {
        ADD_FAILURE() << references[i] << ": " << results[i].error().message;
        all = false;
        continue;
      }
      images_.insert_or_assign(references[i], std::move(*results[i]));
    }
    return all;
  }

  const image::ResolvedImage* Find(std::string_view reference) const {
    auto it = images_.find(std::string(reference));
    return it == images_.end() ? nullptr : &it->second;
  }

  policy::gen::ImageLookup AsFunction() const {
    return [this](std::string_view reference) { return Find(reference); };
  }

 private:
  std::map<std::string, image::ResolvedImage> images_;
};

}  // namespace contrast::testing

// The container images the genpolicy test pods name, reconstructed from
// what the recorded requests show: each image's config (entrypoint,
// command, environment, working directory, user, volumes) and its
// /etc/passwd and /etc/group.
//
// One table, served two ways: in memory (TestImageLookup, for the
// generator's unit tests), and from a real registry (registry_images.h,
// for the acceptance and tamper tests), where each image is pushed under
// `repository:tag` and reached through a mirror of its original registry.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "image/image.h"

namespace contrast::testing {

struct GenpolicyImage {
  std::string reference;   // exactly as the pod YAML writes `image:`
  std::string repository;  // where the test registry serves it (path below the registry host)
  std::string tag;
  // In memory, the digest the reference resolves to: the one the YAML pins,
  // else a made-up, fixed one. A registry serves the built image's digest
  // instead (the tests substitute it for a pinned one).
  std::string digest;
  image::ImageConfig config;
  image::ImageFiles files;
};

inline const std::vector<GenpolicyImage>& GenpolicyTestImages() {
  static const std::string kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  // The Kubernetes pause image: no /etc/passwd, runs as 65535.
  static const image::ImageConfig kPause{
      .entrypoint = {"/pause"}, .cmd = {}, .env = {kPath}, .working_dir = "", .user = "65535:65535", .volumes = {}};
  static const image::ImageFiles kBusyboxFiles{
      .passwd =
          "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "nobody:x:65534:65534:nobody:/home:/bin/false\n",
      .group = "root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nnogroup:x:65534:\n"};
  // opstree/redis: entrypoint script, /data as working directory and two
  // declared volumes (the recorded mounts for /data and /node-conf).
  static const image::ImageConfig kRedis{.entrypoint = {"/usr/bin/entrypoint.sh"},
                                         .cmd = {},
                                         .env = {kPath, "REDIS_PORT=6379"},
                                         .working_dir = "/data",
                                         .user = "redis",
                                         .volumes = {"/data", "/node-conf"}};
  static const image::ImageFiles kRedisFiles{
      .passwd =
          "root:x:0:0:root:/root:/bin/sh\nredis:x:1000:1000::/home/redis:/sbin/nologin\n"
          "nobody:x:65534:65534:nobody:/:/sbin/nologin\n",
      .group = "root:x:0:\nredis:x:1000:redis\nnogroup:x:65534:\n"};
  static const std::vector<GenpolicyImage> images = {
      {"registry.k8s.io/pause:3.6@sha256:3d380ca8864549e74af4b29c10f9cb0956236dfb01c40ca076fb6c37253234db",
       "pause",
       "3.6",
       "sha256:3d380ca8864549e74af4b29c10f9cb0956236dfb01c40ca076fb6c37253234db",
       kPause,
       {}},
      {"quay.io/prometheus/busybox:latest",
       "prometheus/busybox",
       "latest",
       "sha256:" + std::string(64, '1'),
       {.entrypoint = {}, .cmd = {"sh"}, .env = {kPath}, .working_dir = "", .user = "", .volumes = {}},
       kBusyboxFiles},
      {"quay.io/opstree/redis", "opstree/redis", "latest", "sha256:" + std::string(64, '2'), kRedis, kRedisFiles},
      {"quay.io/kata-containers/test-images/opstree/redis:"
       "sha256-2642c7b07713df6897fa88cbe6db85170690cf3650018ceb2ab16cfa0b4f8d48",
       "kata-containers/test-images/opstree/redis",
       "sha256-2642c7b07713df6897fa88cbe6db85170690cf3650018ceb2ab16cfa0b4f8d48",
       "sha256:2642c7b07713df6897fa88cbe6db85170690cf3650018ceb2ab16cfa0b4f8d48", kRedis, kRedisFiles},
      // burgerdev/weird-images gid: the user with uid 2 has primary group
      // 0 in /etc/passwd and is a member of no group in /etc/group, so only
      // runAsGroup decides its groups.
      {"ghcr.io/burgerdev/weird-images/gid:latest@sha256:"
       "bdbb485bb9e3baf381a2957b9369b6051c6113097a5f8dcee27faff17624a2c0",
       "burgerdev/weird-images/gid",
       "latest",
       "sha256:bdbb485bb9e3baf381a2957b9369b6051c6113097a5f8dcee27faff17624a2c0",
       {.entrypoint = {"/entrypoint.sh"}, .cmd = {}, .env = {kPath}, .working_dir = "/", .user = "", .volumes = {}},
       {.passwd = "root:x:0:0:root:/root:/bin/sh\nweird:x:2:0::/home/weird:/bin/sh\n",
        .group = "root:x:0:\none:x:1:\n"}},
  };
  return images;
}

// Resolves references from the table in memory (the generator's unit
// tests; the acceptance tests use a registry). The returned pointers
// stay valid as long as the lookup object.
class TestImageLookup {
 public:
  explicit TestImageLookup(const std::vector<GenpolicyImage>& images = GenpolicyTestImages()) {
    for (auto& image : images) {
      image::ResolvedImage resolved;
      resolved.digest = image.digest;
      resolved.config = image.config;
      resolved.files = image.files;
      resolved_.emplace_back(image.reference, std::move(resolved));
    }
  }
  const image::ResolvedImage* Find(std::string_view reference) const {
    for (auto& [name, image] : resolved_)
      if (name == reference) return &image;
    return nullptr;
  }
  std::function<const image::ResolvedImage*(std::string_view)> AsFunction() const {
    return [this](std::string_view reference) { return Find(reference); };
  }

 private:
  std::vector<std::pair<std::string, image::ResolvedImage>> resolved_;
};

}  // namespace contrast::testing

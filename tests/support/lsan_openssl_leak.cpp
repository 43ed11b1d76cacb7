// Leaks an EVP_PKEY from our own code in a program linked with gRPC, where
// lsan_grpc_openssl.cpp installs its OpenSSL allocator: with the asan
// preset's suppressions, LeakSanitizer must report the leak (ctest
// lsan.openssl_leak_of_ours_is_reported). A suppression broad enough to hide
// OpenSSL allocations, as `leak:CRYPTO_zalloc` was, fails that test.
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>

#include <cstdio>

// Several keys, made in a frame that is gone before the check: LeakSanitizer
// scans conservatively, and a stale copy of one pointer (in a register or a
// dead stack slot) can keep that one key looking reachable. Not all eight.
__attribute__((noinline)) bool LeakKeys() {
  for (int i = 0; i < 8; ++i) {
    if (EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256") == nullptr) return false;
  }
  return true;
}

int main() {
  std::printf("gRPC %s\n", grpc::Version().c_str());  // keeps gRPC linked
  if (!LeakKeys()) return 2;
  std::printf("leaked eight EVP_PKEYs\n");
  return 0;
}

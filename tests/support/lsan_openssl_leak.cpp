// Leaks an EVP_PKEY from our own code in a program linked with gRPC, where
// lsan_grpc_openssl.cpp installs its OpenSSL allocator: with the asan
// preset's suppressions, LeakSanitizer must report the leak (ctest
// lsan.openssl_leak_of_ours_is_reported). A suppression broad enough to hide
// OpenSSL allocations, as `leak:CRYPTO_zalloc` was, fails that test.
#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>

#include <cstdio>

int main() {
  std::printf("gRPC %s\n", grpc::Version().c_str());  // keeps gRPC linked
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) return 2;
  std::printf("leaked an EVP_PKEY\n");
  return 0;
}

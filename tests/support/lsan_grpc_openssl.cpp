// Leak checks of OpenSSL objects in the AddressSanitizer builds.
//
// LeakSanitizer records where each allocation was made with the
// frame-pointer unwinder. Debian's libcrypto and gRPC are built without frame
// pointers, so the recorded stack of anything OpenSSL allocates ends in
// libcrypto: a suppression cannot tell an X509 that gRPC's TLS stack still
// owns when a test process exits (a rare race with gRPC's background threads)
// from an EVP_PKEY that our code forgot to free. Full stacks for every
// allocation (ASAN_OPTIONS=fast_unwind_on_malloc=0) cost 16 times the CPU.
//
// So, for OpenSSL's allocations only, this walks the stack with the DWARF
// unwinder and asks who called into OpenSSL: when the first frame outside
// libcrypto and libssl is in one of gRPC's libraries, the object is gRPC's,
// and LeakSanitizer ignores it (and what only it points to). Whatever our code,
// or any other library, asks OpenSSL to allocate is checked as before.
//
// Every executable of the asan preset links this file (CMakeLists.txt); it
// only does something under AddressSanitizer, in a program linked with gRPC.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONTRAST_LSAN_GRPC_OPENSSL 1
#endif
#endif
#if !defined(CONTRAST_LSAN_GRPC_OPENSSL) && defined(__SANITIZE_ADDRESS__)
#define CONTRAST_LSAN_GRPC_OPENSSL 1
#endif

#ifdef CONTRAST_LSAN_GRPC_OPENSSL

#include <link.h>
#include <openssl/crypto.h>
#include <sanitizer/lsan_interface.h>
#include <unwind.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// kOpenSsl: libcrypto and libssl; kSystem: the C library and the loader,
// which OpenSSL calls back through (pthread_once, dlopen of providers). The
// first frame that is neither, walking from the allocation outwards, is the
// caller into OpenSSL that owns the object.
enum class Owner : uint8_t { kOther, kOpenSsl, kSystem, kGrpc };

struct CodeRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  Owner owner = Owner::kOther;
};

// The executable segments of those libraries, found once at start-up (they
// are linked, not loaded later).
std::array<CodeRange, 64> g_ranges;
size_t g_range_count = 0;

bool HasPrefix(const char* name, const char* prefix) { return std::strncmp(name, prefix, std::strlen(prefix)) == 0; }

Owner OwnerOfLibrary(const char* path) {
  const char* slash = std::strrchr(path, '/');
  const char* name = slash != nullptr ? slash + 1 : path;
  if (HasPrefix(name, "libcrypto.so") || HasPrefix(name, "libssl.so")) return Owner::kOpenSsl;
  if (HasPrefix(name, "libc.so") || HasPrefix(name, "ld-linux")) return Owner::kSystem;
  // libgrpc.so, libgrpc++.so, libgpr.so, libupb.so, libaddress_sorting.so
  for (const char* prefix : {"libgrpc", "libgpr.so", "libupb.so", "libaddress_sorting.so"}) {
    if (HasPrefix(name, prefix)) return Owner::kGrpc;
  }
  return Owner::kOther;
}

int CollectRanges(dl_phdr_info* info, size_t /*size*/, void* /*data*/) {
  if (info->dlpi_name == nullptr) return 0;
  const Owner owner = OwnerOfLibrary(info->dlpi_name);
  if (owner == Owner::kOther) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD || (segment.p_flags & PF_X) == 0 || g_range_count == g_ranges.size()) continue;
    const uintptr_t begin = info->dlpi_addr + segment.p_vaddr;
    g_ranges[g_range_count++] = CodeRange{begin, begin + segment.p_memsz, owner};
  }
  return 0;
}

Owner OwnerOf(uintptr_t pc) {
  for (size_t i = 0; i < g_range_count; ++i) {
    if (pc >= g_ranges[i].begin && pc < g_ranges[i].end) return g_ranges[i].owner;
  }
  return Owner::kOther;
}

// The last caller into OpenSSL found on this thread: the stack slot that
// holds its return address, and that address. While the slot still holds it,
// that call into OpenSSL is still running (or another from the same call
// site), so the owner is the same without walking the stack again: one walk
// per call into OpenSSL instead of one per allocation, which keeps the CPU
// cost of the asan suite low (OpenSSL 3 allocates hundreds of times per key).
struct Caller {
  uintptr_t slot = 0;
  uintptr_t pc = 0;
  bool grpc = false;
};
thread_local Caller t_caller;

struct Walk {
  bool seen_openssl = false;  // the walk has come through this file into OpenSSL
  Caller caller;
  int frames = 0;
};

constexpr int kMaxFrames = 128;

_Unwind_Reason_Code VisitFrame(_Unwind_Context* context, void* arg) {
  auto* walk = static_cast<Walk*>(arg);
  if (++walk->frames > kMaxFrames) return _URC_END_OF_STACK;
  const auto pc = static_cast<uintptr_t>(_Unwind_GetIP(context));
  const Owner owner = OwnerOf(pc);
  if (owner == Owner::kOpenSsl || (walk->seen_openssl && owner == Owner::kSystem)) {
    walk->seen_openssl = true;
    return _URC_NO_REASON;
  }
  if (!walk->seen_openssl) return _URC_NO_REASON;  // still in this file's frames
  // The context's CFA is that of the frame's callee (libgcc's unwinder), just
  // above the slot holding the return address into this frame.
  const auto slot = static_cast<uintptr_t>(_Unwind_GetCFA(context)) - sizeof(uintptr_t);
  walk->caller = Caller{slot, pc, owner == Owner::kGrpc};
  return _URC_END_OF_STACK;
}

// Reads a stack slot of a frame further up this thread's stack, which
// AddressSanitizer may have marked as a redzone of a live frame.
__attribute__((no_sanitize("address"))) uintptr_t ReadSlot(uintptr_t slot) {
  return *reinterpret_cast<const volatile uintptr_t*>(slot);
}

bool AllocatedForGrpc() {
#if defined(__x86_64__)
  // The return address of the caller into OpenSSL sits just below the CFA of
  // the OpenSSL function it called; the slot is above this frame while live.
  const auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (t_caller.slot > here && ReadSlot(t_caller.slot) == t_caller.pc) return t_caller.grpc;
#endif
  Walk walk;
  _Unwind_Backtrace(VisitFrame, &walk);
  if (walk.caller.pc == 0) return false;  // no caller found: ours to check
  t_caller = walk.caller;
  return walk.caller.grpc;
}

void* Allocate(size_t size, const char* /*file*/, int /*line*/) {
  void* chunk = std::malloc(size);
  if (chunk != nullptr && AllocatedForGrpc()) __lsan_ignore_object(chunk);
  return chunk;
}

void* Reallocate(void* old, size_t size, const char* /*file*/, int /*line*/) {
  void* chunk = std::realloc(old, size);
  if (chunk != nullptr && AllocatedForGrpc()) __lsan_ignore_object(chunk);
  return chunk;
}

void Release(void* chunk, const char* /*file*/, int /*line*/) { std::free(chunk); }

// Before anything allocates through OpenSSL, which then refuses new functions.
__attribute__((constructor(101))) void InstallOpenSslAllocator() {
  dl_iterate_phdr(CollectRanges, nullptr);
  bool grpc_linked = false;
  for (size_t i = 0; i < g_range_count; ++i) grpc_linked = grpc_linked || g_ranges[i].owner == Owner::kGrpc;
  if (!grpc_linked) return;  // nothing to tell apart
  if (CRYPTO_set_mem_functions(Allocate, Reallocate, Release) == 0) {
    std::fputs("lsan_grpc_openssl: OpenSSL allocated before start-up; gRPC's OpenSSL objects are not told apart\n",
               stderr);
  }
}

}  // namespace

#endif  // CONTRAST_LSAN_GRPC_OPENSSL

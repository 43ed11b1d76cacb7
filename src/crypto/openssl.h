// RAII ownership of OpenSSL objects and checked calls that turn the OpenSSL
// error queue into an Error. Every OpenSSL pointer in Contrast lives in one of
// these types; nothing frees by hand.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace contrast::crypto {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

namespace detail {
inline void FreeBio(BIO* p) { BIO_free_all(p); }
inline void FreeX509Stack(STACK_OF(X509) * p) { sk_X509_pop_free(p, X509_free); }
inline void FreeAsn1Object(ASN1_OBJECT* p) { ASN1_OBJECT_free(p); }
inline void FreeAsn1Integer(ASN1_INTEGER* p) { ASN1_INTEGER_free(p); }
inline void FreeAsn1String(ASN1_STRING* p) { ASN1_STRING_free(p); }
inline void FreeAsn1OctetString(ASN1_OCTET_STRING* p) { ASN1_OCTET_STRING_free(p); }
inline void FreeAsn1Time(ASN1_TIME* p) { ASN1_TIME_free(p); }
inline void FreeGeneralNames(GENERAL_NAMES* p) { GENERAL_NAMES_free(p); }
inline void FreeOpensslString(char* p) { OPENSSL_free(p); }
inline void FreeBytes(unsigned char* p) { OPENSSL_free(p); }
}  // namespace detail

using BioPtr = Owned<BIO, detail::FreeBio>;
using BignumPtr = Owned<BIGNUM, BN_free>;
using BnCtxPtr = Owned<BN_CTX, BN_CTX_free>;
using EcdsaSigPtr = Owned<ECDSA_SIG, ECDSA_SIG_free>;
using EvpPkeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = Owned<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = Owned<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpMdPtr = Owned<EVP_MD, EVP_MD_free>;
using X509Ptr = Owned<X509, X509_free>;
using X509StackPtr = Owned<STACK_OF(X509), detail::FreeX509Stack>;
using X509CrlPtr = Owned<X509_CRL, X509_CRL_free>;
using X509StorePtr = Owned<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509ExtensionPtr = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using X509NamePtr = Owned<X509_NAME, X509_NAME_free>;
using Asn1ObjectPtr = Owned<ASN1_OBJECT, detail::FreeAsn1Object>;
using Asn1IntegerPtr = Owned<ASN1_INTEGER, detail::FreeAsn1Integer>;
using Asn1StringPtr = Owned<ASN1_STRING, detail::FreeAsn1String>;
using Asn1OctetStringPtr = Owned<ASN1_OCTET_STRING, detail::FreeAsn1OctetString>;
using Asn1TimePtr = Owned<ASN1_TIME, detail::FreeAsn1Time>;
using GeneralNamesPtr = Owned<GENERAL_NAMES, detail::FreeGeneralNames>;
using OpensslStringPtr = Owned<char, detail::FreeOpensslString>;
using OpensslBytesPtr = Owned<unsigned char, detail::FreeBytes>;

// Drains the thread's OpenSSL error queue into one readable line. Always
// leaves the queue empty, so an expected failure does not leak into the next
// unrelated call.
std::string DrainOpensslErrors();

// Discards the error queue after a failure we expected and handled.
void ClearOpensslErrors();

// An Error with `code` whose message is `what` followed by the drained queue.
Error OpensslError(ErrorCode code, std::string_view what);

// For calls that return 1 on success: Check(EVP_DigestUpdate(...), "hashing").
inline Status Check(int rc, std::string_view what, ErrorCode code = ErrorCode::kCrypto) {
  if (rc == 1) return {};
  return tl::unexpected(OpensslError(code, what));
}

}  // namespace contrast::crypto

// Attestation evidence on the wire: conversion between attest::Evidence and
// the session protocol's contrast.v1.Evidence message. What evidence is and
// who produces and verifies it lives in attest/ (evidence.h, verifier.h).
#pragma once

#include "attest/evidence.h"
#include "common/result.h"

namespace contrast::v1 {
class Evidence;
}  // namespace contrast::v1

namespace contrast::session {

// FromProto checks the platform tag (attest::kPlatform*) and the field size
// limits of attest/evidence.h; kParse on violation.
void EvidenceToProto(const attest::Evidence& evidence, v1::Evidence* out);
Result<attest::Evidence> EvidenceFromProto(const v1::Evidence& proto);

}  // namespace contrast::session

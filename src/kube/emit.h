// Writing YAML trees back as text, and comparing trees by meaning.
//
// yaml-cpp's own emitter neither keeps the difference between a quoted and a
// plain scalar nor writes the block style kubectl users expect, so documents
// that `generate` changes are written by this deterministic writer:
//   - block style, 2-space indentation, sequences under a key start at the
//     key's column ("- " as kubectl writes them), keys in their order;
//   - plain scalars stay plain; strings (quoted in the input, or created by
//     patching) are written plain only when they cannot read as anything but
//     a string, else double-quoted; multi-line strings as literal blocks
//     (`|`, `|-`, `|+`) when that keeps them exactly, else double-quoted
//     with escapes; long strings stay on one line;
//   - empty maps and sequences as `{}` and `[]`, null as `null`;
//   - explicit tags (`!!int`, `!foo`) are written again.
// Comments are not part of the tree and are lost in documents written this way.
#pragma once

#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "common/result.h"

namespace contrast::kube {

// True when `value` written as a plain scalar may read as something other
// than a string under YAML 1.1, YAML 1.2 or yaml-cpp's conversions: null,
// booleans (yes/no/on/off/y/n in any case), numbers in any base, floats,
// .inf/.nan, sexagesimal numbers, timestamps, "=" and "<<". Errs on the side
// of "may" (e.g. "1.2.3"), which only costs a pair of quotes.
bool MayReadAsNonString(std::string_view value);

// True when a scalar node means a string: tagged "!" (quoted or block
// scalar), "" (created through the API), `!!str`, or plain and not
// MayReadAsNonString.
bool IsStringScalar(const YAML::Node& scalar);

// Structural equality by meaning: same node types, map keys in the same
// order, equal scalar values with the same "string-ness" (a quoted "foo" and
// a plain foo are equal, a quoted "1" and a plain 1 are not), equal explicit
// tags. Trees deeper than a fixed bound compare unequal.
bool Equal(const YAML::Node& a, const YAML::Node& b);

// The block-style text of one document's root (no `---` line), ending in a
// newline. Fails (never silently changes meaning) for what this writer cannot
// express: non-scalar map keys, keys longer than 1024 bytes, tags with
// characters a tag cannot hold, or nesting deeper than a fixed bound.
Result<std::string> EmitYaml(const YAML::Node& root);

}  // namespace contrast::kube

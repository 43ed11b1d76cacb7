// Kubernetes YAML inputs: files and directories of multi-document YAML, read
// so that every object knows its file and line, every document keeps its
// exact bytes, and only documents that were changed are written anew.
//
// A document of a file is the text between `---` lines: a leading `---`, a
// `...` end line and the comments around them belong to the document they
// follow or precede. Documents and files nobody changed are written back
// byte for byte; a changed document is written by EmitYaml (kube/emit.h),
// keeping its `---` line and the comment lines before its content, but not
// the comments inside it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/result.h"
#include "kube/workload.h"

namespace contrast::kube {

// Larger input files are rejected rather than read.
inline constexpr size_t kMaxInputFileSize = 64 * 1024 * 1024;
// Deeper documents are rejected: yaml-cpp and tree walks recurse per level.
inline constexpr int kMaxNestingDepth = 64;
// Bounds the memory a file's trees can take.
inline constexpr size_t kMaxNodesPerFile = 2'000'000;

// One YAML document of an input file.
struct Document {
  std::string text;       // the exact bytes of the document in its file
  size_t first_line = 1;  // 1-based line of the file where `text` starts
  // The parsed tree: Null for an empty document, else a map. Patching
  // changes it; RenderFile writes it when it no longer equals `original`.
  YAML::Node root;
  YAML::Node original;  // a deep copy taken when reading
  // Documents with aliases (`*name`) are never written anew: their trees
  // share nodes, and Contrast refuses to patch workloads in them.
  bool has_aliases = false;

  // "file:line" of a node of this document.
  std::string Where(const std::string& file, const YAML::Node& node) const;
};

// A Kubernetes object: a whole document, or an item of a `List` document.
struct Object {
  std::string kind;
  std::string api_version;
  std::string name;           // metadata.name, "" when absent
  std::string generate_name;  // metadata.generateName, "" when absent
  std::string ns;             // metadata.namespace, "" when absent
  YAML::Node node;            // view into the document's tree
  size_t document_index = 0;
  size_t line = 0;    // 1-based line of the object in its file
  std::string where;  // "file:line"
};

// One input file: its documents and the objects in them, in file order.
struct InputFile {
  std::string path;  // as given or found; names the file in errors
  std::vector<Document> documents;
  std::vector<Object> objects;
};

// The `*.yml` / `*.yaml` files named by `inputs`: files as given (any
// extension), directories walked recursively. Sorted by path within each
// directory, duplicates dropped; an input that does not exist is an error, as
// is finding no file at all.
Result<std::vector<std::filesystem::path>> FindInputFiles(const std::vector<std::filesystem::path>& inputs);

// Splits and parses one file's text. `path` names it in errors. Errors (with
// file:line): invalid YAML, a document that is not a map, an object without
// `kind` or `apiVersion`, a `List` whose `items` is not a list of maps,
// duplicate map keys, nesting deeper than kMaxNestingDepth, more than
// kMaxNodesPerFile nodes, NUL bytes or UTF-16/32 text, more than
// kMaxInputFileSize bytes.
Result<InputFile> ParseInputFile(std::string path, std::string_view text);

// FindInputFiles, then reads and parses each file.
Result<std::vector<InputFile>> ReadInputs(const std::vector<std::filesystem::path>& inputs);

// Every workload object (WorkloadKind) with a pod template, in input order,
// with `confidential` set from its runtime class. Errors (with file:line):
// two workloads of the same kind, namespace and name; a malformed path to the
// pod template or runtimeClassName; and, for confidential workloads, malformed
// pod metadata, annotations, containers, env, volume mounts or volumes, or
// YAML aliases in their document.
Result<std::vector<PodTemplate>> FindWorkloads(const std::vector<InputFile>& files);

// Every ConfigMap (`data`) and Secret (`data` base64-decoded, `stringData`
// winning) of the inputs. Errors (with file:line): a missing name, values
// that are not scalars, invalid base64, the same object twice.
Result<ConfigStore> CollectConfigs(const std::vector<InputFile>& files);

// True when a document's tree no longer equals what was read.
bool DocumentChanged(const Document& document);

struct RenderedFile {
  std::string text;      // the file's new content
  bool changed = false;  // false: `text` is exactly what was read
};

// The file's text: unchanged documents byte for byte, changed ones written
// anew by EmitYaml. That the written text reads back to equal trees, and that
// reading and writing it again is a fixed point, is what the tests and the
// fuzz target (fuzz/kube_yaml_fuzz.cpp) check; it is not re-read here, as
// yaml-cpp reads long scalars slowly (policy annotations are ~30 KB each).
Result<RenderedFile> RenderFile(const InputFile& file);

}  // namespace contrast::kube

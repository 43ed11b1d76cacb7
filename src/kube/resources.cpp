#include "kube/resources.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "common/bytes.h"
#include "common/files.h"
#include "kube/emit.h"
#include "kube/nodes.h"

namespace contrast::kube {
namespace {

using internal::Child;
using internal::IsClearlyNonString;
using internal::IsUnset;

std::string At(const std::string& path, size_t line) { return path + ":" + std::to_string(line); }

tl::unexpected<Error> ParseError(const std::string& where, std::string message) {
  return Fail(ErrorCode::kParse, where + ": " + message);
}

// ---- Splitting a file into documents ----

struct Chunk {
  size_t begin = 0;
  size_t end = 0;
  size_t first_line = 1;
};

std::string_view LineContent(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// `---` or `...` at column 0, alone or followed by white space.
bool IsMarkerLine(std::string_view line, std::string_view marker) {
  line = LineContent(line);
  return line.starts_with(marker) && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
}

bool IsBlankOrComment(std::string_view line) {
  line = LineContent(line);
  const size_t first = line.find_first_not_of(" \t");
  return first == std::string_view::npos || line[first] == '#';
}

// Lines of [begin, end) are only blank, comments and directives, with at least one directive.
bool IsDirectivesOnly(std::string_view text, const Chunk& chunk) {
  bool directive = false;
  size_t pos = chunk.begin;
  while (pos < chunk.end) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos || eol > chunk.end) eol = chunk.end;
    std::string_view line = text.substr(pos, eol - pos);
    if (line.starts_with("%")) {
      directive = true;
    } else if (!IsBlankOrComment(line)) {
      return false;
    }
    pos = eol + 1;
  }
  return directive;
}

// A document starts at a `---` line and ends before the next one, or after a
// `...` line. Directives (`%YAML`) belong to the document after them.
std::vector<Chunk> SplitDocuments(std::string_view text) {
  std::vector<Chunk> chunks;
  size_t start = 0;
  size_t start_line = 1;
  size_t pos = 0;
  size_t line_number = 1;
  auto close = [&](size_t end, size_t next_start, size_t next_line) {
    if (end > start) chunks.push_back({start, end, start_line});
    start = next_start;
    start_line = next_line;
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    const size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view line = text.substr(pos, next - pos);
    if (line.ends_with('\n')) line.remove_suffix(1);
    if (IsMarkerLine(line, "---") && pos != start) {
      close(pos, pos, line_number);
    } else if (IsMarkerLine(line, "...")) {
      close(next, next, line_number + 1);
    }
    pos = next;
    ++line_number;
  }
  close(text.size(), text.size(), line_number);
  // Merge directive-only chunks into the document they introduce.
  std::vector<Chunk> merged;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i + 1 < chunks.size() && chunks[i].end == chunks[i + 1].begin && IsDirectivesOnly(text, chunks[i])) {
      chunks[i + 1].begin = chunks[i].begin;
      chunks[i + 1].first_line = chunks[i].first_line;
      continue;
    }
    merged.push_back(chunks[i]);
  }
  return merged;
}

// ---- Checking a document's structure before building its tree ----

struct StructureError {
  YAML::Mark mark;
  std::string message;
};

// Walks the parser's events (no recursion of ours): rejects nesting deeper
// than kMaxNestingDepth and duplicate keys, counts nodes, notes aliases.
class StructureCheck : public YAML::EventHandler {
 public:
  explicit StructureCheck(size_t& node_budget) : node_budget_(node_budget) {}

  void OnDocumentStart(const YAML::Mark& /*mark*/) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    Node(mark);
    Key(mark, std::nullopt);
    Done();
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t /*anchor*/) override {
    Node(mark);
    has_aliases_ = true;
    Done();
  }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& value) override {
    Node(mark);
    Key(mark, value);
    Done();
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                       YAML::EmitterStyle::value /*style*/) override {
    Push(mark, false);
  }
  void OnSequenceEnd() override { Pop(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {
    Push(mark, true);
  }
  void OnMapEnd() override { Pop(); }

  bool has_aliases() const { return has_aliases_; }

 private:
  struct Frame {
    bool is_map = false;
    bool expect_key = true;
    std::set<std::string, std::less<>> keys;
  };

  void Node(const YAML::Mark& mark) {
    if (node_budget_ == 0) throw StructureError{mark, "too many YAML nodes in one file"};
    --node_budget_;
  }

  // Duplicate keys: kubectl rejects them, and yaml-cpp would keep both.
  void Key(const YAML::Mark& mark, const std::optional<std::string>& value) {
    if (frames_.empty() || !frames_.back().is_map || !frames_.back().expect_key) return;
    const std::string key = value ? *value : std::string("null");
    if (!frames_.back().keys.insert(key).second) {
      throw StructureError{mark, "duplicate key \"" + key + "\""};
    }
  }

  void Done() {
    if (!frames_.empty() && frames_.back().is_map) frames_.back().expect_key = !frames_.back().expect_key;
  }

  void Push(const YAML::Mark& mark, bool is_map) {
    Node(mark);
    if (frames_.size() >= static_cast<size_t>(kMaxNestingDepth)) {
      throw StructureError{mark, "nested deeper than " + std::to_string(kMaxNestingDepth) + " levels"};
    }
    frames_.push_back(Frame{is_map, true, {}});
  }

  void Pop() {
    if (!frames_.empty()) frames_.pop_back();
    Done();
  }

  size_t& node_budget_;
  std::vector<Frame> frames_;
  bool has_aliases_ = false;
};

// The same checks as StructureCheck, on a loaded tree without aliases.
void CheckTree(const YAML::Node& node, int depth, size_t& node_budget) {
  if (node_budget == 0) throw StructureError{node.Mark(), "too many YAML nodes in one file"};
  --node_budget;
  if (!node.IsMap() && !node.IsSequence()) return;
  if (depth >= kMaxNestingDepth) {
    throw StructureError{node.Mark(), "nested deeper than " + std::to_string(kMaxNestingDepth) + " levels"};
  }
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) CheckTree(item, depth + 1, node_budget);
    return;
  }
  std::set<std::string, std::less<>> keys;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node key = it->first;
    if (key.IsScalar() || key.IsNull()) {
      const std::string name = key.IsScalar() ? key.Scalar() : std::string("null");
      if (!keys.insert(name).second) throw StructureError{key.Mark(), "duplicate key \"" + name + "\""};
    }
    CheckTree(key, depth + 1, node_budget);
    CheckTree(it->second, depth + 1, node_budget);
  }
}

// True when yaml-cpp has read all of `text` into `root`: a block map at
// column 0 ends only at the end of the text (anything after it is an error),
// and without an anchor (`&`) there is no alias. Document end lines (`...`)
// and directives (`%`) may only be where SplitDocuments puts them.
bool IsPlainBlockDocument(std::string_view text, const YAML::Node& root) {
  if (!root.IsMap() || root.Style() != YAML::EmitterStyle::Block || root.Mark().column != 0) return false;
  if (text.find('&') != std::string_view::npos) return false;
  bool content_seen = false;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    const size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view line = text.substr(pos, next - pos);
    if (line.starts_with("%") && content_seen) return false;
    if (line.starts_with("...") && (next != text.size() || !IsBlankOrComment(LineContent(line).substr(3)))) {
      return false;
    }
    content_seen = content_seen || !IsBlankOrComment(line);
    pos = next;
  }
  return true;
}

// Documents larger than this get the event check before their tree is built.
constexpr size_t kEventsFirstSize = 256 * 1024;

struct ParsedDocument {
  YAML::Node root;
  bool has_aliases = false;
};

// Parses the text of one document. Marks count lines from its start; errors
// name `path` and the line in the file.
Result<ParsedDocument> ParseDocument(std::string_view text, const std::string& path, size_t first_line,
                                     size_t& node_budget) {
  auto where = [&](const YAML::Mark& mark) {
    return At(path, first_line + static_cast<size_t>(std::max(mark.line, 0)));
  };
  const std::string owned(text);
  ParsedDocument parsed;
  try {
    // Never YAML::LoadAll: after a stray "," it returns null documents
    // until memory runs out (yaml-cpp 0.7). Large documents are checked
    // before yaml-cpp builds their tree, which costs memory per node.
    const bool large = owned.size() > kEventsFirstSize;
    if (!large) {
      parsed.root = YAML::Load(owned);
      if (IsPlainBlockDocument(owned, parsed.root)) {
        // yaml-cpp reads slowly (a few MB/s): one parse, then a bounded walk.
        CheckTree(parsed.root, 0, node_budget);
        return parsed;
      }
    }
    // The parser's events show what follows the first document, and allow
    // checking a graph of aliases (even a cycle) without walking it.
    std::istringstream stream(owned);
    YAML::Parser parser(stream);
    StructureCheck check(node_budget);
    int documents = 0;
    while (documents < 2 && parser.HandleNextDocument(check)) ++documents;
    if (documents > 1) {
      return ParseError(At(path, first_line), "more than one YAML document (check the indentation and separators)");
    }
    parsed.has_aliases = check.has_aliases();
    if (large) parsed.root = YAML::Load(owned);
  } catch (const StructureError& e) {
    return ParseError(where(e.mark), e.message);
  } catch (const YAML::Exception& e) {
    return ParseError(where(e.mark), "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return ParseError(At(path, first_line), std::string("invalid YAML: ") + e.what());
  }
  return parsed;
}

// ---- Objects ----

// The string value of `key`: "" when absent or null, an error when not a scalar.
Result<std::string> OptionalString(const YAML::Node& map, std::string_view key, const Document& doc,
                                   const std::string& path) {
  auto value = Child(map, key);
  if (IsUnset(value)) return std::string();
  if (!value->IsScalar()) return ParseError(doc.Where(path, *value), std::string(key) + " must be a string");
  return value->Scalar();
}

// Nested Lists recurse; their depth is bounded by kMaxNestingDepth.
Status AddObjects(InputFile& file, size_t doc_index, const YAML::Node& node) {
  const Document& doc = file.documents[doc_index];
  const std::string where = doc.Where(file.path, node);
  if (!node.IsMap()) return ParseError(where, "a Kubernetes object must be a map");
  Object object;
  object.node = node;
  object.document_index = doc_index;
  object.where = where;
  object.line = doc.first_line + static_cast<size_t>(std::max(node.Mark().line, 0));
  auto kind = OptionalString(node, "kind", doc, file.path);
  if (!kind) return Fail(kind.error());
  auto api_version = OptionalString(node, "apiVersion", doc, file.path);
  if (!api_version) return Fail(api_version.error());
  if (kind->empty()) return ParseError(where, "object has no kind");
  if (api_version->empty()) return ParseError(where, "object has no apiVersion");
  object.kind = *kind;
  object.api_version = *api_version;
  if (auto metadata = Child(node, "metadata"); !IsUnset(metadata)) {
    if (!metadata->IsMap()) return ParseError(doc.Where(file.path, *metadata), "metadata must be a map");
    auto name = OptionalString(*metadata, "name", doc, file.path);
    auto generate_name = OptionalString(*metadata, "generateName", doc, file.path);
    auto ns = OptionalString(*metadata, "namespace", doc, file.path);
    for (auto* field : {&name, &generate_name, &ns}) {
      if (!*field) return Fail(field->error());
    }
    object.name = *name;
    object.generate_name = *generate_name;
    object.ns = *ns;
  }
  if (object.kind != "List") {
    file.objects.push_back(std::move(object));
    return {};
  }
  auto items = Child(node, "items");
  if (IsUnset(items)) return {};
  if (!items->IsSequence()) return ParseError(doc.Where(file.path, *items), "items of a List must be a list");
  for (const YAML::Node& item : *items) {
    if (Status s = AddObjects(file, doc_index, item); !s) return s;
  }
  return {};
}

// ---- Workloads ----

class ShapeCheck {
 public:
  ShapeCheck(const Document& doc, const std::string& path) : doc_(doc), path_(path) {}

  // `node` (when set) must be a map / a list of maps.
  Status Map(const std::optional<YAML::Node>& node, std::string_view what) const {
    if (IsUnset(node) || node->IsMap()) return {};
    return ParseError(doc_.Where(path_, *node), std::string(what) + " must be a map");
  }
  Status ListOfMaps(const std::optional<YAML::Node>& node, std::string_view what) const {
    if (IsUnset(node)) return {};
    if (!node->IsSequence()) return ParseError(doc_.Where(path_, *node), std::string(what) + " must be a list");
    for (const YAML::Node& item : *node) {
      if (!item.IsMap()) return ParseError(doc_.Where(path_, item), std::string(what) + " entries must be maps");
    }
    return {};
  }
  Status Scalars(const YAML::Node& map, std::initializer_list<std::string_view> keys, std::string_view what) const {
    for (std::string_view key : keys) {
      auto value = Child(map, key);
      if (!IsUnset(value) && !value->IsScalar()) {
        return ParseError(doc_.Where(path_, *value), std::string(what) + "." + std::string(key) + " must be a string");
      }
    }
    return {};
  }

  Status Annotations(const std::optional<YAML::Node>& metadata) const {
    if (IsUnset(metadata)) return {};
    auto annotations = Child(*metadata, "annotations");
    if (Status s = Map(annotations, "metadata.annotations"); !s || IsUnset(annotations)) return s;
    for (auto it = annotations->begin(); it != annotations->end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) return ParseError(doc_.Where(path_, key), "annotation keys must be strings");
      if (!value.IsScalar() || (value.Tag() == "?" && IsClearlyNonString(value.Scalar()))) {
        const YAML::Node& place = value.IsNull() ? key : value;
        return ParseError(doc_.Where(path_, place), "annotation " + key.Scalar() + " must be a string (quote it)");
      }
    }
    return {};
  }

  Status Containers(const YAML::Node& spec, std::string_view field) const {
    auto containers = Child(spec, field);
    const std::string what = "spec." + std::string(field);
    if (Status s = ListOfMaps(containers, what); !s || IsUnset(containers)) return s;
    for (const YAML::Node& container : *containers) {
      if (Status s = Scalars(container, {"name", "image"}, what); !s) return s;
      auto env = Child(container, "env");
      if (Status s = ListOfMaps(env, what + ".env"); !s) return s;
      if (!IsUnset(env)) {
        for (const YAML::Node& var : *env) {
          if (Status s = Scalars(var, {"name", "value"}, what + ".env"); !s) return s;
        }
      }
      auto mounts = Child(container, "volumeMounts");
      if (Status s = ListOfMaps(mounts, what + ".volumeMounts"); !s) return s;
      if (!IsUnset(mounts)) {
        for (const YAML::Node& mount : *mounts) {
          if (Status s = Scalars(mount, {"name", "mountPath"}, what + ".volumeMounts"); !s) return s;
        }
      }
      if (Status s = Map(Child(container, "resources"), what + ".resources"); !s) return s;
    }
    return {};
  }

  Status Pod(const std::optional<YAML::Node>& metadata, const YAML::Node& spec) const {
    if (Status s = Annotations(metadata); !s) return s;
    for (std::string_view field : {"initContainers", "containers", "ephemeralContainers"}) {
      if (Status s = Containers(spec, field); !s) return s;
    }
    auto volumes = Child(spec, "volumes");
    if (Status s = ListOfMaps(volumes, "spec.volumes"); !s || IsUnset(volumes)) return s;
    for (const YAML::Node& volume : *volumes) {
      if (Status s = Scalars(volume, {"name"}, "spec.volumes"); !s) return s;
    }
    return {};
  }

 private:
  const Document& doc_;
  const std::string& path_;
};

// The map holding the pod's metadata and spec, nullopt when the object has
// no pod template (it then runs no pods Contrast could patch).
Result<std::optional<YAML::Node>> PodHolder(const Object& object, WorkloadKind kind, const ShapeCheck& check) {
  if (kind == WorkloadKind::kPod) return std::optional<YAML::Node>(object.node);
  std::vector<std::string_view> path = {"spec", "template"};
  if (kind == WorkloadKind::kCronJob) path = {"spec", "jobTemplate", "spec", "template"};
  YAML::Node current = object.node;
  std::string what;
  for (std::string_view key : path) {
    auto next = Child(current, key);
    what += (what.empty() ? "" : ".") + std::string(key);
    if (IsUnset(next)) return std::optional<YAML::Node>();
    if (Status s = check.Map(next, what); !s) return Fail(s.error());
    current.reset(*next);
  }
  return std::optional<YAML::Node>(current);
}

}  // namespace

std::string Document::Where(const std::string& file, const YAML::Node& node) const {
  const int line = node.IsDefined() ? node.Mark().line : -1;
  return At(file, first_line + static_cast<size_t>(std::max(line, 0)));
}

Result<std::vector<std::filesystem::path>> FindInputFiles(const std::vector<std::filesystem::path>& inputs) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  std::set<std::string> seen;
  auto add = [&](const fs::path& path) {
    if (seen.insert(path.lexically_normal().generic_string()).second) files.push_back(path);
  };
  for (const fs::path& input : inputs) {
    std::error_code ec;
    const fs::file_status status = fs::status(input, ec);
    if (ec || !fs::exists(status)) return Fail(ErrorCode::kNotFound, input.string() + ": no such file or directory");
    if (!fs::is_directory(status)) {
      add(input);
      continue;
    }
    std::vector<fs::path> found;
    fs::recursive_directory_iterator it(input, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& path = it->path();
      const std::string ext = path.extension().string();
      std::error_code file_ec;  // a dangling symlink is skipped, not fatal
      if ((ext == ".yml" || ext == ".yaml") && it->is_regular_file(file_ec)) found.push_back(path);
    }
    if (ec) return Fail(ErrorCode::kIo, input.string() + ": " + ec.message());
    std::sort(found.begin(), found.end(),
              [](const fs::path& a, const fs::path& b) { return a.generic_string() < b.generic_string(); });
    for (const fs::path& path : found) add(path);
  }
  if (files.empty()) return Fail(ErrorCode::kNotFound, "no .yml/.yaml files found");
  return files;
}

Result<InputFile> ParseInputFile(std::string path, std::string_view text) {
  if (text.size() > kMaxInputFileSize) {
    return Fail(ErrorCode::kParse, path + ": larger than " + std::to_string(kMaxInputFileSize) + " bytes");
  }
  // yaml-cpp takes NUL bytes and 0xFE/0xFF (never in UTF-8) as signs of
  // UTF-16/32 and would read each document in a different encoding.
  if (size_t bad = text.find_first_of(std::string_view("\0\xFE\xFF", 3)); bad != std::string_view::npos) {
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    return ParseError(At(path, line), "not UTF-8 text");
  }
  InputFile file;
  file.path = std::move(path);
  size_t node_budget = kMaxNodesPerFile;
  for (const Chunk& chunk : SplitDocuments(text)) {
    Document doc;
    doc.text = std::string(text.substr(chunk.begin, chunk.end - chunk.begin));
    doc.first_line = chunk.first_line;
    auto parsed = ParseDocument(doc.text, file.path, doc.first_line, node_budget);
    if (!parsed) return Fail(parsed.error());
    doc.root = parsed->root;
    doc.has_aliases = parsed->has_aliases;
    if (!doc.root.IsNull() && !doc.root.IsMap()) {
      return ParseError(doc.Where(file.path, doc.root), "a document must be a map (a Kubernetes object)");
    }
    if (!doc.has_aliases) doc.original = YAML::Clone(doc.root);
    file.documents.push_back(std::move(doc));
    const size_t index = file.documents.size() - 1;
    if (file.documents[index].root.IsMap()) {
      if (Status s = AddObjects(file, index, file.documents[index].root); !s) return Fail(s.error());
    }
  }
  return file;
}

Result<std::vector<InputFile>> ReadInputs(const std::vector<std::filesystem::path>& inputs) {
  auto paths = FindInputFiles(inputs);
  if (!paths) return Fail(paths.error());
  std::vector<InputFile> files;
  for (const auto& path : *paths) {
    auto text = ReadTextFile(path, kMaxInputFileSize);
    if (!text) return Fail(text.error().Wrap(path.string()));
    auto file = ParseInputFile(path.string(), *text);
    if (!file) return Fail(file.error());
    files.push_back(std::move(*file));
  }
  return files;
}

Result<std::vector<PodTemplate>> FindWorkloads(const std::vector<InputFile>& files) {
  std::vector<PodTemplate> workloads;
  std::map<std::tuple<WorkloadKind, std::string, std::string>, std::string> seen;
  for (size_t fi = 0; fi < files.size(); ++fi) {
    const InputFile& file = files[fi];
    for (const Object& object : file.objects) {
      auto kind = ParseWorkloadKind(object.kind);
      if (!kind) continue;
      const Document& doc = file.documents[object.document_index];
      if (!object.name.empty()) {
        const std::string ns = object.ns.empty() ? "default" : object.ns;
        auto [it, inserted] = seen.emplace(std::make_tuple(*kind, ns, object.name), object.where);
        if (!inserted) {
          return Fail(ErrorCode::kInvalidArgument, "two workloads " + object.kind + " " + ns + "/" + object.name +
                                                       ": " + it->second + " and " + object.where);
        }
      }
      const ShapeCheck check(doc, file.path);
      auto holder = PodHolder(object, *kind, check);
      if (!holder) return Fail(holder.error());
      if (!*holder) continue;
      auto metadata = Child(**holder, "metadata");
      if (Status s = check.Map(metadata, "pod metadata"); !s) return Fail(s.error());
      auto spec = Child(**holder, "spec");
      if (IsUnset(spec)) continue;
      if (Status s = check.Map(spec, "pod spec"); !s) return Fail(s.error());
      PodTemplate pod;
      pod.kind = *kind;
      pod.api_version = object.api_version;
      pod.name = object.name;
      pod.generate_name = object.generate_name;
      pod.ns = object.ns;
      pod.metadata = metadata ? *metadata : YAML::Node();
      pod.spec = *spec;
      pod.file = file.path;
      pod.pod = **holder;
      pod.object = object.node;
      pod.line = object.line;
      pod.line_offset = doc.first_line - 1;
      pod.file_index = fi;
      pod.document_index = object.document_index;
      auto runtime_class = OptionalString(*spec, "runtimeClassName", doc, file.path);
      if (!runtime_class) return Fail(runtime_class.error());
      pod.runtime_class_name = *runtime_class;
      pod.confidential = IsConfidentialRuntimeClass(pod.runtime_class_name);
      if (pod.confidential) {
        if (doc.has_aliases) {
          return ParseError(object.where, "YAML aliases (*name) are not supported in confidential workloads");
        }
        if (Status s = check.Pod(metadata, *spec); !s) return Fail(s.error());
      }
      workloads.push_back(std::move(pod));
    }
  }
  return workloads;
}

Result<ConfigStore> CollectConfigs(const std::vector<InputFile>& files) {
  ConfigStore store;
  for (const InputFile& file : files) {
    for (const Object& object : file.objects) {
      const bool is_secret = object.kind == "Secret";
      if (object.kind != "ConfigMap" && !is_secret) continue;
      const Document& doc = file.documents[object.document_index];
      if (object.name.empty()) return ParseError(object.where, object.kind + " has no metadata.name");
      ConfigData config;
      config.where = object.where;
      auto read_map = [&](std::string_view field, bool base64) -> Status {
        auto data = Child(object.node, field);
        if (IsUnset(data)) return {};
        if (!data->IsMap()) return ParseError(doc.Where(file.path, *data), std::string(field) + " must be a map");
        for (auto it = data->begin(); it != data->end(); ++it) {
          const YAML::Node key = it->first;
          const YAML::Node value = it->second;
          if (!key.IsScalar())
            return ParseError(doc.Where(file.path, key), std::string(field) + " keys must be strings");
          std::string text;
          if (value.IsScalar()) {
            text = value.Scalar();
          } else if (!value.IsNull()) {
            return ParseError(doc.Where(file.path, value),
                              std::string(field) + "." + key.Scalar() + " must be a string");
          }
          if (base64) {
            // As Kubernetes decodes it: standard alphabet, line breaks ignored.
            std::erase_if(text, [](char c) { return c == '\n' || c == '\r'; });
            auto decoded = Base64Decode(text);
            if (!decoded) {
              return ParseError(doc.Where(file.path, value),
                                std::string(field) + "." + key.Scalar() + " is not valid base64");
            }
            text.assign(AsChars(*decoded));
          }
          config.data[key.Scalar()] = std::move(text);
        }
        return {};
      };
      if (is_secret) {
        if (Status s = read_map("data", true); !s) return Fail(s.error());
        if (Status s = read_map("stringData", false); !s) return Fail(s.error());
      } else {
        if (Status s = read_map("data", false); !s) return Fail(s.error());
      }
      Status added = is_secret ? store.AddSecret(object.ns, object.name, std::move(config))
                               : store.AddConfigMap(object.ns, object.name, std::move(config));
      if (!added) return Fail(added.error());
    }
  }
  return store;
}

bool DocumentChanged(const Document& document) {
  if (document.has_aliases) return false;
  return !Equal(document.root, document.original);
}

namespace {

// What a rewritten document keeps of its text: a byte order mark, directives,
// the `---` line and the comment lines before the content. `needs_marker`:
// the `---` line also held content, so a bare `---` line must follow.
std::string KeptPrefix(std::string_view text, bool& needs_marker) {
  needs_marker = false;
  size_t pos = 0;
  if (text.starts_with("\xEF\xBB\xBF")) pos = 3;
  bool marker_seen = false;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) break;
    std::string_view line = text.substr(pos, eol - pos);
    if (IsBlankOrComment(line) || (!marker_seen && line.starts_with("%"))) {
      pos = eol + 1;
      continue;
    }
    if (!marker_seen && IsMarkerLine(line, "---")) {
      marker_seen = true;
      if (IsBlankOrComment(LineContent(line).substr(3))) {
        pos = eol + 1;
        continue;
      }
      needs_marker = true;
    }
    break;
  }
  return std::string(text.substr(0, pos));
}

bool EndsWithDocumentEnd(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  const size_t start = text.rfind('\n');
  return IsMarkerLine(start == std::string_view::npos ? text : text.substr(start + 1), "...");
}

std::string WithLineEnding(std::string text, bool crlf) {
  if (!crlf) return text;
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

Result<std::string> RenderDocument(const Document& doc, const std::string& path) {
  auto body = EmitYaml(doc.root);
  if (!body) return Fail(body.error().Wrap(At(path, doc.first_line)));
  const size_t first_newline = doc.text.find('\n');
  const bool crlf = first_newline != std::string::npos && first_newline > 0 && doc.text[first_newline - 1] == '\r';
  bool needs_marker = false;
  std::string text = KeptPrefix(doc.text, needs_marker);
  if (needs_marker) text += crlf ? "---\r\n" : "---\n";
  text += WithLineEnding(*body, crlf);
  if (EndsWithDocumentEnd(doc.text)) text += crlf ? "...\r\n" : "...\n";
  return text;
}

}  // namespace

Result<RenderedFile> RenderFile(const InputFile& file) {
  RenderedFile rendered;
  for (const Document& doc : file.documents) {
    if (!DocumentChanged(doc)) {
      rendered.text += doc.text;
      continue;
    }
    auto text = RenderDocument(doc, file.path);
    if (!text) return Fail(text.error());
    rendered.text += *text;
    rendered.changed = true;
  }
  return rendered;
}

}  // namespace contrast::kube

// Reading yaml-cpp trees without surprises: yaml-cpp's const lookups return
// "invalid" nodes for missing keys, which throw on almost every use, and its
// non-const lookups insert the key. These helpers return an undefined node
// instead, and never change the tree.
#pragma once

#include <initializer_list>

#include <yaml-cpp/yaml.h>

namespace contrast::cli {

// A map's member, or an undefined node.
inline YAML::Node Child(const YAML::Node& node, const char* key) {
  if (!node.IsDefined() || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node child = node[key];
  return child.IsDefined() ? child : YAML::Node(YAML::NodeType::Undefined);
}

// The node at a path of map keys, or an undefined node.
inline YAML::Node ChildPath(YAML::Node node, std::initializer_list<const char*> keys) {
  // reset() rebinds the handle; operator= would write into the document.
  for (const char* key : keys) node.reset(Child(node, key));
  return node;
}

}  // namespace contrast::cli

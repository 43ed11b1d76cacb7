package q

import rego.v1

s := concat(",", [sprintf("%v", [i]) | some i in numbers.range(1, 50)])

every_ok if every v in [1, 2, 3] { v > 0 }

m := object.union({"a": {"b": 1}}, {"a": {"c": 2}})

w := [p | walk({"a": [1, {"b": 2}]}, [p, _])]

t := regex.find_all_string_submatch_n(`(a+)(b*)`, "aab ab a", -1)
---
x = data.q; y = json.marshal(x)

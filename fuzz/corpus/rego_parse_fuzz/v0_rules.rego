package fuzz.seed0

import future.keywords.in

CreateRequest {
    i := input.OCI
    count(i.Mounts) > 0
    m := i.Mounts[_]
    m.type in {"bind", "tmpfs"}
}

paths[p] { p := input.paths[_] }
kinds[k] = v { v := input.kinds[k] }
f(x) = y { y := x + 1 } else = 0 { true }
c = 5

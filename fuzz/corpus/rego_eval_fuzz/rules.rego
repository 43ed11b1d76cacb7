package p

default allow := false

allow if {
	some x in input.items
	startswith(x, "a")
	count([y | some y in input.items; y != x]) > 0
}

names contains n if some n, _ in {"a": 1, "b": 2}

obj[k] := v if some k, v in {"k": 1}

f(x) := x + 1 if x > 0
else := 0

r := {x: y | some x, y in [3, 4]}
---
data.p

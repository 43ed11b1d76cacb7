package fuzz.seed

import rego.v1
import data.lib.helpers as h

default allow := false

allow if {
	some name, value in input.labels
	startswith(name, "app.")
	value != ""
	not h.denied[name]
}

names contains n if some n in object.keys(input.labels)

limits[k] := v if {
	k := "cpu"
	v := to_number(input.cpu) * 2 - 1
}

pick(x) := "small" if x < 10
else := "large"

a.b.c := [x | x := input.xs[_]; x % 2 == 0]
s := {y | some y in input.ys} | {1, -2.5, `raw\s`}
o := r if {
	r := {k: v | some k, v in input.m} with input.m as {"a": "\u00e9\ud83d\ude00"}
}
e if every x in [1, 2] { x > 0 }

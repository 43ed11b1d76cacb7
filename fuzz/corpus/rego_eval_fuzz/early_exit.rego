package p

q := v if { some v in [1, 2] }

helper(x) if { q == x }

allow(x) if { x == 1 }

allow(x) if {
	print("second", x)
	helper(x)
}

allow(x) if {
	some y in ["a", "b", "a"]
	y == input.want
	print("third", y)
}

ok if { allow(input.x) }

ok if { allow(2) }
---
data.p.ok

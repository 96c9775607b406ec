package expr

import "math/bits"

// Division of int64 values by a constant without a hardware divide (which
// takes about 2 ns a value on the benchmark machine), with the
// multiply-and-shift of Hacker's Delight
// (Warren, 2nd ed., 10-4; what Go's compiler emits for constant
// divisors). The quotient truncates toward zero, like Go's /.

type divider struct {
	d     int64
	m     int64 // magic multiplier
	shift uint
	kind  int8 // 0: magic, 1: d == 1, -1: d == -1
}

// newDivider prepares division by d, which must not be 0.
func newDivider(d int64) divider {
	switch d {
	case 1:
		return divider{d: d, kind: 1}
	case -1:
		return divider{d: d, kind: -1}
	}
	const two63 = uint64(1) << 63
	ad := uint64(d)
	if d < 0 {
		ad = -ad
	}
	t := two63 + uint64(d)>>63
	anc := t - 1 - t%ad // |nc|
	p := 63
	q1, r1 := two63/anc, two63%anc // 2^p / |nc|
	q2, r2 := two63/ad, two63%ad   // 2^p / |d|
	for {
		p++
		q1, r1 = 2*q1, 2*r1
		if r1 >= anc {
			q1++
			r1 -= anc
		}
		q2, r2 = 2*q2, 2*r2
		if r2 >= ad {
			q2++
			r2 -= ad
		}
		delta := ad - r2
		if q1 > delta || q1 == delta && r1 != 0 {
			break
		}
	}
	m := int64(q2 + 1)
	if d < 0 {
		m = -m
	}
	return divider{d: d, m: m, shift: uint(p - 64)}
}

// divAll sets d[i] = a[i] / v.d; the loop is branch-free for the common
// cases.
func (v *divider) divAll(d, a []int64) {
	d = d[:len(a)]
	switch {
	case v.kind == 1:
		copy(d, a)
		return
	case v.kind == -1:
		for i, x := range a {
			d[i] = -x
		}
		return
	}
	// The quotient is (mulhs(m, x) [+x if d > 0 > m] [-x if d < 0 < m])
	// >> shift, plus 1 if negative; mulhs(m, x), the high word of the
	// signed product, is hi(m*x) - (x < 0 ? m : 0) - (m < 0 ? x : 0) in
	// unsigned words, and the ±x corrections fold into it.
	m, sh := v.m, v.shift
	um := uint64(m)
	switch {
	case v.d > 0 && m >= 0, v.d < 0 && m < 0: // q = mulhs(m, x)
		neg := uint64(0)
		if m < 0 {
			neg = ^uint64(0)
		}
		for i, x := range a {
			hi, _ := bits.Mul64(um, uint64(x))
			q := int64(hi-uint64(x>>63)&um-uint64(x)&neg) >> sh
			d[i] = q + int64(uint64(q)>>63)
		}
	case v.d > 0: // m < 0: q = mulhs(m, x) + x
		for i, x := range a {
			hi, _ := bits.Mul64(um, uint64(x))
			q := int64(hi-uint64(x>>63)&um) >> sh
			d[i] = q + int64(uint64(q)>>63)
		}
	default: // d < 0, m > 0: q = mulhs(m, x) - x
		for i, x := range a {
			hi, _ := bits.Mul64(um, uint64(x))
			q := int64(hi-uint64(x>>63)&um-uint64(x)) >> sh
			d[i] = q + int64(uint64(q)>>63)
		}
	}
}

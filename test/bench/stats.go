package main

import (
	"fmt"
	"slices"
	"time"
)

// summary is the median, extremes and size of a sample.
type summary struct {
	med, min, max float64
	n             int
}

// summarize returns the summary of xs; the median of an even-sized sample is
// the mean of the two middle values. An empty sample gives the zero summary.
func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	med := s[m]
	if len(s)%2 == 0 {
		med = (s[m-1] + s[m]) / 2
	}
	return summary{med: med, min: s[0], max: s[len(s)-1], n: len(s)}
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100 + 0.9999999)
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// ms converts durations to float milliseconds.
func ms(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// rotate returns the variants in the order for round r: each variant runs
// first, second, ... equally often, so no variant always follows the same one.
func rotate[T any](vs []T, r int) []T {
	if len(vs) == 0 {
		return nil
	}
	k := r % len(vs)
	return append(slices.Clone(vs[k:]), vs[:k]...)
}

// fmtMs formats milliseconds with a precision that suits the size.
func fmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

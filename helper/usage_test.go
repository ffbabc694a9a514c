package main

import (
	"slices"
	"testing"
)

// The warnings fire on the send that reaches 80 % and on the one that takes
// the last slot, once each however the day count moved under concurrent sends.
func TestQuotaCrossed(t *testing.T) {
	tests := []struct {
		daily, before, after int
		want                 []int // percents
	}{
		{100, 0, 1, nil},
		{100, 78, 79, nil},
		{100, 79, 80, []int{80}},
		{100, 80, 81, nil},
		{100, 77, 82, []int{80}}, // concurrent sends: whoever spans 80 warns
		{100, 98, 99, nil},
		{100, 99, 100, []int{100}},
		{100, 100, 101, nil}, // a racer refused after the last slot
		{100, 79, 100, []int{80, 100}},
		{10, 7, 8, []int{80}},
		{10, 9, 10, []int{100}},
		{7, 5, 6, []int{80}},  // 80 % of 7 is 5.6: the 6th send
		{4, 3, 4, []int{100}}, // 80 % of 4 rounds up to 4: one line
		{1, 0, 1, []int{100}},
	}
	for _, tt := range tests {
		var got []int
		for _, q := range crossed(tt.daily, tt.before, tt.after) {
			got = append(got, q.percent)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("daily %d, count %d -> %d: warnings %v, want %v", tt.daily, tt.before, tt.after, got, tt.want)
		}
	}
}

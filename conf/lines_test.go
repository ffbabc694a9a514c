package conf

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeyLines(t *testing.T) {
	data := []byte(`# comment
[policy]
groups = ["staff"]

[gateway]
url = "https://gw.example/send"
[gateway.fields]
id = "user"

[limits]
state_dir = "/var/lib/pam-sms"

[numbers]
alice = "+49 172 34567890"
"bob smith" = "+49 172 34567891"
`)
	want := map[string]int{
		"policy": 2, "policy.groups": 3,
		"gateway": 5, "gateway.url": 6, "gateway.fields": 7, "gateway.fields.id": 8,
		"limits": 10, "limits.state_dir": 11,
		"numbers": 13, "numbers.alice": 14, `numbers."bob smith"`: 15,
	}
	if diff := cmp.Diff(want, KeyLines(data)); diff != "" {
		t.Errorf("KeyLines (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"[policy\n", "a = [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]\n"} {
		if got := KeyLines([]byte(bad)); got != nil {
			t.Errorf("KeyLines(%q) = %v, want nil", bad, got)
		}
	}
}

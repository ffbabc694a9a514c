package conf

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const failoverBase = base + "timeout = \"5s\"\n"

// Each [[gateway.failover]] table is checked as [gateway] is, by the same
// code; every problem names the table's position, the key and its line.
func TestParseFailoverErrors(t *testing.T) {
	two := failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\n" +
		"[[gateway.failover]]\nurl = \"https://c.example/send\"\n"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"missing url", failoverBase + "[[gateway.failover]]\ntimeout = \"5s\"\n", []string{
			`4: gateway.failover[1].url: required key is missing (the gateway's send URL)`}},
		{"url in clear", failoverBase + "[[gateway.failover]]\nurl = \"http://b.example/send\"\n", []string{
			`5: gateway.failover[1].url: http is allowed only to a loopback address: the gateway credentials and the code would travel in clear (use https)`}},
		{"second table, same key as the first", two + "method = \"PUT\"\n", []string{
			`8: gateway.failover[2].method: must be "POST" or "GET", not "PUT"`}},
		{"first table's key, not the last's", failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\nsuccess = \"(\"\n" +
			"[[gateway.failover]]\nurl = \"https://c.example/send\"\nsuccess = \"^OK\"\n", []string{
			`6: gateway.failover[1].success: invalid regular expression: missing closing ): "("`}},
		{"sub-table of a failover", two + "[gateway.failover.fields]\nid = \"\"\n", []string{
			`9: gateway.failover[2].fields.id: must not be empty`}},
		{"sub-table of the first failover", failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\n" +
			"[gateway.failover.headers]\nHost = \"x\"\n[[gateway.failover]]\nurl = \"https://c.example/send\"\n", []string{
			`7: gateway.failover[1].headers.Host: is set by pam_sms itself and cannot be configured`}},
		{"nothing inherited", failoverBase + "auth = \"basic\"\nid = \"AC1\"\n[[gateway.failover]]\nurl = \"https://b.example/send\"\nauth = \"basic\"\n", []string{
			`8: gateway.failover[1].auth: "basic" needs id (the user name of the credentials)`}},
		{"password twice", failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\npassword = \"x\"\npassword_file = \"/etc/p\"\n", []string{
			`7: gateway.failover[1].password_file: password and password_file are both set; keep only one`}},
		{"relative password file", failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\npassword_file = \"p\"\n", []string{
			`6: gateway.failover[1].password_file: must be an absolute path, not "p"`}},
		{"failover of a failover", failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\n[[gateway.failover.failover]]\nurl = \"https://c.example/send\"\n", []string{
			`6: gateway.failover[1].failover: unknown key (it belongs in [gateway])`}},
		{"opt-in only in [gateway]", failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\nfailover_on_rate_limit = true\n", []string{
			`6: gateway.failover[1].failover_on_rate_limit: unknown key (it belongs in [gateway])`}},
		{"typo", failoverBase + "[[gateway.failover]]\nurl = \"https://b.example/send\"\ntimout = \"5s\"\n", []string{
			`6: gateway.failover[1].timout: unknown key (did you mean timeout?)`}},
		{"opt-in not a boolean", failoverBase + "failover_on_rate_limit = \"yes\"\n", []string{
			`4: gateway.failover_on_rate_limit: must be true or false, not a string`}},
		{"not tables", failoverBase + "failover = \"https://b.example/send\"\n", []string{
			`4: gateway.failover: must be tables written [[gateway.failover]], not a string`}},
		{"a table, not tables", failoverBase + "[gateway.failover]\nurl = \"https://b.example/send\"\n", []string{
			`4: gateway.failover: must be tables written [[gateway.failover]], not a table`}},
		{"too many", failoverBase + strings.Repeat("[[gateway.failover]]\nurl = \"https://b.example/send\"\ntimeout = \"1s\"\n", MaxFailovers+1), []string{
			`4: gateway.failover: 5 [[gateway.failover]] tables; at most 4 are allowed`}},
		{"timeouts add up past the bound", base + "timeout = \"40s\"\n[[gateway.failover]]\nurl = \"https://b.example/send\"\ntimeout = \"15s\"\n" +
			"[[gateway.failover]]\nurl = \"https://c.example/send\"\ntimeout = \"10s\"\n", []string{
			`9: gateway.failover[2].timeout: the timeouts of [gateway] and its failovers up to here add up to 1m5s; ` +
				`a whole send (every gateway tried) may take at most 1m: lower the timeouts`}},
		{"default timeouts add up too", base + "timeout = \"51s\"\n[[gateway.failover]]\nurl = \"https://b.example/send\"\n", []string{
			`4: gateway.failover[1].timeout: the timeouts of [gateway] and its failovers up to here add up to 1m1s; ` +
				`a whole send (every gateway tried) may take at most 1m: lower the timeouts`}},
		{"inline tables", failoverBase + "failover = [{url = \"https://b.example/send\", method = \"PUT\"}]\n", []string{
			`4: gateway.failover[1].method: must be "POST" or "GET", not "PUT"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := parseProblems(t, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFailoverValid(t *testing.T) {
	in := failoverBase + `failover_on_rate_limit = true
[gateway.fields]
number = "dest"

[[gateway.failover]]   # the backup contract
url = "https://b.example/api"
method = "GET"
timeout = "3s"
success = "^accepted"
[gateway.failover.extra]
route = "2"

[[gateway.failover]]
url = "https://gw.example/other"
`
	cfg, err := Parse("", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	gws := cfg.Gateways()
	if len(gws) != 3 || !cfg.Gateway.FailoverOnRateLimit {
		t.Fatalf("%d gateways, opt-in %v", len(gws), cfg.Gateway.FailoverOnRateLimit)
	}
	if gws[0].Failover != nil {
		t.Errorf("Gateways()[0] keeps the failover list")
	}
	b := gws[1]
	if b.URL != "https://b.example/api" || b.Method != "GET" || b.Timeout != 3*time.Second ||
		b.Success.String() != "^accepted" || b.Extra["route"] != "2" {
		t.Errorf("failover 1 = %+v", b)
	}
	// Nothing is inherited: the field names and the timeout are the defaults.
	if b.Fields.Number != "to" || gws[2].Timeout != 10*time.Second || gws[2].Success.String() != DefaultSuccess {
		t.Errorf("failover inherits from [gateway]: fields %+v, timeout %v", b.Fields, gws[2].Timeout)
	}
	if got := cfg.SendTimeout(); got != 18*time.Second {
		t.Errorf("SendTimeout = %v, want 18s", got)
	}
	names := []string{cfg.GatewayName(0), cfg.GatewayName(1), cfg.GatewayName(2)}
	if diff := cmp.Diff([]string{"gw.example", "b.example", "gw.example#2"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if GatewayKey(0) != "gateway" || GatewayKey(2) != "gateway.failover[2]" {
		t.Errorf("GatewayKey = %q, %q", GatewayKey(0), GatewayKey(2))
	}
	lines := KeyLines([]byte(in))
	for key, want := range map[string]int{"gateway.failover[1]": 8, "gateway.failover[1].timeout": 11,
		"gateway.failover[1].extra.route": 14, "gateway.failover[2].url": 17} {
		if lines[key] != want {
			t.Errorf("KeyLines[%s] = %d, want %d", key, lines[key], want)
		}
	}
}

// A failover's secrets follow password_file's rules: Load reads them with
// the same checks, and a problem names the failover's key.
func TestLoadFailoverFiles(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	good := writeFile(t, dir, "good", "s3cret-b\n", 0o640)
	open := writeFile(t, dir, "open", "w0rld-readable\n", 0o644)
	conf := func(body string) string {
		return writeFile(t, dir, "pam_sms.conf", failoverBase+body, 0o640)
	}
	cfg, err := Load(conf("[[gateway.failover]]\nurl = \"https://b.example/send\"\npassword_file = \"" + good + "\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pw := cfg.Gateways()[1].Password; pw != "s3cret-b" {
		t.Errorf("failover password %q", pw)
	}
	for _, tt := range []struct{ body, want string }{
		{"password_file = \"" + open + "\"\n", "gateway.failover[1].password_file: " + open + " is mode 0644"},
		{"proxy = \"http://u@127.0.0.1:3128\"\nproxy_password_file = \"" + open + "\"\n", "gateway.failover[1].proxy_password_file: " + open + " is mode 0644"},
		{"[gateway.failover.header_files]\nX-Key = \"" + open + "\"\n", "gateway.failover[1].header_files.X-Key: " + open + " is mode 0644"},
	} {
		_, err := Load(conf("[[gateway.failover]]\nurl = \"https://b.example/send\"\n" + tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load error %v, want one with %q", err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "w0rld-readable") {
			t.Errorf("error repeats a file's content: %v", err)
		}
	}
}

// GatewayName: the URL's host and port, never its path or query (which may
// hold a key); "#N" only when an earlier gateway has the same host.
func TestGatewayName(t *testing.T) {
	tests := []struct {
		urls []string
		want []string
	}{
		{[]string{"https://gw.example/send"}, []string{"gw.example"}},
		{[]string{"http://127.0.0.1:8080/x?key=s3cret"}, []string{"127.0.0.1:8080"}},
		{[]string{"https://a.example/1", "https://b.example/2"}, []string{"a.example", "b.example"}},
		{[]string{"https://a.example/1", "https://a.example/2", "https://a.example:8443/3", "https://a.example/4"},
			[]string{"a.example", "a.example#1", "a.example:8443", "a.example#3"}},
	}
	for _, tt := range tests {
		var cfg Config
		for i, u := range tt.urls {
			g := Gateway{}
			g.URL = u
			if i == 0 {
				cfg.Gateway = g
			} else {
				cfg.Gateway.Failover = append(cfg.Gateway.Failover, g)
			}
		}
		var got []string
		for i := range tt.urls {
			got = append(got, cfg.GatewayName(i))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.urls, diff)
		}
	}
	if got := (&Config{}).GatewayName(3); got != "" {
		t.Errorf("GatewayName out of range = %q", got)
	}
}

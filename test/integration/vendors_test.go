package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/internal/pamrun"
	"github.com/pam-sms/pam_sms/smsclient"
	"github.com/pam-sms/pam_sms/test/internal/fakegw"
	"github.com/pam-sms/pam_sms/test/internal/fakeproxy"
	"github.com/pam-sms/pam_sms/test/internal/testenv"
)

// The example configs under docs/gateways/ are used as shipped: only the
// secret files they name are replaced by test files, and a proxy (mapping
// the vendor's host name to a fake on 127.0.0.1) and the fake's CA are added.
// Each fake checks the request as the vendor documents it and answers with
// the vendor's documented reply shapes.

// vendorSMS is what a fake vendor accepted.
type vendorSMS struct {
	To, Text, From, ID string
}

type vendorFake struct {
	mu   sync.Mutex
	sent []vendorSMS
}

func (v *vendorFake) add(m vendorSMS) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sent = append(v.sent, m)
}

func (v *vendorFake) all() []vendorSMS {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]vendorSMS(nil), v.sent...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func mediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

const (
	twilioSID   = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" // as shipped in twilio.conf
	twilioToken = "tw1lio-auth-t0ken"
)

// twilioFake is Twilio's "Create a Message" (REST API 2010-04-01).
func twilioFake(v *vendorFake) http.Handler {
	path := regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9A-Za-z]{32})/Messages\.json$`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := path.FindStringSubmatch(r.URL.Path)
		if m == nil {
			writeJSON(w, 404, map[string]any{"code": 20404, "message": "The requested resource was not found", "status": 404})
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || user != m[1] || pass != twilioToken {
			writeJSON(w, 401, map[string]any{"code": 20003, "message": "Authenticate",
				"more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
			return
		}
		if r.Method != http.MethodPost || mediaType(r) != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
			writeJSON(w, 400, map[string]any{"code": 20001, "message": "Bad request", "status": 400})
			return
		}
		to, body, from := r.PostForm.Get("To"), r.PostForm.Get("Body"), r.PostForm.Get("From")
		switch {
		case !e164.MatchString(to):
			writeJSON(w, 400, map[string]any{"code": 21211, "message": "The 'To' number " + to + " is not a valid phone number.",
				"more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
			return
		case from == "":
			writeJSON(w, 400, map[string]any{"code": 21603, "message": "The 'From' phone number is required.", "status": 400})
			return
		case body == "":
			writeJSON(w, 400, map[string]any{"code": 21602, "message": "Message body is required.", "status": 400})
			return
		}
		sid := "SM" + randomHex(16)
		v.add(vendorSMS{To: to, Text: body, From: from, ID: sid})
		// Twilio's documented reply: 201 and the Message resource.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"sid": %q, "date_created": "Tue, 27 Nov 2018 16:14:39 +0000", "date_updated": "Tue, 27 Nov 2018 16:14:39 +0000", `+
			`"date_sent": null, "account_sid": %q, "to": %q, "from": %q, "messaging_service_sid": null, "body": %q, `+
			`"status": "queued", "num_segments": "1", "num_media": "0", "direction": "outbound-api", "api_version": "2010-04-01", `+
			`"price": null, "price_unit": "USD", "error_code": null, "error_message": null, `+
			`"uri": "/2010-04-01/Accounts/%s/Messages/%s.json", "subresource_uris": {"media": "/2010-04-01/Accounts/%s/Messages/%s/Media.json"}}`,
			sid, m[1], to, from, body, m[1], sid, m[1], sid)
	})
}

const (
	vonageKey    = "YOUR-API-KEY" // as shipped in vonage.conf
	vonageSecret = "v0nage-api-secret"
)

// vonageFake is the Vonage SMS API, POST /sms/json with a JSON body.
func vonageFake(v *vendorFake) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(status, text string) {
			writeJSON(w, 200, map[string]any{"message-count": "1",
				"messages": []map[string]string{{"status": status, "error-text": text}}})
		}
		if r.URL.Path != "/sms/json" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var p map[string]string
		if mediaType(r) != "application/json" || json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&p) != nil {
			fail("2", "Missing api_key")
			return
		}
		switch {
		case p["api_key"] == "" || p["api_secret"] == "" || p["from"] == "" || p["to"] == "" || p["text"] == "":
			fail("2", "Missing Parameters")
		case p["api_key"] != vonageKey || p["api_secret"] != vonageSecret:
			fail("4", "Bad Credentials")
		case !regexp.MustCompile(`^[1-9][0-9]{6,14}$`).MatchString(p["to"]):
			fail("3", "Invalid to address")
		default:
			id := strings.ToUpper(randomHex(8))
			v.add(vendorSMS{To: p["to"], Text: p["text"], From: p["from"], ID: id})
			writeJSON(w, 200, map[string]any{"message-count": "1", "messages": []map[string]string{{
				"to": p["to"], "message-id": id, "status": "0", "remaining-balance": "3.14159265",
				"message-price": "0.03330000", "network": "26201"}}})
		}
	})
}

const lox24Token = "1234567:e3f3a759b6677959b6ebfc0011223344"

// lox24Fake is LOX24's POST /sms with the token header and a JSON body.
func lox24Fake(v *vendorFake) http.Handler {
	sender := regexp.MustCompile(`^(\+?[1-9][0-9]{0,14}|[a-zA-Z0-9 ]{1,11})$`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/sms" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("X-LOX24-AUTH-TOKEN") != lox24Token {
			writeJSON(w, 401, map[string]any{"code": 401, "message": "Client ID or API key isn't active or invalid!"})
			return
		}
		var p map[string]any
		if mediaType(r) != "application/json" || json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&p) != nil {
			writeJSON(w, 400, map[string]any{"code": 400, "message": "Invalid input"})
			return
		}
		phone, _ := p["phone"].(string)
		text, _ := p["text"].(string)
		from, _ := p["sender_id"].(string)
		svc, _ := p["service_code"].(string)
		if !e164.MatchString(phone) || text == "" || !sender.MatchString(from) || (svc != "direct" && svc != "text2speech") {
			writeJSON(w, 400, map[string]any{"code": 400, "message": "Invalid input"})
			return
		}
		id := fmt.Sprintf("%s-%s-%s-%s-%s", randomHex(4), randomHex(2), randomHex(2), randomHex(2), randomHex(6))
		v.add(vendorSMS{To: phone, Text: text, From: from, ID: id})
		writeJSON(w, 201, map[string]any{"@context": "/contexts/Sms", "@id": "/sms/" + id, "@type": "Sms",
			"uuid": id, "phone": phone, "sender_id": from, "text": text, "status_code": 0, "service_code": svc,
			"is_unicode": false, "delivery_at": 0, "source": nil, "iso2": "DE", "callback_data": nil, "voice_lang": nil})
	})
}

// pitcomFake stands in for WebToXMS: the contract's form and "100 OK".
func pitcomFake(v *vendorFake) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/send" || r.Method != http.MethodPost || r.ParseForm() != nil {
			http.Error(w, "ERROR 400", 400)
			return
		}
		if r.PostForm.Get("id") != "YOUR-GATEWAY-ID" || r.PostForm.Get("pw") != "p1tcom-pw" {
			io.WriteString(w, "ERROR 900 authentication failed")
			return
		}
		if !regexp.MustCompile(`^00[1-9][0-9]{1,14}$`).MatchString(r.PostForm.Get("to")) || r.PostForm.Get("text") == "" {
			io.WriteString(w, "ERROR 202 recipient invalid")
			return
		}
		v.add(vendorSMS{To: r.PostForm.Get("to"), Text: r.PostForm.Get("text"), From: r.PostForm.Get("origin")})
		io.WriteString(w, "100 OK")
	})
}

type vendor struct {
	file    string            // under docs/gateways
	host    string            // the host name of its url
	secrets map[string]string // shipped secret file -> its content in the test
	fake    func(*vendorFake) http.Handler
	wantTo  string // the number as the vendor gets it
	wantID  bool   // the reply carries an id the config logs
	from    string
}

var vendors = []vendor{
	{"pitcom-webtoxms.conf", "gateway.example", map[string]string{"/etc/security/pam_sms.secret": "p1tcom-pw"},
		pitcomFake, numberWire, false, ""},
	{"twilio.conf", "api.twilio.com", map[string]string{"/etc/security/pam_sms.twilio-token": twilioToken},
		twilioFake, "+491705550001", true, "+15017122661"},
	{"vonage.conf", "rest.nexmo.com", map[string]string{"/etc/security/pam_sms.vonage-secret": vonageSecret},
		vonageFake, "491705550001", true, "AcmeLogin"},
	{"lox24.conf", "api.lox24.eu", map[string]string{"/etc/security/pam_sms.lox24-token": lox24Token},
		lox24Fake, "+491705550001", true, "AcmeLogin"},
}

// vendorSetup starts the fake behind a proxy that maps the vendor's host to
// it and returns the shipped config with the test's secret files, proxy and
// CA, and the rest of a test config after it.
func vendorSetup(t *testing.T, v vendor, wrongSecret bool) (*vendorFake, string) {
	t.Helper()
	fake := &vendorFake{}
	base, caFile := fakegw.NamedHandler(t, v.host, v.fake(fake))
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := fakeproxy.Start(t, map[string]string{v.host: net.JoinHostPort("127.0.0.1", u.Port())})
	shipped, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "gateways", v.file))
	if err != nil {
		t.Fatal(err)
	}
	text := string(shipped)
	dir := t.TempDir()
	for path, content := range v.secrets {
		if wrongSecret {
			content = "wrong-" + content
		}
		file := filepath.Join(dir, filepath.Base(path))
		if err := os.WriteFile(file, []byte(content+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, `"`+path+`"`) {
			t.Fatalf("%s does not name %s", v.file, path)
		}
		text = strings.ReplaceAll(text, `"`+path+`"`, `"`+file+`"`)
	}
	plumbing := fmt.Sprintf("[gateway]\nproxy = %q\nca_file = %q\n", proxy.URL, caFile)
	if strings.Count(text, "\n[gateway]\n") != 1 {
		t.Fatalf("%s: no [gateway] table", v.file)
	}
	text = strings.Replace(text, "\n[gateway]\n", "\n"+plumbing, 1)
	text += fmt.Sprintf("\n[code]\nmessage = %q\n\n[limits]\nstate_dir = %q\n\n[numbers]\nroot = %q\n",
		testenv.TestMessage, t.TempDir(), number)
	return fake, testenv.WriteConfig(t, dir, text)
}

// Each shipped example config, loaded as the helper loads it, sends through
// its vendor's fake: the vendor accepts the request, the reply counts as
// sent and its id is the logged message id; with a wrong secret the vendor's
// documented error reply does not count as sent.
func TestVendorConfigs(t *testing.T) {
	testenv.RequireRoot(t) // conf.Load accepts only root-owned files
	n, err := smsclient.ParseNumber(number)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vendors {
		t.Run(v.file, func(t *testing.T) {
			for _, wrong := range []bool{false, true} {
				fake, path := vendorSetup(t, v, wrong)
				cfg, err := conf.Load(path)
				if err != nil {
					t.Fatalf("the shipped config does not load: %v", err)
				}
				c, err := smsclient.New(cfg.Gateway.Config)
				if err != nil {
					t.Fatal(err)
				}
				res := c.Send(context.Background(), n, "TESTCODE 424242 host1")
				sent := fake.all()
				if wrong {
					if res.Class != smsclient.Failed || len(sent) != 0 {
						t.Errorf("wrong secret: class %v (status %d, reply %q), vendor accepted %d; want failed, 0",
							res.Class, res.Status, res.Body, len(sent))
					}
					continue
				}
				if res.Class != smsclient.Sent || len(sent) != 1 || res.Status/100 != 2 {
					t.Fatalf("class %v (status %d, reply %q, err %v), vendor accepted %d; want sent, 1",
						res.Class, res.Status, res.Body, res.Err, len(sent))
				}
				got := sent[0]
				if got.To != v.wantTo || got.Text != "TESTCODE 424242 host1" || got.From != v.from {
					t.Errorf("vendor got %+v, want to %s, from %q", got, v.wantTo, v.from)
				}
				if v.wantID && (res.MessageID == "" || res.MessageID != got.ID) {
					t.Errorf("message id %q, want the vendor's %q", res.MessageID, got.ID)
				}
			}
		})
	}
}

// A whole login with the shipped Twilio config: the helper sends through the
// proxy to the Twilio fake, the user types the code and gets in.
func TestVendorTwilioLogin(t *testing.T) {
	testenv.RequireRoot(t)
	build := testenv.BuildDir(t)
	fake, path := vendorSetup(t, vendors[1], false)
	dir := testenv.ServiceDir(t, "auth required "+testenv.ModuleLine(build, path)+"\n")
	res := pamrun.Run(t, pamrun.Tx{ConfDir: dir, Service: testenv.ServiceName, User: "root",
		Answer: func(n int, m pamrun.Msg) (string, error) {
			sent := fake.all()
			if n != 1 || len(sent) != 1 {
				return "", fmt.Errorf("prompt %d with %d SMS", n, len(sent))
			}
			code, ok := fakegw.ParseCode(sent[0].Text)
			if !ok {
				return "", fmt.Errorf("no code in %q", sent[0].Text)
			}
			return code, nil
		}})
	checkResult(t, res, nil)
	if sent := fake.all(); len(sent) != 1 || sent[0].To != "+491705550001" {
		t.Errorf("Twilio got %+v", sent)
	}
}

package main

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzReadRequest feeds arbitrary bytes from the module's end: readRequest
// and the answer to a prompt never panic, agree with modelExchange (the
// protocol written down independently), never yield a value with CR, LF or
// NUL, and what they accept reads back the same when sent again.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"user alice\nrhost 192.0.2.1\nservice sshd\ntty ssh\nsilent 0\nend \nresp 123456\n",
		"user alice\nrhost \nservice sudo\ntty /dev/pts/0\nsilent 1\nend \nresp 1\n",
		"user alice\nsilent 2\nend \n",
		"user alice\nsilent \nend \n",
		"user alice\nsilent 1\nsilent 1\nend \n",
		"silent 1\nuser alice\nend \nresp \n",
		"user alice\nend \nresp \n",
		"user a b  c\nservice \nend x\nresp  1 2\n",
		"rhost x\nend \n",
		"user alice\nuser root\nend \n",
		"user alice\r\nend \n",
		"user al\x00ice\nend \n",
		"user alice\nend\n",
		"user alice\nresult 0\n",
		"user alice\nend \nresult 0\n",
		"user " + strings.Repeat("a", maxLine-6) + "\nend \n",
		"user " + strings.Repeat("a", maxLine-5) + "\nend \n",
		"user \xff\xfe\nend \nresp \xc3\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, resp, err := exchange(t, data)
		want, wantResp, reqOK, respOK := modelExchange(data)
		if (err == nil) != (reqOK && respOK) {
			t.Fatalf("exchange error %v; the model accepts the request: %v, the answer: %v", err, reqOK, respOK)
		}
		if err != nil {
			return
		}
		if req != want || resp != wantResp {
			t.Fatalf("exchange = %+v, %q; the model reads %+v, %q", req, resp, want, wantResp)
		}
		for _, v := range []string{req.User, req.Rhost, req.Service, req.Tty, resp} {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("value %q with a line break or NUL", v)
			}
		}
		again, againResp, err := exchange(t, encodeExchange(req, resp))
		if err != nil || again != req || againResp != resp {
			t.Fatalf("sent again: %+v, %q, %v; want %+v, %q", again, againResp, err, req, resp)
		}
	})
}

// exchange runs readRequest and, if it succeeds, prompt on what the module
// sends as data, then closes its end of the stream.
func exchange(t *testing.T, data []byte) (request, string, error) {
	c, module := pipe(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		module.Write(data) // fails once the helper closes after an error
		module.(*net.UnixConn).CloseWrite()
		io.Copy(io.Discard, module) // the prompt line
	}()
	defer func() {
		c.c.Close()
		<-done
	}()
	req, err := c.readRequest()
	if err != nil {
		return req, "", err
	}
	resp, err := c.prompt("SMS code: ", time.Now().Add(10*time.Second))
	return req, resp, err
}

// modelExchange reads data as pam_sms.c writes it: lines "VERB SP VALUE LF"
// of at most maxLine bytes, LF included, with no NUL or CR; the items user
// (not empty), rhost, service and tty, and the flag silent ("0" or "1",
// absent means 0), each at most once, then "end" with any value; then, after
// the helper's prompt, "resp VALUE".
func modelExchange(data []byte) (req request, resp string, reqOK, respOK bool) {
	next := func() (verb, value string, ok bool) {
		i := bytes.IndexByte(data, '\n')
		if i < 0 || i+1 > maxLine || bytes.ContainsAny(data[:i], "\x00\r") {
			return "", "", false
		}
		line := string(data[:i])
		data = data[i+1:]
		sp := strings.IndexByte(line, ' ')
		if sp < 0 {
			return "", "", false
		}
		return line[:sp], line[sp+1:], true
	}
	items := map[string]*string{"user": &req.User, "rhost": &req.Rhost, "service": &req.Service, "tty": &req.Tty}
	seen := map[string]bool{}
	for {
		verb, value, ok := next()
		if !ok || seen[verb] {
			return req, "", false, false
		}
		seen[verb] = true
		if verb == "end" {
			break
		}
		if verb == "silent" {
			if value != "0" && value != "1" {
				return req, "", false, false
			}
			req.Silent = value == "1"
			continue
		}
		item, known := items[verb]
		if !known {
			return req, "", false, false
		}
		*item = value
	}
	if req.User == "" {
		return req, "", false, false
	}
	verb, resp, ok := next()
	return req, resp, true, ok && verb == "resp"
}

// encodeExchange writes req and resp as the module sends them.
func encodeExchange(req request, resp string) []byte {
	silent := "0"
	if req.Silent {
		silent = "1"
	}
	return []byte("user " + req.User + "\nrhost " + req.Rhost + "\nservice " + req.Service +
		"\ntty " + req.Tty + "\nsilent " + silent + "\nend \nresp " + resp + "\n")
}

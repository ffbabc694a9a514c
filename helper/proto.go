package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pam-sms/pam_sms/policy"
)

// maxLine bounds one protocol line, LF included; pam_sms.c uses the same value.
const maxLine = 1024

// PAM return codes (Linux-PAM's _pam_types.h). Only these may go back to the
// module; pam_sms.c refuses any other.
const (
	pamSuccess          = 0
	pamSystemErr        = 4
	pamAuthErr          = 7
	pamAuthinfoUnavail  = 9
	pamUserUnknown      = 10
	pamIgnore           = 25
	requestReadDeadline = 10 * time.Second
)

var errProtocol = errors.New("helper: protocol error")

// conn is the helper's end of the socketpair the module made (fd 0 and 1).
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func newConn(c net.Conn) *conn {
	return &conn{c: c, r: bufio.NewReaderSize(c, maxLine)}
}

func (c *conn) readLine(deadline time.Time) (verb, value string, err error) {
	if err := c.c.SetReadDeadline(deadline); err != nil {
		return "", "", fmt.Errorf("helper: setting read deadline: %w", err)
	}
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", "", fmt.Errorf("%w: line longer than %d bytes", errProtocol, maxLine)
	}
	if err != nil {
		return "", "", fmt.Errorf("helper: reading from module: %w", err)
	}
	s := string(line[:len(line)-1])
	if strings.ContainsAny(s, "\x00\r") {
		return "", "", fmt.Errorf("%w: control character in line", errProtocol)
	}
	verb, value, ok := strings.Cut(s, " ")
	if !ok {
		return "", "", fmt.Errorf("%w: no space after verb %q", errProtocol, verb)
	}
	return verb, value, nil
}

func (c *conn) writeLine(verb, value string) error {
	if strings.ContainsAny(value, "\x00\r\n") {
		return fmt.Errorf("%w: %s value with a control character", errProtocol, verb)
	}
	line := verb + " " + value + "\n"
	if len(line) > maxLine {
		return fmt.Errorf("%w: %s line longer than %d bytes", errProtocol, verb, maxLine)
	}
	if _, err := c.c.Write([]byte(line)); err != nil {
		return fmt.Errorf("helper: writing to module: %w", err)
	}
	return nil
}

// request is what the module sends first: the PAM items and whether the
// application passed PAM_SILENT.
type request struct {
	policy.Request
	// Silent: only prompts reach the user (sudo always passes PAM_SILENT),
	// so what the user must know goes into the prompt text.
	Silent bool
}

// readRequest reads the PAM items and the silent flag up to "end"; each may
// come once. pam_sms.c always sends "silent"; without it the helper assumes
// 0, which only means it also sends info and error lines the module shows
// or drops by the application's flags.
func (c *conn) readRequest() (request, error) {
	var req request
	deadline := time.Now().Add(requestReadDeadline)
	seen := map[string]bool{}
	for {
		verb, value, err := c.readLine(deadline)
		if err != nil {
			return req, err
		}
		if seen[verb] {
			return req, fmt.Errorf("%w: %q sent twice", errProtocol, verb)
		}
		seen[verb] = true
		switch verb {
		case "user":
			req.User = value
		case "rhost":
			req.Rhost = value
		case "service":
			req.Service = value
		case "tty":
			req.Tty = value
		case "silent":
			switch value {
			case "0", "1":
				req.Silent = value == "1"
			default:
				return req, fmt.Errorf("%w: silent must be 0 or 1, not %q", errProtocol, value)
			}
		case "end":
			if req.User == "" {
				return req, fmt.Errorf("%w: no user", errProtocol)
			}
			return req, nil
		default:
			return req, fmt.Errorf("%w: unknown verb %q", errProtocol, verb)
		}
	}
}

func (c *conn) info(text string) error  { return c.writeLine("info", text) }
func (c *conn) error(text string) error { return c.writeLine("error", text) }

// prompt asks the user (echo off) and waits until deadline for the answer.
func (c *conn) prompt(text string, deadline time.Time) (string, error) {
	if err := c.writeLine("prompt_echo_off", text); err != nil {
		return "", err
	}
	verb, value, err := c.readLine(deadline)
	if err != nil {
		return "", err
	}
	if verb != "resp" {
		return "", fmt.Errorf("%w: expected resp, got %q", errProtocol, verb)
	}
	return value, nil
}

func (c *conn) result(code int) error {
	return c.writeLine("result", fmt.Sprint(code))
}

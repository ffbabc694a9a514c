package main

import (
	"time"

	"github.com/pam-sms/pam_sms/conf"
	"github.com/pam-sms/pam_sms/limits"
	"github.com/pam-sms/pam_sms/smsclient"
	"github.com/pam-sms/pam_sms/usage"
)

// record appends one usage record (pam-sms stats) for a send attempt. The
// record is bookkeeping: the limits are the guard. A record that cannot be
// written is logged at warning and the login goes on as it would have.
func (s *session) record(cfg *conf.Config, outcome usage.Outcome, number smsclient.Number, gateway string, took time.Duration) {
	r := usage.Record{Time: time.Now(), Outcome: outcome, Gateway: gateway, Country: conf.CountryCode(number),
		Duration: took, User: s.account}
	if err := usage.Append(cfg.Limits.StateDir, r); err != nil {
		s.log.warn("usage record not written", s.who("error", err)...)
	}
}

// take is store.Take with the daily quota warnings: when daily is set, the
// send that takes the day's count to 80 % of it, and the one that takes the
// last slot, log a warning. The day file's append places each send at one
// position, so exactly one helper reaches each level, and nothing is read
// again for it.
func (s *session) take(cfg *conf.Config, store *limits.Store, keys limits.Keys) error {
	sent, err := store.TakeDay(cfg.Limits.Limits, keys, time.Now())
	if err != nil {
		return err
	}
	daily := cfg.Limits.Daily
	if daily <= 0 {
		return nil
	}
	for _, q := range crossed(daily, sent-1, sent) {
		s.log.warn(q.msg, s.who("daily", daily, "sent_today", sent, "percent", q.percent)...)
	}
	return nil
}

// crossed returns the quota levels of daily that a day count going from
// before to after reached.
func crossed(daily, before, after int) []quotaLevel {
	var out []quotaLevel
	for _, q := range quotaLevels(daily) {
		if before < q.count && q.count <= after {
			out = append(out, q)
		}
	}
	return out
}

type quotaLevel struct {
	count   int // the day count that reaches it
	percent int
	msg     string
}

// quotaLevels are the counts at which daily warns: 80 % (rounded up, at
// least 1) and 100 %. With a daily of 1 to 4 both are the same send, which
// logs the 100 % line alone.
func quotaLevels(daily int) []quotaLevel {
	eighty := (daily*8 + 9) / 10
	levels := []quotaLevel{{daily, 100, "daily SMS quota used up: further logins needing a code are refused until midnight UTC"}}
	if eighty < daily {
		levels = append([]quotaLevel{{eighty, 80, "daily SMS quota 80% used"}}, levels...)
	}
	return levels
}

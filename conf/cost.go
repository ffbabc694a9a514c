package conf

import (
	"math"
	"strconv"

	"github.com/pam-sms/pam_sms/smsclient"
)

// Cost is the [cost] section: what one SMS costs, by the country calling code
// of the number it went to, for pam-sms stats. It changes nothing at login.
//
//	[cost]
//	currency = "EUR"
//	default = 0.08   # every country not listed
//	"49" = 0.075     # +49
type Cost struct {
	Currency string
	Default  float64
	// HasDefault says default was given; without it, SMS to a country not
	// listed have no price and stats say how many.
	HasDefault bool
	ByCountry  map[string]float64 // country calling code digits -> price
}

// Configured reports whether any price is set.
func (c Cost) Configured() bool { return c.HasDefault || len(c.ByCountry) > 0 }

// Price returns the price of one SMS to country calling code cc, and whether
// there is one.
func (c Cost) Price(cc string) (float64, bool) {
	if p, ok := c.ByCountry[cc]; ok {
		return p, true
	}
	return c.Default, c.HasDefault
}

// maxPrice bounds a price: a typo of a few orders of magnitude is caught.
const maxPrice = 1000

// CountryCode returns the country calling code of n ("49" for +49 ...), or ""
// when its first digits are no assigned code.
func CountryCode(n smsclient.Number) string {
	if n.Digits() == "" {
		return ""
	}
	cc, ok := countryCode(n.Digits())
	if !ok {
		return ""
	}
	return cc
}

func (p *parser) cost(s section) Cost {
	var c Cost
	for _, n := range s.sorted() {
		switch {
		case n.name == "currency":
			v, ok := n.val.(string)
			if !ok || len(v) < 1 || len(v) > 8 || !isUpperAlpha(v) {
				p.add(n, "must be a currency code such as \"EUR\" (1 to 8 capital letters)")
				continue
			}
			c.Currency = v
		case n.name == "default":
			if v, ok := p.price(n); ok {
				c.Default, c.HasDefault = v, true
			}
		case isCallingCode(n.name):
			if cc, ok := countryCode(n.name); !ok || cc != n.name {
				p.add(n, "+%s is not an assigned country calling code (ITU-T E.164)", n.name)
				continue
			}
			if v, ok := p.price(n); ok {
				if c.ByCountry == nil {
					c.ByCountry = map[string]float64{}
				}
				c.ByCountry[n.name] = v
			}
		default:
			p.add(n, "unknown key (the keys are currency, default and country calling codes such as \"49\")")
		}
	}
	return c
}

// price reads a price: a number (integer or float) from 0 to maxPrice.
func (p *parser) price(n node) (float64, bool) {
	var v float64
	switch x := n.val.(type) {
	case int64:
		v = float64(x)
	case float64:
		v = x
	default:
		p.add(n, "must be a number, not %s", typeName(n.val))
		return 0, false
	}
	if math.IsNaN(v) || v < 0 || v > maxPrice {
		p.add(n, "must be a price from 0 to %d, not %s", maxPrice, strconv.FormatFloat(v, 'g', -1, 64))
		return 0, false
	}
	return v, true
}

func isCallingCode(s string) bool {
	if len(s) < 1 || len(s) > 3 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isUpperAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

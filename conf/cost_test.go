package conf

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCost(t *testing.T) {
	cfg, err := Parse("t.conf", []byte(base+"[cost]\ncurrency = \"EUR\"\ndefault = 0.08\n\"49\" = 0.075\n\"1\" = 1\n\"353\" = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Cost{Currency: "EUR", Default: 0.08, HasDefault: true,
		ByCountry: map[string]float64{"49": 0.075, "1": 1, "353": 0}}
	if diff := cmp.Diff(want, cfg.Cost); diff != "" {
		t.Errorf("cost (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		cc    string
		price float64
		ok    bool
	}{{"49", 0.075, true}, {"353", 0, true}, {"44", 0.08, true}} {
		if p, ok := cfg.Cost.Price(tt.cc); p != tt.price || ok != tt.ok {
			t.Errorf("Price(%s) = %v, %v; want %v, %v", tt.cc, p, ok, tt.price, tt.ok)
		}
	}
	cfg, err = Parse("t.conf", []byte(base+"[cost]\n\"49\" = 0.07\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Cost.Price("44"); ok || !cfg.Cost.Configured() {
		t.Errorf("without default: +44 has a price or cost not configured: %+v", cfg.Cost)
	}
	if cfg, _ := Parse("t.conf", []byte(base)); cfg.Cost.Configured() {
		t.Errorf("no [cost]: %+v is configured", cfg.Cost)
	}
}

// Each mistake is named at its line and key.
func TestParseCostErrors(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{`default = "0.08"`, `t.conf:4: cost.default: must be a number, not a string`},
		{`default = -1`, `t.conf:4: cost.default: must be a price from 0 to 1000, not -1`},
		{`default = 1e9`, `t.conf:4: cost.default: must be a price from 0 to 1000, not 1e+09`},
		{`default = nan`, `t.conf:4: cost.default: must be a price from 0 to 1000, not NaN`},
		{`"49" = true`, `t.conf:4: cost.49: must be a number, not a boolean`},
		{`"491" = 0.1`, `t.conf:4: cost.491: +491 is not an assigned country calling code (ITU-T E.164)`},
		{`"999" = 0.1`, `t.conf:4: cost.999: +999 is not an assigned country calling code (ITU-T E.164)`},
		{`"+49" = 0.1`, `t.conf:4: cost."+49": unknown key (the keys are currency, default and country calling codes such as "49")`},
		{`defualt = 0.1`, `t.conf:4: cost.defualt: unknown key`},
		{`currency = "eur"`, `t.conf:4: cost.currency: must be a currency code such as "EUR" (1 to 8 capital letters)`},
		{`currency = 978`, `t.conf:4: cost.currency: must be a currency code`},
	}
	for _, tt := range tests {
		_, err := Parse("t.conf", []byte(base+"[cost]\n"+tt.body+"\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.body, err, tt.want)
		}
	}
	if _, err := Parse("t.conf", []byte("cost = 1\n"+base)); err == nil || !strings.Contains(err.Error(), "t.conf:1: cost: must be a table") {
		t.Errorf("cost = 1: %v", err)
	}
}

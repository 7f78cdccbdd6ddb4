package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		0:  {in: "3600", want: time.Hour},
		1:  {in: "1", want: time.Second},
		2:  {in: "48h", want: 48 * time.Hour},
		3:  {in: "1h30m", want: 90 * time.Minute},
		4:  {in: "1.5h", want: 90 * time.Minute},
		5:  {in: "90s", want: 90 * time.Second},
		6:  {in: "7d", want: 7 * day},
		7:  {in: "2w", want: 14 * day},
		8:  {in: " 7d ", want: 7 * day},
		9:  {in: "36500d", want: 36500 * day},
		10: {in: "3153600000", want: core.MaxDuration},
		11: {in: "", wantErr: true},
		12: {in: "   ", wantErr: true},
		13: {in: "0", wantErr: true},
		14: {in: "-5", wantErr: true},
		15: {in: "0d", wantErr: true},
		16: {in: "-1d", wantErr: true},
		17: {in: "-1h", wantErr: true},
		18: {in: "0s", wantErr: true},
		19: {in: "abc", wantErr: true},
		20: {in: "1x", wantErr: true},
		21: {in: "d", wantErr: true},
		22: {in: "w", wantErr: true},
		23: {in: "36501d", wantErr: true},
		24: {in: "5300w", wantErr: true},
		25: {in: "3153600001", wantErr: true},
		26: {in: "99999999999999999999", wantErr: true},
		27: {in: "876001h", wantErr: true},
		28: {in: "9999999999h", wantErr: true},
		29: {in: "1.5d", wantErr: true},
		30: {in: "1d12h", wantErr: true},
	}
	for i, tc := range tests {
		got, err := core.ParseDuration(tc.in)
		if tc.wantErr {
			if !errors.Is(err, core.ErrInvalid) {
				t.Errorf("%d: ParseDuration(%q) = %v, %v; want ErrInvalid", i, tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%d: ParseDuration(%q) = %v, %v; want %v", i, tc.in, got, err, tc.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in      string
		want    core.Rate
		wantErr bool
	}{
		0:  {in: "10/m", want: core.Rate{N: 10, Period: time.Minute}},
		1:  {in: "100/1h", want: core.Rate{N: 100, Period: time.Hour}},
		2:  {in: "1000/day", want: core.Rate{N: 1000, Period: day}},
		3:  {in: "5/s", want: core.Rate{N: 5, Period: time.Second}},
		4:  {in: "5/Second", want: core.Rate{N: 5, Period: time.Second}},
		5:  {in: "3/MIN", want: core.Rate{N: 3, Period: time.Minute}},
		6:  {in: "2/week", want: core.Rate{N: 2, Period: 7 * day}},
		7:  {in: "7/w", want: core.Rate{N: 7, Period: 7 * day}},
		8:  {in: "1/30s", want: core.Rate{N: 1, Period: 30 * time.Second}},
		9:  {in: "60/3600", want: core.Rate{N: 60, Period: time.Hour}},
		10: {in: " 10/m ", want: core.Rate{N: 10, Period: time.Minute}},
		11: {in: "1000000000/d", want: core.Rate{N: 1_000_000_000, Period: day}},
		12: {in: "", wantErr: true},
		13: {in: "10", wantErr: true},
		14: {in: "/m", wantErr: true},
		15: {in: "10/", wantErr: true},
		16: {in: "0/m", wantErr: true},
		17: {in: "-1/m", wantErr: true},
		18: {in: "1.5/m", wantErr: true},
		19: {in: "10/xyz", wantErr: true},
		20: {in: "10/0s", wantErr: true},
		21: {in: "10/-1h", wantErr: true},
		22: {in: "10 / m", wantErr: true},
		23: {in: "1000000001/d", wantErr: true},
		24: {in: "10/m/m", wantErr: true},
	}
	for i, tc := range tests {
		got, err := core.ParseRate(tc.in)
		if tc.wantErr {
			if !errors.Is(err, core.ErrInvalid) {
				t.Errorf("%d: ParseRate(%q) = %v, %v; want ErrInvalid", i, tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%d: ParseRate(%q) = %+v, %v; want %+v", i, tc.in, got, err, tc.want)
		}
	}
}

// TestRateString checks that String writes what ParseRate reads back as the same rate.
func TestRateString(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		in   core.Rate
		want string
	}{
		0:  {core.Rate{}, ""},
		1:  {core.Rate{N: 10}, ""},
		2:  {core.Rate{Period: time.Minute}, ""},
		3:  {core.Rate{N: 10, Period: time.Minute}, "10/1m"},
		4:  {core.Rate{N: 10, Period: 10 * time.Minute}, "10/10m"},
		5:  {core.Rate{N: 1, Period: 30 * time.Second}, "1/30s"},
		6:  {core.Rate{N: 1, Period: 10 * time.Second}, "1/10s"},
		7:  {core.Rate{N: 2, Period: time.Hour}, "2/1h"},
		8:  {core.Rate{N: 2, Period: 90 * time.Minute}, "2/1h30m"},
		9:  {core.Rate{N: 2, Period: 70 * time.Second}, "2/1m10s"},
		10: {core.Rate{N: 2, Period: 10*time.Hour + 10*time.Second}, "2/10h0m10s"},
		11: {core.Rate{N: 1000, Period: day}, "1000/1d"},
		12: {core.Rate{N: 3, Period: 14 * day}, "3/2w"},
		13: {core.Rate{N: 3, Period: 50 * time.Hour}, "3/50h"},
		14: {core.Rate{N: 3, Period: 1500 * time.Millisecond}, "3/1.5s"},
	}
	for i, tc := range tests {
		got := tc.in.String()
		if got != tc.want {
			t.Errorf("%d: Rate{%d, %v}.String() = %q, want %q", i, tc.in.N, tc.in.Period, got, tc.want)
		}
		if got == "" {
			if !tc.in.IsZero() {
				t.Errorf("%d: Rate{%d, %v}.String() is empty but the rate is not unlimited", i, tc.in.N, tc.in.Period)
			}
			continue
		}
		back, err := core.ParseRate(got)
		if err != nil || back != tc.in {
			t.Errorf("%d: ParseRate(%q) = Rate{%d, %v}, %v; want Rate{%d, %v} back", i, got, back.N, back.Period, err, tc.in.N, tc.in.Period)
		}
	}
}

func TestSpanOf(t *testing.T) {
	const day = 24 * time.Hour
	for i, tc := range []struct {
		d    time.Duration
		want string
	}{
		0:  {7*day - 3*time.Second, "in 7 days"}, // a 7-day invite made seconds ago (issue 22)
		1:  {7 * day, "in 7 days"},
		2:  {6*day + 13*time.Hour, "in 7 days"},
		3:  {6*day + 11*time.Hour, "in 6 days"},
		4:  {2 * day, "in 2 days"},
		5:  {47*time.Hour + 59*time.Minute, "in 2 days"},
		6:  {35 * time.Hour, "in 35 hours"},
		7:  {2 * time.Hour, "in 2 hours"},
		8:  {89 * time.Minute, "in 89 minutes"},
		9:  {61 * time.Second, "in 1 minute"},
		10: {30 * time.Second, "in 1 minute"},
		11: {29 * time.Second, "in less than a minute"},
		12: {0, "in less than a minute"},
	} {
		if got := core.SpanOf(tc.d).String(); got != tc.want {
			t.Errorf("%d: SpanOf(%v) = %q, want %q", i, tc.d, got, tc.want)
		}
	}
}

package c2s

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`keys: no such key "Cb-5h_ZldBwp/TNJ4y2bsRd5e_RJq90BrchkO73mpViwTT2Hn"`: `keys: no such key "Cb-5h_ZldBwp/[redacted]"`,
		`keys: no such key "Cb-5h_ZldBwp"`:                                      `keys: no such key "Cb-5h_ZldBwp"`,
		`rate: "10/h" is not N/PERIOD`:                                          `rate: "10/h" is not N/PERIOD`,
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

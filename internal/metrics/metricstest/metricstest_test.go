package metricstest_test

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/xmpp-invites/invites/internal/metrics/metricstest"
)

func TestSum(t *testing.T) {
	const text = `# TYPE req counter
req{route="api",status="201"} 3
req{route="api",status="403"} 2
req{route="page",status="200"} 5
# TYPE lat histogram
lat_bucket{route="api",le="+Inf"} 4
lat_sum{route="api"} 0.5
lat_count{route="api"} 4
# TYPE up gauge
up 1
`
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		family string
		want   map[string]string
		sum    float64
	}{
		{"req", nil, 10},
		{"req", map[string]string{"route": "api"}, 5},
		{"req", map[string]string{"route": "api", "status": "403"}, 2},
		{"req", map[string]string{"route": "none"}, 0},
		{"lat", map[string]string{"route": "api"}, 4},
		{"up", nil, 1},
		{"missing", nil, 0},
	} {
		if got := metricstest.Sum(fams[tc.family], tc.want); got != tc.sum {
			t.Errorf("Sum(%s, %v) = %v, want %v", tc.family, tc.want, got, tc.sum)
		}
	}
}

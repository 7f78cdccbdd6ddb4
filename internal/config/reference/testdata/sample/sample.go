// Package sample is a config for the tests of package reference.
package sample

import "time"

// Defaults of Config.
const (
	// DefaultName is Config.Name's default.
	DefaultName = "n"
	// DefaultWait is Config.Wait's default.
	DefaultWait = 90 * time.Second
	maxCount    = 7
)

// Config is a root config.
type Config struct {
	// Name names it. Default [DefaultName].
	Name string `toml:"name" flag:"name"`
	// Count counts, at most [maxCount]. Default 3.
	Count int `toml:"count"`
	// Wait waits. Default [DefaultWait].
	Wait Duration `toml:"wait"`
	// Tags are tags. Default ["a", "b"].
	Tags []string `toml:"tags"`
	// Inner is an inline group of keys.
	Inner
	// Sub is a table.
	Sub Sub `toml:"sub"`
	// Items are repeatable.
	Items []Sub `toml:"item"`
	// Switch is a flag only.
	Switch bool `toml:"-" flag:"switch"`
}

// Inner is inlined.
type Inner struct {
	// On turns it on, unlike Off. Default false.
	On bool `toml:"on"`
}

// Sub is a table.
type Sub struct {
	// ID is required. Required.
	ID string `toml:"id"`
	// Note says something. Default: nothing at all. Then more.
	Note string `toml:"note"`
}

// Duration is a duration read from text.
type Duration time.Duration

// UnmarshalText reads it.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

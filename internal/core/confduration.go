package core

import "time"

// Duration is a time.Duration in a config file, written as ParseDuration reads it
// ("48h", "7d", or a number of seconds such as "3600" or 3600).
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler, in the shortest form that reads back.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(FormatDuration(time.Duration(d))), nil
}

// String writes the duration for people, such as "30 days".
func (d Duration) String() string { return HumanDuration(time.Duration(d)) }

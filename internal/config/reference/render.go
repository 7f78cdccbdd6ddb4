package reference

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/xmpp-invites/invites/internal/core"
)

// Markdown writes tables as sections of a Markdown document, each headed at level
// (such as "###"): the table's name and what it is for, then each key with its type,
// flag, default and text.
func Markdown(b *strings.Builder, level string, tables []Table) {
	for _, t := range tables {
		switch {
		case t.Name == "":
			fmt.Fprintf(b, "%s Top-level keys\n\n", level)
		case t.Array:
			fmt.Fprintf(b, "%s `[[%s]]`\n\n", level, t.Name)
		default:
			fmt.Fprintf(b, "%s `[%s]`\n\n", level, t.Name)
		}
		if t.Doc != "" {
			b.WriteString(t.Doc + "\n\n")
		}
		if t.Array {
			fmt.Fprintf(b, "Repeatable: each `[[%s]]` is one more.\n\n", t.Name)
		}
		for _, k := range t.Keys {
			if k.Name == "" {
				fmt.Fprintf(b, "- **`-%s`**: flag only, %s.\n\n  %s\n\n", k.Flag, k.Type, k.Doc)
				continue
			}
			fmt.Fprintf(b, "- **`%s`**", k.Name)
			if k.Flag != "" {
				fmt.Fprintf(b, " (flag `-%s`)", k.Flag)
			}
			fmt.Fprintf(b, ": %s, ", k.Type)
			switch k.Default.Kind {
			case DefaultRequired:
				b.WriteString("required.")
			case DefaultWords:
				fmt.Fprintf(b, "default %s.", k.Default.Text)
			default:
				fmt.Fprintf(b, "default `%s`", k.Default.Text)
				if k.duration {
					if d, err := durationOf(k.Default.value); err == nil {
						fmt.Fprintf(b, " (%s)", core.HumanDuration(d))
					}
				}
				b.WriteString(".")
			}
			b.WriteString("\n\n")
			for para := range strings.SplitSeq(k.Doc, "\n\n") {
				b.WriteString("  " + para + "\n\n")
			}
		}
	}
}

// Check compares the default each key's comment states as a value (DefaultConst,
// DefaultLiteral) with the value of the key in v, the root type Load read holding
// what the code fills in, so that a comment cannot state a default the code does not
// have. A key inside an array of tables is compared in the first table of v, and not
// at all when v has none.
func Check(tables []Table, v any) error {
	var errs []error
	for _, t := range tables {
		for _, k := range t.Keys {
			if k.Default.Kind != DefaultConst && k.Default.Kind != DefaultLiteral {
				continue
			}
			fv, ok := field(reflect.ValueOf(v), k.path)
			if !ok {
				continue
			}
			got, err := canonical(fv, k.duration)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (key %s): %w", k.Owner, k.Name, err))
				continue
			}
			want, err := literalValue(k.Default.value, k.duration)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s (key %s): the default %s: %w", k.Owner, k.Name, k.Default.value, err))
				continue
			}
			if got != want {
				errs = append(errs, fmt.Errorf("%s (key %s): the comment says the default is %s, the code fills %s", k.Owner, k.Name, want, got))
			}
		}
	}
	return errors.Join(errs...)
}

// field follows the Go field names of path from v, through the first element of a
// slice; ok is false past an empty slice.
func field(v reflect.Value, path []string) (reflect.Value, bool) {
	for _, name := range path {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Slice {
			if v.Kind() == reflect.Slice {
				if v.Len() == 0 {
					return reflect.Value{}, false
				}
				v = v.Index(0)
				continue
			}
			v = v.Elem()
		}
		v = v.FieldByName(name)
		if !v.IsValid() {
			return reflect.Value{}, false
		}
	}
	return v, true
}

// canonical writes a value as a TOML value in one form: durations as their shortest
// text, strings quoted, arrays as [a, b].
func canonical(v reflect.Value, duration bool) (string, error) {
	if v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if duration {
		return strconv.Quote(core.FormatDuration(time.Duration(v.Int()))), nil
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok && v.Kind() != reflect.String {
		b, err := m.MarshalText()
		return strconv.Quote(string(b)), err
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String()), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), nil
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			s, err := canonical(v.Index(i), false)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("a value of kind %s cannot be compared", v.Kind())
}

// literalValue reads a TOML value and writes it as canonical does.
func literalValue(lit string, duration bool) (string, error) {
	var m map[string]any
	if _, err := toml.Decode("v = "+lit, &m); err != nil {
		return "", err
	}
	if duration {
		d, err := durationOf(lit)
		if err != nil {
			return "", err
		}
		return strconv.Quote(core.FormatDuration(d)), nil
	}
	return canonical(reflect.ValueOf(m["v"]), false)
}

// durationOf reads a duration written as a TOML value: a quoted duration or a number
// of seconds.
func durationOf(lit string) (time.Duration, error) {
	if s, err := strconv.Unquote(lit); err == nil {
		lit = s
	}
	return core.ParseDuration(lit)
}

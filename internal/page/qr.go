package page

import (
	"fmt"
	"strconv"
	"strings"

	goqr "github.com/piglig/go-qr"
)

// qrQuiet is the quiet zone around a QR code, in modules (ISO/IEC 18004 asks for 4).
const qrQuiet = 4

// QR is a QR code ready for an inline SVG: the template writes
//
//	<svg viewBox="0 0 {{.Size}} {{.Size}}"><path d="{{.Path}}"/></svg>
type QR struct {
	// Size is the width and height of the code with its quiet zone, in modules.
	Size int
	// Path is the SVG path data of the dark modules, one unit a module.
	Path string
}

// newQR encodes text (the page's own URL) with medium error correction.
func newQR(text string) (QR, error) {
	code, err := goqr.EncodeText(text, goqr.Medium)
	if err != nil {
		return QR{}, fmt.Errorf("encoding QR code: %w", err)
	}
	n := code.Size()
	var b strings.Builder
	// One horizontal run of dark modules per subpath: a compact path that renders
	// without seams.
	for y := range n {
		for x := 0; x < n; {
			if !code.Module(x, y) {
				x++
				continue
			}
			start := x
			for x < n && code.Module(x, y) {
				x++
			}
			b.WriteByte('M')
			b.WriteString(strconv.Itoa(start + qrQuiet))
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(y + qrQuiet))
			b.WriteByte('h')
			b.WriteString(strconv.Itoa(x - start))
			b.WriteString("v1h-")
			b.WriteString(strconv.Itoa(x - start))
			b.WriteByte('z')
		}
	}
	return QR{Size: n + 2*qrQuiet, Path: b.String()}, nil
}

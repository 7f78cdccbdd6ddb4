package c2s

import (
	"encoding/xml"
	"log/slog"
	"regexp"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/stanza"
)

// nsStanzas is the namespace of stanza error conditions.
const nsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

// loggedCommands is the command handler of a session, logging at info every
// command step it refuses, with its reason, so an operator can see why a client
// failed: an IQ error (XEP-0050 §4.6) with its condition and text, and a response
// with an error note (a refused value, for which the form is shown again while the
// command executes, or a command that failed) with the note. Nothing a client
// submitted is logged.
type loggedCommands struct {
	cmds CommandHandler
	log  *slog.Logger
}

// HandleIQ implements mux.IQHandler.
func (l loggedCommands) HandleIQ(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var node, action string
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "node":
			node = a.Value
		case "action":
			action = a.Value
		}
	}
	w := &errorSniffer{Encoder: t}
	err := l.cmds.HandleIQ(iq, struct {
		xml.TokenReader
		xmlstream.Encoder
	}{t, w}, start)
	if action == "" {
		action = "execute"
	}
	switch {
	case w.isError:
		l.log.Info("ad-hoc command step refused", "node", truncate(node, 200), "action", truncate(action, 32),
			"condition", w.condition, "command-condition", w.command, "reason", redact(truncate(strings.TrimSpace(w.text.String()), 300)))
	case w.errorNote:
		l.log.Info("ad-hoc command step refused", "node", truncate(node, 200), "action", truncate(action, 32),
			"condition", "error-note", "status", w.status, "reason", redact(truncate(strings.TrimSpace(w.text.String()), 300)))
	}
	return err
}

// ForFeatures implements info.FeatureIter.
func (l loggedCommands) ForFeatures(node string, f func(info.Feature) error) error {
	return l.cmds.ForFeatures(node, f)
}

// ForIdentities implements info.IdentityIter.
func (l loggedCommands) ForIdentities(node string, f func(info.Identity) error) error {
	return l.cmds.ForIdentities(node, f)
}

// ForItems implements items.Iter.
func (l loggedCommands) ForItems(node string, f func(items.Item) error) error {
	return l.cmds.ForItems(node, f)
}

var _ CommandHandler = loggedCommands{}

// errorSniffer passes tokens on and notes the condition and text of an IQ error
// among them, or the first error note of a command response and its status.
type errorSniffer struct {
	xmlstream.Encoder
	depth     int
	isError   bool
	inText    bool
	condition string
	command   string
	errorNote bool   // a <note type='error'/> in a command response
	status    string // the response's status
	text      strings.Builder
}

// EncodeToken implements xmlstream.TokenWriter.
func (w *errorSniffer) EncodeToken(t xml.Token) error {
	switch tok := t.(type) {
	case xml.StartElement:
		w.depth++
		switch {
		case w.depth == 1 && tok.Name.Local == "iq":
			for _, a := range tok.Attr {
				if a.Name.Local == "type" && a.Value == string(stanza.ErrorIQ) {
					w.isError = true
				}
			}
		case w.isError && tok.Name.Space == nsStanzas && tok.Name.Local == "text":
			w.inText = true
		case w.isError && tok.Name.Space == nsStanzas && w.condition == "":
			w.condition = tok.Name.Local
		case w.isError && tok.Name.Space == commands.NS && w.depth == 3:
			w.command = tok.Name.Local
		case !w.isError && tok.Name.Space == commands.NS && tok.Name.Local == "command" && w.depth == 2:
			for _, a := range tok.Attr {
				if a.Name.Local == "status" {
					w.status = truncate(a.Value, 32)
				}
			}
		case !w.isError && !w.errorNote && tok.Name.Space == commands.NS && tok.Name.Local == "note" && w.depth == 3:
			for _, a := range tok.Attr {
				if a.Name.Local == "type" && a.Value == "error" {
					w.errorNote, w.inText = true, true
				}
			}
		}
	case xml.EndElement:
		w.depth--
		w.inText = false
	case xml.CharData:
		if w.inText && w.text.Len() < 1024 {
			w.text.Write(tok)
		}
	}
	return w.Encoder.EncodeToken(t)
}

// apiKey matches an API key (ID/SECRET, base64url) a reason may echo from a form,
// such as a key pasted into the wrong field.
var apiKey = regexp.MustCompile(`([A-Za-z0-9_-]{8,})/[A-Za-z0-9_-]{16,}`)

// redact hides the secret half of anything that looks like an API key.
func redact(s string) string { return apiKey.ReplaceAllString(s, "$1/[redacted]") }

// truncate cuts s to at most n bytes, for log lines.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

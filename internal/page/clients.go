package page

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// Platform names an operating system the client list is filtered by.
type Platform string

// The platforms the page tells apart by User-Agent.
const (
	PlatformAndroid Platform = "android"
	PlatformIOS     Platform = "ios"
	PlatformWindows Platform = "windows"
	PlatformMacOS   Platform = "macos"
	PlatformLinux   Platform = "linux"
)

// platforms lists the known platforms in the order the page shows them.
func platforms() []Platform {
	return []Platform{PlatformAndroid, PlatformIOS, PlatformWindows, PlatformMacOS, PlatformLinux}
}

// Client is one XMPP client the page suggests.
// The operator can replace the embedded list (see DefaultClients and ReadClients);
// the json and toml tags are the field names of such a file.
type Client struct {
	// Name is the client's name, such as "Conversations".
	Name string `json:"name" toml:"name"`
	// Website is the client's home page (https: or http:).
	Website string `json:"website,omitempty" toml:"website"`
	// Platforms lists where the client runs: "android", "ios", "windows", "macos",
	// "linux". At least one.
	Platforms []Platform `json:"platforms" toml:"platforms"`
	// TakesInvites says whether the client opens xmpp: invite links
	// (XEP-0401 preauth URIs); those that do not are sent to web registration.
	TakesInvites bool `json:"takes_invites" toml:"takes_invites"`
	// Links are where to get the client.
	Links []ClientLink `json:"links,omitempty" toml:"links"`
}

// ClientLink is one place to get a client, such as a store page.
type ClientLink struct {
	// Label is the link's text, such as "Google Play" or "F-Droid".
	Label string `json:"label" toml:"label"`
	// URL is the link (https: or http:). Each "{uri}" in it is replaced by the
	// invite's xmpp: URI, query-escaped: for install referrers such as
	// "https://play.google.com/store/apps/details?id=eu.siacs.conversations&referrer={uri}".
	URL string `json:"url" toml:"url"`
	// Platforms limits the link to some of the client's platforms; empty means all.
	Platforms []Platform `json:"platforms,omitempty" toml:"platforms"`
}

//go:embed clients.json
var defaultClientsJSON []byte // read-only

// DefaultClients returns the embedded client list: Conversations, Cheogram,
// Monocles Chat and yaxim (Android), Monal and Siskin IM (iOS), Monal (macOS), which
// take invite links; Gajim, Dino, Beagle IM and Profanity (desktop), which do not.
func DefaultClients() []Client {
	cs, err := ReadClients(bytes.NewReader(defaultClientsJSON))
	if err != nil {
		// The embedded list is checked by the tests: this is a build mistake.
		panic("page: embedded clients.json: " + err.Error())
	}
	return cs
}

// ReadClients reads a client list in JSON: an array of Client objects.
// Unknown fields, unknown platforms and links that are not http: or https: are errors.
func ReadClients(r io.Reader) ([]Client, error) {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	var cs []Client
	if err := dec.Decode(&cs); err != nil {
		return nil, fmt.Errorf("reading client list: %w", err)
	}
	if err := CheckClients(cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// CheckClients reports the first mistake in a client list: a missing name or platform,
// an unknown platform, or a link that is not http: or https:.
func CheckClients(cs []Client) error {
	for i, c := range cs {
		if strings.TrimSpace(c.Name) == "" {
			return fmt.Errorf("client %d: no name", i+1)
		}
		if len(c.Platforms) == 0 {
			return fmt.Errorf("client %q: no platforms", c.Name)
		}
		for _, p := range c.Platforms {
			if !slices.Contains(platforms(), p) {
				return fmt.Errorf("client %q: unknown platform %q (want android, ios, windows, macos or linux)", c.Name, p)
			}
		}
		if c.Website != "" && !webURL(c.Website) {
			return fmt.Errorf("client %q: website is not an http or https URL", c.Name)
		}
		for _, l := range c.Links {
			if strings.TrimSpace(l.Label) == "" {
				return fmt.Errorf("client %q: a link without label", c.Name)
			}
			if !webURL(strings.ReplaceAll(l.URL, "{uri}", "x")) {
				return fmt.Errorf("client %q: link %q is not an http or https URL", c.Name, l.Label)
			}
			for _, p := range l.Platforms {
				if !slices.Contains(c.Platforms, p) {
					return fmt.Errorf("client %q: link %q for platform %q the client does not list", c.Name, l.Label, p)
				}
			}
		}
	}
	return nil
}

// webURL reports whether s is an absolute http or https URL.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// errNoPlatform is detectPlatform's answer for a User-Agent it cannot place.
var errNoPlatform = errors.New("unknown platform")

// detectPlatform guesses the visitor's platform from the User-Agent header.
// iPadOS Safari says Macintosh and so counts as macOS, whose list holds Monal too.
func detectPlatform(ua string) (Platform, error) {
	switch {
	case strings.Contains(ua, "Android"):
		return PlatformAndroid, nil
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return PlatformIOS, nil
	case strings.Contains(ua, "Windows"):
		return PlatformWindows, nil
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return PlatformMacOS, nil
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"), strings.Contains(ua, "CrOS"):
		return PlatformLinux, nil
	}
	return "", errNoPlatform
}

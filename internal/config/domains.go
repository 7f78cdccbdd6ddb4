package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/xmpp-invites/invites/internal/core"
)

// DomainsFile is the file in the data directory where the plugin records the domains
// its XMPP server reported, so that the key command line accepts them as hosts.
const DomainsFile = "domains"

// KnownDomains reads the domains recorded in dataDir; none recorded is not an error.
func KnownDomains(dataDir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, DomainsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the domains the server reported: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if d, err := core.NormalizeDomain(line); err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// RecordDomains adds domains to those recorded in dataDir, replacing the file
// atomically (write to a temporary file, sync, rename).
func RecordDomains(dataDir string, domains []string) error {
	have, err := KnownDomains(dataDir)
	if err != nil {
		return err
	}
	all := slices.Clone(have)
	for _, d := range domains {
		n, err := core.NormalizeDomain(d)
		if err != nil {
			return err
		}
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	if len(all) == len(have) {
		return nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, DomainsFile+".*")
	if err != nil {
		return fmt.Errorf("recording the domains the server reported: %w", err)
	}
	defer os.Remove(tmp.Name())
	text := "# Domains reported by the XMPP server that loaded the plugin.\n" + strings.Join(all, "\n") + "\n"
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return fmt.Errorf("recording the domains the server reported: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("recording the domains the server reported: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("recording the domains the server reported: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dataDir, DomainsFile)); err != nil {
		return fmt.Errorf("recording the domains the server reported: %w", err)
	}
	return nil
}

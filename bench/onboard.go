package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The mass-onboarding run of issue 26: onboardAccounts accounts registered through the
// web page from one invite with as many uses, at onboardConcurrency; beside Prosody
// 0.12's mod_invites_register_web doing the same.
const (
	nameOnboard        = "mass onboarding: web registrations from one invite (xmppd)"
	nameOnboardProsody = "mass onboarding: web registrations from one invite (Prosody 0.12, mod_invites_register_web)"
	onboardAccounts    = 1000
	onboardConcurrency = 32
)

// csrfField finds the form token in the registration form.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// runOnboarding registers the accounts on a fresh xmppd with the page on, then one
// more, which must be refused; and the same on Prosody when it can run.
func (h *harness) runOnboarding(ctx context.Context, rep *report) (err error) {
	x, key, err := h.startServerWith(ctx, h.bins, "onboard", serverOptions{config: pageConfig})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stopServer(rep, x, "xmppd (onboard)")) }()
	token, id, err := createReusable(ctx, x.URL, key, onboardAccounts)
	if err != nil {
		return err
	}
	base := "http://" + x.HTTPAddr
	register := func(ctx context.Context, c *http.Client, i int) (int, error) {
		return registerOnPage(ctx, c, base, token, fmt.Sprintf("user%04d", i))
	}
	m := h.xmppdMeter(ctx, x)
	res := registerAll(ctx, onboardAccounts, onboardConcurrency, register)
	used := m.used()
	rw := row{Run: nameOnboard, Concurrency: onboardConcurrency, Expect: http.StatusOK, Result: res, order: orderOnboarding,
		HostCPU: used[0], PluginCPU: used[1], Note: "(rate counts accounts; each a GET of the form and its POST)"}
	rep.add(h.withRSS(ctx, rw, x))
	extra, _ := register(ctx, http.DefaultClient, onboardAccounts)
	uses := inviteUses(ctx, x.URL, key, id)
	fivexx := 0
	for code, n := range res.Statuses {
		if code >= 500 {
			fivexx += n
		}
	}
	rep.check(fmt.Sprintf("mass onboarding: %d web registrations from one invite of %d uses at concurrency %d make exactly %d accounts, no 5xx",
		onboardAccounts, onboardAccounts, onboardConcurrency, onboardAccounts),
		res.OK == onboardAccounts && uses == onboardAccounts && extra >= 400 && extra < 500 && fivexx == 0,
		fmt.Sprintf("%d success pages (%s); the invite's uses %d; one more registration answered %d; p99 %s; CPU per registration %s",
			res.OK, res.statusSummary(http.StatusOK), uses, extra, ms(res.Percentile(0.99)), cpuPer(rw)))

	if !h.wants(runDurability) && h.prosodyNote == "" {
		if _, perr := ensureProsody(ctx); perr != nil {
			rep.advise("Prosody 0.12 + mod_invites_register_web runs beside xmppd", false, perr.Error())
			return nil
		}
	}
	parent := h.opts.tmp // not h.dir: the prosody user must reach it
	if parent == "" {
		parent = os.TempDir()
	}
	pr, perr := startProsodyWith(ctx, parent, prosodyRegisterWeb)
	if perr != nil {
		rep.advise("Prosody 0.12 + mod_invites_register_web runs beside xmppd", false, perr.Error())
		return nil
	}
	defer func() { err = errors.Join(err, pr.Close(h.opts.keep)) }()
	ptoken, perr := pr.reusableInvite(ctx)
	if perr != nil {
		rep.advise("Prosody 0.12 makes a reusable invite", false, perr.Error())
		return nil
	}
	pbase := strings.TrimSuffix(pr.URL[:strings.Index(pr.URL, apiPath)], "/")
	pm := newCPUMeter(pr.PID())
	pres := registerAll(ctx, onboardAccounts, onboardConcurrency, func(ctx context.Context, c *http.Client, i int) (int, error) {
		return registerOnProsody(ctx, c, pbase, ptoken, fmt.Sprintf("user%04d", i))
	})
	prw := row{Run: nameOnboardProsody, Concurrency: onboardConcurrency, Expect: http.StatusOK, Result: pres, order: orderOnboarding,
		HostCPU: pm.used()[0], single: true, Note: "(a reusable invite: Prosody has no use count)"}
	prw.HostRSS, _ = peakRSS(pr.PID())
	rep.add(prw)
	rep.info("mass onboarding, xmppd vs Prosody 0.12", fmt.Sprintf("rate %.2f×, p99 %s vs %s, CPU per registration %s vs %s",
		ratio(res.Rate(), pres.Rate()), ms(res.Percentile(0.99)), ms(pres.Percentile(0.99)), cpuPer(rw), cpuPer(prw)))
	return nil
}

// createReusable creates an invite for uses accounts through the API and returns its
// token and ID.
func createReusable(ctx context.Context, apiURL, key string, uses int) (token, id string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL,
		strings.NewReader(url.Values{"max_uses": {fmt.Sprint(uses)}}.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("creating the invite: %w", err)
	}
	defer resp.Body.Close()
	var inv struct{ ID, Token string }
	if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil || resp.StatusCode != http.StatusCreated || inv.Token == "" {
		return "", "", fmt.Errorf("creating the invite: %s, %v", resp.Status, err)
	}
	return inv.Token, inv.ID, nil
}

// inviteUses reads the invite's use count through the API; -1 when it cannot.
func inviteUses(ctx context.Context, apiURL, key, id string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/invites/"+id, nil)
	if err != nil {
		return -1
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var inv struct{ Uses int }
	if json.NewDecoder(resp.Body).Decode(&inv) != nil || resp.StatusCode != http.StatusOK {
		return -1
	}
	return inv.Uses
}

// registerAll runs register for 0..n-1 at concurrency conc and gathers what the POSTs
// answered: the status of each, and the latency of the whole registration (form and
// POST).
func registerAll(ctx context.Context, n, conc int, register func(context.Context, *http.Client, int) (int, error)) loadResult {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	res := loadResult{Statuses: map[int]int{}, Start: time.Now()}
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for i := range next {
				t := time.Now()
				code, err := register(ctx, client, i)
				took := time.Since(t)
				mu.Lock()
				res.Sent++
				res.Latencies = append(res.Latencies, took)
				if err != nil {
					res.TransportErrors++
					if res.FirstError == nil {
						res.FirstError = err
					}
				} else {
					res.Statuses[code]++
					if code == http.StatusOK {
						res.OK++
					}
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	res.Elapsed = time.Since(res.Start)
	slices.Sort(res.Latencies)
	return res
}

// password returns a new random password.
func password() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// registerOnPage registers username on xmppd's page: GET the form, POST it.
func registerOnPage(ctx context.Context, c *http.Client, base, token, username string) (int, error) {
	form, code, err := get(ctx, c, base+"/register?t="+url.QueryEscape(token), "")
	if err != nil {
		return 0, err
	}
	m := csrfField.FindStringSubmatch(form)
	if m == nil {
		return code, nil
	}
	pw := password()
	return post(ctx, c, base+"/register", "", url.Values{"t": {token}, "username": {username}, "password": {pw},
		"password_confirm": {pw}, "csrf": {m[1]}})
}

// registerOnProsody registers username with Prosody's mod_invites_register_web: GET
// the form, POST it. Prosody routes by the Host header: benchDomain.
func registerOnProsody(ctx context.Context, c *http.Client, base, token, username string) (int, error) {
	if _, _, err := get(ctx, c, base+"/register?t="+url.QueryEscape(token), benchDomain); err != nil {
		return 0, err
	}
	return post(ctx, c, base+"/register", benchDomain, url.Values{"user": {username}, "password": {password()}, "token": {token}})
}

// get returns the body and status of a GET, with host as its Host header when set.
func get(ctx context.Context, c *http.Client, u, host string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), resp.StatusCode, err
}

// post sends a form, with host as its Host header when set, and returns the status.
func post(ctx context.Context, c *http.Client, u, host string, form url.Values) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

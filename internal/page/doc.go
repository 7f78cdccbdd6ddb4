// Package page is the invite landing page and web registration: an [http.Handler] that
// turns an invite token into a page any person can use, with any XMPP client.
//
// It serves the shape of Prosody's mod_invites_page and mod_invites_register_web:
// GET and HEAD /invite?TOKEN answer the landing page of an invite (XEP-0401 easy
// onboarding, XEP-0379 pre-authenticated roster subscription), and /register?t=TOKEN
// the web registration form for clients that cannot redeem invite links (XEP-0445
// pre-authenticated in-band registration, done by the host).
// It knows no store and no account database: it reads invites through the [Invites]
// interface and creates accounts through the [Registrar] interface, which the host
// contract's HostAPI.Register implements.
// It needs no JavaScript; its Content-Security-Policy allows none.
//
// # The invite page
//
// For a usable invite, GET and HEAD /invite?TOKEN answer 200 with
//
//	Link: <xmpp:…?register;preauth=TOKEN>; rel="alternate"   (the first Link)
//	Access-Control-Allow-Origin: *
//	Access-Control-Expose-Headers: Link
//
// since Conversations-family clients send HEAD to a scanned https: URL and take the
// first <…> of Link, and web clients read it across origins.
// The page has <link rel="alternate" href="xmpp:…"> in its head, the invite's host,
// inviter (contact invites) and expiry, the clients for the visitor's platform (by
// User-Agent, with links to the other platforms' lists) marking which take invite
// links, store links carrying the URI as install referrer where the client list says
// so, an "open in app" button (the xmpp: URI), a link to web registration and an
// inline SVG QR code of the page's own URL.
// Its main action sits in the first card, within the first screen of a phone
// ([Data.Primary]): "open in app", or web registration where none of the platform's
// clients takes invite links, or the new-password form of a reset invite.
// A contact invite that cannot register an account (an ordinary user's) says to add
// the inviter by hand from an existing account, and offers no web registration.
// More parameters may follow the token: /invite?TOKEN&platform=ios&lang=de.
// An unknown, used, revoked or expired token answers 404 with a short page and no
// Link.
//
// # Web registration
//
// GET /register?t=TOKEN shows a form: username (unless the invite fixes it), password
// twice, and a form token. POST /register with the form fields t, username, password,
// password_confirm and csrf (application/x-www-form-urlencoded) calls
// Registrar.Register and answers a page naming the new JID and how to sign in.
// A refused form is shown again with the reason: 400 (a bad name or password, a
// malformed form), 403 (a form token that is wrong, expired or not for this invite,
// or a cross-site POST), 409 (the name is taken), 404 (a dead token), 413 (too
// large), 415 (not a form), 503 (the host is unavailable).
// A reset invite shows a "choose a new password" form for its account and calls the
// same Register, which for a reset invite sets the password.
//
// An invite whose accounts wait for an administrator's approval (Invite.Approval) says
// so on its page and its form, and the form takes an optional note for the
// administrators (field note, at most 280 characters, checked as an invite's note, its
// lines joined); the success page says the account awaits approval (Account.Pending).
// An invite whose inviter is no longer in good standing (ErrInviterInactive) is
// answered 403 on every path, with a page saying "The person who invited you can no
// longer invite people here"; it counts as no failed attempt.
//
// New passwords follow Options.Password (package password, the [password] table):
// every rule a password breaks is listed, worded from the catalog
// ([Translator.PasswordRefusals]); a [Catalog] gives the same words by language tag
// to other edges, such as in-band registration.
//
// The same form sent again (a double click on a slow connection, a reload of the
// POST) does not end on "this invitation is not valid": the outcome of each form as
// sent (its fields under a keyed hash, never the fields) is remembered for the form
// token's lifetime, at most 10,000 forms, and a second sending waits for the first and
// answers its success page. Register is called once per such form, and is not
// cancelled when the browser gives up on a slow answer. On several nodes behind a load
// balancer, only a sending that reaches the same node gets this.
//
// The form token is HMAC-SHA256 over the invite token and the time the form was shown,
// under a key of the process (or Options.CSRFKey): stateless, cookie-free, bound to
// one invite, valid for Options.FormTTL. A POST that a browser marks cross-site
// (Sec-Fetch-Site, or an Origin of another host) is refused as well.
//
// Every failed attempt (a malformed or dead token, a refused form) takes one from its
// client address's budget (Options.FailedAttempts per Options.FailedPeriod, IPv6
// counted by /64); an address whose budget is spent gets 429 with Retry-After on both
// paths. The limiter remembers at most Options.MaxClients addresses.
//
// # Every answer
//
//	Cache-Control: no-store
//	Referrer-Policy: no-referrer
//	X-Content-Type-Options: nosniff
//	X-Frame-Options: DENY
//	Content-Security-Policy: default-src 'none'; style-src 'nonce-…'; img-src 'self' [logo origin] data:;
//	  form-action 'self'; base-uri 'none'; frame-ancestors 'none'
//
// The icon is the operator's logo, else a built-in data: image (hence data: in
// img-src, which lets no script run), so that browsers ask for no /favicon.ico.
//
// # Compression
//
// Pages are gzipped for clients whose Accept-Encoding takes gzip (Vary says so),
// except the registration form, first shown or shown again: it carries the form token
// and echoes what was typed, the two ingredients of BREACH. The other pages carry no
// secret the request did not already bring (the invite page's token is in its own
// URL), so compressing them reveals nothing; no random padding is added. Nor is the
// 429 page compressed: who gets it is mostly a flood, and gzip would double what
// each of its requests costs (from 138 to 270 µs, BenchmarkLimitedPage).
//
// No token and no password ever reaches the log: requests are logged by path only,
// and errors of Invites and Registrar have them cut out before they are logged.
//
// # Languages
//
// Pages are in the language of the lang parameter when offered, else the best match of
// Accept-Language among Options.Languages (golang.org/x/text/language), else the
// first of them; a regional tag gets its language either way (de-CH gets de).
// Every visible string comes from the catalog, plurals included ({{.T.Plural "key" n}}
// picks key.one or key.other), and so do the labels of client links that are words
// rather than names (link.download, link.website). English, German and French are embedded (lang/en.json, lang/de.json,
// lang/fr.json: flat objects of message keys); a key a language lacks falls back to
// English.
//
// # Templates
//
// Options.Templates (an fs.FS, such as os.DirFS of a directory) overrides any of the
// embedded files by name; each page is parsed with layout.html (html/template):
//
//	layout.html    defines "layout", the whole document; calls "title" and "main"
//	invite.html    defines "title" and "main" of the invite page
//	register.html  defines "title" and "main" of the registration form
//	success.html   defines "title" and "main" after a registration
//	error.html     defines "title" and "main" of every error page (404, 429, …)
//	decline.html   defines "title" and "main" of the "this is not for me" page of a
//	               mailed invite (the form, then the invite withdrawn)
//	style.css      the style sheet, inlined as <style nonce="{{.Nonce}}">{{.CSS}}</style>
//	lang/TAG.json  messages of language TAG, merged key by key over the embedded ones
//
// Every template gets a [Data]; its doc comments say which fields each page sets.
// Texts come from {{.T.Get "key" args…}}. Inline scripts, style attributes and
// resources from other origins are blocked by the policy above: style with the
// nonce, and keep the form's field names.
package page

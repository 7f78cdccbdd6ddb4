// Package password is the password policy of every registration path: the web
// registration of package page, and in-band registration (XEP-0077) when the host asks
// the plugin.
//
// A [Policy] checks a new password against its [Config] and returns an [*Error] per
// rule broken, each naming its [Rule] and its parameters, so that each edge words it in
// the visitor's language (the page from its message catalog) without reading error
// text.
//
// # Rules
//
// A password is refused when it is
//
//   - only white space (always);
//   - shorter than min_length characters (default 8), or longer than [MaxLength];
//   - made of fewer than min_distinct different characters (default 5): "aaaaaaaa",
//     "12121212";
//   - the username, or contains it, or is contained in it, compared case-insensitively
//     (Unicode case folding); a username shorter than 3 characters is only compared
//     whole (unless allow_username);
//   - one of the 10,000 most common passwords, compared case-insensitively: "12345678",
//     "password", "iloveyou" (unless allow_common).
//
// # The list of common passwords
//
// common.txt.gz is the 10,000 most frequent passwords of Mark Burnett's 10 million
// passwords (released by xato.net in 2015), as ranked in zxcvbn's data/passwords.txt,
// taken from github.com/trustelem/zxcvbn v1.0.1 (MIT licence, reproduced in
// LICENSE-common.txt): the first 10,000 lines, first column, sorted, gzip -9n.
// It is decompressed by [New] when the rule is on (about 30 KiB compressed, 80 KiB in
// memory) and searched by binary search.
package password

// Package username prepares XMPP account names: RFC 8265 PRECIS (the
// UsernameCaseMapped profile, which RFC 7622 gives localparts) and Unicode TS #39
// skeletons, by which names that look alike are told apart from names that differ.
//
// # Normalization
//
// [Normalize] maps a name as a person typed it ("ALİCE", "Ｊｕｌｉｅｔ") to the
// one form an account has ("ali̇ce", "juliet"): full-width characters to their
// ordinary width, upper case to lower case, Unicode NFC; it refuses what a
// localpart may not hold (spaces, symbols PRECIS disallows, the characters
// " & ' / : < > @ of RFC 7622 §3.3.1, more than 1023 bytes).
// Every place that registers a name normalizes it with this function: in-band
// registration, web registration, the command line, and the fixed username of an
// invite.
//
// # Skeletons
//
// Two different names can look the same: "аdmin" with a Cyrillic а, "admın" with
// a dotless ı, "ᴀdmin" with a small capital, "ali̇ce" (from "ALİCE", an i with a
// combining dot above) next to "alice". [Skeleton] maps a normalized name to its
// skeleton (TS #39 §4, with the confusables table of
// github.com/mtibben/confusables), then maps what that table leaves alone and a
// reader would not tell apart (small capitals, the combining dot above an i or j,
// the dotless ȷ) and folds the case of the result (the table maps "0" to "O"),
// until nothing changes. Names with one skeleton are confusable; a server refuses
// a new name whose skeleton is that of an existing or a reserved name, saying which
// (see [Set]).
//
// The skeleton is stricter than "the same letters": "rn" and "m" have one
// skeleton, and so have "l" and "1". It is meant for refusing new names, never for
// finding an account.
package username

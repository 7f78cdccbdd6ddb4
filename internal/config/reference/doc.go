// Package reference reads a configuration's documentation from the code that defines
// it, for docs/configuration.md: starting at a root struct type, its TOML tables and
// keys (toml tags, embedded structs inline), their command-line flags (flag tags),
// types, and field comments, in whichever packages the types are declared.
//
// A field comment states the key's default in a sentence starting "Default": as a doc
// link to a constant ("Default [DefaultInviteTTL]", whose value is read from the
// code), as a value ("Default false"), or in words ("Default: the invite's host");
// or it says "Required.". A comment that does neither is an error, and [Check] holds
// every default stated as a constant or a value to what the code fills in, so that a
// comment cannot drift from the code. Doc links to constants anywhere in a comment
// (bounds such as "at most [maxNameLen]") are written as the constants' values.
package reference

package reference

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/types"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/tools/go/packages"

	"github.com/xmpp-invites/invites/internal/core"
)

// Table is one TOML table of a configuration: its keys in the order of the code.
type Table struct {
	// Name is the table's name ("user_quota"); empty for the top-level keys.
	Name string
	// Array is set for an array of tables ([[host]]), which may be given several times.
	Array bool
	// Doc is what the field holding the table says of it, resolved as Key.Doc.
	Doc string
	// Keys are the table's keys.
	Keys []Key
}

// Key is one setting.
type Key struct {
	// Name is the TOML key, from the field's toml tag.
	Name string
	// Flag is the command-line flag that sets it, from the field's flag tag ("" for none).
	Flag string
	// Type says what the key takes, in words: "string", "integer", "boolean",
	// "duration", "array of strings".
	Type string
	// Default is the key's default as the field comment states it.
	Default Default
	// Doc is the field comment as prose: the Go field names of its struct written as
	// their keys, and each doc link to a constant written as the constant's value.
	Doc string
	// Owner names the type that declares the field, such as "core.Policy".
	Owner string
	// path is the Go field names from the root type to the field, embedded ones
	// included, for Check.
	path []string
	// duration is set for a key whose Go type is a Duration.
	duration bool
}

// DefaultKind says where a Default comes from.
type DefaultKind int

// The kinds of Default.
const (
	// DefaultWords is a default the comment describes in words ("Default: the
	// invite's host", "Default none: …"); it is not a value the code fills.
	DefaultWords DefaultKind = iota
	// DefaultConst is a default the comment names as a doc link to a constant
	// ("Default [DefaultInviteTTL]"): its value is read from the code.
	DefaultConst
	// DefaultLiteral is a default the comment writes as a value ("Default false").
	DefaultLiteral
	// DefaultRequired marks a key without a default: the comment says "Required.".
	DefaultRequired
)

// Default is a key's default.
type Default struct {
	// Kind says where it comes from.
	Kind DefaultKind
	// Text is the default for people: a TOML value such as `"30d"` for DefaultConst
	// and DefaultLiteral, the comment's words for DefaultWords.
	Text string
	// value is the TOML value of DefaultConst and DefaultLiteral, for Check.
	value string
}

// Load reads the configuration whose root is the struct type typeName of the package
// pkgPath, from the source of dir's module: its tables and keys, from the toml and
// flag tags and the field comments of the types it is made of, wherever they are
// declared. A field without a toml tag, or whose comment states no default, is an
// error naming it.
func Load(ctx context.Context, dir, pkgPath, typeName string) ([]Table, error) {
	l := &loader{ctx: ctx, dir: dir, pkgs: map[string]*packages.Package{}}
	root := &Table{}
	tables := []*Table{root}
	if err := l.walk(&tables, root, pkgPath, typeName, nil); err != nil {
		return nil, err
	}
	out := make([]Table, 0, len(tables))
	for _, t := range tables {
		if len(t.Keys) > 0 {
			out = append(out, *t)
		}
	}
	return out, nil
}

// loader reads packages once each.
type loader struct {
	ctx  context.Context
	dir  string
	pkgs map[string]*packages.Package
}

// pkg loads a package with its syntax and types.
func (l *loader) pkg(path string) (*packages.Package, error) {
	if p, ok := l.pkgs[path]; ok {
		return p, nil
	}
	cfg := &packages.Config{Context: l.ctx, Dir: l.dir,
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo}
	ps, err := packages.Load(cfg, path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	if len(ps) != 1 {
		return nil, fmt.Errorf("loading %s: %d packages", path, len(ps))
	}
	var errs []error
	for _, e := range ps[0].Errors {
		errs = append(errs, e)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	l.pkgs[path] = ps[0]
	return ps[0], nil
}

// walk adds the fields of the struct type pkgPath.typeName to t, and the tables they
// hold to tables; path is the Go field names leading to the struct.
func (l *loader) walk(tables *[]*Table, t *Table, pkgPath, typeName string, path []string) error {
	p, err := l.pkg(pkgPath)
	if err != nil {
		return err
	}
	obj := p.Types.Scope().Lookup(typeName)
	if obj == nil {
		return fmt.Errorf("%s has no type %s", pkgPath, typeName)
	}
	st, ok := obj.Type().Underlying().(*types.Struct)
	if !ok {
		return fmt.Errorf("%s.%s is not a struct", pkgPath, typeName)
	}
	docs := fieldDocs(p, typeName)
	owner := p.Types.Name() + "." + typeName
	keys := map[string]string{} // Go field name → key, for the comments
	for i := range st.NumFields() {
		f := st.Field(i)
		if name, _, _ := strings.Cut(reflect.StructTag(st.Tag(i)).Get("toml"), ","); f.Exported() && name != "" && name != "-" {
			keys[f.Name()] = name
		}
	}
	for i := range st.NumFields() {
		f := st.Field(i)
		if !f.Exported() {
			continue
		}
		tag := reflect.StructTag(st.Tag(i))
		name, _, _ := strings.Cut(tag.Get("toml"), ",")
		where := owner + "." + f.Name()
		fpath := append(append([]string(nil), path...), f.Name())
		if name == "-" {
			if fl := tag.Get("flag"); fl != "" {
				t.Keys = append(t.Keys, Key{Flag: fl, Type: typeWords(f.Type()), Owner: owner, path: fpath,
					Doc: l.prose(p, docs[f.Name()], f.Name(), "-"+fl, keys)})
			}
			continue
		}
		if f.Embedded() && name == "" {
			n, ok := named(f.Type())
			if !ok {
				return fmt.Errorf("%s: an embedded field must be a named struct type", where)
			}
			if err := l.walk(tables, t, n.Obj().Pkg().Path(), n.Obj().Name(), fpath); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			return fmt.Errorf("%s has no toml tag", where)
		}
		doc := docs[f.Name()]
		if n, array, ok := tableType(f.Type()); ok {
			full := name
			if t.Name != "" {
				full = t.Name + "." + name
			}
			sub := &Table{Name: full, Array: array, Doc: l.prose(p, doc, f.Name(), name, keys)}
			*tables = append(*tables, sub)
			if err := l.walk(tables, sub, n.Obj().Pkg().Path(), n.Obj().Name(), fpath); err != nil {
				return err
			}
			continue
		}
		text := l.prose(p, doc, f.Name(), name, keys)
		def, err := l.defaultOf(p, doc, text, f.Type())
		if err != nil {
			return fmt.Errorf("%s (key %s): %w", where, name, err)
		}
		t.Keys = append(t.Keys, Key{Name: name, Flag: tag.Get("flag"), Type: typeWords(f.Type()), Default: def,
			Doc: text, Owner: owner, path: fpath, duration: isDuration(f.Type())})
	}
	return nil
}

// fieldDocs returns the comments of the fields of the struct type typeName of p.
func fieldDocs(p *packages.Package, typeName string) map[string]string {
	out := map[string]string{}
	for _, file := range p.Syntax {
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != typeName {
				return true
			}
			if st, ok := ts.Type.(*ast.StructType); ok {
				for _, f := range st.Fields.List {
					text := f.Doc.Text()
					if len(f.Names) == 0 {
						if id := embeddedName(f.Type); id != "" {
							out[id] = text
						}
					}
					for _, id := range f.Names {
						out[id.Name] = text
					}
				}
			}
			return false
		})
	}
	return out
}

// embeddedName is the field name of an embedded type expression.
func embeddedName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.StarExpr:
		return embeddedName(e.X)
	}
	return ""
}

// named returns t as a named type, through a pointer.
func named(t types.Type) (*types.Named, bool) {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := t.(*types.Named)
	return n, ok
}

// tableType reports whether t is a table (a struct that is not read from text) or an
// array of tables, and returns the struct's type.
func tableType(t types.Type) (*types.Named, bool, bool) {
	array := false
	if s, ok := t.(*types.Slice); ok {
		t, array = s.Elem(), true
	}
	n, ok := named(t)
	if !ok {
		return nil, false, false
	}
	if _, ok := n.Underlying().(*types.Struct); !ok || isText(n) {
		return nil, false, false
	}
	return n, array, true
}

// isText reports whether a type reads itself from text (encoding.TextUnmarshaler).
func isText(t types.Type) bool {
	ms := types.NewMethodSet(types.NewPointer(t))
	for m := range ms.Methods() {
		if m.Obj().Name() == "UnmarshalText" {
			return true
		}
	}
	return false
}

// isDuration reports whether t is a duration read from text.
func isDuration(t types.Type) bool {
	n, ok := named(t)
	return ok && n.Obj().Name() == "Duration" && isText(n)
}

// typeWords says what a key of type t takes.
func typeWords(t types.Type) string {
	if isDuration(t) {
		return "duration"
	}
	if s, ok := t.Underlying().(*types.Slice); ok {
		return "array of " + typeWords(s.Elem()) + "s"
	}
	if b, ok := t.Underlying().(*types.Basic); ok {
		switch {
		case b.Info()&types.IsString != 0:
			return "string"
		case b.Info()&types.IsInteger != 0:
			return "integer"
		case b.Info()&types.IsBoolean != 0:
			return "boolean"
		case b.Info()&types.IsFloat != 0:
			return "float"
		}
	}
	return t.String()
}

// defaultStart finds the sentence that states a default.
var defaultStart = regexp.MustCompile(`(?:^|[.;]\s+|\n)Default\b`)

// required finds the sentence that makes a key required.
var required = regexp.MustCompile(`(?:^|\s)Required\.`)

// docLink matches a doc link to an identifier: [Name] or [pkg.Name].
var docLink = regexp.MustCompile(`\[([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\]`)

// defaultOf reads the default a field comment doc states; text is the comment as
// prose, which words are taken from.
func (l *loader) defaultOf(p *packages.Package, doc, text string, t types.Type) (Default, error) {
	if required.MatchString(doc) {
		return Default{Kind: DefaultRequired, Text: "required"}, nil
	}
	loc := defaultStart.FindStringIndex(doc)
	if loc == nil {
		return Default{}, errors.New(`the comment states no default: write "Default …" or "Required."`)
	}
	rest := strings.TrimLeft(doc[loc[1]:], " \n")
	if m := docLink.FindStringSubmatchIndex(rest); m != nil && m[0] == 0 {
		c, err := l.constant(p, rest[m[2]:m[3]])
		if err != nil {
			return Default{}, err
		}
		v := tomlValue(c.Val(), t)
		return Default{Kind: DefaultConst, Text: v, value: v}, nil
	}
	if lit, ok := literal(rest); ok {
		return Default{Kind: DefaultLiteral, Text: lit, value: lit}, nil
	}
	words := text
	if loc := defaultStart.FindStringIndex(text); loc != nil {
		words = strings.TrimLeft(strings.TrimPrefix(strings.TrimLeft(text[loc[1]:], " "), ":"), " ")
	}
	if end := sentenceEnd(words); end >= 0 {
		words = words[:end]
	}
	if strings.HasPrefix(words, "none") {
		words = "none"
	}
	return Default{Kind: DefaultWords, Text: strings.Join(strings.Fields(words), " ")}, nil
}

// literal reads a TOML value at the start of s: a number, a quoted string, a boolean
// or an array of those.
func literal(s string) (string, bool) {
	switch {
	case strings.HasPrefix(s, `"`):
		if end := strings.Index(s[1:], `"`); end >= 0 {
			return s[:end+2], true
		}
	case strings.HasPrefix(s, "["):
		if end := strings.Index(s, "]"); end >= 0 {
			return s[:end+1], true
		}
	case strings.HasPrefix(s, "true"), strings.HasPrefix(s, "false"):
		w, _, _ := strings.Cut(s, " ")
		return strings.TrimRight(w, ".;:,\n"), true
	case len(s) > 0 && (s[0] >= '0' && s[0] <= '9' || s[0] == '-'):
		end := strings.IndexFunc(s[1:], func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			return s, true
		}
		return s[:end+1], true
	}
	return "", false
}

// sentenceEnd returns where the first sentence of s ends, or -1.
func sentenceEnd(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n') {
			return i
		}
	}
	return -1
}

// constant resolves a doc link name ("Name" or "pkg.Name") to a constant of p or of a
// package p imports.
func (l *loader) constant(p *packages.Package, name string) (*types.Const, error) {
	obj := lookup(p.Types, name)
	c, ok := obj.(*types.Const)
	if !ok {
		return nil, fmt.Errorf("the default [%s] is not a constant of %s or a package it imports", name, p.PkgPath)
	}
	return c, nil
}

// lookup finds the object a doc link names, or nil.
func lookup(pkg *types.Package, name string) types.Object {
	q, id, ok := strings.Cut(name, ".")
	if !ok {
		return pkg.Scope().Lookup(name)
	}
	for _, imp := range pkg.Imports() {
		if imp.Name() == q {
			return imp.Scope().Lookup(id)
		}
	}
	return nil
}

// tomlValue writes a constant as the TOML value of a key of type t.
func tomlValue(v constant.Value, t types.Type) string {
	switch {
	case isDuration(t):
		d, _ := constant.Int64Val(v)
		return strconv.Quote(core.FormatDuration(time.Duration(d)))
	case v.Kind() == constant.String:
		return strconv.Quote(constant.StringVal(v))
	}
	return v.ExactString()
}

// prose turns a field comment into the reference's text: the field name that starts it
// and the other fields it names become their keys, doc links their constants' values,
// and lines join into paragraphs.
func (l *loader) prose(p *packages.Package, doc, field, key string, keys map[string]string) string {
	doc = l.resolve(p, strings.TrimSpace(doc))
	if rest, ok := strings.CutPrefix(doc, field+" "); ok && field != "" {
		doc = "`" + key + "` " + rest
	}
	if keys == nil {
		return strings.Join(strings.Fields(doc), " ")
	}
	for f, k := range keys {
		if strings.ToUpper(f) == f {
			continue // an initialism, such as HTTP, is also a word of the prose
		}
		doc = regexp.MustCompile(`\b`+regexp.QuoteMeta(f)+`\b`).ReplaceAllStringFunc(doc, func(string) string { return "`" + k + "`" })
	}
	paras := strings.Split(doc, "\n\n")
	for i, para := range paras {
		paras[i] = strings.Join(strings.Fields(para), " ")
	}
	return strings.Join(paras, "\n\n")
}

// resolve writes each doc link of text as the value of the constant it names, or as
// the name alone.
func (l *loader) resolve(p *packages.Package, text string) string {
	return docLink.ReplaceAllStringFunc(text, func(m string) string {
		name := m[1 : len(m)-1]
		c, ok := lookup(p.Types, name).(*types.Const)
		if !ok {
			return m // a table such as [password], or a link to what is no value
		}
		return words(c)
	})
}

// words writes a constant's value for people: durations as "10 minutes", strings
// quoted, numbers as they are.
func words(c *types.Const) string {
	if n, ok := named(c.Type()); ok && n.Obj().Name() == "Duration" {
		d, _ := constant.Int64Val(c.Val())
		return core.HumanDuration(time.Duration(d))
	}
	if c.Val().Kind() == constant.String {
		return strconv.Quote(constant.StringVal(c.Val()))
	}
	return c.Val().ExactString()
}

// Package tag turns the tag policy — a template over service, user, git and
// time — into tags that are always valid under the OCI grammar.
package tag

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// DefaultTemplate gives the {service}-{user}-{gitshort}-{unix} shape teams
// already use; .Dirty is empty on a clean tree, so clean trees get exactly it.
const DefaultTemplate = "{{.Service}}-{{.User}}-{{.GitShort}}{{.Dirty}}-{{.Unix}}"

// DefaultDirtyMarker is what .Dirty expands to when the work tree has changes.
const DefaultDirtyMarker = "-dirty"

// MaxLen is the longest tag the OCI distribution grammar allows.
const MaxLen = 128

var validRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// Vars are the values a tag template can use.
type Vars struct {
	Project   string
	Service   string
	User      string
	GitShort  string // 7 hex digits, or "nogit" outside a repository
	GitCommit string // full hash, or "nogit"
	Branch    string
	Dirty     string // the dirty marker, or empty on a clean tree
	Unix      int64
	Date      string // YYYYMMDD in UTC
	Random    string // 6 hex digits, new for every Vars
}

// Validate reports whether a user-supplied tag is valid. Such tags are
// rejected, never changed, so that what the user typed is what gets pushed.
func Validate(t string) error {
	if validRE.MatchString(t) {
		return nil
	}
	switch {
	case t == "":
		return fmt.Errorf("invalid tag: empty")
	case len(t) > MaxLen:
		return fmt.Errorf("invalid tag %q: longer than %d characters", t, MaxLen)
	case strings.ContainsAny(t, ":/@"):
		return fmt.Errorf("invalid tag %q: a tag may not contain ':', '/' or '@' (give the tag only, not an image reference)", t)
	default:
		return fmt.Errorf("invalid tag %q: must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", t)
	}
}

// Sanitize maps s into the tag alphabet: every other rune becomes '-'.
func Sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Fit makes a generated tag valid: sanitises it, fixes a bad first
// character, and shortens an over-long tag with a hash of the whole so two
// long tags that differ only at the end still differ.
func Fit(s string) string {
	s = Sanitize(s)
	if s == "" {
		return "_"
	}
	if s[0] == '.' || s[0] == '-' {
		s = "_" + s[1:]
	}
	if len(s) > MaxLen {
		sum := sha256.Sum256([]byte(s))
		s = s[:MaxLen-9] + "-" + hex.EncodeToString(sum[:4])
	}
	return s
}

// Render expands tmpl (DefaultTemplate when empty) and fits the result.
func Render(tmpl string, v Vars) (string, error) {
	if tmpl == "" {
		tmpl = DefaultTemplate
	}
	t, err := template.New("tag").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("parsing tag template %q: %w", tmpl, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("expanding tag template %q: %w", tmpl, err)
	}
	return Fit(b.String()), nil
}

// CheckTemplate reports a template that cannot expand, before any work starts.
func CheckTemplate(tmpl string) error {
	_, err := Render(tmpl, Vars{Service: "svc", User: "u", GitShort: "0000000", GitCommit: "0", Unix: 1})
	return err
}

// CurrentUser is $USER, else the OS account, lower-cased and reduced to the
// tag alphabet so it can stand inside a tag.
func CurrentUser() string {
	u := os.Getenv("USER")
	if u == "" {
		if cu, err := user.Current(); err == nil {
			u = cu.Username
		}
	}
	u = strings.Trim(Sanitize(strings.ToLower(u)), ".-")
	if u == "" {
		return "unknown"
	}
	return u
}

// NewVars fills the time, user and random parts; git fields come from g.
func NewVars(service string, g Git, now time.Time) Vars {
	var rb [3]byte
	_, _ = rand.Read(rb[:])
	return Vars{
		Service:   strings.ToLower(service),
		User:      CurrentUser(),
		GitShort:  g.Short(),
		GitCommit: g.CommitOr(),
		Branch:    g.Branch,
		Dirty:     g.DirtyMarker(),
		Unix:      now.Unix(),
		Date:      now.UTC().Format("20060102"),
		Random:    hex.EncodeToString(rb[:]),
	}
}

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
	"unicode/utf8"

	"github.com/distribution/reference"
)

// DefaultTemplate gives the {service}-{user}-{gitshort}-{unix} shape teams
// already use; .Dirty is empty on a clean tree, so clean trees get exactly it.
const DefaultTemplate = "{{.Service}}-{{.User}}-{{.GitShort}}{{.Dirty}}-{{.Unix}}"

// DefaultDirtyMarker is what .Dirty expands to when the work tree has changes.
const DefaultDirtyMarker = "-dirty"

// MaxLen is the longest tag the OCI distribution grammar allows.
const MaxLen = 128

// validRE is the distribution grammar's tag rule, [\w][\w.-]{0,127},
// anchored: the same one the engines and registries apply, taken from
// there rather than repeated.
var validRE = regexp.MustCompile(`^(?:` + reference.TagRegexp.String() + `)$`)

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

// CurrentUser is the owner name of whoever runs slipway: Owner of $USER,
// else of the OS account name.
func CurrentUser() string {
	u := os.Getenv("USER")
	if u == "" {
		if cu, err := user.Current(); err == nil {
			u = cu.Username
		}
	}
	return Owner(u)
}

// MaxUserLen is the longest owner name Owner returns.
const MaxUserLen = 32

// ownerHashLen is how many hex digits of SHA-256 mark a sanitised name.
const ownerHashLen = 8

// hashedRE matches what Owner appends to a name it had to change.
var hashedRE = regexp.MustCompile(`-[0-9a-f]{8}$`)

// Owner turns a user name into the owner string that goes into tags (.User)
// and the dev.slipway.user label, which decide whose images clean and prune
// may remove. It must be lossless: two different users must never get the
// same owner, or one removes the other's images.
//
// A name that is already lower-case ASCII in the tag alphabet (not starting
// or ending with '.' or '-', at most MaxUserLen long) stays exactly as it is,
// so existing users keep their images. Any other name is sanitised and gets
// "-" and 8 hex digits of the SHA-256 of the name appended: jörg becomes
// j-rg-xxxxxxxx and so never meets the user j-rg. A valid name that happens
// to end like such a hash is hashed too, so the two kinds of result never
// overlap. Case does not make a different user (user names are
// case-insensitive on macOS, Windows and most directories, and $USER=Jordi
// has always been jordi), so JÖRG is jörg.
func Owner(name string) string {
	if name == "" {
		return "unknown"
	}
	lower := asciiLower(name)
	base := strings.Trim(Sanitize(lower), ".-")
	if base == lower && len(base) <= MaxUserLen && !hashedRE.MatchString(base) {
		return base
	}
	// strings.ToLower turns every invalid byte into U+FFFD: hash such a
	// name as it is, or all of them would be one owner.
	folded := name
	if utf8.ValidString(name) {
		folded = strings.ToLower(name)
	}
	sum := sha256.Sum256([]byte(folded))
	if max := MaxUserLen - 1 - ownerHashLen; len(base) > max {
		base = strings.TrimRight(base[:max], ".-")
	}
	if base == "" {
		base = "u"
	}
	return base + "-" + hex.EncodeToString(sum[:])[:ownerHashLen]
}

// asciiLower lower-cases A-Z only: a non-ASCII letter must stay non-ASCII so
// that sanitising notices it (strings.ToLower maps the Kelvin sign to 'k').
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
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

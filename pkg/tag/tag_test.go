package tag

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/distribution/reference"
)

// validTag asks the distribution library itself, not a copy of its
// grammar, whether s is a valid tag.
func validTag(s string) bool {
	named, err := reference.ParseNormalizedNamed("example.com/p/svc")
	if err != nil {
		panic(err)
	}
	_, err = reference.WithTag(named, s)
	return err == nil
}

func TestRender(t *testing.T) {
	clean := Git{Commit: "abc123f0123456789", Branch: "main"}
	dirty := Git{Commit: "abc123f0123456789", Dirty: true}
	marker := ".wip"
	custom := Git{Commit: "abc123f0123456789", Dirty: true, Marker: &marker}
	now := time.Unix(1734278400, 0)
	long := strings.Repeat("x", 200)
	cases := []struct {
		name, tmpl, svc string
		g               Git
		want            string
	}{
		{"default shape", "", "notification", clean, "notification-jordi-abc123f-1734278400"},
		{"dirty adds marker", "", "notification", dirty, "notification-jordi-abc123f-dirty-1734278400"},
		{"custom marker", "", "api", custom, "api-jordi-abc123f.wip-1734278400"},
		{"outside git", "", "api", Git{}, "api-jordi-nogit-1734278400"},
		{"template", "{{.Branch}}-{{.GitCommit}}-{{.Date}}", "api", clean, "main-abc123f0123456789-20241215"},
		{"sanitised branch", "{{.Branch}}", "api", Git{Commit: "abc123f0", Branch: "feature/x y"}, "feature-x-y"},
		{"bad first char", "-{{.Service}}", "api", clean, "_api"},
		{"too long keeps hash", long + "{{.Service}}", "api", clean, ""},
	}
	t.Setenv("USER", "Jordi")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewVars(c.svc, c.g, now)
			got, err := Render(c.tmpl, v)
			if err != nil {
				t.Fatal(err)
			}
			if !validTag(got) {
				t.Fatalf("%q does not match the OCI tag grammar", got)
			}
			if c.want != "" && got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestLongTagsStayDistinct(t *testing.T) {
	a := Fit(strings.Repeat("a", 200) + "1")
	b := Fit(strings.Repeat("a", 200) + "2")
	if len(a) != MaxLen || a == b {
		t.Fatalf("shortened tags lost uniqueness: %q %q", a, b)
	}
}

func TestValidateRejectsNeverRewrites(t *testing.T) {
	for _, bad := range []string{"", "x/y:z", "a:b", ".hidden", "-x", strings.Repeat("a", 129), "sp ace", "ümlaut"} {
		if err := Validate(bad); err == nil {
			t.Errorf("Validate(%q) accepted an invalid tag", bad)
		}
	}
	for _, good := range []string{"latest", "v1.2.3", "_x", "A-b_c.d", strings.Repeat("a", 128)} {
		if err := Validate(good); err != nil {
			t.Errorf("Validate(%q): %v", good, err)
		}
	}
}

func TestUserSanitised(t *testing.T) {
	t.Setenv("USER", "Jane Doe@Corp")
	if u := CurrentUser(); !regexp.MustCompile(`^jane-doe-corp-[0-9a-f]{8}$`).MatchString(u) {
		t.Fatalf("got %q", u)
	}
	t.Setenv("USER", "jordi")
	if u := CurrentUser(); u != "jordi" {
		t.Fatalf("a valid name changed: got %q", u)
	}
	t.Setenv("USER", "")
	if u := CurrentUser(); !validTag(u) {
		t.Fatalf("OS user %q not in the tag alphabet", u)
	}
}

// Defect: sanitising was lossy, so jörg and j-rg were one owner and could
// remove each other's images.
func TestOwnerLossless(t *testing.T) {
	long := strings.Repeat("a", 200)
	names := []string{
		"jörg", "j-rg", "JÖRG", "jörg2", "j_rg", "j.rg", "-jrg", "jrg-", "jrg", "j rg", "j/rg",
		long, long + "b", strings.Repeat("ö", 100), strings.Repeat("ü", 100),
		"\u212a", // the Kelvin sign lower-cases to ASCII k under strings.ToLower
		"k", "", "ö", "ü", "\xff", "\xfe", "a\xff", "a\xfe", "j-rg-" + Owner("jörg")[5:], "a-0123abcd",
	}
	owners := map[string]string{}
	for _, n := range names {
		o := Owner(n)
		if !validTag(o) || len(o) > MaxUserLen || strings.ToLower(o) != o || strings.HasPrefix(o, "-") || strings.HasPrefix(o, ".") {
			t.Errorf("Owner(%q) = %q: not a short lower-case tag part", n, o)
		}
		same := strings.EqualFold(n, "jörg") && strings.EqualFold(owners[o], "jörg")
		if prev, ok := owners[o]; ok && !same {
			t.Errorf("Owner(%q) = Owner(%q) = %q", n, prev, o)
		}
		owners[o] = n
	}
	// Valid names stay exactly as they are: existing users keep their images.
	for _, n := range []string{"jrg", "j-rg", "j_rg", "j.rg", "jordi", "build-bot", "ci_runner.2", strings.Repeat("a", MaxUserLen)} {
		if got := Owner(n); got != n {
			t.Errorf("Owner(%q) = %q: a valid name must not change", n, got)
		}
	}
	// Case is not identity: $USER=Jordi has always owned jordi's images.
	if Owner("Jordi") != "jordi" || Owner("JÖRG") != Owner("jörg") {
		t.Errorf("Owner(Jordi) = %q, Owner(JÖRG) = %q, Owner(jörg) = %q", Owner("Jordi"), Owner("JÖRG"), Owner("jörg"))
	}
	if !regexp.MustCompile(`^j-rg-[0-9a-f]{8}$`).MatchString(Owner("jörg")) || Owner("") != "unknown" {
		t.Errorf("Owner(jörg) = %q, Owner(\"\") = %q", Owner("jörg"), Owner(""))
	}
}

func FuzzOwnerLossless(f *testing.F) {
	f.Add("jörg", "j-rg")
	f.Add("a-0123abcd", "a")
	f.Fuzz(func(t *testing.T, a, b string) {
		oa, ob := Owner(a), Owner(b)
		if !validTag(oa) || len(oa) > MaxUserLen {
			t.Fatalf("Owner(%q) = %q", a, oa)
		}
		if oa == ob && strings.ToLower(a) != strings.ToLower(b) && asciiLower(a) != asciiLower(b) && a != "" && b != "" {
			t.Fatalf("Owner(%q) = Owner(%q) = %q", a, b, oa)
		}
	})
}

func TestTemplateErrors(t *testing.T) {
	if err := CheckTemplate("{{.Nope}}"); err == nil {
		t.Fatal("unknown field accepted")
	}
	if err := CheckTemplate("{{"); err == nil {
		t.Fatal("broken template accepted")
	}
}

// Validate accepts exactly the tags the distribution library accepts, and
// keeps its own messages.
func FuzzValidateMatchesReference(f *testing.F) {
	for _, s := range []string{"", "latest", "v1.2.3", "_x", ".hidden", "-x", "a:b", "x/y", "ümlaut", "a\n", strings.Repeat("a", 128), strings.Repeat("a", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Validate(s)
		if (err == nil) != validTag(s) {
			t.Fatalf("Validate(%q) = %v, but the distribution grammar says valid=%v", s, err, validTag(s))
		}
	})
}

func FuzzFitAlwaysValid(f *testing.F) {
	for _, s := range []string{"", "-", ".", "a/b:c", strings.Repeat("é", 100), "notification-jordi-abc123f-1734278400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Fit(s)
		if !validTag(got) {
			t.Fatalf("Fit(%q) = %q, not a valid tag", s, got)
		}
		if Validate(got) != nil {
			t.Fatalf("Validate rejects Fit's output %q", got)
		}
	})
}

func FuzzRenderAlwaysValid(f *testing.F) {
	f.Add("svc", "user name", "feature/branch")
	f.Fuzz(func(t *testing.T, svc, user, branch string) {
		t.Setenv("USER", user)
		v := NewVars(svc, Git{Commit: "0123456789abcdef", Branch: branch}, time.Unix(1, 0))
		got, err := Render("{{.Service}}-{{.User}}-{{.Branch}}-{{.Random}}", v)
		if err != nil {
			t.Fatal(err)
		}
		if !validTag(got) {
			t.Fatalf("Render gave invalid tag %q", got)
		}
	})
}

package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repo lays out a repository folder (with a Dockerfile D and folder ctx/)
// next to a folder "outside" holding a Dockerfile and a context, and
// returns the config path and the outside folder.
func repo(t *testing.T, yaml string) (cfg, outside string) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "repo")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "ctx"), filepath.Join(outside, "ctx")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(dir, "D"), filepath.Join(outside, "Dockerfile"), filepath.Join(outside, "ctx", "Dockerfile")} {
		if err := os.WriteFile(f, []byte("FROM scratch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg = filepath.Join(dir, FileName)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, outside
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// wantErr loads cfg and wants an error on line `line` containing want.
func wantErr(t *testing.T, cfg string, line, want string) {
	t.Helper()
	_, err := Load(cfg)
	if err == nil {
		t.Fatalf("accepted; want an error containing %q", want)
	}
	// The place is file:line: or, with the column, file:line:col:.
	prefix := cfg + ":" + line + ":"
	if line == "" {
		prefix = cfg + ": "
	}
	if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q: want prefix %q and %q", err, prefix, want)
	}
	if strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("error is more than one line: %q", err)
	}
}

// Defect: `context: ../outside` (or a Dockerfile outside, or a symlink out
// of the repository) sent files from outside the repository into an image.
func TestPathsOutsideRepoRefused(t *testing.T) {
	cases := []struct {
		name, yaml string
		links      map[string]string // link (in repo) -> target (relative to outside, "" = outside itself)
		line, want string
	}{
		{name: "context dot-dot", yaml: "project: p\nservices:\n  a:\n    dockerfile: D\n    context: ../outside\n",
			line: "5", want: `build context "../outside" is outside the repository`},
		{name: "dockerfile dot-dot", yaml: "project: p\nservices:\n  a:\n    dockerfile: ../outside/Dockerfile\n",
			line: "4", want: `Dockerfile "../outside/Dockerfile" is outside the repository`},
		{name: "deep dot-dot", yaml: "project: p\nservices:\n  a:\n    dockerfile: D\n    context: ctx/../../outside/ctx\n",
			line: "5", want: "is outside the repository"},
		{name: "context symlink", yaml: "project: p\nservices:\n  a:\n    dockerfile: D\n    context: link\n",
			links: map[string]string{"link": ""}, line: "5", want: "through a symlink"},
		{name: "dockerfile symlink", yaml: "project: p\nservices:\n  a:\n    dockerfile: D2\n",
			links: map[string]string{"D2": "Dockerfile"}, line: "4", want: `Dockerfile "D2" is outside the repository`},
		{name: "default Dockerfile is a symlink", yaml: "project: p\nservices:\n  a:\n    context: ctx\n",
			links: map[string]string{"ctx/Dockerfile": "Dockerfile"}, line: "3", want: "is outside the repository"},
		{name: "missing path under a symlinked folder", yaml: "project: p\nservices:\n  a:\n    dockerfile: D\n    context: link/not/yet\n",
			links: map[string]string{"link": ""}, line: "5", want: "is outside the repository"},
		{name: "named context", yaml: "project: p\nservices:\n  a:\n    dockerfile: D\n    contexts:\n      deps: ../outside/ctx\n",
			line: "6", want: `named context deps "../outside/ctx" is outside the repository`},
		{name: "named context symlink", yaml: "project: p\nservices:\n  a:\n    dockerfile: D\n    contexts:\n      deps: link\n",
			links: map[string]string{"link": "ctx"}, line: "6", want: "through a symlink"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, outside := repo(t, c.yaml)
			for link, target := range c.links {
				symlink(t, filepath.Join(outside, target), filepath.Join(filepath.Dir(cfg), link))
			}
			wantErr(t, cfg, c.line, c.want)

			// The explicit opt-in accepts the same file (except where the
			// path does not exist at all).
			if c.name == "missing path under a symlinked folder" {
				return
			}
			allowed := strings.Replace(c.yaml, "project: p\n", "project: p\nallow_outside_repo: true\n", 1)
			if err := os.WriteFile(cfg, []byte(allowed), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(cfg); err != nil {
				t.Fatalf("allow_outside_repo: true still refused: %v", err)
			}
		})
	}
}

func TestPathsInsideRepoAccepted(t *testing.T) {
	cfg, _ := repo(t, "project: p\nservices:\n  a:\n    dockerfile: D\n    context: link/..\n  b:\n    dockerfile: ./ctx/../D\n    context: link\n    contexts:\n      deps: link\n")
	// A symlink that stays inside the repository is fine, and so is a
	// repository reached through a symlink.
	symlink(t, "ctx", filepath.Join(filepath.Dir(cfg), "link"))
	viaLink := filepath.Join(t.TempDir(), "r")
	symlink(t, filepath.Dir(cfg), viaLink)
	for _, p := range []string{cfg, filepath.Join(viaLink, FileName)} {
		if _, err := Load(p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

// Same mapping as the root package's former argName.
func TestArgName(t *testing.T) {
	for in, want := range map[string]string{
		"base": "BASE_IMAGE", "foo-bar": "FOO_BAR_IMAGE", "foo_bar": "FOO_BAR_IMAGE",
		"api.v2": "API_V2_IMAGE", "9lives": "9LIVES_IMAGE",
	} {
		if got := ArgName(in); got != want {
			t.Errorf("ArgName(%q) = %q, want %q", in, got, want)
		}
	}
}

// Defect: foo-bar and foo_bar are both FOO_BAR_IMAGE and the config was
// accepted; a service's own arg was silently overwritten by a dependency's.
func TestArgNameCollisions(t *testing.T) {
	cfg, _ := repo(t, "project: p\nservices:\n  foo-bar:\n    dockerfile: D\n  app:\n    dockerfile: D\n    depends_on: [foo-bar]\n  foo_bar:\n    dockerfile: D\n")
	wantErr(t, cfg, "8", "service foo_bar: its image build arg FOO_BAR_IMAGE is also service foo-bar's (line 3)")

	cfg, _ = repo(t, "project: p\nservices:\n  base:\n    dockerfile: D\n  app:\n    dockerfile: D\n    depends_on: [base]\n    args:\n      GOOS: linux\n      BASE_IMAGE: debian\n")
	wantErr(t, cfg, "10", "service app: build arg BASE_IMAGE is set by depends_on base")

	// Without the dependency the arg is the service's own business.
	cfg, _ = repo(t, "project: p\nservices:\n  base:\n    dockerfile: D\n  app:\n    dockerfile: D\n    args:\n      BASE_IMAGE: debian\n")
	if _, err := Load(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestContexts(t *testing.T) {
	cfg, _ := repo(t, `project: p
services:
  a:
    dockerfile: D
    contexts:
      deps: ctx
      alpine: docker-image://alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000
      ghcr.io/acme/tools: https://github.com/acme/tools.git#v1
      src: git@github.com:acme/src.git
`)
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := c.ContextSources(c.Services["a"])
	want := map[string]string{
		"deps":               filepath.Join(filepath.Dir(cfg), "ctx"),
		"alpine":             "docker-image://alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000",
		"ghcr.io/acme/tools": "https://github.com/acme/tools.git#v1",
		"src":                "git@github.com:acme/src.git",
	}
	if len(got) != len(want) {
		t.Fatalf("ContextSources = %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ContextSources[%q] = %q, want %q", k, got[k], v)
		}
	}
	kinds := map[string]SourceKind{"ctx": SourceLocal, "docker-image://x": SourceImage, "https://x": SourceRemote, "git@h:p": SourceRemote}
	for v, k := range kinds {
		if ContextKind(v) != k {
			t.Errorf("ContextKind(%q) = %v, want %v", v, ContextKind(v), k)
		}
	}

	bad := []struct{ ctx, want string }{
		{`Deps: ctx`, "must be lower-case"},
		{`docker.io/library/alpine: ctx`, `BuildKit looks this context up as "alpine"`},
		{`deps: missing`, `"missing" is not a folder`},
		{`deps: D`, `"D" is not a folder`},
		{`deps: ""`, "is empty"},
		{`deps: docker-image://UPPER`, "is not an image reference"},
		{`deps: oci-layout://x`, "unsupported source"},
	}
	for _, b := range bad {
		t.Run(b.ctx, func(t *testing.T) {
			cfg, _ := repo(t, "project: p\nservices:\n  a:\n    dockerfile: D\n    contexts:\n      "+b.ctx+"\n")
			wantErr(t, cfg, "6", b.want)
		})
	}
}

func TestSecrets(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	cfg, _ := repo(t, `project: p
services:
  a:
    dockerfile: D
    secrets:
      - {id: npm, env: NPM_TOKEN}
      - {id: netrc, file: ~/.netrc}
      - {id: local, file: secrets/key}
      - {id: abs, file: "/etc/odd,name"}
`)
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services["a"].Secrets
	dir := filepath.Dir(cfg)
	want := []struct{ identity, flag string }{
		{"id=npm,env=NPM_TOKEN", "id=npm,env=NPM_TOKEN"},
		{"id=netrc,file=~/.netrc", "id=netrc,src=/home/tester/.netrc"},
		{"id=local,file=secrets/key", "id=local,src=" + filepath.Join(dir, "secrets/key")},
		{"id=abs,file=/etc/odd,name", `id=abs,"src=/etc/odd,name"`},
	}
	for i, w := range want {
		if got := s[i].Identity(); got != w.identity {
			t.Errorf("Identity() = %q, want %q", got, w.identity)
		}
		if got := s[i].Flag(); got != w.flag {
			t.Errorf("Flag() = %q, want %q", got, w.flag)
		}
	}

	bad := []struct{ secrets, line, want string }{
		{"- {id: npm}", "6", "needs exactly one of env: or file:"},
		{"- {id: npm, env: A, file: b}", "6", "needs exactly one of env: or file:"},
		{"- {id: npm, env: A}\n      - {id: npm, file: b}", "7", "secret id npm is given twice (also on line 6)"},
		{"- {id: 'a b', env: A}", "6", "secret id \"a b\""},
		{"- {id: npm, env: 'A-B'}", "6", "is not an environment variable name"},
		{"- {id: npm, file: ~bob/x}", "6", "only ~/"},
		{"- {id: npm, value: hunter2}", "6", `unknown key "value" in item 1 of secrets of service a`},
	}
	for _, b := range bad {
		t.Run(b.want, func(t *testing.T) {
			cfg, _ := repo(t, "project: p\nservices:\n  a:\n    dockerfile: D\n    secrets:\n      "+b.secrets+"\n")
			wantErr(t, cfg, b.line, b.want)
		})
	}
}

func TestSchemaNamesNewFields(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"allow_outside_repo"`, `"contexts"`, `"secrets"`, `"env"`, `"file"`,
		// Descriptions with commas must not be cut at the first one.
		"never copied into the image", "secret,id=ID); only their identities reach the input digest, never their values"} {
		if !strings.Contains(string(b), k) {
			t.Fatalf("schema lacks %s", k)
		}
	}
	if !regexp.MustCompile(`"oneOf"`).Match(b) {
		t.Fatalf("schema does not say a secret has exactly one of env and file")
	}
}

package inputs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fixture is a context directory and a Dockerfile in it, digested with a
// fresh Hasher each time (edits made in the same instant would otherwise
// hit the cache).
type fixture struct {
	t    *testing.T
	dir  string
	spec Spec
	ids  map[string]string
}

func newFixture(t *testing.T, dockerfile string, files map[string]string) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ctx")
	files["Dockerfile"] = dockerfile
	writeFiles(t, dir, files)
	f := &fixture{t: t, dir: dir, ids: map[string]string{"base": "sha256:b1", "tool": "sha256:t1"}}
	f.spec = Spec{Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Args: map[string]string{},
		Resolve: func(_ context.Context, ref string) (string, bool) {
			id, ok := f.ids[ref]
			return id, ok
		}}
	return f
}

func (f *fixture) digest() string {
	f.t.Helper()
	d, err := NewHasher().Digest(context.Background(), f.spec)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) unknown() string {
	f.t.Helper()
	_, err := NewHasher().Digest(context.Background(), f.spec)
	var u *Unknown
	if !errors.As(err, &u) {
		f.t.Fatalf("got %v, want *Unknown", err)
	}
	return u.Reason
}

func (f *fixture) write(p, c string) { f.t.Helper(); writeFiles(f.t, f.dir, map[string]string{p: c}) }

// changes asserts that edit changes the digest (want true) or not.
func (f *fixture) changes(what string, want bool, edit func()) {
	f.t.Helper()
	before := f.digest()
	edit()
	if got := f.digest() != before; got != want {
		f.t.Errorf("%s: digest changed = %v, want %v", what, got, want)
	}
}

func TestBindMountFromContextIsHashed(t *testing.T) {
	f := newFixture(t, "FROM base\nRUN --mount=type=bind,source=conf,target=/c cat /c/app.conf\n",
		map[string]string{"conf/app.conf": "v1", "other/x": "x"})
	f.changes("file under a bind-mount source", true, func() { f.write("conf/app.conf", "v2") })
	f.changes("file outside it", false, func() { f.write("other/x", "y") })
	f.write("Dockerfile", "FROM base\nRUN --mount=type=bind,target=/src make -C /src\n")
	f.changes("any file with a whole-context bind", true, func() { f.write("other/x", "z") })
}

func TestMountFromImageStageAndCache(t *testing.T) {
	f := newFixture(t, "FROM base\nRUN --mount=type=bind,from=tool,source=/bin,target=/t /t/x\n", map[string]string{})
	f.changes("mount from= image's ID", true, func() { f.ids["tool"] = "sha256:t2" })
	delete(f.ids, "tool")
	if r := f.unknown(); !strings.Contains(r, "tool") {
		t.Errorf("reason %q does not name the image", r)
	}
	f.ids["tool"] = "sha256:t1"
	f.write("Dockerfile", "FROM base AS s\nCOPY a /a\nFROM base\nRUN --mount=type=cache,from=s,source=/a,target=/a cat /a\n")
	f.write("a", "1")
	f.changes("file copied by the cache mount's from= stage", true, func() { f.write("a", "2") })
	f.write("Dockerfile", "FROM base\nRUN --mount=type=cache,target=/root/.cache make\n")
	f.changes("a plain cache mount reads no context", false, func() { f.write("a", "3") })
}

func TestSecretIdentitiesAreHashedNotValues(t *testing.T) {
	f := newFixture(t, "FROM base\nRUN --mount=type=secret,id=npm cat /run/secrets/npm\n", map[string]string{})
	f.changes("a secret's identity", true, func() { f.spec.Secrets = []string{"id=npm,env=NPM_TOKEN"} })
	f.changes("the secrets' order", false, func() { f.spec.Secrets = []string{"id=npm,env=NPM_TOKEN"} })
	f.changes("a mount's secret id", true, func() {
		f.write("Dockerfile", "FROM base\nRUN --mount=type=secret,id=pip cat /run/secrets/pip\n")
	})
}

func TestNamedContexts(t *testing.T) {
	f := newFixture(t, "FROM base\nCOPY --from=assets logo.svg /\nRUN --mount=type=bind,from=conf,target=/c true\n", map[string]string{})
	assets, conf := filepath.Join(t.TempDir(), "assets"), filepath.Join(t.TempDir(), "conf")
	writeFiles(t, assets, map[string]string{"logo.svg": "v1", "other.svg": "o", ".dockerignore": "*.tmp\n"})
	writeFiles(t, conf, map[string]string{"a.conf": "a"})
	f.spec.Contexts = map[string]string{"assets": assets, "conf": conf}
	f.changes("a file COPY'd from a directory context", true, func() { writeFiles(t, assets, map[string]string{"logo.svg": "v2"}) })
	f.changes("a file of it nothing reads", false, func() { writeFiles(t, assets, map[string]string{"other.svg": "o2"}) })
	f.changes("a file a bind mount from a context reads", true, func() { writeFiles(t, conf, map[string]string{"a.conf": "b"}) })
	f.write("Dockerfile", "FROM base\nCOPY --from=assets . /\n")
	f.changes("a file the context's own .dockerignore excludes", false, func() { writeFiles(t, assets, map[string]string{"x.tmp": "t"}) })
	f.changes("the context's directory", true, func() { f.spec.Contexts["assets"] = conf })

	f.write("Dockerfile", "FROM alpine:latest\n")
	f.spec.Contexts = map[string]string{"alpine": "docker-image://base"}
	f.changes("a docker-image:// context's image ID", true, func() { f.ids["base"] = "sha256:b9" })
	f.spec.Contexts = map[string]string{"alpine": "https://github.com/x/y.git"}
	if r := f.unknown(); !strings.Contains(r, "alpine") {
		t.Errorf("reason %q does not name the context", r)
	}
}

func TestRemoteAddMustBePinned(t *testing.T) {
	for _, src := range []string{"https://example.com/x.tar.gz", "https://github.com/moby/buildkit.git#v0.1",
		"git@github.com:moby/buildkit.git", "--keep-git-dir=true https://github.com/moby/buildkit.git"} {
		f := newFixture(t, "FROM base\nADD "+src+" /x\n", map[string]string{})
		if r := f.unknown(); !strings.Contains(r, "ADD") {
			t.Errorf("ADD %s: reason %q", src, r)
		}
	}
	sum := "sha256:" + strings.Repeat("ab", 32)
	f := newFixture(t, "FROM base\nADD --checksum="+sum+" https://example.com/x.tar.gz /x\n", map[string]string{})
	f.digest()
	f.changes("the checksum", true, func() {
		f.write("Dockerfile", "FROM base\nADD --checksum=sha256:"+strings.Repeat("cd", 32)+" https://example.com/x.tar.gz /x\n")
	})
	f.write("Dockerfile", "FROM base\nADD --checksum="+strings.Repeat("a", 40)+" https://github.com/moby/buildkit.git#v0.1 /x\n")
	f.digest()
}

func TestSymlinkTargetsAreHashed(t *testing.T) {
	f := newFixture(t, "FROM base\nCOPY link.txt /\nCOPY dirlink/ /d/\nCOPY via/sub/f /f\n",
		map[string]string{"real.txt": "v1", "real/a": "a", "deep/sub/f": "f", "unread": "u"})
	for link, target := range map[string]string{"link.txt": "real.txt", "dirlink": "real", "via": "/deep"} {
		if err := os.Symlink(target, filepath.Join(f.dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	f.changes("a COPY'd symlink's target file", true, func() { f.write("real.txt", "v2") })
	f.changes("a file in a COPY'd symlink's target directory", true, func() { f.write("real/a", "b") })
	f.changes("a file reached through a symlinked parent", true, func() { f.write("deep/sub/f", "g") })
	f.changes("an unreached file", false, func() { f.write("unread", "v") })
	f.changes("a symlink's retarget", true, func() {
		os.Remove(filepath.Join(f.dir, "link.txt"))
		os.Symlink("unread", filepath.Join(f.dir, "link.txt"))
	})
	f.changes("its new target", true, func() { f.write("unread", "w") })
	// BuildKit resolves a link that leaves the context at the context's root.
	f.write("Dockerfile", "FROM base\nCOPY out /o\n")
	os.Symlink("../../../outside", filepath.Join(f.dir, "out"))
	f.changes("a file outside the context", false, func() {
		writeFiles(t, filepath.Dir(f.dir), map[string]string{"outside": "x"})
	})
	f.changes("the clamped in-context path", true, func() { f.write("outside", "in") })
	// A loop is followed once.
	os.Symlink("loop", filepath.Join(f.dir, "loop"))
	f.write("Dockerfile", "FROM base\nCOPY loop /l\n")
	f.digest()
}

func TestEmptyDirectoryIsHashed(t *testing.T) {
	f := newFixture(t, "FROM base\nCOPY d/ /d/\n", map[string]string{"d/a": "a"})
	f.changes("a new empty directory in a COPY'd one", true, func() { os.Mkdir(filepath.Join(f.dir, "d", "e"), 0o755) })
}

func TestEffectivePlatformIsNormalised(t *testing.T) {
	f := newFixture(t, "FROM base\n", map[string]string{})
	f.changes("a foreign platform", true, func() { f.spec.Platform = "linux/386" })
	f.spec.Platform = ""
	f.changes("the host default spelled out", false, func() { f.spec.Platform = "linux/" + runtime.GOARCH })
	f.spec.Platform = "linux/amd64"
	f.changes("amd64's default variant", false, func() { f.spec.Platform = "linux/amd64/v1" })
	f.changes("an alias", false, func() { f.spec.Platform = "linux/x86_64" })
}

func TestStageArgsExpandAsBuildKitDoes(t *testing.T) {
	// A build arg the stage does not declare is not visible to COPY: the
	// old digest expanded it anyway and missed files the build copies.
	f := newFixture(t, "FROM base\nCOPY src/${SVC} /s\n", map[string]string{"src/a/x": "a", "src/b/x": "b"})
	f.spec.Args = map[string]string{"SVC": "a"}
	f.changes("a file of another service's directory (SVC undeclared)", true, func() { f.write("src/b/x", "b2") })
	f.write("Dockerfile", "FROM base\nARG SVC\nCOPY src/${SVC} /s\n")
	f.changes("another service's file once SVC is declared", false, func() { f.write("src/b/x", "b3") })
	f.changes("this service's file", true, func() { f.write("src/a/x", "a2") })
	f.write("Dockerfile", "FROM scratch\nARG SVC=b\nENV DIR=src/${SVC}\nCOPY ${DIR} /s\n")
	f.spec.Args = nil
	f.changes("a file named through ENV and an ARG default", true, func() { f.write("src/b/x", "b4") })
	f.changes("a file it does not name", false, func() { f.write("src/a/x", "a3") })
}

func TestUnreachedStagesAndIndexFrom(t *testing.T) {
	f := newFixture(t, "FROM base AS unused\nCOPY u /u\nFROM base AS b\nCOPY b /b\nFROM base\nCOPY --from=1 /b /b\n",
		map[string]string{"u": "u", "b": "b"})
	f.changes("a file only an unreached stage copies", false, func() { f.write("u", "u2") })
	f.changes("a file a stage copied --from=<index> copies", true, func() { f.write("b", "b2") })
}

func TestUnknownFlagsAndMounts(t *testing.T) {
	f := newFixture(t, "FROM base\nRUN --frobnicate=1 true\n", map[string]string{})
	f.unknown()
	f.write("Dockerfile", "FROM base\nRUN --mount=type=weird,target=/x true\n")
	f.unknown()
}

func TestOnBuildTriggersReadTheContext(t *testing.T) {
	f := newFixture(t, "FROM base\nRUN true\n", map[string]string{"app/x": "1"})
	f.changes("a file only a base image's ONBUILD COPY reads, without OnBuild", false, func() { f.write("app/x", "2") })
	f.spec.OnBuild = func(_ context.Context, ref string) ([]string, error) {
		if ref == "base" {
			return []string{"COPY app/ /app/"}, nil
		}
		return nil, nil
	}
	f.changes("a file a base image's ONBUILD COPY reads", true, func() { f.write("app/x", "3") })
	f.spec.OnBuild = nil
	f.write("Dockerfile", "FROM base AS parent\nONBUILD COPY app/ /app/\nFROM parent\n")
	f.changes("a file a parent stage's ONBUILD COPY reads", true, func() { f.write("app/x", "4") })
}

func TestContextThatIsASymlink(t *testing.T) {
	f := newFixture(t, "FROM base\nCOPY a /a\n", map[string]string{"a": "1"})
	link := filepath.Join(t.TempDir(), "ctx-link")
	if err := os.Symlink(f.dir, link); err != nil {
		t.Fatal(err)
	}
	f.spec.Context = link
	f.changes("a file of a context reached through a symlink", true, func() { f.write("a", "2") })
}

func TestDoubleStarCoversAnyDepth(t *testing.T) {
	f := newFixture(t, "FROM base\nCOPY src/**/*.go /s/\n", map[string]string{"src/a/b/c.go": "1", "other.go": "o"})
	f.changes("a file two levels under **", true, func() { f.write("src/a/b/c.go", "2") })
	f.changes("a file outside the pattern's folder", false, func() { f.write("other.go", "p") })
}

func TestEveryPlatformsFilesAreHashed(t *testing.T) {
	f := newFixture(t, "FROM base\nARG TARGETARCH\nCOPY bin/${TARGETARCH}/ /bin/\n", map[string]string{"bin/amd64/x": "a", "bin/arm64/x": "b"})
	f.spec.Platform = "linux/amd64"
	f.changes("another platform's file, one platform", false, func() { f.write("bin/arm64/x", "b2") })
	f.spec.Platform = "linux/amd64,linux/arm64"
	f.changes("the second platform's file", true, func() { f.write("bin/arm64/x", "b3") })
}

func TestCommentsDoNotCountButInstructionsDo(t *testing.T) {
	f := newFixture(t, "FROM base\nRUN echo a\n", map[string]string{})
	f.changes("a comment and blank lines", false, func() { f.write("Dockerfile", "# why\nFROM base\n\n# more\nRUN echo a\n") })
	f.write("Dockerfile", "FROM base\nRUN echo \\\n a\n")
	f.changes("a comment inside a continuation", false, func() { f.write("Dockerfile", "FROM base\nRUN echo \\\n# c\n a\n") })
	f.changes("an instruction", true, func() { f.write("Dockerfile", "FROM base\nRUN echo b\n") })
	f.changes("a heredoc's body", true, func() { f.write("Dockerfile", "FROM base\nCOPY <<EOF /x\nhello\nEOF\n") })
	f.changes("a heredoc's body again", true, func() { f.write("Dockerfile", "FROM base\nCOPY <<EOF /x\nhullo\nEOF\n") })
	f.ids["docker/dockerfile:1.7"] = "sha256:f1"
	f.changes("the syntax directive", true, func() {
		f.write("Dockerfile", "# syntax=docker/dockerfile:1.7\nFROM base\nCOPY <<EOF /x\nhullo\nEOF\n")
	})
	// The tag now names a new frontend: the same text may build differently.
	f.changes("the image the syntax tag names", true, func() { f.ids["docker/dockerfile:1.7"] = "sha256:f2" })
	f.changes("BUILDKIT_SYNTAX, which overrides the directive", true, func() { f.spec.Args["BUILDKIT_SYNTAX"] = "docker/dockerfile:1.7@sha256:" + strings.Repeat("ab", 32) })
}

// A frontend named by tag that the engine does not hold is fetched by the
// builder from wherever the tag points today: slipway cannot tell, so it
// builds. One pinned by digest is fully named by its text.
func TestFrontendByTagNotInEngineBuilds(t *testing.T) {
	f := newFixture(t, "# syntax=docker/dockerfile:1\nFROM base\n", map[string]string{})
	if why := f.unknown(); !strings.Contains(why, "docker/dockerfile:1") {
		t.Errorf("reason %q does not name the frontend", why)
	}
	f.write("Dockerfile", "# syntax=docker/dockerfile:1@sha256:"+strings.Repeat("cd", 32)+"\nFROM base\n")
	f.digest()
}

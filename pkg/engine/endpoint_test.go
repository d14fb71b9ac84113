package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseHost(t *testing.T) {
	for host, want := range map[string]Endpoint{
		"unix:///var/run/docker.sock": {Network: "unix", Address: "/var/run/docker.sock", Host: "unix:///var/run/docker.sock"},
		"tcp://127.0.0.1:2375":        {Network: "tcp", Address: "127.0.0.1:2375", Host: "tcp://127.0.0.1:2375"},
	} {
		if got, err := ParseHost(host); err != nil || got != want {
			t.Errorf("%s: %+v %v", host, got, err)
		}
	}
	for _, host := range []string{"ssh://me@box", "npipe:////./pipe/docker_engine", "tcp://box:2376"} {
		if _, err := ParseHost(host); err == nil {
			t.Errorf("%s accepted", host)
		}
	}
}

func TestDockerEndpointFollowsTheCLI(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	if ep, err := DockerEndpoint(); err != nil || ep.Address != "/var/run/docker.sock" {
		t.Errorf("default: %+v %v", ep, err)
	}
	t.Setenv("DOCKER_HOST", "unix:///tmp/other.sock")
	if ep, err := DockerEndpoint(); err != nil || ep.Address != "/tmp/other.sock" {
		t.Errorf("DOCKER_HOST: %+v %v", ep, err)
	}
	t.Setenv("DOCKER_TLS_VERIFY", "1")
	if _, err := DockerEndpoint(); err == nil {
		t.Error("TLS accepted")
	}
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_HOST", "")
	// A context chosen in config.json, stored as the CLI stores it.
	sum := sha256.Sum256([]byte("work"))
	meta := filepath.Join(cfg, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"Name": "work", "Endpoints": map[string]any{"docker": map[string]any{"Host": "unix:///run/work.sock"}}})
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"currentContext":"work"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if ep, err := DockerEndpoint(); err != nil || ep.Address != "/run/work.sock" || ep.Context != "work" {
		t.Errorf("context: %+v %v", ep, err)
	}
	t.Setenv("DOCKER_CONTEXT", "gone")
	if _, err := DockerEndpoint(); err == nil {
		t.Error("a missing context accepted")
	}
}

// fakeDaemon serves handler on a unix socket and returns its endpoint.
func fakeDaemon(t *testing.T, handler http.Handler) Endpoint {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return Endpoint{Network: "unix", Address: sock, Host: "unix://" + sock + "?" + t.Name()}
}

// DialHijack upgrades the connection and then speaks the raw protocol,
// including bytes the daemon sent right after its 101.
func TestDialHijack(t *testing.T) {
	ep := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/grpc" || r.Header.Get("Upgrade") != "h2c" || r.Header.Get("X-Meta") != "m" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nhello-")
		rw.Flush()
		line, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Write([]byte("echo:" + line))
	}))
	c, err := ep.DialHijack(context.Background(), "/grpc", "h2c", map[string][]string{"X-Meta": {"m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping\n"))
	got, _ := io.ReadAll(c)
	if string(got) != "hello-echo:ping\n" {
		t.Errorf("got %q", got)
	}
	if _, err := ep.DialHijack(context.Background(), "/nope", "h2c", nil); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("refused upgrade: %v", err)
	}
}

// The API calls: inspect (404 is ErrNotFound), a label-filtered list in
// one request, tag with the repository and tag split at the tag's colon.
func TestAPICalls(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	ep := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		switch {
		case r.URL.Path == "/_ping":
			w.Write([]byte("OK"))
		case r.URL.Path == "/images/json":
			w.Write([]byte(`[{"Id":"sha256:aaa","RepoTags":["localhost:5000/x/app:t1"],"Labels":{"k":"v"},"Created":1795760000,"Size":42},` +
				`{"Id":"sha256:bbb","RepoTags":["<none>:<none>"],"Labels":{"k":"w"},"Created":1795760001}]`))
		case r.URL.Path == "/images/localhost:5000/x/app:t1/json" || r.URL.Path == "/images/sha256:aaa/json":
			w.Write([]byte(`{"Id":"sha256:aaa","RepoTags":["localhost:5000/x/app:t1"],"Created":"2026-11-27T05:00:00Z","RootFS":{"Layers":["sha256:l1"]},"Config":{"Labels":{"k":"v"}}}`))
		case strings.HasSuffix(r.URL.Path, "/tag") && r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"No such image"}`))
		}
	}))
	e := &Engine{Name: "docker", Bin: "/nonexistent/docker", API: &ep}
	ctx := context.Background()
	if err := ep.ping(ctx); err != nil {
		t.Fatal(err)
	}
	img, err := e.Inspect(ctx, "localhost:5000/x/app:t1")
	if err != nil || img.ID != "sha256:aaa" || img.Labels["k"] != "v" || len(img.Layers) != 1 || img.Created.IsZero() {
		t.Fatalf("inspect: %+v %v", img, err)
	}
	if _, err := e.Inspect(ctx, "missing:t"); !isNotFoundErr(err) {
		t.Errorf("missing: %v", err)
	}
	mu.Lock()
	before := len(calls)
	mu.Unlock()
	imgs, err := e.Images(ctx, map[string]string{"dev.slipway.user": "me", "dev.slipway.inputs": ""})
	if err != nil || len(imgs) != 2 {
		t.Fatalf("images: %v %v", imgs, err)
	}
	if a := imgs[0]; a.ID != "sha256:aaa" || a.Labels["k"] != "v" || a.Size != 42 || a.Created.Unix() != 1795760000 ||
		len(a.RepoTags) != 1 || len(imgs[1].RepoTags) != 0 {
		t.Errorf("images from the list: %+v %+v", imgs[0], imgs[1])
	}
	mu.Lock()
	if n := len(calls) - before; n != 1 {
		t.Errorf("Images made %d requests, want the one list: %v", n, calls[before:])
	}
	mu.Unlock()
	if err := e.Tag(ctx, "sha256:aaa", "localhost:5000/x/app:t2"); err != nil {
		t.Errorf("tag: %v", err)
	}
	found, err := e.InspectSome(ctx, "localhost:5000/x/app:t1", "missing:t")
	if err != nil || len(found) != 1 || found["localhost:5000/x/app:t1"] == nil {
		t.Errorf("inspect some: %v %v", found, err)
	}
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(calls, "\n")
	for _, want := range []string{
		`GET /images/json?filters=%7B%22label%22%3A%5B%22dev.slipway.inputs%22%2C%22dev.slipway.user%3Dme%22%5D%7D`,
		`POST /images/sha256:aaa/tag?repo=localhost%3A5000%2Fx%2Fapp&tag=t2`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no call %s in:\n%s", want, joined)
		}
	}
}

func TestSplitRef(t *testing.T) {
	for ref, want := range map[string][2]string{
		"app:t":                  {"app", "t"},
		"localhost:5000/app:t":   {"localhost:5000/app", "t"},
		"localhost:5000/app":     {"localhost:5000/app", ""},
		"slipway.local/a/b:x-1_": {"slipway.local/a/b", "x-1_"},
	} {
		if r, tg := splitRef(ref); r != want[0] || tg != want[1] {
			t.Errorf("%s: %s %s", ref, r, tg)
		}
	}
}

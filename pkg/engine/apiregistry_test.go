package engine

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIPullAndPush: the pull and push requests carry the login store's
// credentials in X-Registry-Auth only; a stream that reports an error
// fails though its HTTP status was 200; a push returns the aux digest.
func TestAPIPullAndPush(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	secret := base64.StdEncoding.EncodeToString([]byte("me:s3cret"))
	cfg := `{"auths":{"reg.example:5000":{"auth":"` + secret + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	var auths []map[string]string
	ep := fakeDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		raw, err := base64.URLEncoding.DecodeString(r.Header.Get("X-Registry-Auth"))
		var a map[string]string
		if err != nil || json.Unmarshal(raw, &a) != nil {
			t.Errorf("X-Registry-Auth %q: %v", r.Header.Get("X-Registry-Auth"), err)
		}
		auths = append(auths, a)
		switch {
		case r.URL.Path == "/images/create" && r.URL.Query().Get("tag") == "broken":
			w.Write([]byte(`{"status":"Pulling from x/app"}` + "\n" + `{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}` + "\n"))
		case r.URL.Path == "/images/create":
			w.Write([]byte(`{"status":"Pulling fs layer","id":"abc","progressDetail":{}}` + "\n" + `{"status":"Downloading","id":"abc","progress":"[==>   ]"}` + "\n" + `{"status":"Status: Downloaded newer image"}` + "\n"))
		case strings.HasSuffix(r.URL.Path, "/push"):
			w.Write([]byte(`{"status":"Pushed","id":"abc"}` + "\n" + `{"aux":{"Tag":"t1","Digest":"sha256:` + strings.Repeat("d", 64) + `","Size":528}}` + "\n"))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	e := &Engine{Name: "docker", Bin: "/nonexistent/docker", API: &ep}
	ctx := context.Background()
	var log bytes.Buffer
	dig := "sha256:" + strings.Repeat("e", 64)
	if err := e.Pull(ctx, "reg.example:5000/x/app@"+dig, "linux/amd64", &log); err != nil {
		t.Fatal(err)
	}
	if err := e.Pull(ctx, "reg.example:5000/x/app:broken", "", &log); err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("a stream that reports an error: %v", err)
	}
	d, err := e.Push(ctx, "reg.example:5000/x/app:t1", &log)
	if err != nil || d != "sha256:"+strings.Repeat("d", 64) {
		t.Errorf("push: %q %v", d, err)
	}
	want := []string{
		"POST /images/create?fromImage=reg.example%3A5000%2Fx%2Fapp&platform=linux%2Famd64&tag=sha256%3A" + strings.Repeat("e", 64),
		"POST /images/create?fromImage=reg.example%3A5000%2Fx%2Fapp&tag=broken",
		"POST /images/reg.example:5000/x/app/push?tag=t1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, a := range auths {
		if a["username"] != "me" || a["password"] != "s3cret" || a["serveraddress"] != "reg.example:5000" {
			t.Errorf("auth sent: %v", a)
		}
	}
	if strings.Contains(log.String(), "s3cret") || strings.Contains(log.String(), "[==>") || !strings.Contains(log.String(), "abc: Pulling fs layer") {
		t.Errorf("log:\n%s", log.String())
	}
}

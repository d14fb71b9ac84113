package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Pulls and pushes through the Docker API: a `docker pull` process costs
// 0.3–3 s on a busy machine before the daemon does anything, and registry
// reuse pulls once per service. Credentials come from the engine's login
// store as the CLI reads it (docker's config.json and its credential
// helpers, through go-containerregistry's keychain) and travel only in the
// X-Registry-Auth header to the daemon, never on a command line or in a log.

// registryAuth is the X-Registry-Auth header for ref's registry: the
// base64url JSON of the credentials the login store holds for it ("{}"
// when it holds none, which the daemon takes as anonymous).
func registryAuth(ref string) (string, error) {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", ref, err)
	}
	a, err := authn.DefaultKeychain.Resolve(r.Context().Registry)
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", r.Context().RegistryStr(), err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", r.Context().RegistryStr(), err)
	}
	// The field names of the daemon's registry.AuthConfig.
	b, err := json.Marshal(struct {
		Username      string `json:"username,omitempty"`
		Password      string `json:"password,omitempty"`
		Auth          string `json:"auth,omitempty"`
		ServerAddress string `json:"serveraddress,omitempty"`
		IdentityToken string `json:"identitytoken,omitempty"`
		RegistryToken string `json:"registrytoken,omitempty"`
	}{cfg.Username, cfg.Password, cfg.Auth, r.Context().RegistryStr(), cfg.IdentityToken, cfg.RegistryToken})
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// jsonMessage is one line of the daemon's progress stream.
type jsonMessage struct {
	Status      string `json:"status"`
	ID          string `json:"id"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux *struct {
		Digest string `json:"Digest"`
	} `json:"aux"`
}

// stream sends a POST whose answer is a progress stream, copies its
// status lines (not the progress bars) to log, and returns the digest an
// aux message carried. A stream that reports an error fails, though the
// HTTP status was 200: the daemon only knows of the error after it began
// answering.
func (ep Endpoint) stream(ctx context.Context, path, auth string, log io.Writer) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker"+path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Registry-Auth", auth)
	resp, err := ep.HTTP().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", readAPIError(resp)
	}
	dec := json.NewDecoder(resp.Body)
	digest := ""
	for {
		var m jsonMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return digest, nil
			}
			if ctx.Err() != nil {
				return "", context.Cause(ctx)
			}
			return "", fmt.Errorf("reading the daemon's progress: %w", err)
		}
		switch {
		case m.Error != "":
			return "", errors.New(m.Error)
		case m.ErrorDetail != nil && m.ErrorDetail.Message != "":
			return "", errors.New(m.ErrorDetail.Message)
		case m.Aux != nil && m.Aux.Digest != "":
			digest = m.Aux.Digest
		case m.Status != "" && log != nil:
			line := m.Status
			if m.ID != "" {
				line = m.ID + ": " + line
			}
			_, _ = io.WriteString(log, line+"\n") // a failing log must not fail the pull
		}
	}
}

// apiPull is POST /images/create: the daemon pulls ref (name:tag or
// name@digest) for platform, if set.
func (ep Endpoint) apiPull(ctx context.Context, ref, platform string, log io.Writer) error {
	auth, err := registryAuth(ref)
	if err != nil {
		return fmt.Errorf("docker pull %s: %w", ref, err)
	}
	repo, tag := splitDigest(ref)
	q := url.Values{"fromImage": {repo}}
	if tag != "" {
		q.Set("tag", tag)
	}
	if platform != "" {
		q.Set("platform", platform)
	}
	if _, err := ep.stream(ctx, "/images/create?"+q.Encode(), auth, log); err != nil {
		return fmt.Errorf("docker pull %s: %w", ref, err)
	}
	return nil
}

// apiPush is POST /images/{name}/push; it returns the pushed digest.
func (ep Endpoint) apiPush(ctx context.Context, ref string, log io.Writer) (string, error) {
	auth, err := registryAuth(ref)
	if err != nil {
		return "", fmt.Errorf("docker push %s: %w", ref, err)
	}
	repo, tag := splitRef(ref)
	q := url.Values{}
	if tag != "" {
		q.Set("tag", tag)
	}
	digest, err := ep.stream(ctx, "/images/"+pathEscapeRef(repo)+"/push?"+q.Encode(), auth, log)
	if err != nil {
		return "", fmt.Errorf("docker push %s: %w", ref, err)
	}
	return digest, nil
}

// splitDigest splits name@digest, else name:tag, into the repository and
// the digest or tag, as POST /images/create takes them.
func splitDigest(ref string) (repo, tagOrDigest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	return splitRef(ref)
}

package engine

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Endpoint is where the Docker daemon's API answers, found the way the
// docker CLI finds it ($DOCKER_HOST, else the current context, else the
// default socket), for the calls slipway makes without the CLI.
type Endpoint struct {
	// Network and Address are what net.Dial takes: "unix" and a socket
	// path, or "tcp" and host:port.
	Network, Address string
	// Host is the endpoint as the CLI spells it (unix:///var/run/docker.sock).
	Host string
	// Context is the docker context it came from ("" for $DOCKER_HOST or
	// the default).
	Context string
}

// ErrNoDirectAPI says the daemon is not reachable without its CLI: an
// endpoint slipway does not speak (ssh://, TLS, npipe), or Podman.
var ErrNoDirectAPI = errors.New("no direct engine API")

// DockerEndpoint finds the Docker daemon the docker CLI would talk to. An
// endpoint slipway cannot reach itself (ssh, TLS) is an error wrapping
// ErrNoDirectAPI, saying which; the CLI path still works there.
func DockerEndpoint() (Endpoint, error) {
	host := os.Getenv("DOCKER_HOST")
	ctxName := ""
	if host == "" {
		ctxName = currentContext()
		if ctxName != "" && ctxName != "default" {
			h, tls, err := contextHost(ctxName)
			if err != nil {
				return Endpoint{}, fmt.Errorf("%w: docker context %s: %v", ErrNoDirectAPI, ctxName, err)
			}
			if tls {
				return Endpoint{}, fmt.Errorf("%w: docker context %s uses TLS", ErrNoDirectAPI, ctxName)
			}
			host = h
		} else {
			ctxName = ""
		}
	} else if os.Getenv("DOCKER_TLS_VERIFY") != "" || os.Getenv("DOCKER_CERT_PATH") != "" {
		return Endpoint{}, fmt.Errorf("%w: DOCKER_HOST=%s with TLS", ErrNoDirectAPI, host)
	}
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	ep, err := ParseHost(host)
	ep.Context = ctxName
	return ep, err
}

// ParseHost reads a DOCKER_HOST value: unix:// and tcp:// (plain) only.
func ParseHost(host string) (Endpoint, error) {
	u, err := url.Parse(host)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w: DOCKER_HOST %q: %v", ErrNoDirectAPI, host, err)
	}
	switch u.Scheme {
	case "unix":
		p := u.Path
		if p == "" {
			p = u.Host + u.Path // unix://relative/path
		}
		return Endpoint{Network: "unix", Address: p, Host: host}, nil
	case "tcp", "http":
		if u.Port() == "2376" {
			// The TLS port by convention: plain HTTP would be refused.
			return Endpoint{}, fmt.Errorf("%w: %s is Docker's TLS port", ErrNoDirectAPI, host)
		}
		return Endpoint{Network: "tcp", Address: u.Host, Host: host}, nil
	default:
		return Endpoint{}, fmt.Errorf("%w: %s endpoints go through the docker CLI", ErrNoDirectAPI, u.Scheme)
	}
}

// dockerConfigDir is $DOCKER_CONFIG or ~/.docker.
func dockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// currentContext is $DOCKER_CONTEXT or config.json's currentContext.
func currentContext() string {
	if c := os.Getenv("DOCKER_CONTEXT"); c != "" {
		return c
	}
	b, err := os.ReadFile(filepath.Join(dockerConfigDir(), "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	_ = json.Unmarshal(b, &cfg)
	return cfg.CurrentContext
}

// contextHost reads a docker context's endpoint from the CLI's context
// store (contexts/meta/<sha256 of the name>/meta.json).
func contextHost(name string) (host string, tls bool, err error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	b, err := os.ReadFile(filepath.Join(dockerConfigDir(), "contexts", "meta", id, "meta.json"))
	if err != nil {
		return "", false, err
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return "", false, err
	}
	ep, ok := meta.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return "", false, errors.New("no docker endpoint")
	}
	_, statErr := os.Stat(filepath.Join(dockerConfigDir(), "contexts", "tls", id))
	return ep.Host, statErr == nil, nil
}

// Dial connects to the endpoint.
func (ep Endpoint) Dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, ep.Network, ep.Address)
}

// DialHijack opens path on the daemon and upgrades the connection to proto
// (h2c for BuildKit's /grpc and /session endpoints), as the docker client's
// DialHijack does: the connection then speaks proto, not HTTP.
func (ep Endpoint) DialHijack(ctx context.Context, path, proto string, meta map[string][]string) (net.Conn, error) {
	conn, err := ep.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the docker daemon at %s: %w", ep.Host, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker"+path, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	for k, v := range meta {
		req.Header[k] = v
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", proto)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("docker daemon %s%s: %w", ep.Host, path, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("docker daemon %s%s: %w", ep.Host, path, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body.Close()
		conn.Close()
		return nil, fmt.Errorf("docker daemon %s%s: upgrade to %s refused: %s", ep.Host, path, proto, resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	return &bufConn{Conn: conn, r: br}, nil
}

// bufConn is a hijacked connection whose first bytes may already sit in
// the reader that parsed the HTTP answer.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// apiClients are the HTTP clients of the endpoints in use, one each, so
// connections are kept alive across calls.
var apiClients sync.Map // Endpoint.Host -> *http.Client

// HTTP is a client for the endpoint's API; requests go to http://docker/...
func (ep Endpoint) HTTP() *http.Client {
	if c, ok := apiClients.Load(ep.Host); ok {
		return c.(*http.Client)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return ep.Dial(ctx)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	c, _ := apiClients.LoadOrStore(ep.Host, &http.Client{Transport: tr})
	return c.(*http.Client)
}

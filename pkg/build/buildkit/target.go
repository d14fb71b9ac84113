// Package buildkit builds images by talking to BuildKit through its Go
// client: one long-lived connection per run and one solve per service,
// instead of a `docker buildx build` process pair, a fresh gRPC connection
// and a CLI start-up per service. It reaches Docker's embedded BuildKit
// through the daemon's /grpc and /session endpoints (as buildx's docker
// driver does), or a buildx "remote" builder (buildkitd) at its address.
//
// Where it cannot (Podman, an ssh or TLS endpoint, a docker-container
// builder, a request the target cannot export), slipway builds through
// the engine's CLI instead, and Check says why.
package buildkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"

	"github.com/slipway-dev/slipway/pkg/engine"
)

// Kind is how a direct build's image reaches the engine.
type Kind string

const (
	// Docker is dockerd's embedded BuildKit: its "moby" exporter writes the
	// image straight into the daemon's image store.
	Docker Kind = "docker"
	// Remote is a buildkitd reached at its address (a buildx remote
	// builder): images are loaded into the engine as an archive, or pushed.
	Remote Kind = "remote"
)

// EnvMode is the environment variable that turns the direct path off:
// SLIPWAY_BUILDKIT=cli builds through the engine's CLI.
const EnvMode = "SLIPWAY_BUILDKIT"

// Availability says whether builds can take the direct path, and why not.
type Availability struct {
	Direct bool
	Kind   Kind
	// Via is where the builds go (for the run's log and doctor).
	Via string
	// Reason is why the direct path is not available ("" when it is).
	Reason string
	// Version is the BuildKit version the target reports, when known.
	Version string
}

func (a Availability) String() string {
	if a.Direct {
		s := "direct BuildKit client via " + a.Via
		if a.Version != "" {
			s += " (BuildKit " + a.Version + ")"
		}
		return s
	}
	return "engine CLI (direct BuildKit path not available: " + a.Reason + ")"
}

// target is a resolved place to connect to.
type target struct {
	kind     Kind
	via      string
	endpoint engine.Endpoint // Docker
	address  string          // Remote: buildkitd address
}

// buildxInstance is the part of a buildx builder's stored definition
// ($DOCKER_CONFIG/buildx/instances/NAME) that says how to reach it.
type buildxInstance struct {
	Name   string `json:"Name"`
	Driver string `json:"Driver"`
	Nodes  []struct {
		Name       string            `json:"Name"`
		Endpoint   string            `json:"Endpoint"`
		DriverOpts map[string]string `json:"DriverOpts"`
	} `json:"Nodes"`
}

func buildxDir() string {
	if d := os.Getenv("BUILDX_CONFIG"); d != "" {
		return d
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "buildx")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker", "buildx")
}

// currentBuilder is the builder `docker buildx build` uses without
// --builder: $BUILDX_BUILDER, else the one `docker buildx use` chose.
func currentBuilder() string {
	if b := os.Getenv("BUILDX_BUILDER"); b != "" {
		return b
	}
	b, err := os.ReadFile(filepath.Join(buildxDir(), "current"))
	if err != nil {
		return ""
	}
	var cur struct {
		Name string `json:"Name"`
	}
	_ = json.Unmarshal(b, &cur)
	return cur.Name
}

// resolve finds where builder (a buildx builder name, "" for the one the
// CLI would use) lives, or says why the direct path cannot reach it.
func resolve(eng *engine.Engine, builder string) (target, error) {
	if v := os.Getenv(EnvMode); v == "cli" || v == "off" || v == "0" {
		return target{}, fmt.Errorf("%s=%s", EnvMode, v)
	}
	if eng == nil || eng.Name != "docker" {
		name := "no engine"
		if eng != nil {
			name = eng.Name
		}
		return target{}, fmt.Errorf("%s builds through its own CLI", name)
	}
	if builder == "" {
		builder = currentBuilder()
	}
	if builder != "" && builder != "default" {
		b, err := os.ReadFile(filepath.Join(buildxDir(), "instances", builder))
		if err != nil {
			ep, epErr := engine.DockerEndpoint()
			if epErr == nil && ep.Context == builder {
				// A docker context is a builder of the docker driver.
				return dockerTarget(eng)
			}
			return target{}, fmt.Errorf("buildx builder %q: no stored definition (%v)", builder, err)
		}
		var inst buildxInstance
		if err := json.Unmarshal(b, &inst); err != nil || len(inst.Nodes) == 0 {
			return target{}, fmt.Errorf("buildx builder %q: unreadable definition", builder)
		}
		switch inst.Driver {
		case "remote":
			n := inst.Nodes[0]
			for _, k := range []string{"cacert", "cert", "key"} {
				if n.DriverOpts[k] != "" {
					return target{}, fmt.Errorf("buildx builder %q: TLS to remote BuildKit goes through buildx", builder)
				}
			}
			if len(inst.Nodes) > 1 {
				return target{}, fmt.Errorf("buildx builder %q has %d nodes; buildx picks among them", builder, len(inst.Nodes))
			}
			if !strings.HasPrefix(n.Endpoint, "tcp://") && !strings.HasPrefix(n.Endpoint, "unix://") {
				return target{}, fmt.Errorf("buildx builder %q: endpoint %s goes through buildx", builder, n.Endpoint)
			}
			return target{kind: Remote, address: n.Endpoint,
				via: fmt.Sprintf("buildx remote builder %s at %s", builder, n.Endpoint)}, nil
		case "docker":
			return dockerTarget(eng)
		default:
			return target{}, fmt.Errorf("buildx builder %q uses the %s driver, which buildx drives", builder, inst.Driver)
		}
	}
	return dockerTarget(eng)
}

func dockerTarget(eng *engine.Engine) (target, error) {
	if eng.API == nil {
		ep, err := engine.DockerEndpoint()
		if err != nil {
			return target{}, err
		}
		return target{}, fmt.Errorf("docker daemon at %s did not answer on its API", ep.Host)
	}
	ep := *eng.API
	return target{kind: Docker, endpoint: ep, via: "docker daemon " + ep.Host + " (embedded BuildKit)"}, nil
}

// connect opens one client for t.
func (t target) connect(ctx context.Context) (*client.Client, error) {
	switch t.kind {
	case Docker:
		ep := t.endpoint
		return client.New(ctx, "",
			client.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
				return ep.DialHijack(ctx, "/grpc", "h2c", nil)
			}),
			client.WithSessionDialer(func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
				return ep.DialHijack(ctx, "/session", proto, meta)
			}))
	default:
		return client.New(ctx, t.address)
	}
}

// probeTimeout bounds the first exchange with BuildKit: a target that
// cannot list its workers in that time is not one to build on.
const probeTimeout = 20 * time.Second

// open connects and checks that BuildKit answers, returning its version.
func (t target) open(ctx context.Context) (*client.Client, string, error) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, err := t.connect(pctx)
	if err != nil {
		return nil, "", fmt.Errorf("connecting to BuildKit via %s: %w", t.via, err)
	}
	ws, err := c.ListWorkers(pctx)
	if err != nil {
		c.Close()
		return nil, "", fmt.Errorf("BuildKit via %s: listing workers: %w", t.via, err)
	}
	if len(ws) == 0 {
		c.Close()
		return nil, "", fmt.Errorf("BuildKit via %s has no workers", t.via)
	}
	version := ""
	if info, err := c.Info(pctx); err == nil && info != nil {
		version = info.BuildkitVersion.Version
	}
	return c, version, nil
}

// Check says whether builds for eng on builder ("" for the one the CLI
// would use) can take the direct path: it resolves the target, connects,
// and asks BuildKit for its workers. For `slipway doctor`.
func Check(ctx context.Context, eng *engine.Engine, builder string) Availability {
	t, err := resolve(eng, builder)
	if err != nil {
		return Availability{Reason: err.Error()}
	}
	c, version, err := t.open(ctx)
	if err != nil {
		return Availability{Kind: t.kind, Via: t.via, Reason: err.Error()}
	}
	c.Close()
	return Availability{Direct: true, Kind: t.kind, Via: t.via, Version: version}
}

// errUnsupported marks a request the direct path hands to the fallback.
var errUnsupported = errors.New("not supported by the direct path")

package engine

import (
	"maps"
	"slices"
)

// BuildSpec is one image build, engine-neutral.
type BuildSpec struct {
	Dockerfile string
	Context    string
	Target     string
	Platform   string
	Args       map[string]string
	Labels     map[string]string
	Tags       []string // full references
	NoCache    bool
	IIDFile    string // where the engine writes the image ID
	// Builder is a named buildx builder (e.g. a remote BuildKit); "" is the default.
	Builder string
	// PushOnly sends the result straight to the registry instead of
	// loading it into the engine: multi-platform images, which the local
	// engine cannot hold. Insecure allows a plain-HTTP registry.
	PushOnly bool
	Insecure bool
}

// BuildArgv is the exact argv (without the binary) that builds spec.
func (e *Engine) BuildArgv(s BuildSpec) []string {
	var a []string
	switch {
	case e.Name == "docker" && e.Buildx:
		a = []string{"buildx", "build", "--progress=plain"}
		if s.Builder != "" {
			a = append(a, "--builder", s.Builder)
		}
		if s.PushOnly {
			out := "type=image,push=true"
			if s.Insecure {
				out += ",registry.insecure=true"
			}
			a = append(a, "--output", out)
		} else {
			a = append(a, "--load")
		}
	case e.Name == "docker":
		a = []string{"build"}
	default:
		a = []string{"build", "--layers"}
	}
	a = append(a, "-f", s.Dockerfile)
	for _, t := range s.Tags {
		a = append(a, "-t", t)
	}
	if s.Target != "" {
		a = append(a, "--target", s.Target)
	}
	if s.Platform != "" {
		a = append(a, "--platform", s.Platform)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Args)) {
		a = append(a, "--build-arg", k+"="+s.Args[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		a = append(a, "--label", k+"="+s.Labels[k])
	}
	if s.NoCache {
		a = append(a, "--no-cache")
	}
	if s.IIDFile != "" {
		a = append(a, "--iidfile", s.IIDFile)
	}
	return append(a, s.Context)
}

package slipway

import "github.com/slipway-dev/slipway/internal/scaffold"

// ConfigProposal is a slipway.yaml proposed for a repository from its
// Dockerfiles; YAML() is the file.
type ConfigProposal = scaffold.Proposal

// ProposeOptions says which repository to propose a config for.
type ProposeOptions = scaffold.Options

// ProposeConfig reads a repository's Dockerfiles and proposes a
// slipway.yaml: a service per Dockerfile (per final stage when it has
// several), contexts from their COPY sources, targets, and depends_on from
// FROM ${NAME_IMAGE}.
func ProposeConfig(o ProposeOptions) (*ConfigProposal, error) { return scaffold.Propose(o) }

// WriteConfig writes p as dir's slipway.yaml and returns its path; it
// never overwrites one (a *UsageError then).
func WriteConfig(dir string, p *ConfigProposal) (string, error) {
	path, err := scaffold.Write(dir, p)
	if err != nil {
		return path, usage(err)
	}
	return path, nil
}

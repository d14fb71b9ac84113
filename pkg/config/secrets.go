package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Secret is a BuildKit build secret (RUN --mount=type=secret,id=ID): its
// value comes from an environment variable or a file when the build runs
// and is never part of the image, of a build arg, of a record or of the
// input digest. Exactly one of Env and File is set.
type Secret struct {
	ID   string `yaml:"id" json:"id" jsonschema:"required,description=The id a Dockerfile mounts it by (RUN --mount=type=secret\\,id=ID)"`
	Env  string `yaml:"env,omitempty" json:"env,omitempty" jsonschema:"oneof_required=env,description=Environment variable holding the value"`
	File string `yaml:"file,omitempty" json:"file,omitempty" jsonschema:"oneof_required=file,description=File holding the value: relative to the repo root\\, absolute\\, or ~/...; it may lie outside the repository (it is mounted for one RUN step\\, never copied into the image)"`

	// Src is File made absolute (~ expanded, relative to the repo root), set
	// by Parse; empty for an Env secret.
	Src string `yaml:"-" json:"-"`
}

// Identity names the secret without its value, for the input digest:
// "id=npm,env=NPM_TOKEN" or "id=npm,file=~/.npmrc" (File as written, so the
// same config gives the same identity on every machine).
func (s Secret) Identity() string {
	if s.Env != "" {
		return "id=" + s.ID + ",env=" + s.Env
	}
	return "id=" + s.ID + ",file=" + s.File
}

// Flag is the value of the build's --secret flag: id=ID,env=VAR or
// id=ID,src=ABSOLUTE-PATH (a field holding ',' or '"' is CSV-quoted, as
// BuildKit reads the flag as CSV).
func (s Secret) Flag() string {
	if s.Env != "" {
		return "id=" + s.ID + ",env=" + s.Env
	}
	src := "src=" + s.Src
	if strings.ContainsAny(src, ",\"") {
		src = `"` + strings.ReplaceAll(src, `"`, `""`) + `"`
	}
	return "id=" + s.ID + "," + src
}

var (
	secretIDRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	envNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,255}$`)
)

func (c *Config) validateSecrets(s *Service) {
	seen := map[string]int{}
	for i := range s.Secrets {
		sec := &s.Secrets[i]
		line := s.at(fmt.Sprintf("secrets.%d", i))
		if !secretIDRE.MatchString(sec.ID) {
			c.addf(line, "service %s: secret id %s must be 1-128 letters, digits, '_', '.' or '-'", s.Name, quote(sec.ID))
		}
		if prev, ok := seen[sec.ID]; ok {
			c.addf(line, "service %s: secret id %s is given twice (also on line %d)", s.Name, sec.ID, prev)
			continue
		}
		seen[sec.ID] = line.line
		switch {
		case (sec.Env == "") == (sec.File == ""):
			c.addf(line, "service %s: secret %s needs exactly one of env: or file:", s.Name, sec.ID)
		case sec.Env != "":
			if !envNameRE.MatchString(sec.Env) {
				c.addf(line, "service %s: secret %s: env %s is not an environment variable name", s.Name, sec.ID, quote(sec.Env))
			}
		default:
			src, err := c.secretPath(sec.File)
			if err != nil {
				c.addf(line, "service %s: secret %s: %v", s.Name, sec.ID, err)
			}
			sec.Src = src
		}
	}
}

// secretPath makes a secret's file absolute. The file is not required to
// exist: a missing ~/.npmrc fails the build that mounts it, not every command
// that reads the config.
func (c *Config) secretPath(file string) (string, error) {
	switch {
	case file == "~" || strings.HasPrefix(file, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("file %s: %w", quote(file), err)
		}
		return filepath.Join(home, file[1:]), nil
	case strings.HasPrefix(file, "~"):
		return "", fmt.Errorf("file %s: only ~/ (the current user's home) is expanded", quote(file))
	case filepath.IsAbs(file):
		return filepath.Clean(file), nil
	}
	return filepath.Join(c.Dir, file), nil
}

package config

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/distribution/reference"
)

// ImageName expands the image template for service s; a registry, if
// given, replaces the name's registry host (keeping its path).
func (c *Config) ImageName(s, registry string) (string, error) {
	tmpl := c.Image
	if tmpl == "" {
		tmpl = DefaultImage
	}
	t, err := template.New("image").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", &Error{Path: c.Path, Msg: fmt.Sprintf("image template: %v", err)}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]string{"Project": c.Project, "Service": s}); err != nil {
		return "", &Error{Path: c.Path, Msg: fmt.Sprintf("image template: %v", err)}
	}
	name := b.String()
	if registry != "" {
		// --registry moves every image to that registry, keeping its path.
		if n, err := reference.ParseNormalizedNamed(name); err == nil {
			name = registry + "/" + reference.Path(n)
		}
	}
	if problem := imageNameProblem(name); problem != "" {
		return "", &Error{Path: c.Path, Line: c.lines["image="].line, Col: c.lines["image="].col, Msg: fmt.Sprintf("image name %q for service %s: %s", name, s, problem)}
	}
	if _, err := reference.ParseNamed(name); err != nil {
		return "", &Error{Path: c.Path, Msg: fmt.Sprintf("image name %q for service %s is not a valid image name: %v", name, s, err)}
	}
	return name, nil
}

package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"text/template"

	"github.com/distribution/reference"

	"github.com/slipway-dev/slipway/pkg/tag"
)

// sampleVars are what a tag template is tried with: every field set, so a
// template that names one that does not exist (.Servce) fails here, at
// check time, and not in the middle of a build.
func (c *Config) sampleVars(service string) tag.Vars {
	return tag.Vars{
		Project: c.Project, Service: service, User: "user", GitShort: "0123abc",
		GitCommit: "0123abcdef0123abcdef0123abcdef0123abcdef", Branch: "main",
		Dirty: tag.DefaultDirtyMarker, Unix: 1700000000, Date: "20231114", Random: "a1b2c3",
	}
}

// TagFields are the fields a tag template can use.
func TagFields() []string {
	t := reflect.TypeFor[tag.Vars]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Name
	}
	return out
}

// ImageFields are the fields an image template can use.
var ImageFields = []string{"Project", "Service"}

var (
	unknownFieldRE = regexp.MustCompile(`can't evaluate field (\w+) in type`)
	missingKeyRE   = regexp.MustCompile(`map has no entry for key "([^"]*)"`)
	templatePosRE  = regexp.MustCompile(`^template: \w+:(?:\d+:?)*\s*(?:executing "\w+" at <[^>]*>: )?`)
)

// templateProblem turns a text/template error into words about the
// template, never naming the Go type it ran against.
func templateProblem(err error, fields []string) (msg, suggestion string) {
	text := err.Error()
	name := ""
	if m := unknownFieldRE.FindStringSubmatch(text); m != nil {
		name = m[1]
	} else if m := missingKeyRE.FindStringSubmatch(text); m != nil {
		name = m[1]
	}
	if name != "" {
		known := make([]string, len(fields))
		for i, f := range fields {
			known[i] = "." + f
		}
		if s := closest(name, fields); s != "" {
			suggestion = "." + s
		}
		return fmt.Sprintf("unknown field .%s (known: %s)", name, strings.Join(known, " ")), suggestion
	}
	return templatePosRE.ReplaceAllString(text, ""), ""
}

// renderTemplate parses and executes tmpl with data, as the build will.
func renderTemplate(name, tmpl string, data any) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// checkTemplates renders the tag and image templates with sample values
// and checks what they give: a tag template that cannot expand, or an image
// template that gives no valid image name or one that already carries a tag
// or digest (slipway appends its own tag; the result would be an invalid
// reference such as name:latest:api-...).
func (c *Config) checkTemplates() {
	service := "api"
	if len(c.Order) > 0 {
		service = c.Order[0]
	}
	if c.Tag != "" {
		if _, err := renderTemplate("tag", c.Tag, c.sampleVars(service)); err != nil {
			msg, sug := templateProblem(err, TagFields())
			c.addf(c.lines["tag="], "tag template %s: %s", quote(c.Tag), msg).Suggestion = sug
		}
	}
	if c.Image == "" {
		return
	}
	at := c.lines["image="]
	for _, s := range c.Order {
		name, err := renderTemplate("image", c.Image, map[string]string{"Project": c.Project, "Service": s})
		if err != nil {
			msg, sug := templateProblem(err, ImageFields)
			c.addf(at, "image template %s: %s", quote(c.Image), msg).Suggestion = sug
			return
		}
		if problem := imageNameProblem(name); problem != "" {
			c.addf(at, "image template %s gives %s for service %s: %s", quote(c.Image), quote(name), s, problem)
			return
		}
	}
}

// imageNameProblem says why name cannot be what slipway tags, or "".
func imageNameProblem(name string) string {
	ref, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "not a valid image name: " + err.Error()
	}
	if t, ok := ref.(reference.Tagged); ok {
		return fmt.Sprintf("it carries the tag %s; an image template names the repository only (slipway adds the tag: set tag: for the tag policy)", quote(t.Tag()))
	}
	if d, ok := ref.(reference.Digested); ok {
		return fmt.Sprintf("it carries the digest %s; an image template names the repository only", d.Digest())
	}
	if _, err := reference.ParseNamed(name); err != nil {
		return fmt.Sprintf("not a full image name (write it as %s): %v", quote(ref.String()), err)
	}
	return ""
}

package run

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Formats --metadata-format accepts.
var Formats = []string{"slipway", "bake", "skaffold"}

// Marshal renders the record as slipway's own metadata, or in the shape of
// `docker buildx bake --metadata-file` or Skaffold's `--file-output`, so
// pipeline steps that read those keep working. Services that produced no
// image are left out of the foreign shapes.
func (r Record) Marshal(format string) ([]byte, error) {
	var v any
	switch format {
	case "", "slipway":
		v = r
	case "bake":
		m := map[string]map[string]string{}
		for name, s := range r.Services {
			if s.ID == "" || !s.Status.Produced() {
				continue
			}
			m[name] = map[string]string{
				"image.name":                   s.Image,
				"containerimage.config.digest": s.ID,
				// With --load, buildx reports the config digest here too.
				"containerimage.digest": s.ID,
			}
			if s.Pushed != "" {
				m[name]["containerimage.digest"] = s.Pushed
			}
		}
		v = m
	case "skaffold":
		type art struct {
			ImageName string `json:"imageName"`
			Tag       string `json:"tag"`
		}
		out := struct {
			Builds []art `json:"builds"`
		}{Builds: []art{}}
		names := make([]string, 0, len(r.Services))
		for n := range r.Services {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s := r.Services[n]
			if s.ID == "" || !s.Status.Produced() {
				continue
			}
			tag := s.Image
			if s.Pushed != "" {
				tag += "@" + s.Pushed // Skaffold pins pushed images by digest
			}
			out.Builds = append(out.Builds, art{ImageName: strings.TrimSuffix(s.Image, ":"+s.Tag), Tag: tag})
		}
		v = out
	default:
		return nil, fmt.Errorf("unknown metadata format %q (want %s)", format, strings.Join(Formats, ", "))
	}
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

package config

import "strings"

// ArgName is the build arg that carries service's image reference to the
// services that depend on it: upper-cased, every character other than A-Z
// and 0-9 turned into '_', and "_IMAGE" appended (base-image -> BASE_IMAGE_IMAGE,
// api.v2 -> API_V2_IMAGE). The mapping loses information, so Parse refuses a
// config in which two services share an arg name.
func ArgName(service string) string {
	b := []byte(strings.ToUpper(service))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b) + "_IMAGE"
}

// checkArgNames refuses services whose image build args would be one arg
// (foo-bar and foo_bar are both FOO_BAR_IMAGE: a dependant would silently
// get the wrong one), and a service arg that the dependency's image arg
// would silently overwrite.
func (c *Config) checkArgNames() {
	owner := make(map[string]*Service, len(c.Order))
	for _, name := range c.Order {
		s := c.Services[name]
		arg := ArgName(name)
		if o, ok := owner[arg]; ok {
			c.addf(s.pos, "service %s: its image build arg %s is also service %s's (line %d); services whose names differ only in '-', '_' or '.' cannot both be built, rename one", name, arg, o.Name, o.Line)
			continue
		}
		owner[arg] = s
	}
	for _, name := range c.Order {
		s := c.Services[name]
		for _, d := range s.DependsOn {
			arg := ArgName(d)
			if _, ok := s.Args[arg]; ok {
				c.addf(s.at("args."+arg), "service %s: build arg %s is set by depends_on %s (this run's image of %s); remove it from args", name, arg, d, d)
			}
		}
	}
}

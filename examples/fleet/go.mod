module example.com/fleet

go 1.26

require (
	github.com/google/uuid v1.6.0
	github.com/spf13/pflag v1.0.6
	gopkg.in/yaml.v3 v3.0.1
)

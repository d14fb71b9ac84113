module github.com/slipway-dev/slipway/tools/schemagen

go 1.26.8

require (
	github.com/invopop/jsonschema v0.14.0
	github.com/slipway-dev/slipway v0.0.0-00010101000000-000000000000
)

require (
	github.com/bahlo/generic-list-go v0.2.0 // indirect
	github.com/buger/jsonparser v1.1.2 // indirect
	github.com/distribution/reference v0.6.0 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/pb33f/ordered-map/v2 v2.3.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.2 // indirect
)

// Generate from this tree's config.Config, not a published release.
replace github.com/slipway-dev/slipway => ../..

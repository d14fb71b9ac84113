// Package labels names the labels slipway sets on every image it makes:
// what the image is (service, project, inputs) and who made it when (user,
// run, created, ref). Ownership comes from run records; labels only help
// find slipway's images and say what they were built from.
package labels

const (
	Service = "dev.slipway.service"
	User    = "dev.slipway.user"
	Run     = "dev.slipway.run"
	Project = "dev.slipway.project"
	Created = "dev.slipway.created"
	// Ref is the reference the image was built under: the one name of it
	// that cleanup may remove without a run record saying so.
	Ref = "dev.slipway.ref"
	// Inputs is the digest of everything the build could see.
	Inputs = "dev.slipway.inputs"
)

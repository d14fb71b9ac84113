package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/slipway-dev/slipway/pkg/kind"
)

// Unpack is a command's --unpack flag: whether loads into Kind nodes
// unpack images at import or leave it to the first container start.
type Unpack struct{ flag string }

// AddUnpack adds --unpack to a command that loads into Kind nodes.
func AddUnpack(cmd *cobra.Command) *Unpack {
	u := &Unpack{}
	modes := []string{kind.UnpackAtImport.String(), kind.UnpackOnFirstUse.String()}
	cmd.Flags().StringVar(&u.flag, "unpack", "", "when Kind nodes unpack a loaded image: at-import (as kind load does) or on-first-use (only nodes that run it pay) (default: $SLIPWAY_KIND_UNPACK, else at-import)")
	_ = cmd.RegisterFlagCompletionFunc("unpack", cobra.FixedCompletions(modes, cobra.ShellCompDirectiveNoFileComp))
	return u
}

// Context returns ctx under which every load uses the chosen mode.
func (u *Unpack) Context(ctx context.Context) (context.Context, error) {
	mode, err := UnpackFromEnv(u.flag)
	if err != nil {
		return ctx, err
	}
	return kind.WithUnpack(ctx, mode), nil
}

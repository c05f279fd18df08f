package fedgo

import (
	_ "filippo.io/edwards25519"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/stretchr/testify/require"
	_ "gonum.org/v1/gonum/mat"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/vg/draw"
)

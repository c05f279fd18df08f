//go:build amd64.v3 || arm64 || ppc64 || ppc64le || s390x || riscv64 || loong64

package detmath

// stdlibFused: this build lets the compiler fuse x*y+z (GOAMD64=v3 or an
// architecture whose compiler always fuses), math/rand/v2 included.
const stdlibFused = true

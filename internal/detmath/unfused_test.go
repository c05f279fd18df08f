//go:build !(amd64.v3 || arm64 || ppc64 || ppc64le || s390x || riscv64 || loong64)

package detmath

// stdlibFused: this build never fuses x*y+z, math/rand/v2 included.
const stdlibFused = false

//go:build race

package compress

// raceEnabled is true under the race detector, which makes sync.Pool drop
// items at random (zstd pools its buffers), so allocation counts of the
// zstd stage are not meaningful.
const raceEnabled = true

package secagg

import "os"

// longTests enables the long reproductions (full dropout sweeps, the whole
// worker matrix, many grinding rounds): CI=true. The default run checks a
// sample of the same cases, so `go test` takes a few seconds.
var longTests = os.Getenv("CI") == "true"

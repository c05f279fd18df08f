// Package fashiontest gives tests the real Fashion-MNIST files: a test
// that needs them calls Dir, which skips the test with a message naming
// the Debian package when the files are absent — except under CI=true,
// where their absence fails the test, since CI installs them.
package fashiontest

import (
	"errors"
	"os"
	"testing"

	"github.com/fedgo/fedgo/fl/dataset"
)

// Dir returns the directory of the Fashion-MNIST files after checking
// that they load, skipping tb (or failing it under CI=true) when they do
// not.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir := dataset.DefaultFashionMNISTDir
	if _, _, err := dataset.LoadFashionMNIST(dir); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Fashion-MNIST is required under CI=true (apt-get install -y %s): %v", dataset.FashionMNISTPackage, err)
		}
		if errors.Is(err, dataset.ErrNotFound) {
			tb.Skipf("Fashion-MNIST not installed at %s: apt-get install -y %s", dir, dataset.FashionMNISTPackage)
		}
		tb.Fatalf("Fashion-MNIST at %s does not load: %v", dir, err)
	}
	return dir
}

package dataset

import (
	"fmt"
	"os"
	"path/filepath"
)

// DefaultFashionMNISTDir is where the Debian package dataset-fashion-mnist
// installs Fashion-MNIST.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTPackage is the Debian package that ships Fashion-MNIST.
const FashionMNISTPackage = "dataset-fashion-mnist"

// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) file names, as shipped by
// the upstream project and the Debian package; each may be gzip-compressed
// (name + ".gz", the packaged form) or plain.
const (
	fashionTrainImages = "train-images-idx3-ubyte"
	fashionTrainLabels = "train-labels-idx1-ubyte"
	fashionTestImages  = "t10k-images-idx3-ubyte"
	fashionTestLabels  = "t10k-labels-idx1-ubyte"
)

// LoadFashionMNIST loads the Fashion-MNIST training set (60,000 images)
// and test set (10,000 images) from dir: 784 features scaled to [0, 1],
// 10 classes. An empty dir means [DefaultFashionMNISTDir]. Files may be
// gzip-compressed (train-images-idx3-ubyte.gz, …, as the Debian package
// installs them) or plain; the compressed name is tried first.
//
// When a file is missing the error wraps [ErrNotFound] and says to run
// `apt-get install dataset-fashion-mnist`.
func LoadFashionMNIST(dir string) (train, test *Dataset, err error) {
	if dir == "" {
		dir = DefaultFashionMNISTDir
	}
	paths := make(map[string]string, 4)
	for _, base := range []string{fashionTrainImages, fashionTrainLabels, fashionTestImages, fashionTestLabels} {
		p, err := findIDX(dir, base)
		if err != nil {
			return nil, nil, err
		}
		paths[base] = p
	}
	train, err = loadIDXDataset(paths[fashionTrainImages], paths[fashionTrainLabels], 10)
	if err != nil {
		return nil, nil, err
	}
	test, err = loadIDXDataset(paths[fashionTestImages], paths[fashionTestLabels], 10)
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// findIDX returns the path of base.gz or base in dir.
func findIDX(dir, base string) (string, error) {
	for _, name := range []string{base + ".gz", base} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: Fashion-MNIST file %s(.gz) in %s; install it with `apt-get install %s` or pass the directory that holds the IDX files",
		ErrNotFound, base, dir, FashionMNISTPackage)
}

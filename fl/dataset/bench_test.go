package dataset

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func BenchmarkSynthetic(b *testing.B) {
	for _, tc := range []struct{ clients, maxSamples int }{{30, 0}, {1000, 0}, {1000, 500}} {
		b.Run(fmt.Sprintf("clients=%d/max=%d", tc.clients, tc.maxSamples), func(b *testing.B) {
			cfg := SyntheticConfig{Alpha: 1, Beta: 1, Clients: tc.clients, MaxSamples: tc.maxSamples, Seed: 1}
			splits, err := Synthetic(cfg)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, s := range splits {
				n += s.Train.Len() + s.Test.Len()
			}
			b.SetBytes(int64(n * SyntheticDim * 8))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Synthetic(cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "samples/op")
		})
	}
}

func BenchmarkReadIDXFashionMNIST(b *testing.B) {
	for _, name := range []string{fashionTestImages, fashionTrainImages} {
		b.Run(name, func(b *testing.B) {
			p, err := findIDX(DefaultFashionMNISTDir, name)
			if err != nil {
				b.Skipf("Fashion-MNIST absent (apt-get install dataset-fashion-mnist): %v", err)
			}
			idx, err := ReadIDXFile(p, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(idx.Data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := ReadIDXFile(p, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadIDXPlain(b *testing.B) {
	for _, n := range []int{1e3, 1e5, 1e7} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			in := encodeIDX(0x08, []int{n}, seq(n))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadIDX(bytes.NewReader(in), Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLoadFashionMNIST(b *testing.B) {
	if _, err := findIDX(DefaultFashionMNISTDir, fashionTrainImages); err != nil {
		b.Skipf("Fashion-MNIST absent (apt-get install dataset-fashion-mnist): %v", err)
	}
	b.SetBytes(70000 * 784)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := LoadFashionMNIST(filepath.Clean(DefaultFashionMNISTDir)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPartition(b *testing.B) {
	for _, n := range []int{1e3, 6e4} {
		labels := labelsBalanced(10, n/10)
		b.Run(fmt.Sprintf("Dirichlet/n=%d/clients=100", n), func(b *testing.B) {
			b.SetBytes(int64(n * 8))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Dirichlet(newRand(1), labels, 10, 100, 0.5); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Shards/n=%d/clients=100", n), func(b *testing.B) {
			b.SetBytes(int64(n * 8))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Shards(newRand(1), labels, 100, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("IID/n=%d/clients=100", n), func(b *testing.B) {
			b.SetBytes(int64(n * 8))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := IID(newRand(1), n, 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadCSV(b *testing.B) {
	for _, rows := range []int{100, 10000} {
		b.Run(strconv.Itoa(rows), func(b *testing.B) {
			var sb strings.Builder
			for i := range rows {
				fmt.Fprintf(&sb, "%d", i%10)
				for j := range 20 {
					fmt.Fprintf(&sb, ",%g", float64(i*j)/7)
				}
				sb.WriteByte('\n')
			}
			in := sb.String()
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReadCSV(strings.NewReader(in), CSVConfig{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

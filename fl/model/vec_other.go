//go:build !amd64 || noasm || gccgo || safe || purego

package model

func axpy(alpha float64, x, y []float64) { axpyGo(alpha, x, y) }

func dot(x, y []float64) float64 { return dotGo(x, y) }

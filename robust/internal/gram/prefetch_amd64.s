//go:build !purego

#include "textflag.h"

// func prefetchLines(p *float64, n int)
//
// PREFETCHT0 on n cache lines from p, 64 bytes apart: a hint, no value
// changes.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JLE  done

loop:
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	DECQ       CX
	JNZ        loop

done:
	RET

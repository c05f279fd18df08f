//go:build !purego

#include "textflag.h"

// func tileFMA(xi, xj *float64, w int, out *[12][4]float64)
//
// Rows xi, xi+w, xi+2w (A0..A2) against xj, xj+w, xj+2w, xj+3w (B0..B3):
// the twelve accumulators Y0..Y11 (Y(4a+b) for Aa·Bb) take, four values at
// a time, the fused multiply-add Y ← Aa·Bb + Y of VFMADD231PD (one
// rounding, as math.FMA). Twelve independent chains cover the FMA latency;
// each step loads 7 vectors for 12 fused multiply-adds.
TEXT ·tileFMA(SB), NOSPLIT, $0-32
	MOVQ   xi+0(FP), SI
	MOVQ   xj+8(FP), DI
	MOVQ   w+16(FP), CX
	MOVQ   out+24(FP), DX
	LEAQ   (CX*8), BX      // row stride in bytes
	LEAQ   (SI)(BX*1), R8  // A1
	LEAQ   (R8)(BX*1), R12 // A2
	LEAQ   (DI)(BX*1), R9  // B1
	LEAQ   (R9)(BX*1), R10 // B2
	LEAQ   (R10)(BX*1), R11 // B3
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	XORQ   AX, AX
	SHRQ   $2, CX

loop:
	VMOVUPD (SI)(AX*8), Y12
	VMOVUPD (R8)(AX*8), Y13
	VMOVUPD (R12)(AX*8), Y14
	VMOVUPD (DI)(AX*8), Y15
	VFMADD231PD Y15, Y12, Y0
	VFMADD231PD Y15, Y13, Y4
	VFMADD231PD Y15, Y14, Y8
	VMOVUPD (R9)(AX*8), Y15
	VFMADD231PD Y15, Y12, Y1
	VFMADD231PD Y15, Y13, Y5
	VFMADD231PD Y15, Y14, Y9
	VMOVUPD (R10)(AX*8), Y15
	VFMADD231PD Y15, Y12, Y2
	VFMADD231PD Y15, Y13, Y6
	VFMADD231PD Y15, Y14, Y10
	VMOVUPD (R11)(AX*8), Y15
	VFMADD231PD Y15, Y12, Y3
	VFMADD231PD Y15, Y13, Y7
	VFMADD231PD Y15, Y14, Y11
	ADDQ    $4, AX
	DECQ    CX
	JNZ     loop

	VMOVUPD Y0, 0(DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VMOVUPD Y4, 128(DX)
	VMOVUPD Y5, 160(DX)
	VMOVUPD Y6, 192(DX)
	VMOVUPD Y7, 224(DX)
	VMOVUPD Y8, 256(DX)
	VMOVUPD Y9, 288(DX)
	VMOVUPD Y10, 320(DX)
	VMOVUPD Y11, 352(DX)
	VZEROUPPER
	RET

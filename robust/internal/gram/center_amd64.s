//go:build !purego

#include "textflag.h"

// func subFMA(y, x, c *float64, n int, bad *[4]float64)
//
// Y = X − C four values at a time, sixteen a round while at least sixteen
// remain; four accumulators take the fused x·0 + acc (NaN exactly when x is
// an Inf or a NaN), folded into bad at the end.
TEXT ·subFMA(SB), NOSPLIT, $0-40
	MOVQ   y+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   c+16(FP), DX
	MOVQ   n+24(FP), CX
	MOVQ   bad+32(FP), R8
	VXORPD Y15, Y15, Y15 // 0
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	XORQ   AX, AX
	MOVQ   CX, BX
	ANDQ   $~15, BX
	JZ     tail

loop16:
	VMOVUPD     (SI)(AX*8), Y0
	VMOVUPD     32(SI)(AX*8), Y1
	VMOVUPD     64(SI)(AX*8), Y2
	VMOVUPD     96(SI)(AX*8), Y3
	VFMADD231PD Y15, Y0, Y8
	VFMADD231PD Y15, Y1, Y9
	VFMADD231PD Y15, Y2, Y10
	VFMADD231PD Y15, Y3, Y11
	VSUBPD      (DX)(AX*8), Y0, Y0
	VSUBPD      32(DX)(AX*8), Y1, Y1
	VSUBPD      64(DX)(AX*8), Y2, Y2
	VSUBPD      96(DX)(AX*8), Y3, Y3
	VMOVUPD     Y0, (DI)(AX*8)
	VMOVUPD     Y1, 32(DI)(AX*8)
	VMOVUPD     Y2, 64(DI)(AX*8)
	VMOVUPD     Y3, 96(DI)(AX*8)
	ADDQ        $16, AX
	CMPQ        AX, BX
	JLT         loop16

tail:
	CMPQ AX, CX
	JGE  done

loop4:
	VMOVUPD     (SI)(AX*8), Y0
	VFMADD231PD Y15, Y0, Y8
	VSUBPD      (DX)(AX*8), Y0, Y0
	VMOVUPD     Y0, (DI)(AX*8)
	ADDQ        $4, AX
	CMPQ        AX, CX
	JLT         loop4

done:
	VADDPD  Y9, Y8, Y8
	VADDPD  Y11, Y10, Y10
	VADDPD  Y10, Y8, Y8
	VMOVUPD Y8, (R8)
	VZEROUPPER
	RET

//go:build !purego

#include "textflag.h"

// func cpuid(eax, ecx uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eax+0(FP), AX
	MOVL ecx+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv0() (eax uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	RET

// func partAVX512(src, lt, ge *float64, n int, p float64, orEqual bool) (nlt int)
//
// The values x of src[:n] with x < p (x ≤ p if orEqual) go to lt, in
// order, and the others to ge, in order; it returns how many went to lt.
// Every store writes 8 values, so lt and ge need room for n+8.
TEXT ·partAVX512(SB), NOSPLIT, $0-56
	MOVQ         src+0(FP), SI
	MOVQ         lt+8(FP), DI
	MOVQ         ge+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSD p+32(FP), Z1
	XORQ         R8, R8
	XORQ         R9, R9
	MOVBLZX      orEqual+40(FP), AX
	TESTL        AX, AX
	JNE          leloop

ltloop:
	CMPQ CX, $8
	JLT  lttail
	VMOVUPD     (SI), Z0
	VCMPPD      $1, Z1, Z0, K1
	KNOTW       K1, K2
	VCOMPRESSPD Z0, K1, Z2
	VCOMPRESSPD Z0, K2, Z3
	VMOVUPD     Z2, (DI)(R8*8)
	VMOVUPD     Z3, (DX)(R9*8)
	KMOVW       K1, AX
	POPCNTL     AX, AX
	ADDQ        AX, R8
	ADDQ        $8, R9
	SUBQ        AX, R9
	ADDQ        $64, SI
	SUBQ        $8, CX
	JMP         ltloop

lttail:
	TESTQ       CX, CX
	JEQ         ltdone
	MOVL        $1, AX
	SHLL        CX, AX
	DECL        AX
	KMOVW       AX, K3
	VMOVUPD.Z   (SI), K3, Z0
	VCMPPD      $1, Z1, Z0, K3, K1
	KANDNW      K3, K1, K2
	VCOMPRESSPD Z0, K1, Z2
	VCOMPRESSPD Z0, K2, Z3
	VMOVUPD     Z2, (DI)(R8*8)
	VMOVUPD     Z3, (DX)(R9*8)
	KMOVW       K1, AX
	POPCNTL     AX, AX
	ADDQ        AX, R8

ltdone:
	MOVQ R8, nlt+48(FP)
	VZEROUPPER
	RET

leloop:
	CMPQ CX, $8
	JLT  letail
	VMOVUPD     (SI), Z0
	VCMPPD      $2, Z1, Z0, K1
	KNOTW       K1, K2
	VCOMPRESSPD Z0, K1, Z2
	VCOMPRESSPD Z0, K2, Z3
	VMOVUPD     Z2, (DI)(R8*8)
	VMOVUPD     Z3, (DX)(R9*8)
	KMOVW       K1, AX
	POPCNTL     AX, AX
	ADDQ        AX, R8
	ADDQ        $8, R9
	SUBQ        AX, R9
	ADDQ        $64, SI
	SUBQ        $8, CX
	JMP         leloop

letail:
	TESTQ       CX, CX
	JEQ         ledone
	MOVL        $1, AX
	SHLL        CX, AX
	DECL        AX
	KMOVW       AX, K3
	VMOVUPD.Z   (SI), K3, Z0
	VCMPPD      $2, Z1, Z0, K3, K1
	KANDNW      K3, K1, K2
	VCOMPRESSPD Z0, K1, Z2
	VCOMPRESSPD Z0, K2, Z3
	VMOVUPD     Z2, (DI)(R8*8)
	VMOVUPD     Z3, (DX)(R9*8)
	KMOVW       K1, AX
	POPCNTL     AX, AX
	ADDQ        AX, R8

ledone:
	MOVQ R8, nlt+48(FP)
	VZEROUPPER
	RET

// func sumBetweenAVX512(src *float64, n int, a, b float64) (sum float64, leA, ltB int)
//
// It returns the sum of the values x of src[:n] with a < x < b, added in
// eight lanes (lane r takes the positions i ≡ r mod 8, in order) that are
// then added pairwise, and the counts of x ≤ a and of x < b.
TEXT ·sumBetweenAVX512(SB), NOSPLIT, $0-56
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD a+16(FP), Z1
	VBROADCASTSD b+24(FP), Z2
	VXORPD       Z4, Z4, Z4
	XORQ         R8, R8
	XORQ         R9, R9

sbloop:
	CMPQ    CX, $8
	JLT     sbtail
	VMOVUPD (SI), Z0
	VCMPPD  $2, Z1, Z0, K1
	VCMPPD  $1, Z2, Z0, K2
	VCMPPD  $14, Z1, Z0, K2, K3
	VADDPD  Z0, Z4, K3, Z4
	KMOVW   K1, AX
	POPCNTL AX, AX
	ADDQ    AX, R8
	KMOVW   K2, AX
	POPCNTL AX, AX
	ADDQ    AX, R9
	ADDQ    $64, SI
	SUBQ    $8, CX
	JMP     sbloop

sbtail:
	TESTQ     CX, CX
	JEQ       sbdone
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K4
	VMOVUPD.Z (SI), K4, Z0
	VCMPPD    $2, Z1, Z0, K4, K1
	VCMPPD    $1, Z2, Z0, K4, K2
	VCMPPD    $14, Z1, Z0, K2, K3
	VADDPD    Z0, Z4, K3, Z4
	KMOVW     K1, AX
	POPCNTL   AX, AX
	ADDQ      AX, R8
	KMOVW     K2, AX
	POPCNTL   AX, AX
	ADDQ      AX, R9

sbdone:
	VEXTRACTF64X4 $1, Z4, Y5
	VADDPD        Y5, Y4, Y4
	VEXTRACTF128  $1, Y4, X5
	VADDPD        X5, X4, X4
	VPERMILPD     $1, X4, X5
	VADDSD        X5, X4, X4
	MOVSD         X4, sum+32(FP)
	MOVQ          R8, leA+40(FP)
	MOVQ          R9, ltB+48(FP)
	VZEROUPPER
	RET

// func ranksSmallAVX512(src *float64, n, k1, k2 int) (x1, x2 float64)
//
// It returns the values of ranks k1 and k2 (0 ≤ k1, k2 < n ≤ 16) of
// src[:n]. For every value src[i] it counts, in one lane each, the values
// below it (lt) and not above it (le); the value of rank k is src[i] for
// the first i with lt ≤ k < le.
TEXT ·ranksSmallAVX512(SB), NOSPLIT, $0-48
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVL         $1, AX
	SHLL         CX, AX
	DECL         AX
	KMOVW        AX, K4
	SHRL         $8, AX
	KMOVW        AX, K5
	VMOVUPD.Z    (SI), K4, Z0
	VMOVUPD.Z    64(SI), K5, Z1
	VPXORQ       Z10, Z10, Z10
	VPXORQ       Z11, Z11, Z11
	VPXORQ       Z12, Z12, Z12
	VPXORQ       Z13, Z13, Z13
	MOVQ         $1, AX
	VPBROADCASTQ AX, Z9
	XORQ         DX, DX

rsloop:
	VBROADCASTSD (SI)(DX*8), Z2
	VCMPPD       $14, Z2, Z0, K1
	VCMPPD       $13, Z2, Z0, K2
	VPADDQ       Z9, Z10, K1, Z10
	VPADDQ       Z9, Z12, K2, Z12
	VCMPPD       $14, Z2, Z1, K1
	VCMPPD       $13, Z2, Z1, K2
	VPADDQ       Z9, Z11, K1, Z11
	VPADDQ       Z9, Z13, K2, Z13
	INCQ         DX
	CMPQ         DX, CX
	JLT          rsloop

	// x1: the first lane with lt ≤ k1 < le.
	VPBROADCASTQ k1+16(FP), Z3
	VPCMPQ       $2, Z3, Z10, K4, K1
	VPCMPQ       $6, Z3, Z12, K1, K1
	VPCMPQ       $2, Z3, Z11, K5, K2
	VPCMPQ       $6, Z3, Z13, K2, K2
	KMOVW        K1, AX
	KMOVW        K2, BX
	SHLL         $8, BX
	ORL          BX, AX
	BSFL         AX, AX
	MOVSD        (SI)(AX*8), X0
	MOVSD        X0, x1+32(FP)

	// x2 likewise.
	VPBROADCASTQ k2+24(FP), Z3
	VPCMPQ       $2, Z3, Z10, K4, K1
	VPCMPQ       $6, Z3, Z12, K1, K1
	VPCMPQ       $2, Z3, Z11, K5, K2
	VPCMPQ       $6, Z3, Z13, K2, K2
	KMOVW        K1, AX
	KMOVW        K2, BX
	SHLL         $8, BX
	ORL          BX, AX
	BSFL         AX, AX
	MOVSD        (SI)(AX*8), X0
	MOVSD        X0, x2+40(FP)
	VZEROUPPER
	RET

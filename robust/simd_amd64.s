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

// STEPMASK sets BX to min(CX, 8), the number of values the step takes
// (R10 holds 8), and the mask register k to its low BX bits.
#define STEPMASK(k) \
	MOVQ    CX, BX       \
	CMPQ    BX, $8       \
	CMOVQGT R10, BX      \
	MOVL    $1, AX       \
	SHLXL   BX, AX, AX   \
	DECL    AX           \
	KMOVW   AX, k

// func partAVX512(src, lt, ge *float64, n int, p float64) (nlt int)
//
// The values x of src[:n] with x < p go to lt, in order, and the others to
// ge, in order; it returns how many went to lt. Every store writes 8
// values, so lt and ge need room for n+8.
TEXT ·partAVX512(SB), NOSPLIT, $0-48
	MOVQ         src+0(FP), SI
	MOVQ         lt+8(FP), DI
	MOVQ         ge+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSD p+32(FP), Z1
	XORQ         R8, R8
	XORQ         R9, R9

	MOVQ $8, R10

	// Eight values a step; the last step takes what is left, under a mask.
ploop:
	STEPMASK(K3)
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
	ADDQ        BX, R9
	SUBQ        AX, R9
	ADDQ        $64, SI
	SUBQ        $8, CX
	JGT         ploop

	MOVQ R8, nlt+40(FP)
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

	MOVQ $8, R10

	// Eight values a step; the last step takes what is left, under a mask.
sbloop:
	STEPMASK(K4)
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
	ADDQ      $64, SI
	SUBQ      $8, CX
	JGT       sbloop

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

// PICKRANK stores to out the value of rank k: src[i] for the first lane i
// with lt ≤ k < le, from the counts in Z10–Z13 and the lane masks K4, K5
// of ranksSmallAVX512.
#define PICKRANK(k, out) \
	VPBROADCASTQ k, Z3                  \
	VPCMPQ       $2, Z3, Z10, K4, K1    \
	VPCMPQ       $6, Z3, Z12, K1, K1    \
	VPCMPQ       $2, Z3, Z11, K5, K2    \
	VPCMPQ       $6, Z3, Z13, K2, K2    \
	KMOVW        K1, AX                 \
	KMOVW        K2, BX                 \
	SHLL         $8, BX                 \
	ORL          BX, AX                 \
	BSFL         AX, AX                 \
	MOVSD        (SI)(AX*8), X0         \
	MOVSD        X0, out

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

	PICKRANK(k1+16(FP), x1+32(FP))
	PICKRANK(k2+24(FP), x2+40(FP))
	VZEROUPPER
	RET

// func gather8AVX512(dst *float64, st int, rows *[8]*float64, n int) (finite bool)
//
// It transposes an 8-row stretch: for k < n (a multiple of 8) and r < 8,
// dst[k*st+r] = rows[r][k], eight columns at a time by an 8×8 transpose
// in registers (unpack, then two 128-bit lane shuffles). It reports
// whether every value read is finite: v − v is +0 for finite v and NaN
// otherwise, and the bits of those differences are ORed together.
TEXT ·gather8AVX512(SB), NOSPLIT, $8-33
	MOVQ    dst+0(FP), DI
	MOVQ    st+8(FP), BX
	SHLQ    $3, BX
	MOVQ    rows+16(FP), AX
	MOVQ    0(AX), SI
	MOVQ    8(AX), DX
	MOVQ    16(AX), R8
	MOVQ    24(AX), R9
	MOVQ    32(AX), R10
	MOVQ    40(AX), R11
	MOVQ    48(AX), R12
	MOVQ    56(AX), R13
	MOVQ    n+24(FP), AX
	SHLQ    $3, AX
	MOVQ    AX, end-8(SP)
	XORQ    CX, CX
	VPXORQ  Z24, Z24, Z24
	CMPQ    CX, end-8(SP)
	JGE     g8done

g8loop:
	VMOVUPD (SI)(CX*1), Z0
	VMOVUPD (DX)(CX*1), Z1
	VMOVUPD (R8)(CX*1), Z2
	VMOVUPD (R9)(CX*1), Z3
	VMOVUPD (R10)(CX*1), Z4
	VMOVUPD (R11)(CX*1), Z5
	VMOVUPD (R12)(CX*1), Z6
	VMOVUPD (R13)(CX*1), Z7
	VSUBPD  Z0, Z0, Z25
	VPORQ   Z25, Z24, Z24
	VSUBPD  Z1, Z1, Z26
	VPORQ   Z26, Z24, Z24
	VSUBPD  Z2, Z2, Z25
	VPORQ   Z25, Z24, Z24
	VSUBPD  Z3, Z3, Z26
	VPORQ   Z26, Z24, Z24
	VSUBPD  Z4, Z4, Z25
	VPORQ   Z25, Z24, Z24
	VSUBPD  Z5, Z5, Z26
	VPORQ   Z26, Z24, Z24
	VSUBPD  Z6, Z6, Z25
	VPORQ   Z25, Z24, Z24
	VSUBPD  Z7, Z7, Z26
	VPORQ   Z26, Z24, Z24
	VUNPCKLPD Z1, Z0, Z8
	VUNPCKHPD Z1, Z0, Z9
	VUNPCKLPD Z3, Z2, Z10
	VUNPCKHPD Z3, Z2, Z11
	VUNPCKLPD Z5, Z4, Z12
	VUNPCKHPD Z5, Z4, Z13
	VUNPCKLPD Z7, Z6, Z14
	VUNPCKHPD Z7, Z6, Z15
	VSHUFF64X2 $0x88, Z10, Z8, Z16
	VSHUFF64X2 $0x88, Z11, Z9, Z17
	VSHUFF64X2 $0xdd, Z10, Z8, Z18
	VSHUFF64X2 $0xdd, Z11, Z9, Z19
	VSHUFF64X2 $0x88, Z14, Z12, Z20
	VSHUFF64X2 $0x88, Z15, Z13, Z21
	VSHUFF64X2 $0xdd, Z14, Z12, Z22
	VSHUFF64X2 $0xdd, Z15, Z13, Z23
	VSHUFF64X2 $0x88, Z20, Z16, Z0
	VSHUFF64X2 $0x88, Z21, Z17, Z1
	VSHUFF64X2 $0x88, Z22, Z18, Z2
	VSHUFF64X2 $0x88, Z23, Z19, Z3
	VSHUFF64X2 $0xdd, Z20, Z16, Z4
	VSHUFF64X2 $0xdd, Z21, Z17, Z5
	VSHUFF64X2 $0xdd, Z22, Z18, Z6
	VSHUFF64X2 $0xdd, Z23, Z19, Z7
	VMOVUPD Z0, (DI)
	VMOVUPD Z1, (DI)(BX*1)
	VMOVUPD Z2, (DI)(BX*2)
	LEAQ    (DI)(BX*2), AX
	VMOVUPD Z3, (AX)(BX*1)
	VMOVUPD Z4, (AX)(BX*2)
	LEAQ    (AX)(BX*2), AX
	VMOVUPD Z5, (AX)(BX*1)
	VMOVUPD Z6, (AX)(BX*2)
	LEAQ    (AX)(BX*2), AX
	VMOVUPD Z7, (AX)(BX*1)
	LEAQ    (AX)(BX*2), DI
	ADDQ    $64, CX
	CMPQ    CX, end-8(SP)
	JLT     g8loop

g8done:
	VPTESTMQ Z24, Z24, K1
	KORTESTW K1, K1
	SETEQ    finite+32(FP)
	VZEROUPPER
	RET

// func kthAVX512(work *[8]float64, half, k1 int, out *[8]float64)
//
// In every lane, work[:half] is ascending (A) and work[half:2·half]
// descending (B, so B↑[j] = work[2·half−1−j]); it writes to out the k1-th
// smallest (1-based) of the 2·half values: the least, over i, of
// max(A[i−1], B↑[k1−i−1]), with A[−1] = B↑[−1] = −∞ and i from
// max(0, k1−half) to min(k1, half).
TEXT ·kthAVX512(SB), NOSPLIT, $0-32
	MOVQ         work+0(FP), DI
	MOVQ         half+8(FP), R8
	MOVQ         k1+16(FP), R9
	MOVQ         $0x7ff0000000000000, AX
	VPBROADCASTQ AX, Z0
	XORQ         R11, R11
	MOVQ         R9, R10
	SUBQ         R8, R10
	CMPQ         R10, R11
	CMOVQLT      R11, R10
	MOVQ         R9, R12
	CMPQ         R12, R8
	CMOVQGT      R8, R12

	// i = 0 (when lo = 0): B↑[k1−1] = work[2·half−k1].
	TESTQ   R10, R10
	JNE     knolo
	LEAQ    (R8)(R8*1), AX
	SUBQ    R9, AX
	SHLQ    $6, AX
	VMINPD  (DI)(AX*1), Z0, Z0

knolo:
	// i = k1 (when hi = k1): A[k1−1] = work[k1−1].
	CMPQ    R12, R9
	JNE     knohi
	MOVQ    R9, AX
	DECQ    AX
	SHLQ    $6, AX
	VMINPD  (DI)(AX*1), Z0, Z0

knohi:
	// 1 ≤ i ≤ k1−1 within [lo, hi]: max(work[i−1], work[2·half−k1+i]).
	MOVQ    R10, CX
	MOVQ    $1, AX
	CMPQ    CX, AX
	CMOVQLT AX, CX
	MOVQ    R9, DX
	DECQ    DX
	CMPQ    DX, R12
	CMOVQGT R12, DX
	MOVQ    CX, AX
	DECQ    AX
	SHLQ    $6, AX
	LEAQ    (DI)(AX*1), SI
	LEAQ    (R8)(R8*1), AX
	SUBQ    R9, AX
	ADDQ    CX, AX
	SHLQ    $6, AX
	LEAQ    (DI)(AX*1), BX

kmid:
	CMPQ    CX, DX
	JGT     kdone
	VMOVUPD (SI), Z1
	VMAXPD  (BX), Z1, Z1
	VMINPD  Z1, Z0, Z0
	ADDQ    $64, SI
	ADDQ    $64, BX
	INCQ    CX
	JMP     kmid

kdone:
	MOVQ    out+24(FP), AX
	VMOVUPD Z0, (AX)
	VZEROUPPER
	RET

// func sumColsAVX512(work *[8]float64, s int, x, y, sum *[8]float64, cnt *[16]int64)
//
// In every lane, over the s vectors of work (s even), it sums the values
// strictly between x and y (wires of even index into one partial sum, odd
// into another, then added) and counts the values ≤ x (cnt[0:8]) and < y
// (cnt[8:16]).
TEXT ·sumColsAVX512(SB), NOSPLIT, $0-48
	MOVQ         work+0(FP), DI
	MOVQ         s+8(FP), CX
	MOVQ         x+16(FP), AX
	VMOVUPD      (AX), Z1
	MOVQ         y+24(FP), AX
	VMOVUPD      (AX), Z2
	VPXORQ       Z4, Z4, Z4
	VPXORQ       Z5, Z5, Z5
	VPXORQ       Z10, Z10, Z10
	VPXORQ       Z11, Z11, Z11
	MOVQ         $1, AX
	VPBROADCASTQ AX, Z9

scloop:
	CMPQ    CX, $2
	JLT     scdone
	VMOVUPD (DI), Z0
	VCMPPD  $2, Z1, Z0, K1
	VCMPPD  $1, Z2, Z0, K2
	VCMPPD  $14, Z1, Z0, K2, K3
	VPADDQ  Z9, Z10, K1, Z10
	VPADDQ  Z9, Z11, K2, Z11
	VADDPD  Z0, Z4, K3, Z4
	VMOVUPD 64(DI), Z0
	VCMPPD  $2, Z1, Z0, K1
	VCMPPD  $1, Z2, Z0, K2
	VCMPPD  $14, Z1, Z0, K2, K3
	VPADDQ  Z9, Z10, K1, Z10
	VPADDQ  Z9, Z11, K2, Z11
	VADDPD  Z0, Z5, K3, Z5
	ADDQ    $128, DI
	SUBQ    $2, CX
	JMP     scloop

scdone:
	VADDPD  Z5, Z4, Z4
	MOVQ    sum+32(FP), AX
	VMOVUPD Z4, (AX)
	MOVQ    cnt+40(FP), AX
	VMOVDQU64 Z10, (AX)
	VMOVDQU64 Z11, 64(AX)
	VZEROUPPER
	RET
